"""PsiloQA statistics for `dsbuild psiloqa stats`: PsiloQA rows and Mu-SHROOM items.

Per language: records, share with hallucinated spans, spans per record, share of the answer's
characters inside spans, mean answer length; answers by model (and by complexity for PsiloQA
rows); span lengths in buckets. The chart is `dsbuild.psiloqa.chart.span_chart`. See
`dsbuild.tables` for the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dsbuild.psiloqa.chart import span_chart
from dsbuild.tables import (
    DatasetStats,
    FormatStats,
    Row,
    Table,
    distribution,
    frame,
    table,
)

__all__ = ["STATS", "mushroom_tables", "psiloqa_tables"]

SPAN_BUCKETS = ([5, 10, 20, 50, 100], ["1-5", "6-10", "11-20", "21-50", "51-100", ">100"])


def _span_chars(spans: Iterable | None) -> int:
    total = 0
    for span in spans or []:
        start, end = (span["start"], span["end"]) if isinstance(span, dict) else span[:2]
        total += max(int(end) - int(start), 0)
    return total


def _span_lengths(spans: Iterable | None) -> list[int]:
    return [max(int(s[1]) - int(s[0]), 0) for s in spans or []]


def _psiloqa_row(r: Row) -> Row:
    answer = r.get("llm_answer") or ""
    return {
        "lang": r.get("lang"),
        "complexity": r.get("complexity"),
        "model": r.get("llm_checkpoint"),
        "n_spans": len(r.get("labels") or []),
        "text_chars": len(answer),
        "span_chars": _span_chars(r.get("labels")),
        "span_lengths": _span_lengths(r.get("labels")),
    }


def _mushroom_row(r: Row) -> Row:
    text = r.get("model_output_text") or ""
    return {
        "lang": (r.get("lang") or "").lower() or None,
        "model": r.get("model_id"),
        "n_spans": len(r.get("hard_labels") or []),
        "text_chars": len(text),
        "span_chars": _span_chars(r.get("hard_labels")),
        "span_lengths": _span_lengths(r.get("hard_labels")),
    }


def _span_tables(df, *, complexity: bool) -> dict[str, Table]:
    import polars as pl

    tables: dict[str, Table] = {}
    by_lang = (
        df.group_by("lang")
        .agg(
            pl.len().alias("records"),
            (pl.col("n_spans") > 0).mean().mul(100).round(1).alias("% with spans"),
            pl.col("n_spans").mean().round(2).alias("spans/record"),
            (pl.col("span_chars").sum() / pl.col("text_chars").sum() * 100)
            .round(1)
            .alias("% chars in spans"),
            pl.col("text_chars").mean().round(1).alias("mean answer chars"),
        )
        .sort("lang")
    )
    tables["By language"] = table(by_lang)
    tables["By model"] = distribution(df, "model")
    if complexity:
        tables["Complexity"] = distribution(df, "complexity")
    lengths = df.select(pl.col("span_lengths").explode()).drop_nulls()
    if lengths.height:
        breaks, labels = SPAN_BUCKETS
        buckets = lengths.select(
            pl.col("span_lengths").cut(breaks, labels=labels, left_closed=False).alias("span chars")
        )
        tables["Span length"] = distribution(
            buckets.with_columns(pl.col("span chars").cast(pl.String)), "span chars"
        )
    return tables


def psiloqa_tables(records: list[Row]) -> dict[str, Any]:
    """The tables of PsiloQA rows."""
    return _span_tables(frame([_psiloqa_row(r) for r in records]), complexity=True)


def mushroom_tables(records: list[Row]) -> dict[str, Any]:
    """The tables of Mu-SHROOM items (no complexity: the format has none)."""
    return _span_tables(frame([_mushroom_row(r) for r in records]), complexity=False)


STATS = DatasetStats(
    {
        "psiloqa": FormatStats(tables=psiloqa_tables, chart=span_chart),
        "mushroom": FormatStats(tables=mushroom_tables, chart=span_chart),
    }
)
