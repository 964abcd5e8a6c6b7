"""The long ratings table as a polars DataFrame: its columns, and building it from rows.

One row per rater x text x model x segment, plus full-text rows (see
`dsbuild.cultural.ratings` for the files). Rows are validated as `RatingRow`s; whole-table
rules (unique keys, one metadata set per rater, one category and surface per segment) are
checked here, so every reader (long files, wide sheets, published layouts) gets them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dsbuild.errors import InputError

if TYPE_CHECKING:
    import polars as pl

__all__ = ["COLUMNS", "KEY", "frame_from_rows", "rows_from_frame"]

KEY = ("text_id", "target", "model", "rater", "segment")
"""Columns that name a row: no two rows of a table share them."""

_STR, _INT, _BOOL = "str", "int", "bool"
COLUMNS: dict[str, str] = {
    "text_id": _STR,
    "source_lang": _STR,
    "target": _STR,
    "model": _STR,
    "rater": _STR,
    "rater_meta": _STR,
    "segment": _INT,
    "category": _STR,
    "surface": _STR,
    "start": _INT,
    "end": _INT,
    "translation": _STR,
    "score": _INT,
    "na": _BOOL,
    "content": _INT,
    "style": _INT,
    "audience": _INT,
    "overall": _INT,
    "comment": _STR,
    "final_comment": _STR,
    "language": _STR,
    "locale": _STR,
    "unit": _STR,
    "segment_id": _STR,
}


def _schema() -> dict[str, Any]:
    import polars as pl

    types = {_STR: pl.String, _INT: pl.Int64, _BOOL: pl.Boolean}
    return {name: types[kind] for name, kind in COLUMNS.items()}


def _validate(record: Mapping[str, Any], where: str):
    from pydantic import ValidationError

    from dsbuild.schemas.cultural import RatingRow
    from dsbuild.validation import field_path

    try:
        return RatingRow.model_validate(record)
    except ValidationError as exc:
        e = exc.errors()[0]
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise InputError(
            f"{where}: field {field_path(e['loc']) or '(row)'} [{e['type']}] {e['msg']}{more}",
            "correct that row (see `RatingRow` in dsbuild.schemas.cultural for the columns)",
            code="DSB303",
        ) from None


def frame_from_rows(rows: Iterable[Mapping[str, Any]], origin: str = "ratings") -> pl.DataFrame:
    """Validate rows (dicts in the `RatingRow` shape) and build the long table."""
    import polars as pl

    out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for i, record in enumerate(rows, 1):
        row = _validate(record, f"{origin}:row {i}").model_dump()
        row["rater_meta"] = json.dumps(row["rater_meta"], sort_keys=True, ensure_ascii=False)
        for name in COLUMNS:
            out[name].append(row[name])
    df = pl.DataFrame(out, schema=_schema())
    _check_table(df, origin)
    return df


def rows_from_frame(df: pl.DataFrame, *, compact: bool = False) -> list[dict[str, Any]]:
    """The table's rows as dicts (`rater_meta` as an object); `compact` drops empty fields."""
    rows = []
    for row in df.select(list(COLUMNS)).iter_rows(named=True):
        row["rater_meta"] = json.loads(row["rater_meta"] or "{}")
        if compact:
            row = {
                k: v
                for k, v in row.items()
                if v is not None and v != {} and not (k == "na" and v is False)
            }
        rows.append(row)
    return rows


def _check_table(df: pl.DataFrame, origin: str) -> None:
    """Whole-table rules: unique keys; one metadata set per rater; one category and surface
    per segment of a text."""
    import polars as pl

    dup = df.with_row_index("row", 1).filter(~pl.struct(list(KEY)).is_first_distinct())
    if dup.height:
        first = dup.row(0, named=True)
        what = "the full text" if first["segment"] is None else f"segment {first['segment']}"
        raise InputError(
            f"{origin}:row {first['row']}: rater {first['rater']} already rated {what} of text "
            f"{first['text_id']} by {first['model']} into {first['target']} in an earlier row",
            "keep one rating per rater, text, model, locale and segment",
            code="DSB303",
        )
    meta = (
        df.group_by("rater", maintain_order=True)
        .agg(pl.col("rater_meta").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    if meta.height:
        raise InputError(
            f"{origin}: rater {meta['rater'][0]} has different `rater_meta` in different rows",
            "give each rater one set of metadata (it describes the rater, not the rating)",
            code="DSB303",
        )
    # Rows with a study's own `segment_id` are left to the study (its ids say what is the same
    # segment).
    seg = df.filter(pl.col("segment").is_not_null() & pl.col("segment_id").is_null())
    clash = (
        seg.group_by("text_id", "segment", maintain_order=True)
        .agg(pl.col("category").n_unique().alias("c"), pl.col("surface").n_unique().alias("s"))
        .filter((pl.col("c") > 1) | (pl.col("s") > 1))
    )
    if clash.height:
        t, s = clash.row(0)[:2]
        raise InputError(
            f"{origin}: segment {s} of text {t} has different categories or surfaces in "
            "different rows",
            "give every row of one segment the same `category` and `surface` (check the "
            "spreadsheet's column order)",
            code="DSB303",
        )
