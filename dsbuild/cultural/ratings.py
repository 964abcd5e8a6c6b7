"""The long ratings table: one row per rater x text x model x segment, plus full-text rows.

Each row is a `dsbuild.schemas.cultural.RatingRow`; as a polars DataFrame the columns are
`COLUMNS` in that order. Segment rows have `segment` (from 1), `category`, `surface` and a
`score` (0-3) or `na` (true = not translated); full-text rows have a null `segment` and the
four criteria `content`, `style`, `audience`, `overall`. A row with no rating at all is a
missing rating, kept for its comment. `target` is the language-locale (ja-JP); analyses call
it the language. `rater_meta` is a JSON object in JSONL and a JSON string in the frame, CSV
and Parquet (one type per column).

Optional study columns: `language` and `locale` (as the study names them; analyses group by
them), `unit` and `segment_id` (the study's ids, the agreement units), `final_comment`.

Files: `.jsonl` (null fields, `na: false` and empty metadata left out), `.csv`, `.parquet`;
`load_ratings` also reads a wide spreadsheet (`.xlsx`, or a CSV whose header has
`Rater ID`) through `dsbuild.cultural.spreadsheet`. `read_ratings` reads every layout,
including the published "Be My Cheese?" sheet and `--columns` maps
(`dsbuild.cultural.mapped`), and says what it skipped and excluded. Rows keep their file order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.cultural.exclusions import Exclusions
from dsbuild.cultural.frames import COLUMNS, KEY, frame_from_rows, rows_from_frame
from dsbuild.errors import InputError, InvalidRecordsError
from dsbuild.quirks import Warnings

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "COLUMNS",
    "KEY",
    "RatingsRead",
    "frame_from_rows",
    "load_ratings",
    "read_ratings",
    "rows_from_frame",
    "save_ratings",
]

LONG_EXTENSIONS = (".jsonl", ".ndjson", ".csv", ".parquet", ".pq")


@dataclass
class RatingsRead:
    """A ratings file read: the long table, plus what reading it skipped and left out."""

    frame: pl.DataFrame
    layout: str
    rows_read: int
    empty_rows: int = 0
    warnings: Warnings = field(default_factory=Warnings)
    exclusions: Exclusions = field(default_factory=Exclusions)

    def counts(self) -> dict[str, Any]:
        """Reading counts for the report: layout, rows read, empty rows skipped, exclusions by
        reason."""
        return {
            "layout": self.layout,
            "rows_read": self.rows_read,
            "empty_rows_skipped": self.empty_rows,
            **self.exclusions.to_dict(),
            "warnings": self.warnings.to_dict()["by_reason"],
        }

    def raise_if_strict(self, strict: bool, where: str) -> None:
        """With `strict`, any warning or excluded rating is an error (DSB303, exit 3)."""
        if not strict or not (self.warnings or self.exclusions):
            return
        first = self.warnings.items[0].line() if self.warnings else self.exclusions.items[0].line()
        parts = [
            p
            for p in (
                self.warnings.summary() if self.warnings else "",
                self.exclusions.summary() if self.exclusions else "",
            )
            if p
        ]
        raise InvalidRecordsError(
            f"--strict: {where} has {'; '.join(parts)}; first: {first}",
            "drop --strict to skip and exclude them with a count, or fix the sheet",
        )


def read_ratings(path: str | Path, columns: Mapping[str, str] | None = None) -> RatingsRead:
    """Read ratings in any layout: long (.jsonl, .csv, .parquet), our wide sheet, the published
    "Be My Cheese?" sheet (detected by its header), or any sheet mapped by `columns`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ratings file {path} does not exist", "check the path", code="DSB301")
    suffix = path.suffix.lower()
    kind = _sheet_kind(path) if suffix in (".xlsx", ".csv") else None
    if columns or kind in ("published", "unknown"):
        if suffix not in (".xlsx", ".csv"):
            raise InputError(
                f"{path}: --columns maps the headers of a .csv or .xlsx sheet",
                "drop --columns for long files (their columns are fixed)",
                code="DSB302",
            )
        from dsbuild.cultural.mapped import read_mapped

        sheet = read_mapped(path, columns)
        df = frame_from_rows(sheet.rows, origin=str(path))
        if df.height == 0:
            raise InputError(
                f"{path} holds no ratings "
                f"({sheet.exclusions.summary() if sheet.exclusions else 'no rows'})",
                "check that you gave the right file",
                code="DSB304",
            )
        return RatingsRead(
            df,
            sheet.layout,
            sheet.sheet_rows - sheet.empty_rows,
            sheet.empty_rows,
            sheet.warnings,
            sheet.exclusions,
        )
    df = load_ratings(path)
    return RatingsRead(
        df, "wide" if kind == "wide" else "long", df.height if kind != "wide" else _wide_rows(df)
    )


def _wide_rows(df: pl.DataFrame) -> int:
    return df.select("text_id", "target", "model", "rater", "source_lang").n_unique()


def _sheet_kind(path: Path) -> str | None:
    """`published`, `wide`, `unknown` (a sheet of no known layout) or None (a long CSV) by the
    header."""
    from dsbuild.cultural.layouts import detect
    from dsbuild.cultural.mapped import sheet_header

    try:
        header = sheet_header(path)
    except (InputError, OSError):
        return "wide" if path.suffix.lower() == ".xlsx" else None  # let the old readers report it
    kind = detect(header)
    if kind is None and (
        path.suffix.lower() == ".xlsx" or "text_id" not in {str(h).strip() for h in header}
    ):
        return "unknown"
    return kind


def load_ratings(path: str | Path) -> pl.DataFrame:
    """Read a long ratings file (.jsonl, .csv, .parquet) or a wide spreadsheet (.xlsx, wide
    .csv)."""
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise InputError(f"ratings file {path} does not exist", "check the path", code="DSB301")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".csv") and _sheet_kind(path) in ("published", "unknown"):
        return read_ratings(path).frame
    if suffix == ".xlsx" or (suffix == ".csv" and _csv_is_wide(path)):
        from dsbuild.cultural.spreadsheet import read_wide, wide_to_long

        return wide_to_long(read_wide(path), origin=str(path))
    if suffix in (".jsonl", ".ndjson"):
        from dsbuild.readers import records_or_fail

        def records():
            for _, record in records_or_fail(path, "jsonl"):
                yield record

        df = frame_from_rows(records(), origin=str(path))
    elif suffix == ".csv":
        from dsbuild.readers import check_text_bounds

        check_text_bounds(path)  # polars would hold a record of any length
        try:
            raw = pl.read_csv(path, infer_schema=False)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(
                f"{path} is not a readable CSV "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0]})",
                "save it as UTF-8 CSV with one header row",
                code="DSB302",
            ) from None
        df = frame_from_rows(_table_rows(raw), origin=str(path))
    elif suffix in (".parquet", ".pq"):
        df = frame_from_rows(_table_rows(pl.read_parquet(path), csv=False), origin=str(path))
    else:
        raise InputError(
            f"{path}: cannot tell the ratings format from the extension {suffix or '(none)'}",
            "use .jsonl, .csv or .parquet (long) or .xlsx/.csv (wide)",
            code="DSB302",
        )
    if df.height == 0:
        raise InputError(
            f"{path} holds no ratings", "check that you gave the right file", code="DSB304"
        )
    return df


def _table_rows(raw: pl.DataFrame, csv: bool = True) -> Iterable[dict[str, Any]]:
    """Rows of a CSV or Parquet table: empty cells dropped, `rater_meta` decoded from JSON."""
    from dsbuild.readers import loads_json

    for row in raw.iter_rows(named=True):
        row = {
            k.lstrip("\ufeff"): v for k, v in row.items() if v is not None and not (csv and v == "")
        }
        if "rater_meta" in row:
            try:
                row["rater_meta"] = loads_json(
                    row["rater_meta"],
                    "a rater_meta cell",
                    'give rater_meta as a flat JSON object, e.g. {"background": "linguist"}',
                )
            except json.JSONDecodeError:
                pass  # validation reports it as not a dict
        yield row


def _csv_is_wide(path: Path) -> bool:
    from dsbuild.cultural.mapped import sheet_header
    from dsbuild.cultural.spreadsheet import is_wide_header

    return is_wide_header([h or "" for h in sheet_header(path)])


def save_ratings(df: pl.DataFrame, path: str | Path) -> Path:
    """Write the long table as .jsonl, .csv or .parquet (by extension), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LONG_EXTENSIONS:
        raise InputError(
            f"cannot write long ratings as {path.name}",
            "name the output .jsonl, .csv or .parquet",
            code="DSB302",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    df = df.select(list(COLUMNS))
    if suffix in (".jsonl", ".ndjson"):
        text = "".join(
            json.dumps(r, ensure_ascii=False) + "\n" for r in rows_from_frame(df, compact=True)
        )
        tmp.write_text(text, encoding="utf-8", newline="\n")
    elif suffix == ".csv":
        df.write_csv(tmp)
    else:
        df.write_parquet(tmp)
    os.replace(tmp, path)
    return path
