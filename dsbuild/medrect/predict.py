"""`medrect predict`: a model reads each clinical text and answers the three MedRECT subtasks
(error flag, erroneous sentence number, corrected sentence) in one structured answer.

The model sees only the numbered sentences, never a gold field. The answer's sentence
number is constrained to the text's numbers (0: none), the flag and the number are made
consistent (no error means no number and no correction), and each prediction is a MedRECT
record, so `medrect eval` and `medrect leaderboard` read the file as they read gold. An
answer that breaks its schema after the repair turns is written with `error_flag` null
and its reason under `metadata.prediction.error` (scored as wrong, never dropped); an
endpoint failure leaves the record pending for the next run.

    read_input(path)           our run directory, MedRECT JSON/JSONL or MEDEC CSV as items
    make_task(path, ...)       the `ModelTask` (dsbuild.model_run) that predicts them
    write_predictions(...)     MedRECT JSON, or MEDEC CSV when the name ends in .csv
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["language_of", "make_task", "prediction_record", "read_input", "write_predictions"]

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def language_of(text: str) -> str:
    """`ja` when a tenth of the letters are kana or Han, else `en` (MedRECT's two languages)."""
    letters = sum(ch.isalpha() for ch in text) or 1
    return "ja" if len(_CJK.findall(text)) / letters >= 0.1 else "en"


def read_input(path: str | Path) -> list[dict[str, Any]]:
    """The records to predict on: `{id, sample_id, sentences}` only (no gold field reaches
    the model), from a run directory (`records.jsonl`), MedRECT JSON/JSONL or MEDEC CSV."""
    from dsbuild.errors import InputError
    from dsbuild.medrect.formats import read_records_as_medrect

    path = Path(path)
    if path.is_dir():
        if not (path / "records.jsonl").is_file():
            raise InputError(
                f"{path} is a folder without records.jsonl",
                "give a medrect run directory, a MedRECT .json or a MEDEC .csv file",
                code="DSB301",
            )
        path = path / "records.jsonl"
    if not path.is_file():
        raise InputError(f"input file {path} not found", "check the path", code="DSB301")
    _, records = read_records_as_medrect(path)
    items, seen = [], set()
    for n, r in enumerate(records, 1):
        sid = r.get("sample_id")
        if sid is None or not isinstance(r.get("sentences"), str):
            raise InputError(
                f"{path} record {n} has no sample_id or no sentences",
                "give MedRECT records (sample_id, sentences) or MEDEC rows (Text ID, Sentences)",
                code="DSB303",
            )
        if str(sid) in seen:
            raise InputError(
                f"{path} has sample_id {sid!r} twice", "keep one record per id", code="DSB303"
            )
        seen.add(str(sid))
        items.append({"id": str(sid), "sample_id": sid, "sentences": r["sentences"]})
    return items


def _numbers(sentences: str) -> dict[int, str]:
    from dsbuild.medrect.sentences import parse_sentences

    return parse_sentences(sentences)[0]


def _budget(numbers: dict[int, str], lang: str) -> tuple[int, int]:
    """(longest correction in characters, max_tokens) of one request: the correction may be
    twice the longest sentence; in Japanese (a character can take two or three tokens) only
    20 characters longer, with three tokens a character, so a rambling answer ends as a
    short JSON string rather than cut mid-string."""
    longest = max((len(s) for s in numbers.values()), default=80)
    if lang == "ja":
        return longest + 20, 64 + 3 * (longest + 20)
    return 2 * longest + 20, 48 + 2 * longest


def prediction_record(
    item: dict[str, Any], answer: dict[str, Any] | None, provenance: dict[str, Any]
) -> dict[str, Any]:
    """The MedRECT record of one answer (None: the model gave no usable answer), with the
    flag, the number and the correction made consistent."""
    from dsbuild.medrect.sentences import corrected_text

    numbers = _numbers(item["sentences"])
    flag = sid = correction = None
    if answer is not None:
        flag = 1 if answer.get("error_flag") == 1 else 0
        if flag == 1:
            n = answer.get("error_sentence_id")
            sid = n if isinstance(n, int) and n in numbers else None
            text = (answer.get("corrected_sentence") or "").strip()
            correction = text or None
    fixed = None
    if sid is not None and correction is not None:
        try:
            fixed = corrected_text(item["sentences"], sid, correction)
        except (KeyError, ValueError):
            fixed = None
    return {
        "id": item["id"],
        "sample_id": item["sample_id"],
        "sentences": item["sentences"],
        "error_flag": flag,
        "error_type": None,
        "error_sentence_id": sid,
        "error_sentence": numbers.get(sid) if sid is not None else None,
        "corrected_sentence": correction,
        "corrected_text": fixed,
        "metadata": {"prediction": provenance},
    }


def make_task(
    path: str | Path,
    *,
    model: str | None,
    prompts_dir: str | Path | None = None,
    language: str = "auto",
    limit: int | None = None,
    ids: Sequence[str] | None = None,
):
    """The `ModelTask` predicting every record of `path` with `model` (None: --model);
    `ids`: only the records with these ids (e.g. those a leaderboard scores)."""
    from dsbuild.builder_kit import ask, response_format
    from dsbuild.languages import language_name
    from dsbuild.llm.prompts import load_prompts
    from dsbuild.model_run import ModelTask, file_digest, ids_digest

    template = load_prompts("medrect", prompts_dir)["predict"]
    keep = None if ids is None else {str(i) for i in ids}
    items = [i for i in read_input(path) if keep is None or i["id"] in keep]
    items = items[:limit] if limit else items

    async def predict(item: dict, ctx: Any) -> dict:
        """The three subtasks in one structured answer."""
        numbers = _numbers(item["sentences"])
        lang = language if language != "auto" else language_of(item["sentences"])
        max_chars, max_tokens = _budget(numbers, lang)
        fmt = response_format(
            template,
            {"corrected_sentence": {"maxLength": max_chars}},
            replace={"error_sentence_id": {"type": "integer", "enum": [0, *sorted(numbers)]}},
        )
        engine = ctx.llm.get(model)
        result = await ask(
            engine,
            template,
            id=item["id"],
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": max_tokens},
            response_format=fmt,
            language=language_name(lang),
            sentences=item["sentences"],
            count=len(numbers),
        )
        result.raise_if_pending("predict")
        provenance = {"model": ctx.llm.spec_label(model), "language": lang, **result.provenance()}
        if not result.ok:
            provenance["error"] = result.error
        return prediction_record(item, result.json if result.ok else None, provenance)

    return ModelTask(
        name="medrect-predict",
        version=template.stage_version(base="2"),
        read=lambda: iter(items),
        predict=predict,
        config={
            "input": str(Path(path).resolve()),
            "input_sha256": file_digest(path),
            "predictor": model,
            "language": language,
            "limit": limit,
            "prompt": template.hash,
            **({} if keep is None else {"ids_sha256": ids_digest(keep)}),
        },
        models=(model,),
        description="error flag, sentence and correction per record",
    )


def write_predictions(records: list[dict[str, Any]], out: str | Path) -> int:
    """The predictions as MedRECT JSON (the run's `id` dropped), or as MEDEC CSV when `out`
    ends in `.csv`; returns the count."""
    from dsbuild.medrect.formats import medrect_to_medec_row, write_medec, write_medrect

    rows = [{k: v for k, v in r.items() if k != "id"} for r in records]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        # MEDEC has no flag "unknown": an unusable answer is written as "no error"
        write_medec(
            [medrect_to_medec_row({**r, "error_flag": r["error_flag"] or 0}) for r in rows], out
        )
    else:
        write_medrect(rows, out)
    return len(rows)
