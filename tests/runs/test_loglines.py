"""Checkpoint log lines: records are cut out of `out` lines by their lengths, exactly as
they would be encoded alone; any line that does not fit is decoded instead; a log written
without lengths (an older dsbuild) finishes to the same outputs."""

from __future__ import annotations

import orjson
import pytest

from dsbuild.runs.checkpoint import StageCheckpoint
from dsbuild.runs.jsonl import dumps_line
from dsbuild.runs.loglines import encode_record, out_line, record_lines, reject_line

TRICKY = [
    {"id": "a", "t": ']}\n,"n":[1],"out":[', "u": "é😀\u2028", "k": {"1": [1, 2.5, None]}},
    {"id": "b"},
    {"id": "c", "nested": [{"id": "x", "out": [1]}]},
]


def test_records_are_cut_as_encoded_alone():
    line = out_line(7, TRICKY)
    assert orjson.loads(line) == {
        "i": 7,
        "n": [len(encode_record(r)) for r in TRICKY],
        "out": TRICKY,
    }
    assert record_lines(line) == [dumps_line(r) for r in TRICKY]


def test_no_output_and_encoded_records():
    assert record_lines(out_line(0, [])) == []
    raw = encode_record(TRICKY[0])
    assert out_line(3, [raw]) == out_line(3, [TRICKY[0]])


@pytest.mark.parametrize(
    "line",
    [
        b'{"i":1,"out":[{"id":"a"}]}\n',  # no lengths: an older log
        reject_line(1, "a", "r", "d"),
        b'{"i":1,"n":[12],"out":[{"id":"a"}]}\n',  # lengths that do not fit
        b'{"i":1,"n":[5],"out":[{"id":"a"}]}\n',
        out_line(1, TRICKY)[:-2] + b"\n",  # torn
    ],
)
def test_other_lines_are_not_cut(line):
    assert record_lines(line) is None


def test_a_log_without_lengths_finishes_the_same(tmp_path):
    def finish(name, lines):
        ckpt = StageCheckpoint(tmp_path / name, "s")
        ckpt.path.mkdir()
        ckpt.log.write_bytes(b"".join(lines))
        done = ckpt.finalize(kind="map", n_in=3, seconds=0.0)
        return ckpt.records.read_bytes(), ckpt.rejects.read_bytes(), done["records_sha256"]

    new = [out_line(0, TRICKY[:2]), reject_line(1, "r1", "why", "d"), out_line(2, TRICKY[2:])]
    old = [
        dumps_line({"i": 0, "out": TRICKY[:2]}),
        reject_line(1, "r1", "why", "d"),
        dumps_line({"i": 2, "out": TRICKY[2:]}),
    ]
    assert finish("new", new) == finish("old", old)
    assert finish("shuffled", [new[2], new[0], new[1]]) == finish("old2", old)
    assert finish("new2", new)[0] == b"".join(dumps_line(r) for r in TRICKY)
