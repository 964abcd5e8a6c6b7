"""The wide rating spreadsheet such studies hand to raters, from and to CSV and XLSX.

One row per rater x text x model (x target locale). Columns, in this order:

    Text ID               id of the source text (required)
    Source language       language of the source text (optional; default en)
    Target locale         language-locale the text was translated for, e.g. ja-JP (required)
    Model                 the system that translated (required)
    Rater ID              pseudonymous rater id (required)
    Rater: <key>          one column per rater metadata key, e.g. `Rater: background` (optional)
    Translation           the full translation (optional)
    Faithful to content, Faithful to style, Appropriate to audience, Overall
                          full-text ratings, 0-3 (NA not allowed)
    Comments              the rater's comments on the full text
    Segment N, Segment N category, Segment N translation, Segment N rating,
    Segment N comments    for N = 1..5 (or more): the source segment, its category (idiom,
                          pun, holiday, cultural_concept, other), its counterpart in the
                          translation, the rating (0-3 or NA = not translated), comments

An empty rating cell is a missing rating; `NA` (also `N/A`, any case) is the answer "not
translated". A `Segment N` block whose `Segment N` cell is empty is skipped (texts with fewer
segments). Header names are matched ignoring case and surrounding spaces. Segment offsets
are not part of the layout, so long -> wide drops `start`/`end`.

XLSX goes through openpyxl (first sheet; ratings written as numbers); CSV through polars.
Writing a long table as wide and reading it back gives the same table; reading a wide sheet
and writing it again gives the same sheet (tested).
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.errors import InputError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "FULL_TEXT_COLUMNS",
    "ID_COLUMNS",
    "MIN_SEGMENTS",
    "SEGMENT_FIELDS",
    "is_wide_header",
    "long_to_wide",
    "read_wide",
    "wide_to_long",
    "write_wide",
]

TEXT_ID, SOURCE_LANG, TARGET, MODEL, RATER = (
    "Text ID",
    "Source language",
    "Target locale",
    "Model",
    "Rater ID",
)
ID_COLUMNS = (TEXT_ID, SOURCE_LANG, TARGET, MODEL, RATER)
REQUIRED = (TEXT_ID, TARGET, MODEL, RATER)
META_PREFIX = "Rater: "
TRANSLATION = "Translation"
FULL_TEXT_COLUMNS = {
    "content": "Faithful to content",
    "style": "Faithful to style",
    "audience": "Appropriate to audience",
    "overall": "Overall",
}
COMMENTS = "Comments"
SEGMENT_FIELDS = {
    "surface": "Segment {n}",
    "category": "Segment {n} category",
    "translation": "Segment {n} translation",
    "rating": "Segment {n} rating",
    "comment": "Segment {n} comments",
}
MIN_SEGMENTS = 5
_SEGMENT = re.compile(r"^segment (\d+)(?: (category|translation|rating|comments))?$")
_RATING_COLUMNS = {*FULL_TEXT_COLUMNS.values()}


def _norm(name: str) -> str:
    return " ".join(str(name).lstrip("\ufeff").split()).lower()


def is_wide_header(columns: Sequence[str]) -> bool:
    """True for a wide sheet's header (it names a rater and a first segment or the overall
    rating)."""
    names = {_norm(c) for c in columns}
    return _norm(RATER) in names and (_norm("Segment 1") in names or _norm("Overall") in names)


# --------------------------------------------------------------------------- wide -> long


def _cell(value: Any) -> str | None:
    """A cell as text: None for empty, integers without `.0`."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value)
    return text if text.strip() else None


def _rating(value: str | None, where: str, *, na_ok: bool) -> tuple[int | None, bool]:
    if value is None:
        return None, False
    text = value.strip()
    if text.upper() in ("NA", "N/A"):
        if not na_ok:
            raise InputError(
                f"{where}: NA is only for segments (not translated); full-text ratings are 0-3",
                "enter 0-3 or leave the cell empty",
                code="DSB303",
            )
        return None, True
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not number.is_integer() or not 0 <= number <= 3:
        allowed = "0-3 or NA" if na_ok else "0-3"
        raise InputError(
            f"{where}: rating {value!r} is not {allowed}",
            f"enter {allowed}, or leave the cell empty when not rated",
            code="DSB303",
        )
    return int(number), False


def _category(value: str, where: str) -> str:
    from dsbuild.schemas.cultural import NUANCE_CATEGORIES

    name = "_".join(value.strip().lower().replace("-", " ").split())
    if name not in NUANCE_CATEGORIES:
        raise InputError(
            f"{where}: category {value!r} is not one of {', '.join(NUANCE_CATEGORIES)}",
            "use one of those names",
            code="DSB303",
        )
    return name


def wide_to_long(wide: pl.DataFrame, origin: str = "spreadsheet") -> pl.DataFrame:
    """The long table (`dsbuild.cultural.ratings`) of a wide sheet read by `read_wide`."""
    from dsbuild.cultural.frames import frame_from_rows

    columns = {_norm(c): c for c in wide.columns}
    missing = [c for c in REQUIRED if _norm(c) not in columns]
    if missing:
        raise InputError(
            f"{origin}: the spreadsheet has no column {', '.join(repr(m) for m in missing)}",
            f"name the id columns {', '.join(REQUIRED)} (see dsbuild.cultural.spreadsheet)",
            code="DSB302",
        )
    meta_cols = [
        (c[len(META_PREFIX) :].strip(), c)
        for c in wide.columns
        if _norm(c).startswith(_norm(META_PREFIX))
    ]
    numbers = sorted({int(m.group(1)) for c in columns if (m := _SEGMENT.match(c))})

    def get(row: dict[str, Any], name: str) -> str | None:
        col = columns.get(_norm(name))
        return None if col is None else _cell(row[col])

    rows: list[dict[str, Any]] = []
    for i, row in enumerate(wide.iter_rows(named=True), 2):  # row 1 is the header
        where = f"{origin}:row {i}"
        ids = {
            f: get(row, c)
            for f, c in zip(("text_id", "source_lang", "target", "model", "rater"), ID_COLUMNS)
        }
        if all(v is None for v in row.values()):
            continue
        for f, c in zip(("text_id", "target", "model", "rater"), REQUIRED):
            if ids[f] is None:
                raise InputError(
                    f"{where}: column {c!r} is empty", "fill it in or delete the row", code="DSB303"
                )
        ids = {k: v.strip() for k, v in ids.items() if v is not None}
        base = {
            **ids,
            "rater_meta": {k: v for k, col in meta_cols if (v := _cell(row[col])) is not None},
        }
        full = {
            f: _rating(get(row, c), f"{where}, column {c!r}", na_ok=False)[0]
            for f, c in FULL_TEXT_COLUMNS.items()
        }
        comment, translation = get(row, COMMENTS), get(row, TRANSLATION)
        if (
            any(v is not None for v in full.values())
            or comment is not None
            or translation is not None
        ):
            rows.append({**base, **full, "translation": translation, "comment": comment})
        for n in numbers:
            cells = {f: get(row, c.format(n=n)) for f, c in SEGMENT_FIELDS.items()}
            if cells["surface"] is None:
                filled = [SEGMENT_FIELDS[f].format(n=n) for f, v in cells.items() if v is not None]
                if filled:
                    raise InputError(
                        f"{where}: {', '.join(filled)} filled in but 'Segment {n}' is empty",
                        f"write the source segment into 'Segment {n}'",
                        code="DSB303",
                    )
                continue
            if cells["category"] is None:
                raise InputError(
                    f"{where}: 'Segment {n} category' is empty",
                    "give the category (idiom, pun, holiday, cultural_concept, other)",
                    code="DSB303",
                )
            score, na = _rating(
                cells["rating"], f"{where}, column 'Segment {n} rating'", na_ok=True
            )
            rows.append(
                {
                    **base,
                    "segment": n,
                    "surface": cells["surface"],
                    "category": _category(
                        cells["category"], f"{where}, column 'Segment {n} category'"
                    ),
                    "translation": cells["translation"],
                    "score": score,
                    "na": na,
                    "comment": cells["comment"],
                }
            )
    return frame_from_rows(rows, origin=origin)


# --------------------------------------------------------------------------- long -> wide


def _rating_text(score: int | None, na: bool | None = False) -> str | None:
    return "NA" if na else None if score is None else str(score)


def long_to_wide(df: pl.DataFrame) -> pl.DataFrame:
    """The wide sheet of a long table (all columns text; empty cells null), rows in first-seen
    order."""
    import polars as pl

    meta_keys = sorted({k for m in df["rater_meta"].to_list() for k in json.loads(m or "{}")})
    n_blocks = max(MIN_SEGMENTS, int(df["segment"].max() or 0))
    header = [
        *ID_COLUMNS,
        *(META_PREFIX + k for k in meta_keys),
        TRANSLATION,
        *FULL_TEXT_COLUMNS.values(),
        COMMENTS,
    ]
    for n in range(1, n_blocks + 1):
        header += [c.format(n=n) for c in SEGMENT_FIELDS.values()]
    groups: dict[tuple, dict[str, Any]] = {}
    for r in df.iter_rows(named=True):
        key = (r["text_id"], r["source_lang"], r["target"], r["model"], r["rater"])
        out = groups.get(key)
        if out is None:
            out = groups[key] = dict.fromkeys(header)
            out.update(zip(ID_COLUMNS, key))
        meta = json.loads(r["rater_meta"] or "{}")
        for k, v in meta.items():
            out[META_PREFIX + k] = v
        if r["segment"] is None:
            out[TRANSLATION], out[COMMENTS] = r["translation"], r["comment"]
            for f, c in FULL_TEXT_COLUMNS.items():
                out[c] = _rating_text(r[f])
        else:
            n = r["segment"]
            cells = {
                "surface": r["surface"],
                "category": r["category"],
                "translation": r["translation"],
                "rating": _rating_text(r["score"], r["na"]),
                "comment": r["comment"],
            }
            for f, c in SEGMENT_FIELDS.items():
                out[c.format(n=n)] = cells[f]
    data = {c: [g[c] for g in groups.values()] for c in header}
    return pl.DataFrame(data, schema={c: pl.String for c in header})


# --------------------------------------------------------------------------- files


def read_wide(path: str | Path) -> pl.DataFrame:
    """Read a wide sheet from .csv or .xlsx (first sheet) as text columns."""
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise InputError(f"spreadsheet {path} does not exist", "check the path", code="DSB301")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        from dsbuild.readers import check_text_bounds

        check_text_bounds(path)  # polars would hold a record of any length
        try:
            df = pl.read_csv(path, infer_schema=False, encoding="utf8")
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise InputError(
                f"{path} is not a readable CSV "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0]})",
                "save the sheet as UTF-8 CSV with one header row",
                code="DSB302",
            ) from None
        return df.rename({c: c.lstrip("\ufeff") for c in df.columns})
    if suffix == ".xlsx":
        return _read_xlsx(path)
    raise InputError(
        f"{path}: a wide spreadsheet must be .csv or .xlsx",
        "save it as one of those",
        code="DSB302",
    )


def xlsx_rows(
    path: Path, *, choose: Callable[[tuple], bool] | None = None, header_only: bool = False
) -> list[tuple]:
    """The rows (value tuples) of a workbook's first sheet whose first row `choose` accepts
    (default, and when none does: the first sheet); only that row with `header_only`."""
    openpyxl = _openpyxl()
    from openpyxl.utils.exceptions import InvalidFileException

    def unreadable(exc: BaseException) -> InputError:
        detail = " ".join(str(exc).split())[:200]
        return InputError(
            f"{path} is not a readable XLSX workbook ({exc.__class__.__name__}"
            f"{': ' + detail if detail else ''})",
            "open it in a spreadsheet program and save it as .xlsx again",
            code="DSB302",
        )

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise unreadable(exc) from None
    except (
        Exception
    ) as exc:  # a damaged XML part: lxml's or ElementTree's syntax errors, and others
        raise unreadable(exc) from None
    try:
        if not book.worksheets:
            raise InputError(
                f"{path} has no worksheet", "put the ratings on the first sheet", code="DSB304"
            )
        chosen = book.worksheets[0]
        for sheet in book.worksheets if choose is not None else ():
            if choose(next(sheet.iter_rows(max_row=1, values_only=True), ())):
                chosen = sheet
                break
        return list(chosen.iter_rows(max_row=1 if header_only else None, values_only=True))
    except InputError:
        raise
    except Exception as exc:  # read-only sheets are parsed lazily: a damaged sheet fails here
        raise unreadable(exc) from None
    finally:
        book.close()


def _read_xlsx(path: Path) -> pl.DataFrame:
    import polars as pl

    rows = xlsx_rows(path)
    if not rows:
        raise InputError(
            f"{path}: the first sheet is empty", "put the ratings on the first sheet", code="DSB304"
        )
    header = [_cell(c) for c in rows[0]]
    while header and header[-1] is None:
        header.pop()
    if any(h is None for h in header):
        raise InputError(
            f"{path}: the header row has an empty cell (column {header.index(None) + 1})",
            "name every column",
            code="DSB302",
        )
    body = [[_cell(v) for v in (list(r) + [None] * len(header))[: len(header)]] for r in rows[1:]]
    while body and all(v is None for v in body[-1]):
        body.pop()
    data = {h: [r[j] for r in body] for j, h in enumerate(header)}
    return pl.DataFrame(data, schema={h: pl.String for h in header})


def _openpyxl():
    try:
        import openpyxl
    except ImportError:
        raise InputError(
            "reading and writing .xlsx needs the openpyxl package",
            "pip install openpyxl (or save the sheet as CSV)",
            code="DSB302",
        ) from None
    return openpyxl


def write_wide(wide: pl.DataFrame, path: str | Path) -> Path:
    """Write a wide sheet as .csv or .xlsx (by extension), atomically; XLSX ratings as numbers."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(
            f"cannot write a wide sheet as {path.name}",
            "name the output .csv or .xlsx",
            code="DSB302",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".csv":
        wide.write_csv(tmp)
    else:
        openpyxl = _openpyxl()
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("Ratings")
        numeric = [c in _RATING_COLUMNS or c.endswith(" rating") for c in wide.columns]
        sheet.append(list(wide.columns))
        for row in wide.iter_rows():
            sheet.append(
                [
                    int(v) if num and v is not None and v.isdigit() else v
                    for v, num in zip(row, numeric)
                ]
            )
        book.save(tmp)
    os.replace(tmp, path)
    return path
