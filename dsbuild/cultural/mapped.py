"""Reading a rating sheet through a column map (`dsbuild.cultural.layouts`): the published
"Be My Cheese?" sheet as released, or any study's sheet with `--columns`.

The sheet is read as it is. Empty rows are skipped with an `empty_row` warning
(`dsbuild.quirks`); a segment block whose category is outside the scheme or whose rating is
not 0-3/NA, a full-text rating outside 0-3, a row without its ids, are excluded with their
sheet row (`dsbuild.cultural.exclusions`) and the rest is read. Categories are normalised:
case, surrounding spaces, spaces/hyphens and plurals (`holidays `, `cultural concepts`).
Without a rater column every sheet row is its own rater, `row-<sheet row>`; the target is
`Language (Locale)` and both are kept (`language`, `locale`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.cultural.exclusions import Exclusions
from dsbuild.cultural.layouts import Resolved, detect, resolve
from dsbuild.errors import InputError
from dsbuild.quirks import Warnings

__all__ = ["MappedSheet", "category_name", "read_mapped", "sheet_header", "sheet_rows"]

_NA = ("NA", "N/A")


@dataclass
class MappedSheet:
    """Rows in the `RatingRow` shape, with what was skipped and excluded on the way."""

    layout: str
    rows: list[dict[str, Any]]
    sheet_rows: int = 0
    empty_rows: int = 0
    warnings: Warnings = field(default_factory=Warnings)
    exclusions: Exclusions = field(default_factory=Exclusions)


def category_name(value: str) -> str | None:
    """The scheme's name for a category as a sheet writes it (`holidays `,
    `Cultural-Concepts`), or None."""
    from dsbuild.schemas.cultural import NUANCE_CATEGORIES

    name = "_".join(value.strip().lower().replace("-", " ").replace("_", " ").split())
    for candidate in (name, name[:-1] if name.endswith("s") else None):
        if candidate in NUANCE_CATEGORIES:
            return candidate
    return None


def _text(value: Any) -> str | None:
    """A cell as text (None when empty), numbers without `.0`: the wide reader's rule."""
    from dsbuild.cultural.spreadsheet import _cell

    return _cell(value)


def sheet_rows(path: Path) -> tuple[list[str | None], Iterator[tuple[int, list[str | None]]]]:
    """The header and (sheet row number, cells as text) of a .csv or .xlsx; trailing empty
    rows dropped.

    XLSX: the first sheet whose header is a known layout, else the first sheet.
    """
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = [(i, row) for i, row in enumerate(_csv_rows(path), 1)]
    elif suffix == ".xlsx":
        raw = list(enumerate(_xlsx_rows(path), 1))
    else:
        raise InputError(
            f"{path}: a rating sheet must be .csv or .xlsx",
            "save it as one of those",
            code="DSB302",
        )
    if not raw:
        raise InputError(
            f"{path}: the sheet is empty", "put the header and the ratings on it", code="DSB304"
        )
    header = [_text(c) for c in raw[0][1]]
    while header and header[-1] is None:
        header.pop()
    width = len(header)
    body = [(i, [_text(v) for v in (list(r) + [None] * width)[:width]]) for i, r in raw[1:]]
    while body and all(v is None for v in body[-1][1]):
        body.pop()
    return header, iter(body)


def sheet_header(path: Path) -> list[str | None]:
    """Only the header row of a .csv or .xlsx (for detecting the layout)."""
    if path.suffix.lower() == ".csv":
        return [_text(c) for c in next(iter(_csv_rows(path, header_only=True)), [])]
    rows = _xlsx_rows(path, header_only=True)
    return [_text(c) for c in rows[0]] if rows else []


def _csv_rows(path: Path, header_only: bool = False) -> list[list[str]]:
    """The rows of a CSV sheet (only the first with `header_only`), no record longer than
    the readers' cap (`dsbuild.readers.max_field_bytes`); one-line errors name the file."""
    from dsbuild.readers import check_text_bounds, max_field_bytes

    limit = max_field_bytes()
    check_text_bounds(path, limit=limit)
    csv.field_size_limit(limit)
    try:
        with path.open(
            encoding="utf-8-sig", errors="strict" if not header_only else "replace", newline=""
        ) as fh:
            reader = csv.reader(fh)
            if header_only:
                return [next(reader, [])]
            return list(reader)
    except csv.Error as exc:
        raise InputError(
            f"{path} cannot be read as CSV: {exc}",
            "check the quoting, or save the sheet as UTF-8 CSV again",
            code="DSB302",
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text ({exc.reason})", "save the sheet as UTF-8 CSV", code="DSB302"
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}",
            "check the file's permissions",
            code="DSB301",
        ) from None


def _xlsx_rows(path: Path, header_only: bool = False) -> list[tuple]:
    """The rows of the first sheet whose header is a known layout (else the first sheet)."""
    from dsbuild.cultural.spreadsheet import xlsx_rows

    return xlsx_rows(
        path,
        choose=lambda first: detect([_text(c) for c in first]) is not None,
        header_only=header_only,
    )


def _grade(text: str | None, *, na_ok: bool) -> tuple[int | None, bool, str | None]:
    """(score, na, problem) of a rating cell; problem is None when the cell is fine or empty."""
    if text is None:
        return None, False, None
    value = text.strip()
    if value.upper() in _NA:
        if na_ok:
            return None, True, None
        return (
            None,
            False,
            f"NA {text!r} is only for segments (not translated); full-text ratings are 0-3",
        )
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number.is_integer() and 0 <= number <= 3:
        return int(number), False, None
    return None, False, f"rating {text!r} is not {'0-3 or NA' if na_ok else '0-3'}"


def read_mapped(path: str | Path, columns: Mapping[str, str] | None = None) -> MappedSheet:
    """Read a sheet through the detected layout and `columns` (field -> header) into long rows."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"spreadsheet {path} does not exist", "check the path", code="DSB301")
    origin = str(path)
    header, body = sheet_rows(path)
    cmap = resolve(header, columns, origin)
    index = {h: j for j, h in reversed(list(enumerate(header))) if h is not None}
    out = MappedSheet(layout=cmap.name, rows=[])
    for number, cells in body:
        out.sheet_rows += 1
        if all(v is None or not v.strip() for v in cells):
            out.empty_rows += 1
            out.warnings.add_record(
                [(None, "empty_row", "no cell filled; skipped")], f"{origin}:row {number}", None
            )
            continue
        out.rows.extend(
            _rows_of(cmap, index, cells, f"{origin}:row {number}", number, out.exclusions)
        )
    return out


def _rows_of(
    cmap: Resolved,
    index: dict[str, int],
    cells: list[str | None],
    where: str,
    number: int,
    excluded: Exclusions,
) -> list[dict[str, Any]]:
    """The long rows of one sheet row: a full-text row and one row per segment block."""
    from pydantic import ValidationError

    from dsbuild.schemas.cultural import RatingRow

    def get(header: str | None) -> str | None:
        value = None if header is None else cells[index[header]]
        return None if value is None else value.strip() or None

    f = {key: get(h) for key, h in cmap.fields.items()}
    language, locale = f.get("language"), f.get("locale")
    target = f.get("target") or (
        f"{language} ({locale})" if language and locale else language or locale
    )
    for key, value in (
        ("text_id", f.get("text_id")),
        ("model", f.get("model")),
        ("target", target),
    ):
        if value is None:
            header = (
                cmap.fields.get(key) or cmap.fields.get("language") or cmap.fields.get("locale")
            )
            excluded.add(where, "missing_id", f"column {header!r} is empty; the row is left out")
            return []
    base: dict[str, Any] = {
        "text_id": f["text_id"],
        "model": f["model"],
        "target": target,
        "language": language,
        "locale": locale,
        "rater": f.get("rater") or f"row-{number}",
        "unit": f.get("unit"),
        "rater_meta": {k: v for k, h in cmap.meta.items() if (v := get(h)) is not None},
    }
    if f.get("source_lang"):
        base["source_lang"] = f["source_lang"]
    rows: list[dict[str, Any]] = []
    full: dict[str, Any] = {}
    for key in ("content", "style", "audience", "overall"):
        if key in cmap.fields:
            score, _, problem = _grade(f[key], na_ok=False)
            if problem:
                excluded.add(
                    f"{where}, {cmap.fields[key]}", "rating_out_of_range", f"{problem}; left out"
                )
            full[key] = score
    texts = {k: f.get(k) for k in ("translation", "comment", "final_comment")}
    if any(v is not None for v in (*full.values(), *texts.values())):
        rows.append({**base, **full, **texts})
    for n, cols in cmap.segments.items():
        c = {key: (get(h), h) for key, h in cols.items()}
        value = {key: v for key, (v, _) in c.items()}
        if all(
            value.get(k) is None
            for k in ("segment", "category", "segment_translation", "rating", "segment_comment")
        ):
            continue
        at = lambda key: f"{where}, {cols.get(key, key)}"  # noqa: E731
        if value.get("segment") is None:
            excluded.add(
                at("segment"),
                "missing_segment",
                "segment block filled in without its source segment; left out",
            )
            continue
        if value.get("category") is None:
            excluded.add(at("category"), "missing_category", "segment has no category; left out")
            continue
        category = category_name(value["category"])
        if category is None:
            excluded.add(
                at("category"),
                "category_outside_scheme",
                f"category {value['category']!r} is not idiom, pun, holiday, cultural concept "
                "or other; segment left out",
            )
            continue
        score, na, problem = _grade(value.get("rating"), na_ok=True)
        if problem:
            excluded.add(at("rating"), "rating_out_of_range", f"{problem}; segment left out")
            continue
        rows.append(
            {
                **base,
                "segment": n,
                "segment_id": value.get("segment_id"),
                "surface": value["segment"],
                "category": category,
                "translation": value.get("segment_translation"),
                "score": score,
                "na": na,
                "comment": value.get("segment_comment"),
            }
        )
    kept = []
    for row in rows:
        try:
            RatingRow.model_validate(row)
        except ValidationError as exc:
            e = exc.errors()[0]
            excluded.add(
                where,
                "invalid_row",
                f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}; left out",
            )
            continue
        kept.append(row)
    return kept
