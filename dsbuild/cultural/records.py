"""A cultural run's output shapes: one record per source text with all its translations,
and the long rating table handed to raters."""

from __future__ import annotations

__all__ = ["merge_by_text", "rating_rows"]


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
