"""EntityCS statistics for `dsbuild entitycs stats`: per language, the sentences, entities
per sentence (the `entities` list, else the `<en>` markers) and mean sentence length. No
chart. See `dsbuild.tables` for the protocol.
"""

from __future__ import annotations

from typing import Any

from dsbuild.tables import DatasetStats, FormatStats, Row, frame, table

__all__ = ["STATS", "entitycs_tables"]


def _row(r: Row) -> Row:
    entities = r.get("entities")
    n = len(entities) if entities is not None else (r.get("cs_sentence") or "").count("<en>")
    return {
        "lang": r.get("language"),
        "n_entities": n,
        "text_chars": len(r.get("cs_sentence") or ""),
    }


def entitycs_tables(records: list[Row]) -> dict[str, Any]:
    """The tables of EntityCS rows."""
    import polars as pl

    df = frame([_row(r) for r in records])
    by_lang = (
        df.group_by("lang")
        .agg(
            pl.len().alias("records"),
            pl.col("n_entities").mean().round(2).alias("entities/sentence"),
            pl.col("text_chars").mean().round(1).alias("mean sentence chars"),
        )
        .sort("lang")
    )
    return {"By language": table(by_lang)}


STATS = DatasetStats({"entitycs": FormatStats(tables=entitycs_tables)})
