"""The lines of a stage's checkpoint log (see `checkpoint`): how they are written, and how
a finished stage cuts its records out of them.

    {"i":17,"n":[120,98],"out":[R1,R2]}   item 17's output records; `n`: their JSON lengths
    {"i":18,"reject":{"id":...,"reason":...,"detail":...}}
    {"i":19,"pending":{"id":...,"reason":...,"detail":...},"out":[...]}

`n` lets `record_lines` cut each record's JSON out of the line without decoding it (a record
is encoded exactly the same nested or alone): finishing a dump-scale stage used to decode and
encode again every record it wrote. A line without `n` (a log written by an older dsbuild)
is decoded as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import orjson

from dsbuild.runs.jsonl import dumps_line

__all__ = ["encode_record", "out_line", "pending_line", "record_lines", "reject_line"]

_OUT_RE = re.compile(rb'\{"i":\d+,"n":\[([0-9,]*)\],"out":\[')
_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode_record(record: dict) -> bytes:
    """One record's JSON (no newline), as `dumps_line` writes it."""
    return orjson.dumps(record, option=_OPTIONS)


def out_line(index: int, records: Sequence[dict | bytes]) -> bytes:
    """The line of an item whose outputs are `records` (dicts, or their `encode_record`)."""
    parts = [r if type(r) is bytes else encode_record(r) for r in records]
    lengths = b",".join(b"%d" % len(p) for p in parts)
    return b'{"i":%d,"n":[%s],"out":[%s]}\n' % (index, lengths, b",".join(parts))


def reject_line(index: int, record_id: str, reason: str, detail: object) -> bytes:
    return dumps_line(
        {"i": index, "reject": {"id": record_id, "reason": reason, "detail": str(detail)}}
    )


def pending_line(
    index: int, record_id: str, reason: str, detail: object, placeholder: list[dict]
) -> bytes:
    """A pending item's line: its placeholder outputs, dropped by the next run's recover."""
    return dumps_line(
        {
            "i": index,
            "pending": {"id": record_id, "reason": reason, "detail": str(detail)},
            "out": placeholder,
        }
    )


def record_lines(line: bytes) -> list[bytes] | None:
    """The JSON line (newline added) of each record of an `out` line that has `n`; None for
    any other line, or one whose lengths do not fit it (decode it instead)."""
    m = _OUT_RE.match(line)
    if m is None:
        return None
    pos, out = m.end(), []
    if m.group(1):
        for n in m.group(1).split(b","):
            end = pos + int(n)
            out.append(line[pos:end] + b"\n")
            pos = end + 1
        pos -= 1  # no comma after the last record
    if line[pos:] != b"]}\n":
        return None
    return out
