"""A cultural run's record shapes: a translation's record once aligned (`aligned_record`),
one record per source text with all its translations (`merge_by_text`), the long rating
table handed to raters (`rating_rows`), and the files `finalize` writes from them
(`write_outputs`: `cultural.jsonl` and the rating sheet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dsbuild.builder_kit import read_records, write_records

__all__ = ["aligned_record", "merge_by_text", "raters", "rating_rows", "write_outputs"]

# a translation's own fields, moved from the record into its `translations` entry
_TRANSLATION_FIELDS = ("system", "target_lang", "translation", "model_answered", "provenance")


def aligned_record(record: dict, answers: Any, align_provenance: dict) -> Any:
    """The record with its translation (and the alignment of each segment's counterpart
    quote in `answers`) as its one `translations` entry; a rejection when the number of
    answers is not the number of segments."""
    from dsbuild.cultural.segments import align_counterparts
    from dsbuild.stages import reject

    nuances, translation = record["nuances"], record["translation"]
    answers = list(answers or [])
    if len(answers) != len(nuances):
        return reject(
            "align_count_mismatch", f"{len(answers)} counterparts for {len(nuances)} segments"
        )
    alignments, counts = align_counterparts(nuances, answers, translation)
    provenance = dict(record.get("provenance") or {})
    segment_provenance = provenance.pop("segments", None)
    tr = {
        "system": record["system"],
        "target_lang": record["target_lang"],
        "text": translation,
        "model_answered": record.get("model_answered"),
        "alignments": alignments,
        "align_stats": counts,
        "provenance": {**provenance, "align": align_provenance},
    }
    out = {k: v for k, v in record.items() if k not in _TRANSLATION_FIELDS}
    out["translations"] = [tr]
    out["provenance"] = {"segments": segment_provenance} if segment_provenance else {}
    return out


def merge_by_text(rows: list[dict]) -> list[dict]:
    """One `CulturalRecord` per source text holding every translation of it (run order)."""
    merged: dict[str, dict] = {}
    for row in rows:
        key = row.get("text_id") or row["id"]
        if key not in merged:
            merged[key] = {
                **{k: v for k, v in row.items() if k not in ("translations", "text_id")},
                "id": key,
                "translations": [],
            }
        merged[key]["translations"].extend(row.get("translations") or [])
    return list(merged.values())


def rating_rows(records: list[dict], raters: list[str]) -> list[dict]:
    """The long rating table (`RatingRow`s) for raters to fill in: per text x translation x
    rater, a full-text row with the translation and one row per segment with its counterpart
    (empty when omitted or not located); every rating empty."""
    rows = []
    for rec in records:
        for tr in rec["translations"]:
            counterparts = {
                a["nuance"]: a.get("counterpart")
                for a in tr.get("alignments") or []
                if a.get("status") == "aligned"
            }
            for rater in raters:
                base = {
                    "text_id": rec["id"],
                    "source_lang": rec["lang"],
                    "target": tr["target_lang"],
                    "model": tr["system"],
                    "rater": rater,
                }
                rows.append({**base, "translation": tr["text"]})
                for i, n in enumerate(rec["nuances"]):
                    rows.append(
                        {
                            **base,
                            "segment": i + 1,
                            "category": n["category"],
                            "surface": n["surface"],
                            "start": n["start"],
                            "end": n["end"],
                            "translation": counterparts.get(i),
                        }
                    )
    return rows


def raters(run_dir: str | Path) -> list[str]:
    """The raters of a run: its `raters` option (config.yaml), else the default ones."""
    import yaml

    from dsbuild.builder_options import validate_options
    from dsbuild.cultural.options import Options

    path = Path(run_dir) / "config.yaml"
    options = {}
    if path.is_file():
        options = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("options") or {}
    return validate_options(Options, options, dataset="cultural").raters


def write_outputs(records_path: str | Path, run_dir: str | Path, out_dir: str | Path) -> dict:
    """`cultural.jsonl` (one record per source text, all translations and alignments) and
    the rating sheet: `rating-sheet.jsonl` (long) and `rating-sheet.csv`/`.xlsx` (wide);
    the number of rows written to each."""
    from dsbuild.cultural.ratings import frame_from_rows, save_ratings
    from dsbuild.cultural.spreadsheet import long_to_wide, write_wide

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = merge_by_text(read_records(records_path))
    write_records(out_dir / "cultural.jsonl", records)
    table = frame_from_rows(rating_rows(records, raters(run_dir)), origin="rating sheet")
    save_ratings(table, out_dir / "rating-sheet.jsonl")
    wide = long_to_wide(table)
    write_wide(wide, out_dir / "rating-sheet.csv")
    write_wide(wide, out_dir / "rating-sheet.xlsx")
    return {
        "cultural.jsonl": len(records),
        "rating-sheet.jsonl": table.height,
        "rating-sheet.csv": wide.height,
        "rating-sheet.xlsx": wide.height,
    }
