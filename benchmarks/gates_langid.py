"""Language-ID candidates on the real Mu-SHROOM texts: accuracy per language and speed.

Usage: python benchmarks/gates_langid.py [--fixtures ../shared/fixtures] [--detectors a,b]
           [--json]

Texts: `model_input` (questions) and `model_output_text` (answers) of the Mu-SHROOM
validation files, 10 languages, 499 items each, with their known `lang`. Accuracy: the top
label equals the known language. Speed: texts per second over all texts, model already
loaded (load time printed apart). Also prints, for the gate's defaults, the probability the
detector gives the true language (5th percentile per language) and how many texts a
threshold of 0.5 would wrongly reject. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dsbuild.gates.detectors import DETECTORS, get_detector

HERE = Path(__file__).resolve().parent
DEFAULT_FIXTURES = HERE.parent.parent / "shared" / "fixtures"


def load_texts(fixtures: Path) -> list[tuple[str, str, str]]:
    """(lang, kind, text) for every Mu-SHROOM question and answer."""
    out = []
    for path in sorted((fixtures / "mushroom").glob("mushroom.*-val.v2.extra.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                lang = row["lang"].lower()
                out.append((lang, "question", row["model_input"]))
                out.append((lang, "answer", row["model_output_text"]))
    return out


def measure(name: str, texts: list[tuple[str, str, str]], repeats: int = 3) -> dict:
    t0 = time.perf_counter()
    detector = get_detector(name)
    detector.predict("warm up", 3)
    load = time.perf_counter() - t0
    preds = []
    t0 = time.perf_counter()
    for r in range(repeats):
        preds = [detector.predict(text, 3) for _, _, text in texts]
    seconds = (time.perf_counter() - t0) / repeats
    per_lang: dict[str, dict] = {}
    for (lang, kind, _), pred in zip(texts, preds):
        top = pred[0][0] if pred else "und"
        p_true = next((p for code, p in pred if code == lang), 0.0)
        s = per_lang.setdefault(
            lang, {"n": 0, "ok": 0, "ok_question": 0, "n_question": 0, "p_true": [], "wrong": {}}
        )
        s["n"] += 1
        s["ok"] += top == lang
        if kind == "question":
            s["n_question"] += 1
            s["ok_question"] += top == lang
        s["p_true"].append(p_true)
        if top != lang:
            s["wrong"][top] = s["wrong"].get(top, 0) + 1
    total = sum(s["n"] for s in per_lang.values())
    ok = sum(s["ok"] for s in per_lang.values())
    return {
        "detector": name,
        "load_seconds": round(load, 3),
        "texts_per_second": round(len(texts) / seconds, 1),
        "accuracy": round(ok / total, 4),
        "per_language": {
            lang: {
                "n": s["n"],
                "accuracy": round(s["ok"] / s["n"], 4),
                "accuracy_questions": round(s["ok_question"] / s["n_question"], 4),
                "p_true_p05": round(statistics.quantiles(s["p_true"], n=20)[0], 3),
                "below_0.5": sum(p < 0.5 for p in s["p_true"]),
                "confused_with": dict(sorted(s["wrong"].items(), key=lambda kv: -kv[1])[:3]),
            }
            for lang, s in sorted(per_lang.items())
        },
    }


def gate_outcomes(texts: list[tuple[str, str, str]]) -> dict[str, dict[str, int]]:
    """What the default `LangIdGate` does with every text, per language."""
    from dsbuild.gates.langid import LangIdGate

    gate = LangIdGate()
    out: dict[str, dict[str, int]] = {}
    for lang, _, text in texts:
        v = gate.check(text, lang=lang)
        key = v.reason or v.status
        out.setdefault(lang, {}).setdefault(key, 0)
        out[lang][key] += 1
    return dict(sorted(out.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    texts = load_texts(args.fixtures)
    results = [measure(name, texts) for name in args.detectors.split(",")]
    gate = gate_outcomes(texts) if "fasttext" in args.detectors.split(",") else {}
    if args.json:
        print(json.dumps({"detectors": results, "gate_defaults": gate}, indent=2))
        return
    langs = sorted(results[0]["per_language"])
    print(f"{len(texts)} texts ({len(texts) // 2} questions + answers), {len(langs)} languages")
    print("| detector | " + " | ".join(langs) + " | all | texts/s | load s |")
    print("|---" * (len(langs) + 4) + "|")
    for r in results:
        cells = [f"{r['per_language'][lang]['accuracy']:.3f}" for lang in langs]
        print(
            f"| {r['detector']} | "
            + " | ".join(cells)
            + f" | {r['accuracy']:.3f} | {r['texts_per_second']:.0f} | {r['load_seconds']} |"
        )
    print("\nquestions only (short texts):")
    for r in results:
        cells = [f"{lang} {r['per_language'][lang]['accuracy_questions']:.2f}" for lang in langs]
        print(f"  {r['detector']:10s} " + "  ".join(cells))
    print("\nP(true language) 5th percentile / texts below 0.5 / most common confusions:")
    for r in results:
        print(f"  {r['detector']}")
        for lang in langs:
            s = r["per_language"][lang]
            print(
                f"    {lang}: p05={s['p_true_p05']:.3f} below_0.5={s['below_0.5']} "
                f"confused={s['confused_with']}"
            )
    if gate:
        print("\nLangIdGate at its defaults (fasttext) on the same texts:")
        for lang, counts in gate.items():
            print(f"  {lang}: {counts}")


if __name__ == "__main__":
    main()
