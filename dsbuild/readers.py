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

Blank lines are skipped and a UTF-8 byte order mark is accepted. A missing file raises
`InputError` DSB301; a file whose format is neither known by extension nor recognisable
from its content raises DSB302.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError

__all__ = ["EXTENSIONS", "ReadItem", "ReadProblem", "kind_of", "read_records", "sniff_kind"]

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
_CSV_FIELD_LIMIT = 64 * 1024 * 1024
_PARQUET_BATCH = 10_000


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
    raise InputError(f"unknown input kind {kind!r} for {path}", f"use one of {kinds}", code="DSB302")


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
                first = json.loads(text.split("\n", 1)[0])
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
            f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions", code="DSB301"
        ) from exc


def _encoding_problem(where: str, bad: int, offset: int, detail: str = "") -> ReadProblem:
    return ReadProblem(
        "encoding",
        f"{where} is not valid UTF-8: byte 0x{bad:02x} at byte offset {offset} of the file{detail}; "
        "re-save the file as UTF-8",
    )


def _first_escaped(text: str, base: int) -> tuple[int, int, int] | None:
    """(byte value, absolute byte offset, char index) of the first undecodable byte, if any."""
    found = _ESCAPED.search(text)
    if found is None:
        return None
    i = found.start()
    return ord(text[i]) - 0xDC00, base + len(text[:i].encode("utf-8", "surrogateescape")), i


def _read_jsonl(path: Path) -> Iterator[ReadItem]:
    with _open(path) as f:
        offset = 0
        for lineno, raw in enumerate(f, 1):
            start = offset
            offset += len(raw)
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
                problem = _encoding_problem(f"line {lineno}", raw[exc.start], start + exc.start, detail)
                yield ReadItem(loc, problem=problem)
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                if not raw.endswith(b"\n") and _at_end(text, exc):
                    problem = ReadProblem(
                        "truncated", f"the last line ({lineno}) is cut off: {exc.msg} at column {exc.colno}"
                    )
                else:
                    problem = ReadProblem(
                        "json_syntax", f"line {lineno} is not valid JSON: {exc.msg} at column {exc.colno}"
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
    if isinstance(value, dict):
        return ReadItem(loc, record=value)
    return ReadItem(loc, problem=_not_an_object(where, value))


def _read_json_list(path: Path, text: str, pos: int, base: int, escaped: bool) -> Iterator[ReadItem]:
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
                        f"item {n} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
                        "the items after it cannot be read",
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
                    f"expected ',' or ']' after item {n} at line {line}; the items after it cannot be read",
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
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    consumed: list[tuple[int, str]] = []

    def lines(f) -> Iterator[str]:
        offset = 0
        for i, raw in enumerate(f):
            if i == 0 and raw.startswith(BOM):
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
                    yield ReadItem(f"{path}:header", problem=_encoding_problem("the header", bad[0], bad[1]))
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
                        "csv_columns", f"row {n} has {len(row)} fields but the header has {len(header)}"
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
