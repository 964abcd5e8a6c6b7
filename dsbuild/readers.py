"""Read records from JSONL, JSON, CSV/TSV and Parquet files without ever crashing on bad data.

`read_records(path)` yields one `ReadItem` per record: its locator (`file:line` for JSONL,
`file:item N` for a JSON list, `file:row N` for CSV and Parquet, all counted from 1) and
either the record (a dict) or a `ReadProblem` saying what is wrong with that spot of the
file. Problem codes:

- `json_syntax`  a line or item is not valid JSON (line and column given)
- `encoding`     bytes that are not UTF-8 (byte offset given; re-save the file as UTF-8)
- `truncated`    the file ends in the middle of a record (every complete one was read)
- `not_an_object` the line or item is valid JSON but not an object
- `csv_columns`  a CSV row has more or fewer fields than the header
- `csv_syntax`   a CSV row the csv module cannot parse
- `too_long`     a line or item longer than `max_field_bytes()` (skipped without reading it whole)
- `too_deep`     JSON nested deeper than `MAX_JSON_DEPTH` levels

Memory stays bounded: no line, item or CSV record longer than `max_field_bytes()` (16 MiB,
or `DSBUILD_MAX_FIELD_BYTES`) is held; a CSV record over it raises `InputError` DSB303
naming the file and line. `loads_json` and `check_text_bounds` give other readers the same caps.

Blank lines are skipped and a UTF-8 byte order mark is accepted. A missing file raises
`InputError` DSB301; a file whose format is neither known by extension nor recognisable
from its content raises DSB302.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError

__all__ = [
    "EXTENSIONS",
    "MAX_FIELD_BYTES",
    "MAX_JSON_DEPTH",
    "ReadItem",
    "ReadProblem",
    "check_text_bounds",
    "json_too_deep",
    "kind_of",
    "loads_json",
    "max_field_bytes",
    "read_records",
    "records_or_fail",
    "require_readable",
    "sniff_kind",
    "too_long_error",
]

EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}

BOM = b"\xef\xbb\xbf"
_ESCAPED = re.compile("[\udc80-\udcff]")
_WS = re.compile(r"[ \t\r\n]*")
_PARQUET_BATCH = 10_000
_CHUNK = 1024 * 1024

MAX_FIELD_BYTES = 16 * 1024 * 1024
"""Longest line, JSON item or CSV record (bytes) any reader holds; `DSBUILD_MAX_FIELD_BYTES`
overrides."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of JSON arrays and objects read (deeper would exhaust Python's stack)."""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def max_field_bytes() -> int:
    """The length cap of one line, item or CSV record: `DSBUILD_MAX_FIELD_BYTES` or 16 MiB."""
    value = os.environ.get("DSBUILD_MAX_FIELD_BYTES", "").strip()
    if not value:
        return MAX_FIELD_BYTES
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        from dsbuild.errors import UsageError

        raise UsageError(
            f"DSBUILD_MAX_FIELD_BYTES={value!r} is not a positive number of bytes",
            "set it to e.g. 67108864 (64 MiB), or unset it for 16 MiB",
            code="DSB103",
        )
    return limit


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


def too_long_error(where: str, limit: int) -> InputError:
    """The one-line error for a line, field or record over the cap (`where`: file and line)."""
    return InputError(
        f"{where} is longer than {_size(limit)}, the most dsbuild reads in one line or field",
        "check that the file is what you meant (a missing quote or line break?), "
        "or raise the cap with DSBUILD_MAX_FIELD_BYTES",
        code="DSB303",
    )


def json_too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> int | None:
    """The offset of the first bracket nesting JSON deeper than `limit`, else None.

    Cheap for ordinary data: the scan runs only when the text has more than `limit` brackets.
    """
    if isinstance(text, bytes):
        if text.count(b"[") + text.count(b"{") <= limit:
            return None
        text = text.decode("utf-8", "surrogateescape")
    elif text.count("[") + text.count("{") <= limit:
        return None
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for c in brackets:
        if c in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    if deepest <= limit:
        return None
    depth = 0
    for m in _STRING_OR_BRACKET.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None


def loads_json(text: str | bytes, where: str, fix: str = "fix the JSON in that place") -> Any:
    """`json.loads`, refusing nesting deeper than `MAX_JSON_DEPTH` with a one-line InputError
    naming `where` and the line (JSONDecodeError passes through for the caller to word)."""
    at = json_too_deep(text)
    if at is not None:
        line = (text[:at].count(b"\n") if isinstance(text, bytes) else text.count("\n", 0, at)) + 1
        raise InputError(
            f"{where} nests JSON deeper than {MAX_JSON_DEPTH} levels (line {line})",
            fix,
            code="DSB303",
        )
    try:
        return json.loads(text)
    except RecursionError:  # only reachable with a lowered recursion limit
        raise InputError(f"{where} nests JSON too deeply to read", fix, code="DSB303") from None


def check_text_bounds(
    path: str | Path, *, csv_quotes: bool = True, limit: int | None = None
) -> None:
    """Raise InputError DSB303 when a line of `path` (with `csv_quotes`: a CSV record, whose
    quoted fields may span lines) is longer than the cap; reads 1 MiB at a time."""
    path = Path(path)
    limit = limit or max_field_bytes()
    line = start = 1  # the line read now, and the line the current record starts on
    length = 0  # bytes of the current record so far
    quoted = False

    def fail(at: int) -> InputError:
        where = f"line {at}" if at == line else f"the record starting on line {at}"
        return too_long_error(f"{path}: {where}", limit)

    with _open(path) as f:
        while chunk := f.read(_CHUNK):
            parts = chunk.split(b"\n")
            if not quoted and (not csv_quotes or b'"' not in chunk):  # records are lines
                if length + len(parts[0]) > limit:
                    raise fail(start)
                for i, part in enumerate(parts[1:], 1):
                    if len(part) > limit:
                        line += i
                        raise fail(line)
                if len(parts) > 1:
                    line += len(parts) - 1
                    start, length = line, len(parts[-1])
                else:
                    length += len(parts[0])
                continue
            last = len(parts) - 1
            for i, part in enumerate(parts):
                length += len(part) + (i < last)
                if length > limit:
                    raise fail(start)
                if csv_quotes and part.count(b'"') % 2:
                    quoted = not quoted
                if i < last:
                    line += 1
                    if not quoted:
                        start, length = line, 0


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """Why one line, item or row could not be read as a record."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ReadItem:
    """One record (or the problem in its place) and where it is in the file."""

    locator: str
    record: dict[str, Any] | None = None
    problem: ReadProblem | None = None


def records_or_fail(
    path: str | Path, kind: str | None = None, *, what: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(locator, record) of every record, for readers that cannot skip a bad one: the first
    unreadable record is an InputError (DSB303) naming it (`what` prefixes the locator)."""
    for item in read_records(path, kind):
        if item.problem is not None:
            raise InputError(
                f"{what}{item.locator}: {item.problem.message}",
                "fix or remove that record",
                code="DSB303",
            )
        yield item.locator, item.record or {}


def read_records(path: str | Path, kind: str | None = None) -> Iterator[ReadItem]:
    """Stream the records of one file; `kind` (jsonl, json, csv, tsv, parquet) skips detection."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file {path} does not exist", "check the path", code="DSB301")
    if not path.is_file():
        raise InputError(f"{path} is not a file", "give the path of a data file", code="DSB301")
    kind = kind or kind_of(path)
    if kind == "jsonl":
        return _read_jsonl(path)
    if kind == "json":
        return _read_json(path)
    if kind in ("csv", "tsv"):
        return _read_csv(path, "\t" if kind == "tsv" else ",")
    if kind == "parquet":
        return _read_parquet(path)
    kinds = ", ".join(sorted(set(EXTENSIONS.values())))
    raise InputError(
        f"unknown input kind {kind!r} for {path}", f"use one of {kinds}", code="DSB302"
    )


def require_readable(path: str | Path, items: list[ReadItem]) -> None:
    """Raise InputError when `items` (all of a file's) hold no record: DSB304 for an empty
    file, DSB302 when every line is unreadable (what `validate` rejects)."""
    if any(item.record is not None for item in items):
        return
    if not items:
        raise InputError(
            f"{path} holds no records", "check that you gave the right file", code="DSB304"
        )
    first = next(item for item in items if item.problem is not None)
    raise InputError(
        f"no record of {path} can be read ({len(items)} unreadable; the first, {first.locator}: "
        f"{first.problem.message})",
        f"check that it is the file you meant; `dsbuild <dataset> validate {path}` "
        "lists every problem",
        code="DSB302",
    )


def kind_of(path: Path) -> str:
    """The file's kind from its extension, or from its content when the extension is unknown."""
    return EXTENSIONS.get(path.suffix.lower()) or sniff_kind(path)


def sniff_kind(path: str | Path) -> str:
    """Guess jsonl / json / csv / tsv / parquet from the first bytes of the file."""
    path = Path(path)
    head = b""
    if path.is_file():
        with _open(path) as f:
            head = f.read(64 * 1024)
    if head.startswith(b"PAR1"):
        return "parquet"
    head = head.removeprefix(BOM)
    if b"\x00" not in head:
        text = head.decode("utf-8", "replace").lstrip()
        if not text:
            return "jsonl"
        if text[0] == "[":
            return "json"
        if text[0] == "{":
            try:
                first = loads_json(text.split("\n", 1)[0], f"{path}: line 1")
            except json.JSONDecodeError:
                return "json"
            return "jsonl" if isinstance(first, dict) else "json"
        first_line = text.split("\n", 1)[0]
        if "\t" in first_line and first_line.count("\t") >= first_line.count(","):
            return "tsv"
        if "," in first_line:
            return "csv"
    raise InputError(
        f"cannot tell the format of {path}: not JSON Lines, JSON, CSV/TSV or Parquet",
        f"give the file one of the extensions {', '.join(sorted(EXTENSIONS))}",
        code="DSB302",
    )


def _open(path: Path):
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}",
            "check the file's permissions",
            code="DSB301",
        ) from exc


def _encoding_problem(where: str, bad: int, offset: int, detail: str = "") -> ReadProblem:
    return ReadProblem(
        "encoding",
        f"{where} is not valid UTF-8: byte 0x{bad:02x} at byte offset {offset} "
        f"of the file{detail}; re-save the file as UTF-8",
    )


def _first_escaped(text: str, base: int) -> tuple[int, int, int] | None:
    """(byte value, absolute byte offset, char index) of the first undecodable byte, if any."""
    found = _ESCAPED.search(text)
    if found is None:
        return None
    i = found.start()
    return ord(text[i]) - 0xDC00, base + len(text[:i].encode("utf-8", "surrogateescape")), i


def _bounded_lines(f, limit: int) -> Iterator[tuple[bytes, int]]:
    """(line, 0) for each line of a binary file, or (b"", its length) for a line longer than
    `limit`, whose rest is skipped a chunk at a time (never held whole)."""
    while raw := f.readline(limit + 1):
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield raw, 0
            continue
        total = len(raw)
        while more := f.readline(_CHUNK):
            total += len(more)
            if more.endswith(b"\n"):
                break
        yield b"", total


def _read_jsonl(path: Path) -> Iterator[ReadItem]:
    limit = max_field_bytes()
    with _open(path) as f:
        offset = 0
        for lineno, (raw, skipped) in enumerate(_bounded_lines(f, limit), 1):
            start = offset
            offset += len(raw) + skipped
            if skipped:
                message = (
                    f"line {lineno} is {skipped} bytes long, over the {_size(limit)} cap "
                    "(DSBUILD_MAX_FIELD_BYTES); it was skipped unread"
                )
                yield ReadItem(f"{path}:{lineno}", problem=ReadProblem("too_long", message))
                continue
            if lineno == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
                start += len(BOM)
            if not raw.strip():
                continue
            loc = f"{path}:{lineno}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                detail = f" (line {lineno}, column {exc.start + 1})"
                problem = _encoding_problem(
                    f"line {lineno}", raw[exc.start], start + exc.start, detail
                )
                yield ReadItem(loc, problem=problem)
                continue
            if json_too_deep(text) is not None:
                yield ReadItem(loc, problem=_too_deep(f"line {lineno}"))
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                if not raw.endswith(b"\n") and _at_end(text, exc):
                    problem = ReadProblem(
                        "truncated",
                        f"the last line ({lineno}) is cut off: {exc.msg} at column {exc.colno}",
                    )
                else:
                    problem = ReadProblem(
                        "json_syntax",
                        f"line {lineno} is not valid JSON: {exc.msg} at column {exc.colno}",
                    )
                yield ReadItem(loc, problem=problem)
                continue
            if isinstance(value, dict):
                yield ReadItem(loc, record=value)
            else:
                yield ReadItem(loc, problem=_not_an_object(f"line {lineno}", value))


def _at_end(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether a decode error was caused by the input running out."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip())


def _too_deep(where: str) -> ReadProblem:
    return ReadProblem("too_deep", f"{where} nests JSON deeper than {MAX_JSON_DEPTH} levels")


def _not_an_object(where: str, value: object) -> ReadProblem:
    kind = "null" if value is None else type(value).__name__
    return ReadProblem("not_an_object", f"{where} is a JSON {kind}, not an object")


def _read_json(path: Path) -> Iterator[ReadItem]:
    with _open(path) as f:
        data = f.read()
    base = 0
    if data.startswith(BOM):
        data, base = data[len(BOM) :], len(BOM)
    text = data.decode("utf-8", "surrogateescape")
    escaped = _ESCAPED.search(text) is not None
    pos = _WS.match(text, 0).end()
    if pos == len(text):
        return
    deep = json_too_deep(text)
    if deep is not None:
        line = text.count("\n", 0, deep) + 1
        message = (
            f"line {line} nests JSON deeper than {MAX_JSON_DEPTH} levels; the file cannot be read"
        )
        yield ReadItem(f"{path}:line {line}", problem=ReadProblem("too_deep", message))
        return
    if text[pos] == "[":
        yield from _read_json_list(path, text, pos + 1, base, escaped)
        return
    decoder = json.JSONDecoder()
    loc = f"{path}:item 1"
    try:
        value, end = decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        code = "truncated" if _at_end(text, exc) else "json_syntax"
        message = f"the file is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        yield ReadItem(loc, problem=ReadProblem(code, message))
        return
    rest = _WS.match(text, end).end()
    if rest < len(text):
        if isinstance(value, dict) and text[rest] == "{":
            yield from _read_jsonl(path)
            return
        line = text.count("\n", 0, rest) + 1
        message = f"unexpected data after the first JSON value at line {line}"
        yield ReadItem(f"{path}:item 2", problem=ReadProblem("json_syntax", message))
    yield _json_item(loc, "the document", value, text, pos, end, base, escaped)


def _json_item(
    loc: str, where: str, value: object, text: str, start: int, end: int, base: int, escaped: bool
) -> ReadItem:
    if escaped:
        bad = _first_escaped(text[start:end], 0)
        if bad is not None:
            byte, _, i = bad
            offset = base + len(text[: start + i].encode("utf-8", "surrogateescape"))
            line = text.count("\n", 0, start + i) + 1
            return ReadItem(loc, problem=_encoding_problem(where, byte, offset, f" (line {line})"))
    limit = max_field_bytes()
    if end - start > limit:
        line = text.count("\n", 0, start) + 1
        message = (
            f"{where} (from line {line}) is longer than {_size(limit)} (DSBUILD_MAX_FIELD_BYTES)"
        )
        return ReadItem(loc, problem=ReadProblem("too_long", message))
    if isinstance(value, dict):
        return ReadItem(loc, record=value)
    return ReadItem(loc, problem=_not_an_object(where, value))


def _read_json_list(
    path: Path, text: str, pos: int, base: int, escaped: bool
) -> Iterator[ReadItem]:
    decoder = json.JSONDecoder()
    n = 0
    while True:
        pos = _WS.match(text, pos).end()
        if pos < len(text) and text[pos] == "]" and n == 0:
            return
        n += 1
        loc = f"{path}:item {n}"
        if pos >= len(text):
            yield ReadItem(loc, problem=_truncated_list(n))
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if _at_end(text, exc):
                yield ReadItem(loc, problem=_truncated_list(n))
            else:
                yield ReadItem(
                    loc,
                    problem=ReadProblem(
                        "json_syntax",
                        f"item {n} is not valid JSON: {exc.msg} at line {exc.lineno} "
                        f"column {exc.colno}; the items after it cannot be read",
                    ),
                )
            return
        yield _json_item(loc, f"item {n}", value, text, pos, end, base, escaped)
        pos = _WS.match(text, end).end()
        if pos >= len(text):
            yield ReadItem(f"{path}:item {n + 1}", problem=_truncated_list(n + 1))
            return
        if text[pos] == "]":
            return
        if text[pos] != ",":
            line = text.count("\n", 0, pos) + 1
            yield ReadItem(
                f"{path}:item {n + 1}",
                problem=ReadProblem(
                    "json_syntax",
                    f"expected ',' or ']' after item {n} at line {line}; "
                    "the items after it cannot be read",
                ),
            )
            return
        pos += 1


def _truncated_list(n: int) -> ReadProblem:
    return ReadProblem(
        "truncated",
        f"the file ends inside the JSON list at item {n}: {n - 1} complete items were read, "
        "the rest of the file is missing",
    )


def _read_csv(path: Path, delimiter: str) -> Iterator[ReadItem]:
    limit = max_field_bytes()
    csv.field_size_limit(limit)
    consumed: list[tuple[int, str]] = []

    def lines(f) -> Iterator[str]:
        offset = 0
        held = first = 0  # bytes and first line of the record being parsed (lines in `consumed`)
        for i, (raw, skipped) in enumerate(_bounded_lines(f, limit), 1):
            if not consumed:
                held, first = 0, i
            held += len(raw)
            if skipped or held > limit:
                where = f"line {i}" if first == i else f"the record starting on line {first}"
                raise too_long_error(f"{path}: {where}", limit)
            if i == 1 and raw.startswith(BOM):
                raw, offset = raw[len(BOM) :], len(BOM)
            consumed.append((offset, raw.decode("utf-8", "surrogateescape")))
            offset += len(raw)
            yield consumed[-1][1]

    with _open(path) as f:
        reader = csv.reader(lines(f), delimiter=delimiter)
        header: list[str] | None = None
        n = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                n += 1
                problem = ReadProblem("csv_syntax", f"row {n} cannot be parsed: {exc}")
                yield ReadItem(f"{path}:row {n}", problem=problem)
                consumed.clear()
                continue
            start = consumed[0][0] if consumed else 0
            raw = "".join(line for _, line in consumed)
            consumed.clear()
            if not row:
                continue
            if header is None:
                header = row
                bad = _first_escaped(raw, start)
                if bad is not None:
                    yield ReadItem(
                        f"{path}:header", problem=_encoding_problem("the header", bad[0], bad[1])
                    )
                continue
            n += 1
            loc = f"{path}:row {n}"
            bad = _first_escaped(raw, start)
            if bad is not None:
                yield ReadItem(loc, problem=_encoding_problem(f"row {n}", bad[0], bad[1]))
                continue
            if len(row) != len(header):
                yield ReadItem(
                    loc,
                    problem=ReadProblem(
                        "csv_columns",
                        f"row {n} has {len(row)} fields but the header has {len(header)}",
                    ),
                )
                continue
            yield ReadItem(loc, record=dict(zip(header, row)))


def _read_parquet(path: Path) -> Iterator[ReadItem]:
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several unrelated types for damaged files
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(
            f"{path} is not a readable Parquet file ({type(exc).__name__}: {first_line})",
            "re-export the file, or check that it was copied completely",
            code="DSB302",
        ) from exc
    return _parquet_rows(path, frame)


def _parquet_rows(path: Path, frame) -> Iterator[ReadItem]:
    n = 0
    for chunk in frame.iter_slices(_PARQUET_BATCH):
        for row in chunk.iter_rows(named=True):
            n += 1
            yield ReadItem(f"{path}:row {n}", record=row)
