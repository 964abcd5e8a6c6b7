"""Synthetic ratings of the embedded emails, so `dsbuild cultural analyze` has data to show.

`python -m dsbuild.cultural.synthetic` rewrites `dsbuild/samples/cultural/ratings.jsonl`
(same seed, same file). The numbers are invented: three simulated models (`sim:alpha` best,
`sim:gamma` worst), three target locales, three raters per locale. Category means and
omission rates loosely follow the shape reported by Van Doren et al. (2026): holidays and
cultural concepts fare better than idioms and puns, and idioms are left untranslated most.
Each segment of each translation has one latent quality shared by its raters (so they
agree more than chance); a rater adds a personal bias and noise, sometimes scores an
omission 0 instead of NA, and now and then skips a segment (a missing rating). Segment
translations are not simulated (the column stays empty).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["LOCALES", "MODELS", "SAMPLE_PATH", "generate", "load_emails", "main"]

SEED = 7
LOCALES: dict[str, float] = {"ja-JP": -0.15, "es-MX": 0.25, "ru-KZ": -0.35}
MODELS: dict[str, float] = {"sim:alpha": 0.45, "sim:beta": 0.1, "sim:gamma": -0.45}
CATEGORY_MEAN = {"holiday": 2.2, "cultural_concept": 2.15, "idiom": 1.65, "pun": 1.45, "other": 1.8}
OMISSION = {"idiom": 0.14, "pun": 0.08, "holiday": 0.02, "cultural_concept": 0.05, "other": 0.05}
BACKGROUNDS = ("translator", "marketing", "teacher")
COMMENTS = {
    0: ("wrong meaning", "too literal, makes no sense here", "sounds odd to a local reader"),
    1: ("too literal", "the joke is lost", "a local equivalent exists"),
    "na": ("left out of the translation", "the whole phrase is missing", "not translated"),
}
SAMPLE_PATH = Path(__file__).resolve().parent.parent / "samples" / "cultural" / "ratings.jsonl"


def load_emails() -> list[dict[str, Any]]:
    """The embedded emails (`dsbuild/samples/cultural/emails.jsonl`)."""
    text = (
        resources.files("dsbuild.samples")
        .joinpath("cultural", "emails.jsonl")
        .read_text(encoding="utf-8")
    )
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _clamp(x: float) -> int:
    return max(0, min(3, round(x)))


def generate(
    emails: list[dict[str, Any]] | None = None, seed: int = SEED, raters_per_locale: int = 3
) -> list[dict[str, Any]]:
    """Long rating rows (`RatingRow` dicts) for every email x locale x model x rater."""
    rng = random.Random(seed)
    emails = emails if emails is not None else load_emails()
    rows: list[dict[str, Any]] = []
    raters = {
        loc: [
            (f"{loc}-r{i}", rng.gauss(0, 0.25), BACKGROUNDS[(i - 1) % len(BACKGROUNDS)])
            for i in range(1, raters_per_locale + 1)
        ]
        for loc in LOCALES
    }
    for email in emails:
        for loc, loc_shift in LOCALES.items():
            for model, model_shift in MODELS.items():
                latent = []
                for n in email["nuances"]:
                    omit_p = OMISSION[n["category"]] * (1.6 if model_shift < 0 else 1.0)
                    omitted = rng.random() < omit_p
                    latent.append(
                        (
                            omitted,
                            CATEGORY_MEAN[n["category"]]
                            + model_shift
                            + loc_shift
                            + rng.gauss(0, 0.5),
                        )
                    )
                kept = [q for omitted, q in latent if not omitted]
                text_quality = (sum(kept) / len(kept) if kept else 0.5) - 0.15 * sum(
                    o for o, _ in latent
                )
                for rater, bias, background in raters[loc]:
                    base = {
                        "text_id": email["id"],
                        "source_lang": email["lang"],
                        "target": loc,
                        "model": model,
                        "rater": rater,
                        "rater_meta": {"locale": loc, "background": background},
                    }
                    t = text_quality + bias + rng.gauss(0, 0.35)
                    full = {
                        "content": _clamp(t + 0.3 + rng.gauss(0, 0.3)),
                        "style": _clamp(t - 0.1 + rng.gauss(0, 0.3)),
                        "audience": _clamp(t + rng.gauss(0, 0.3)),
                        "overall": _clamp(t),
                    }
                    comment = (
                        "reads like a translation, not like our ad"
                        if full["overall"] <= 1 and rng.random() < 0.5
                        else None
                    )
                    rows.append({**base, **full, "comment": comment})
                    for number, (n, (omitted, q)) in enumerate(zip(email["nuances"], latent), 1):
                        seg = {
                            **base,
                            "segment": number,
                            "category": n["category"],
                            "surface": n["surface"],
                            "start": n["start"],
                            "end": n["end"],
                        }
                        if rng.random() < 0.02:  # the rater skipped it: a missing rating
                            rows.append(seg)
                            continue
                        if omitted and rng.random() < 0.85:
                            seg.update(
                                na=True,
                                comment=rng.choice(COMMENTS["na"]) if rng.random() < 0.4 else None,
                            )
                        else:
                            score = 0 if omitted else _clamp(q + bias + rng.gauss(0, 0.45))
                            note = (
                                rng.choice(COMMENTS[score])
                                if score in COMMENTS and rng.random() < 0.4
                                else None
                            )
                            seg.update(score=score, comment=note)
                        rows.append(seg)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dsbuild.cultural.synthetic", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out", type=Path, default=SAMPLE_PATH, help="where to write (.jsonl, .csv or .parquet)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    from dsbuild.cultural.ratings import frame_from_rows, save_ratings

    df = frame_from_rows(generate(seed=args.seed), origin="synthetic")
    print(save_ratings(df, args.out), f"({df.height} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
