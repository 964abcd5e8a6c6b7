"""Atomic writes, the append log, and cutting a torn last line."""

from __future__ import annotations

import json
import os

import pytest

from dsbuild.runs import jsonl
from dsbuild.runs.jsonl import (
    AppendLog,
    AtomicWriter,
    atomic_write_json,
    dumps_line,
    truncate_torn_tail,
)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"x": 1})
    atomic_write_json(path, {"x": 2, "t": "日本"})
    assert json.loads(path.read_text("utf-8")) == {"x": 2, "t": "日本"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_atomic_writer_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with AtomicWriter(path) as f:
            f.write(b"half")
            raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]


def test_dumps_line_is_compact_utf8_and_never_writes_nan():
    assert dumps_line({"id": "é", "n": 1}) == '{"id":"é","n":1}\n'.encode()
    # JSON has no NaN: it is written as null (what pandas and polars do), never as `NaN`
    assert dumps_line({"x": float("nan"), "y": float("inf")}) == b'{"x":null,"y":null}\n'
    with pytest.raises(TypeError):
        dumps_line({"x": {1, 2}})


@pytest.mark.parametrize(
    "content, kept",
    [
        (b"", b""),
        (b'{"i":0}\n', b'{"i":0}\n'),
        (b'{"i":0}\n{"i":1,"out":[{"id', b'{"i":0}\n'),
        (b'{"i":0,"out":[{"id', b""),
        (b'{"i":0}\n' + b"x" * 200_000, b'{"i":0}\n'),  # torn tail longer than one scan block
    ],
)
def test_truncate_torn_tail(tmp_path, content, kept):
    path = tmp_path / "log.jsonl"
    path.write_bytes(content)
    assert truncate_torn_tail(path) == len(content) - len(kept)
    assert path.read_bytes() == kept


def test_append_log_flushes_every_line_and_fsyncs_in_batches(tmp_path, monkeypatch):
    syncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(jsonl.os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd)))
    path = tmp_path / "log.jsonl"
    log = AppendLog(path, fsync_lines=200, fsync_s=3600)
    for i in range(1000):
        log.append({"i": i})
        if i == 10:
            # Flushed: another reader (a resumed process) sees every line already written.
            assert path.read_bytes().count(b"\n") == 11
    assert len(syncs) == 5
    log.append({"i": 1000})
    log.close()
    assert len(syncs) == 6  # and once more on close, for the tail
    assert path.read_bytes().count(b"\n") == 1001


def test_append_log_fsyncs_after_the_time_limit(tmp_path, monkeypatch):
    syncs = []
    now = [0.0]
    monkeypatch.setattr(jsonl.os, "fsync", lambda fd: syncs.append(fd))
    monkeypatch.setattr(jsonl.time, "monotonic", lambda: now[0])
    log = AppendLog(tmp_path / "log.jsonl", fsync_lines=10_000, fsync_s=0.2)
    for t, expected in [(0.05, 0), (0.1, 0), (0.25, 1), (0.3, 1), (0.46, 2)]:
        now[0] = t
        log.write_line(b"{}\n")
        assert len(syncs) == expected, t
