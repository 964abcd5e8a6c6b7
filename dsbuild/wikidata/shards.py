"""The label store built from the Wikidata dump in parallel shards.

The dump (plain, or single-stream bz2/gz made seekable by `dsbuild.wiki.seekable`) is cut
into ranges of decompressed bytes; a part owns the lines that start in its range. Each
worker scans its part with the same raw-bytes prefilter and label decoding as the one-pass
build, and writes the rows it keeps to its own file; the main process adds them to the
store in dump order, sums the counters and renumbers the problems' lines. The store holds
the same rows and meta (timings aside) for any number of workers. A compressed dump that
cannot be indexed is read by one worker, whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.wiki.seekable import Seekable, open_at, seekable

__all__ = ["LinePart", "label_part", "plan_parts"]

_BLOCK = 1 << 20
_PART_BYTES = 256 << 20
_MIN_PART_BYTES = 4 << 20


@dataclass(frozen=True)
class LinePart:
    """The lines of `source` that start in [start, end) (end None: to the end of the file);
    `first`/`last`: the part holds the start/the end of the file. `source` None: the whole
    file at `path`, read as one part by the dump reader itself."""

    path: str
    number: int
    start: int
    end: int | None
    first: bool
    last: bool
    source: Seekable | None = None

    @property
    def key(self) -> str:
        return f"{self.number:05d}-{self.start}-{'eof' if self.end is None else self.end}"

    def lines(self) -> Iterator[bytes]:
        """The part's raw lines, newline included (the file's last may lack it)."""
        assert self.source is not None
        begin = max(self.start - 1, 0)
        stream = open_at(self.source, begin)
        try:
            pos, carry = begin, b""
            if self.start > 0:  # drop the tail of the line that starts before the part
                while True:
                    block = stream.read(_BLOCK)
                    if not block:
                        return
                    cut = block.find(b"\n")
                    if cut >= 0:
                        pos += cut + 1
                        carry = block[cut + 1 :]
                        break
                    pos += len(block)
            end = self.end
            while True:
                block = stream.read(_BLOCK)
                lines = (carry + block).split(b"\n")
                carry = lines.pop()
                for line in lines:
                    if end is not None and pos >= end:
                        return
                    pos += len(line) + 1
                    yield line + b"\n"
                if not block:
                    if carry and (end is None or pos < end):
                        yield carry  # the file's last line, without its newline
                    return
        finally:
            stream.close()


def plan_parts(
    dump: str | os.PathLike[str],
    work_dir: str | os.PathLike[str] | None,
    *,
    threads: int = 1,
    part_bytes: int | None = None,
) -> list[LinePart]:
    """The parts of `dump`: ~`part_bytes` of decompressed JSON each (default: 256 MiB, less
    for a small dump so that it still makes up to 64 parts; `DSBUILD_SHARD_MB` sets it as
    compressed MB, x4). Parts never change the store, only how the work is shared."""
    source = seekable(dump, work_dir, threads=threads)
    if source is None:
        return [LinePart(str(dump), 0, 0, None, True, True)]
    if part_bytes is None and os.environ.get("DSBUILD_SHARD_MB"):  # the tuning knob, as MB
        part_bytes = int(float(os.environ["DSBUILD_SHARD_MB"]) * 4 * (1 << 20))  # compressed
    per = part_bytes or min(_PART_BYTES, max(_MIN_PART_BYTES, source.size // 64))
    cuts = list(range(0, source.size, max(1, int(per)))) or [0]
    return [
        LinePart(
            str(dump),
            n,
            start,
            cuts[n + 1] if n + 1 < len(cuts) else None,
            n == 0,
            n + 1 == len(cuts),
            source,
        )
        for n, start in enumerate(cuts)
    ]


def label_part(shared: tuple, part: LinePart, out: Path, report) -> dict[str, Any]:
    """Scan one part into `out` (a JSON line `[qid, title, en, labels]` per kept item);
    returns the part's counters and problems (line numbers within the part)."""
    from dsbuild.runs.jsonl import dumps_line
    from dsbuild.wikidata.dump import DumpReader, DumpStats
    from dsbuild.wikidata.store import iter_dump_labels

    needed, languages, decompressor = shared
    stats = DumpStats()
    reader = DumpReader(
        part.path,
        decompressor=decompressor,
        stats=stats,
        part=None if part.source is None else part,
    )
    tmp = out.with_name(out.name + ".tmp")
    kept = 0
    with open(tmp, "wb") as f:
        for e in iter_dump_labels(part.path, needed, languages, reader=reader):
            f.write(dumps_line([e.qid, e.title, e.en_label, e.labels]))
            kept += 1
            if not kept % 10_000:
                report(entities=kept)
    os.replace(tmp, out)
    return {**stats.counts(), "problems": [[p.kind, p.line, p.detail] for p in stats.problems]}
