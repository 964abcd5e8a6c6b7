"""The cultural dataset's export hooks (`dsbuild.hub.hooks`): one row per translation (the
unit a rater judges; the source text's id in `text_id`, the split group), ratings in the long
table convention of `schemas/cultural.py` (`score` 0-3 or null, `na: true` for "not
translated", an answer rather than missing data), records merged per source text as the
original format, and agreement computed from the ratings when some unit has two raters."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from dsbuild.hub.hooks import DatasetExport, json_text, record_id

__all__ = ["EXPORT", "CulturalExport"]


def _score(value: Any) -> tuple[int | None, bool]:
    if isinstance(value, str) and value.strip().upper() == "NA":
        return None, True
    return (None if value is None else int(value)), False


def _rated(x: Mapping[str, Any]) -> bool:
    """A segment rating that holds an answer (a score or NA)."""
    return x["nuance"] is not None and (x["na"] or x["score"] is not None)


class CulturalExport(DatasetExport):
    split_key = "text_id"
    json_columns = ("provenance",)
    original_formats: ClassVar[Mapping[str, str]] = {
        "cultural": "dsbuild cultural records: one per source text with all its translations and "
        "ratings (`dsbuild cultural validate` checks them)",
    }

    def features(self) -> Any:
        import datasets as hf

        from dsbuild.schemas.cultural import NUANCE_CATEGORIES

        s = hf.Value("string")
        i64 = hf.Value("int64")
        i8 = hf.Value("int8")
        category = hf.ClassLabel(names=list(NUANCE_CATEGORIES))
        return hf.Features(
            {
                "id": s,
                "text_id": s,
                "lang": s,
                "text": s,
                "source": s,
                "nuances": hf.List(
                    {"start": i64, "end": i64, "category": category, "surface": s, "note": s}
                ),
                "system": s,
                "target_lang": s,
                "translation": s,
                "alignments": hf.List(
                    {"nuance": i64, "counterpart": s, "start": i64, "end": i64, "status": s}
                ),
                "ratings": hf.List(
                    {
                        "annotator": s,
                        "nuance": i64,
                        "score": i8,
                        "na": hf.Value("bool"),
                        "content": i8,
                        "style": i8,
                        "audience": i8,
                        "comment": s,
                    }
                ),
                "provenance": s,
            }
        )

    def rows(self, record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
        rid = record_id(record, "id", index)
        text_id = str(record.get("text_id") or rid)
        nuances = [
            {
                "start": n["start"],
                "end": n["end"],
                "category": n["category"],
                "surface": n["surface"],
                "note": n.get("note"),
            }
            for n in record["nuances"]
        ]
        base_prov = record.get("provenance") or {}
        for tr in record.get("translations") or []:
            ratings = []
            for r in tr.get("ratings") or []:
                score, na = _score(r.get("score"))
                ratings.append(
                    {
                        "annotator": r["annotator"],
                        "nuance": r.get("nuance"),
                        "score": score,
                        "na": na,
                        "content": r.get("content"),
                        "style": r.get("style"),
                        "audience": r.get("audience"),
                        "comment": r.get("comment"),
                    }
                )
            alignments = [
                {
                    "nuance": a["nuance"],
                    "counterpart": a.get("counterpart"),
                    "start": a.get("start"),
                    "end": a.get("end"),
                    "status": a.get("status"),
                }
                for a in tr.get("alignments") or []
            ]
            provenance = {**base_prov, **(tr.get("provenance") or {})}
            if tr.get("model_answered"):
                provenance.setdefault("model_answered", tr["model_answered"])
            yield {
                "id": f"{text_id}/{tr['target_lang']}/{tr['system']}",
                "text_id": text_id,
                "lang": record["lang"],
                "text": record["text"],
                "source": record.get("source"),
                "nuances": nuances,
                "system": tr["system"],
                "target_lang": tr["target_lang"],
                "translation": tr["text"],
                "alignments": alignments,
                "ratings": ratings,
                "provenance": json_text(provenance),
            }

    def write_originals(
        self, split: str, records: Sequence[Mapping[str, Any]], out: Path
    ) -> dict[str, int]:
        """`CulturalRecord`s: each row back to a one-translation record (nulls left out, NA
        scores as "NA"), merged per source text as the builder merges them."""
        from dsbuild.cultural.records import merge_by_text
        from dsbuild.runs.jsonl import write_jsonl

        single = []
        for r in records:
            translation = {
                "system": r["system"],
                "target_lang": r["target_lang"],
                "text": r["translation"],
                "ratings": [
                    {
                        k: ("NA" if x["na"] else x["score"]) if k == "score" else v
                        for k, v in x.items()
                        if k != "na" and (v is not None or k == "score")
                    }
                    for x in r["ratings"]
                ],
                **({"alignments": r["alignments"]} if r["alignments"] else {}),
            }
            single.append(
                {
                    "id": r["text_id"],
                    "lang": r["lang"],
                    "text": r["text"],
                    "source": r["source"],
                    "nuances": [
                        {k: v for k, v in n.items() if v is not None} for n in r["nuances"]
                    ],
                    "translations": [translation],
                }
            )
        rel = f"cultural/{split}.jsonl"
        return {rel: write_jsonl(out / rel, merge_by_text(single))}

    def languages(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        """Source and target languages."""
        return sorted({str(r["lang"]) for r in rows} | {str(r["target_lang"]) for r in rows})

    def label_tables(self, rows: Sequence[Mapping[str, Any]]) -> list:
        from dsbuild.hub.summary import distribution

        cats = Counter(
            n["category"] for r in {r["text_id"]: r for r in rows}.values() for n in r["nuances"]
        )
        status = Counter(a["status"] or "unknown" for r in rows for a in r["alignments"])
        scores = Counter(
            "NA" if x["na"] else x["score"] for r in rows for x in r["ratings"] if _rated(x)
        )
        out = [distribution("Nuance categories (per source text)", cats, "category")]
        if status:
            out.append(distribution("Alignment of nuances in translations", status, "status"))
        if scores:
            out.append(distribution("Segment ratings (0-3, NA = not translated)", scores, "score"))
        return out

    def agreement(self, rows: Sequence[Mapping[str, Any]]) -> Any:
        """Agreement of the segment ratings (NA scored 0) when some unit has two raters."""
        from dsbuild.hub.summary import Table
        from dsbuild.metrics.agreement import agreement_summary

        units: dict[tuple, dict[str, Any]] = defaultdict(dict)
        for r in rows:
            for x in r["ratings"]:
                if _rated(x):
                    units[(r["id"], x["nuance"])][x["annotator"]] = "NA" if x["na"] else x["score"]
        raters = sorted({a for u in units.values() for a in u})
        table = [[u.get(a) for a in raters] for u in units.values()]
        if not any(sum(v is not None for v in t) >= 2 for t in table):
            return None
        summary = agreement_summary(table, na="zero")
        return Table(
            "Annotation agreement (segment ratings, NA scored 0)",
            ["statistic", "value"],
            [[k, f"{v:.3f}" if isinstance(v, float) else v] for k, v in summary.items()],
        )


EXPORT = CulturalExport()
