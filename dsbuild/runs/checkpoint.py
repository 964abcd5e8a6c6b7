"""One stage's checkpoint: an append log while it runs, ordered files once it is finished.

While a stage runs, `log.jsonl` gets one line per input item, in completion order::

    {"i": 17, "out": [{...}, ...]}                       the item's 0..n output records
    {"i": 18, "reject": {"id": ..., "reason": ..., "detail": ...}}
    {"i": 19, "pending": {"id": ..., "reason": ..., "detail": ...}, "out": [...]}

A `pending` line stands for an item that failed for a reason outside it (an endpoint down):
its `out` is a placeholder shown until it is retried, and `recover` drops the line so the
next run processes the item again. A stage that ends with items pending is not finalized:
`write_partial` writes its outputs so far without `done.json` and keeps the log.

On completion `finalize` writes `records.jsonl` and `rejects.jsonl` in input order, then
`done.json` (the commit point: a stage is finished iff `done.json` exists), then deletes the
log. A kill leaves at most a torn last log line, which `recover` cuts away.

A stage run in parts (`write_parts`) may leave its records in the parts' files, listed in
order in `parts.json`, instead of joining them into `records.jsonl`: the next stage reads
them in turn (`record_files`), and a stage that runs in parts too takes them as its input
parts, so a chain of such stages never has one process copy its data. `joined()` makes
`records.jsonl` when one file is needed (the run's output).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from array import array
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from dsbuild.errors import DsbuildError
from dsbuild.runs.jsonl import (
    AppendLog,
    AtomicWriter,
    atomic_write_json,
    dumps_line,
    loads,
    read_json,
    truncate_torn_tail,
)
from dsbuild.runs.loglines import record_lines
from dsbuild.stages import Part, Reject

__all__ = ["LogState", "StageCheckpoint", "utc_now"]

_INDEX_RE = re.compile(rb'^\{"i":(\d+),')
_PENDING_RE = re.compile(rb'^\{"i":\d+,"pending":')
_FIX = "delete that stage directory to redo the stage, or re-run with --overwrite"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _NotInOrder(Exception):
    """The log is not in input order (an async stage's): finalize indexes it first."""


@dataclass
class LogState:
    """What a partly run stage already did: `done[i]` is 1 for each logged input index."""

    n_lines: int
    done: bytearray
    last: dict | None  # the last log line, parsed (a source checks its determinism with it)


class StageCheckpoint:
    """Files of one stage directory `stages/NN-name/`."""

    def __init__(self, path: Path, stage: str) -> None:
        self.path = Path(path)
        self.stage = stage
        self.log = self.path / "log.jsonl"
        self.records = self.path / "records.jsonl"
        self.rejects = self.path / "rejects.jsonl"
        self.done_json = self.path / "done.json"
        self.parts_json = self.path / "parts.json"

    def is_done(self) -> bool:
        return self.done_json.is_file()

    def _in_parts(self) -> dict | None:
        """`parts.json` when the stage left its records in parts: `files` (`path` relative
        to the stage folder, `bytes`), in order, and the folder to `remove` once they are
        joined; None when `records.jsonl` holds them."""
        if self.records.is_file() or not self.parts_json.is_file():
            return None
        return read_json(self.parts_json)

    def record_files(self) -> list[Path]:
        """The files that hold the stage's records, in order: `records.jsonl`, or its parts."""
        parts = self._in_parts()
        return [self.records] if parts is None else self._part_files(parts)

    def _part_files(self, parts: dict) -> list[Path]:
        return [self.path / f["path"] for f in parts["files"]]

    def read_done(self) -> dict:
        """The finished stage's `done.json`, checked against its records' files."""
        done = read_json(self.done_json)
        parts = self._in_parts()
        if not isinstance(done, dict) or not self.rejects.is_file():
            raise self._incomplete()
        sizes = [(self.records, done.get("records_bytes"))]
        if parts is not None:
            sizes = [(self.path / f["path"], f["bytes"]) for f in parts["files"]]
        for path, size in sizes:
            if not path.is_file():
                raise self._incomplete()
            if path.stat().st_size != size:
                raise DsbuildError(
                    f"{path} changed after stage {self.stage!r} finished (size differs "
                    f"from {'parts' if parts is not None else 'done'}.json)",
                    _FIX,
                    code="DSB203",
                )
        return done

    def _incomplete(self) -> DsbuildError:
        return DsbuildError(
            f"finished stage {self.stage!r} in {self.path} is incomplete", _FIX, code="DSB203"
        )

    def joined(self) -> Path:
        """`records.jsonl`, made first from the stage's parts if it left its records in
        parts (then the parts' folder goes). Copied by blocks, not hashed: at dump scale
        this copy is the one step no worker shares, and hashing doubled its time, so the
        `records_sha256` of a stage that ran in parts stays None (its sizes are checked)."""
        parts = self._in_parts()
        if parts is None:
            # records.jsonl is whole; a parts.json left by a kill after the join goes too
            parts = read_json(self.parts_json) if self.parts_json.is_file() else None
        else:
            self._join(self._part_files(parts), self.records, None)
        if parts is not None:
            self.parts_json.unlink()
            if parts.get("remove"):
                shutil.rmtree(self.path / parts["remove"], ignore_errors=True)
        return self.records

    @staticmethod
    def _join(paths: Iterable[Path], out: Path, sha: Any) -> int:
        """Copy `paths` into `out` (atomically) by blocks, hashed into `sha` unless it is
        None; their size."""
        n_bytes = 0
        with AtomicWriter(out) as out_f:
            for path in paths:
                n_bytes += _copy(path, out_f, sha)
        return n_bytes

    def damaged(self, what: str) -> DsbuildError:
        return DsbuildError(f"{self.log}: {what}", _FIX, code="DSB203")

    def _index(self, line: bytes, lineno: int) -> int:
        m = _INDEX_RE.match(line)
        if m is None:
            raise self.damaged(f"line {lineno} is not a checkpoint line")
        return int(m.group(1))

    def recover(self, n_in: int | None) -> LogState:
        """Cut a torn last line and read which input indices are already done.

        `n_in` is the number of input items (None for a source, whose log is sequential).
        """
        self.path.mkdir(parents=True, exist_ok=True)
        truncate_torn_tail(self.log)
        done = bytearray(n_in or 0)
        n_lines, last_line = 0, b""
        if self.log.exists():
            self._drop_pending_lines()
            with open(self.log, "rb") as f:
                for n_lines, line in enumerate(f, 1):
                    i = self._index(line, n_lines)
                    if n_in is None:
                        if i != n_lines - 1:
                            raise self.damaged(
                                f"line {n_lines} has index {i}, expected {n_lines - 1}"
                            )
                    else:
                        if i >= n_in or done[i]:
                            raise self.damaged(f"line {n_lines} has a bad or repeated index {i}")
                        done[i] = 1
                    last_line = line
        last = None
        if last_line:
            try:
                last = loads(last_line)
            except ValueError as e:
                raise self.damaged(f"last line is not valid JSON: {e}") from e
        return LogState(n_lines, done, last)

    def _drop_pending_lines(self) -> None:
        """Rewrite the log without its `pending` lines (atomically), if it has any: those
        items are to be processed again."""
        with open(self.log, "rb") as f:
            if not any(_PENDING_RE.match(line) for line in f):
                return
        with open(self.log, "rb") as f, AtomicWriter(self.log) as out:
            for line in f:
                if not _PENDING_RE.match(line):
                    out.write(line)

    def write_partial(self, n_in: int) -> dict:
        """The outputs of a stage that ended with items pending: `records.jsonl` and
        `rejects.jsonl` in input order (pending placeholders included), no `done.json`, the
        log kept for the next run. Returns counts: n_out and n_rejected of the items done,
        n_pending (input items not done)."""
        offsets = array("q", [-1]) * n_in
        pending = set()
        if self.log.exists():
            with open(self.log, "rb") as f:
                pos = 0
                for lineno, line in enumerate(f, 1):
                    i = self._index(line, lineno)
                    if i < n_in:
                        offsets[i] = pos
                        if _PENDING_RE.match(line):
                            pending.add(i)
                    pos += len(line)
        n_out = 0
        reasons: Counter[str] = Counter()
        with AtomicWriter(self.records) as rec_f, AtomicWriter(self.rejects) as rej_f:
            if self.log.exists():
                with open(self.log, "rb") as f:
                    for i, off in enumerate(offsets):
                        if off == -1:
                            continue
                        f.seek(off)
                        item = loads(f.readline())
                        if "reject" in item:
                            reasons[item["reject"]["reason"]] += 1
                            rej_f.write(self._reject_line(item["reject"]))
                            continue
                        for record in item.get("out") or ():
                            rec_f.write(dumps_line(record))
                            n_out += i not in pending
        n_done = sum(1 for o in offsets if o != -1) - len(pending)
        return {**self._counts(n_in, n_out, reasons), "n_pending": n_in - n_done}

    def _counts(self, n_in: int, n_out: int, reasons: Counter[str], **more: Any) -> dict:
        """The counts of `done.json` (and of a stage left incomplete)."""
        return {
            "stage": self.stage,
            **more,
            "n_in": n_in,
            "n_out": n_out,
            "n_rejected": sum(reasons.values()),
            "rejects_by_reason": dict(sorted(reasons.items())),
        }

    def _reject_line(self, rej: dict) -> bytes:
        """A logged reject as its line of `rejects.jsonl`."""
        return dumps_line(Reject(rej["id"], self.stage, rej["reason"], rej["detail"]).to_dict())

    def _done(self, counts: dict, seconds: float, sha: Any, n_bytes: int) -> dict:
        """Write `done.json` (the commit point), then drop the log; return it."""
        done = {
            **counts,
            "seconds": round(seconds, 3),
            "records_sha256": None if sha is None else sha.hexdigest(),  # None: in parts
            "records_bytes": n_bytes,
            "finished_at": utc_now(),
        }
        atomic_write_json(self.done_json, done)
        self.log.unlink(missing_ok=True)
        return done

    def open_log(self, *, cheap: bool = False) -> AppendLog:
        """The stage's append log. The lines of a `cheap` stage (a source, or a map stage
        that is plain CPU work: no request is paid for) may wait in the buffer (up to 256
        lines or 0.1 s) and are fsynced once a second: a line lost to a kill or power cut
        costs only its recomputation (a resume redoes the items not logged), while a flush per
        line and an fsync per 200 were a large part of a dump-scale stage's time. The other
        stages (LLM calls) flush every line and fsync every 200 lines or 0.2 s."""
        self.path.mkdir(parents=True, exist_ok=True)
        if cheap:
            return AppendLog(
                self.log, flush_lines=256, flush_s=0.1, fsync_lines=1 << 62, fsync_s=1.0
            )
        return AppendLog(self.log)

    def finalize(self, *, kind: str, n_in: int | None, seconds: float) -> dict:
        """Write the stage's ordered outputs and `done.json` from its log; return done.json.

        A log in input order (a source's, a sync map stage's) is read once, as it is; any
        other is indexed first and its lines read by byte offset in input order, so only an
        offsets array (8 bytes per input item) is held in memory, never the records.
        """
        try:
            return self._write_outputs(
                self._lines_if_in_order(n_in), kind=kind, n_in=n_in, seconds=seconds
            )
        except _NotInOrder:
            pass
        offsets = array("q")
        with open(self.log, "rb") as f:
            pos = 0
            for lineno, line in enumerate(f, 1):
                i = self._index(line, lineno)
                if i >= len(offsets):
                    offsets.extend([-1] * (i + 1 - len(offsets)))
                if offsets[i] != -1:
                    raise self.damaged(f"line {lineno} repeats index {i}")
                offsets[i] = pos
                pos += len(line)
        n = len(offsets) if n_in is None else n_in
        if len(offsets) != n or -1 in offsets:
            raise self._missing(n - sum(1 for o in offsets if o != -1), n)
        return self._write_outputs(
            self._lines_by_offset(offsets), kind=kind, n_in=n, seconds=seconds
        )

    def _missing(self, missing: int, n: int) -> DsbuildError:
        return self.damaged(f"{missing} of {n} input items are missing at the end of the stage")

    def _lines_if_in_order(self, n_in: int | None) -> Iterable[bytes]:
        """The log's lines while they are items 0, 1, 2, ... (`_NotInOrder` at the first
        that is not); all `n_in` of them are checked to be there."""
        n = 0
        if self.log.exists():
            with open(self.log, "rb") as f:
                for n, line in enumerate(f, 1):
                    if self._index(line, n) != n - 1:
                        raise _NotInOrder
                    yield line
        if n_in is not None and n != n_in:
            raise self._missing(n_in - n, n_in) if n < n_in else _NotInOrder

    def _lines_by_offset(self, offsets: array) -> Iterable[bytes]:
        """The log's lines at `offsets`, in that order, undecoded."""
        with open(self.log, "rb") as f:
            for off in offsets:
                f.seek(off)
                yield f.readline()

    def _write_outputs(
        self, items: Iterable[dict | bytes], *, kind: str, n_in: int | None, seconds: float
    ) -> dict:
        """`items`: log lines, encoded (their records are cut out, see `record_lines`, or
        else decoded) or decoded; `n_in` None: as many inputs as items."""
        sha = hashlib.sha256()
        n_out = n_bytes = n_items = 0
        reasons: Counter[str] = Counter()
        with AtomicWriter(self.records) as rec_f, AtomicWriter(self.rejects) as rej_f:
            for item in items:
                n_items += 1
                if type(item) is bytes:
                    cut = record_lines(item)
                    if cut is not None:
                        for line in cut:
                            rec_f.write(line)
                            sha.update(line)
                            n_bytes += len(line)
                        n_out += len(cut)
                        continue
                    try:
                        item = loads(item)
                    except ValueError as e:
                        raise self.damaged(f"a line is not valid JSON: {e}") from e
                if "reject" in item:
                    reasons[item["reject"]["reason"]] += 1
                    rej_f.write(self._reject_line(item["reject"]))
                    continue
                for record in item["out"]:
                    line = dumps_line(record)
                    rec_f.write(line)
                    sha.update(line)
                    n_out += 1
                    n_bytes += len(line)
        counts = self._counts(n_items if n_in is None else n_in, n_out, reasons, kind=kind)
        return self._done(counts, seconds, sha, n_bytes)

    def write_parts(
        self,
        parts: Iterable[Part],
        *,
        kind: str,
        t0: float,
        finished: bool = True,
        remove: str | None = None,
    ) -> dict:
        """Finish a stage whose output is in parts (`Part`; `dsbuild.runs.parts`), taking
        them as they come: `rejects.jsonl` is the parts' rejects joined in order, and the
        counts are theirs summed. `finished`: write `done.json` (and return it); else the
        stage is incomplete (parts hold pending placeholders) and the counts so far are
        returned.

        The records: a finished stage leaves them in the parts' files (inside the stage's
        folder), listed in `parts.json` (see the module docstring; `remove`: a folder of the
        stage's to delete once they are joined); an unfinished one, or one whose parts are
        elsewhere, has them joined into `records.jsonl` by blocks."""
        keep = finished
        n_in = n_out = n_bytes = 0
        reasons: Counter[str] = Counter()
        sha = hashlib.sha256()
        kept: list[Path] = []
        with ExitStack() as stack:
            rej_f = stack.enter_context(AtomicWriter(self.rejects))
            rec_f = None if keep else stack.enter_context(AtomicWriter(self.records))
            for part in parts:
                with open(part.rejects, "rb") as f:
                    shutil.copyfileobj(f, rej_f, 1 << 20)
                if rec_f is not None:
                    n_bytes += _copy(part.records, rec_f, sha)
                else:
                    kept.append(Path(part.records))
                n_in += part.items
                n_out += part.n_out
                reasons.update(part.rejects_by_reason)
        counts = self._counts(n_in, n_out, reasons, kind=kind)
        if keep and not all(path.is_relative_to(self.path) for path in kept):
            n_bytes = self._join(kept, self.records, sha)  # parts elsewhere: joined here
            keep = False
        if not keep:
            self.parts_json.unlink(missing_ok=True)
            return self._done(counts, time.monotonic() - t0, sha, n_bytes) if finished else counts
        files = [
            {"path": str(path.relative_to(self.path)), "bytes": path.stat().st_size}
            for path in kept
        ]
        self.records.unlink(missing_ok=True)
        atomic_write_json(self.parts_json, {"files": files, "remove": remove})
        return self._done(counts, time.monotonic() - t0, None, sum(f["bytes"] for f in files))

    def write_batch(
        self, records: list[dict], rejects: list[dict], *, n_in: int, seconds: float
    ) -> dict:
        """Finish a batch stage in one go: its outputs in the order the function gave them."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.log.unlink(missing_ok=True)
        items = [{"reject": r} for r in rejects] + [{"out": records}]
        return self._write_outputs(items, kind="batch", n_in=n_in, seconds=seconds)


def _copy(path: Path, out: Any, sha: Any) -> int:
    """Append the file at `path` to `out` by blocks, read once: hashed into `sha` (unless
    None), written; its size."""
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 << 20), b""):
            if sha is not None:
                sha.update(block)
            out.write(block)
            n += len(block)
    return n
