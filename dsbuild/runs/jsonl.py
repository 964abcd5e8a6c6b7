"""Small file primitives for run directories: atomic writes and a crash-safe append log.

A kill at any moment leaves either the old or the new version of an atomically written
file, and at most one torn last line in an append log (which `truncate_torn_tail` removes).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Iterator

import orjson

from dsbuild.errors import DsbuildError

__all__ = [
    "AppendLog",
    "AtomicWriter",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "dumps_line",
    "fsync_dir",
    "iter_jsonl",
    "read_json",
    "truncate_torn_tail",
    "write_jsonl",
]


def dumps_line(obj: Any) -> bytes:
    """One compact JSON line (UTF-8, keys in insertion order) ending in a newline.

    orjson: checkpoints write every record of every stage, and the stdlib encoder was the
    largest single cost of a dump-scale run (benchmarks/entitycs.py)."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)


loads = orjson.loads


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicWriter:
    """Write a file through `.<name>.tmp` and rename it into place on success.

    Use as a context manager; on an exception the temporary file is removed and the old
    file, if any, is left untouched.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.file: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "wb")
        return self.file

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.file is not None
        if exc_type is not None:
            self.file.close()
            self.tmp.unlink(missing_ok=True)
            return
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (temp file, fsync, rename)."""
    with AtomicWriter(path) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Pretty JSON, for files people read (`run.json`, `done.json`)."""
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file the runner wrote; unreadable means the run dir is damaged (DSB203)."""
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise DsbuildError(
            f"cannot read {path}: {e}",
            "delete the damaged stage directory to redo that stage, or re-run with --overwrite",
            code="DSB203",
        ) from e


def iter_jsonl(path: Path) -> Iterator[dict]:
    """Stream the records of a JSONL file, one dict per line."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                yield orjson.loads(line)
            except ValueError as e:
                raise DsbuildError(
                    f"{path} line {n} is not valid JSON: {e}",
                    "delete the damaged stage directory to redo that stage, or re-run with "
                    "--overwrite",
                    code="DSB203",
                ) from e


def write_jsonl(path: str | Path, rows: Iterable[Any], *, compact: bool = False) -> int:
    """Rows as UTF-8 JSON Lines written atomically; returns the count. The default is the
    readable layout of exported files (characters unescaped, `json.dumps` spacing, keys in
    row order); `compact` the checkpoints' (`dumps_line`)."""
    n = 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with AtomicWriter(Path(path)) as f:
        for row in rows:
            line = (
                dumps_line(row)
                if compact
                else (json.dumps(row, ensure_ascii=False) + "\n").encode()
            )
            f.write(line)
            n += 1
    return n


def truncate_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline (a write interrupted by a kill); return bytes cut."""
    path = Path(path)
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "r+b") as f:
        # Scan back in blocks for the last newline; the torn tail is at most one line long.
        end, block = size, 1 << 16
        keep = 0
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            end = start
        if keep == size:
            return 0
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return size - keep


class AppendLog:
    """An append-only JSONL log: each line written and flushed (so a kill loses none), and
    fsynced in batches (every `fsync_lines` lines or `fsync_s` seconds, and on close) so a
    power cut loses at most the last fraction of a second.

    `flush_lines`/`flush_s` > the defaults let lines wait in the process's buffer (up to that
    many lines or seconds, checked at each write): for logs whose lines are cheap to redo,
    e.g. a source stage's, which a resume re-reads from its start anyway."""

    def __init__(
        self,
        path: Path,
        *,
        fsync_lines: int = 200,
        fsync_s: float = 0.2,
        flush_lines: int = 1,
        flush_s: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self.file: IO[bytes] = open(self.path, "ab")
        self.fsync_lines, self.fsync_s = fsync_lines, fsync_s
        self.flush_lines, self.flush_s = flush_lines, flush_s
        self._unsynced = self._unflushed = 0
        self._last_sync = self._last_flush = time.monotonic()

    def append(self, obj: Any) -> None:
        self.write_line(dumps_line(obj))

    def write_line(self, line: bytes) -> None:
        self.write_lines(line, 1)

    def write_lines(self, data: bytes, n: int) -> None:
        """`n` whole lines at once (`data` ends with a newline, or is empty)."""
        if not n:
            return
        self.file.write(data)
        self._unsynced += n
        self._unflushed += n
        now = time.monotonic()
        if self._unflushed < self.flush_lines and now - self._last_flush < self.flush_s:
            return
        self.file.flush()
        self._unflushed, self._last_flush = 0, now
        if self._unsynced >= self.fsync_lines or now - self._last_sync >= self.fsync_s:
            self.sync()

    def sync(self) -> None:
        if self._unsynced:
            os.fsync(self.file.fileno())
        self._unsynced = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self.file.closed:
            self.file.flush()
            self._unflushed = 0
            self.sync()
            self.file.close()

    def __enter__(self) -> AppendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
