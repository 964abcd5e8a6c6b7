"""The rows of a MedRECT run: the builder's output row, and that row as a MedRECT record.

output_row(record, screening)  id, the MedRECT fields, metadata, screening_results,
                               provenance (what the run's records.jsonl holds)
medrect_rows(rows)             MedRECT records: provenance moved into metadata, id dropped
"""

from __future__ import annotations

from dsbuild.medrect import MEDRECT_KEYS

__all__ = ["medrect_rows", "output_row"]


def output_row(record: dict, screening: dict | None) -> dict:
    """The output row: id, the MedRECT fields, metadata, screening_results, provenance."""
    row = {"id": record["id"], **{k: record.get(k) for k in MEDRECT_KEYS}}
    row.update(
        metadata=record["metadata"],
        screening_results=screening,
        provenance=record.get("provenance", {}),
    )
    return row


def medrect_rows(rows: list[dict]) -> list[dict]:
    """Output rows as MedRECT records: the MedRECT fields, `metadata` (with `provenance`
    moved into it) and `screening_results`; the run's `id` is `sample_id`'s variant and dropped."""
    out = []
    for r in rows:
        meta = dict(r.get("metadata") or {})
        if r.get("provenance"):
            meta["provenance"] = r["provenance"]
        out.append(
            {
                **{k: r.get(k) for k in MEDRECT_KEYS},
                "metadata": meta,
                "screening_results": r.get("screening_results"),
            }
        )
    return out
