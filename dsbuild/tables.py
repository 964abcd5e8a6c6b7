"""Statistics of record files: the protocol a dataset implements, and the table helpers.

`dsbuild <dataset> stats FILE` reads a file, detects its record format, and asks the format's
dataset how to describe it. A dataset answers with one `DatasetStats` object (its spec's
`stats` hook, usually `dsbuild.<dataset>.stats:STATS`) holding a `FormatStats` per record
format it reads:

* `tables(records)`: the titled tables, each `{"columns": [...], "rows": [[...], ...]}`,
  plain JSON-ready data (called only with at least one record);
* `summary(records)`: optional, any JSON-ready data beyond the tables;
* `chart(records, png_path)`: optional, draws a PNG and returns its path.

The shared code (`dsbuild.stats`) knows this protocol and nothing about any dataset. The
helpers below build the usual tables from a polars frame; polars is imported on first use.
This module is a primitive: it imports nothing from dsbuild, so dataset helpers may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DatasetStats",
    "FormatStats",
    "Row",
    "Table",
    "distribution",
    "frame",
    "list_distribution",
    "table",
]

Row = dict[str, Any]
Table = dict[str, Any]


@dataclass(frozen=True)
class FormatStats:
    """How the records of one format are described (see the module docstring)."""

    tables: Callable[[list[Row]], dict[str, Table]]
    summary: Callable[[list[Row]], Any] | None = None
    chart: Callable[[list[Row], Path], Path] | None = None


@dataclass(frozen=True)
class DatasetStats:
    """A dataset's statistics: one `FormatStats` per record format it reads."""

    formats: Mapping[str, FormatStats] = field(default_factory=dict)

    def of(self, fmt: str | None) -> FormatStats | None:
        """The format's statistics, or None when the dataset has none for it."""
        return self.formats.get(fmt) if fmt else None


def frame(rows: list[Row]):
    """A polars DataFrame of flat rows, the schema inferred from all of them."""
    import polars as pl

    return pl.DataFrame(rows, infer_schema_length=None)


def table(df, columns: list[str] | None = None) -> Table:
    """A frame as a plain table (its columns, or the ones given, in that order)."""
    return {
        "columns": list(columns if columns is not None else df.columns),
        "rows": [list(row) for row in df.iter_rows()],
    }


def distribution(df, column: str) -> Table:
    """Records per value of `column` and their share (%), most frequent first; a missing
    value is counted as "(missing)"."""
    import polars as pl

    counts = (
        df.group_by(column)
        .agg(pl.len().alias("records"))
        .with_columns((pl.col("records") / pl.col("records").sum() * 100).round(1).alias("%"))
        .sort(["records", column], descending=[True, False], nulls_last=True)
    )
    counts = counts.with_columns(pl.col(column).cast(pl.Utf8).fill_null("(missing)"))
    return table(counts, [column, "records", "%"])


def list_distribution(df, column: str, label: str) -> Table:
    """The distribution of the items of a list column, under the title `label`."""
    import polars as pl

    exploded = df.select(pl.col(column).explode().alias(label)).drop_nulls()
    return (
        distribution(exploded, label)
        if exploded.height
        else {"columns": [label, "records", "%"], "rows": []}
    )
