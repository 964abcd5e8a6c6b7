"""Cultural-nuance statistics for `dsbuild cultural stats`: segments per language, nuance
categories, and the native speakers' ratings per translation system (mean 0-3 score, share
of NA) with the score distribution. No chart here (`dsbuild cultural report` draws the
analysis charts). See `dsbuild.tables` for the protocol.
"""

from __future__ import annotations

from typing import Any

from dsbuild.tables import (
    DatasetStats,
    FormatStats,
    Row,
    distribution,
    frame,
    list_distribution,
    table,
)

__all__ = ["STATS", "cultural_tables"]


def _row(r: Row) -> Row:
    translations = r.get("translations") or []
    return {
        "lang": r.get("lang"),
        "categories": [n.get("category") for n in r.get("nuances") or []],
        "ratings": [
            {"system": t.get("system"), "score": str(rt.get("score"))}
            for t in translations
            for rt in t.get("ratings") or []
        ],
    }


def cultural_tables(records: list[Row]) -> dict[str, Any]:
    """The tables of cultural-nuance segments."""
    import polars as pl

    df = frame([_row(r) for r in records])
    tables: dict[str, Any] = {
        "By language": distribution(df, "lang"),
        "Nuance categories": list_distribution(df, "categories", "category"),
    }
    exploded = df.select(pl.col("ratings").explode()).drop_nulls()
    ratings = (
        exploded.unnest("ratings").drop_nulls()
        if isinstance(exploded.schema["ratings"], pl.Struct)
        else exploded.clear()
    )
    if ratings.height:
        numeric = pl.col("score").cast(pl.Int64, strict=False)
        by_system = (
            ratings.group_by("system")
            .agg(
                pl.len().alias("ratings"),
                numeric.mean().round(2).alias("mean score (0-3)"),
                (pl.col("score") == "NA").mean().mul(100).round(1).alias("% NA"),
            )
            .sort("system")
        )
        tables["Ratings by system"] = table(by_system)
        tables["Score distribution"] = distribution(ratings, "score")
    return tables


STATS = DatasetStats({"cultural": FormatStats(tables=cultural_tables)})
