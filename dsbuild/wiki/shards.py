"""A Wikipedia dump cut into shards that workers read alone, in parallel.

`plan_shards(dump)` cuts the input; `iter_shard_pages(shard)` reads one shard. Reading every
shard of a plan in order gives exactly what `iter_pages(dump)` gives, pages and rejects
alike, whatever the shard sizes:

- multistream `.bz2` with its index (`offset:page_id:title` lines, bz2 or plain): a shard
  is a run of whole bz2 streams (about `shard_bytes` of compressed input), read by seeking;
- plain XML, and single-stream `.bz2`/`.gz` made seekable by a decompression index
  (`dsbuild.wiki.seekable`): a shard is a range of decompressed offsets and owns the pages
  whose `<page>` tag starts in it; a worker seeks to its start, skips to the first `<page>`,
  and reads until the first page of the next shard (the page that straddles its end is its
  own, read to its `</page>`);
- a compressed file that cannot be indexed (no library, a cut file): one shard, read whole.

Every shard after the first is read behind the dump's header (the bytes before the first
`<page>`: the root tag with its namespace declarations, and `<siteinfo>`), so each parses as
the whole file would. The end-of-file checks (`</mediawiki>` missing, a page cut short) are
made by the shard that reaches the end of the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dsbuild.wiki.dump import (
    Page,
    PageReject,
    _ReadAhead,
    _Scanner,
    open_dump,
    stream_offsets,
)
from dsbuild.wiki.seekable import Seekable, open_at, seekable

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "DumpShard",
    "iter_shard_pages",
    "plan_shards",
    "stream_offsets",
]

# Compressed bytes per shard of a multistream dump (~4-5x as much XML); a plain or indexed
# dump's shards are counted in decompressed bytes, 4x as many. Small inputs get up to 64
# shards, so that a few workers share them evenly: multistream shards of at least 512 KiB
# (with 1 MiB, 100 MB of XML made 18 shards and the last worker still had a shard to go
# when the other had none left: 0.7-0.9 s of a 12 s stage with 2 workers; a shard costs no
# more), range shards of at least 4 MiB of XML (each starts by decoding the whole bz2 block
# it begins in: 2 MiB shards made one worker 18% slower on single-stream bz2).
DEFAULT_SHARD_BYTES = 64 << 20
_MIN_SHARD_BYTES = 512 << 10
_MIN_RANGE_BYTES = 4 << 20
_MAX_SHARDS_SMALL = 64
_XML_PER_COMPRESSED = 4
_PAGE_OPEN = re.compile(rb"<(?:[\w.-]+:)?page\b[^<>]*>")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class DumpShard:
    """One shard: `kind` is multistream (compressed byte range), range (decompressed byte
    range of `source`) or whole (the file, read sequentially)."""

    path: str
    kind: str
    number: int
    start: int
    end: int | None
    last: bool
    header: bytes = b""
    source: Seekable | None = None

    @property
    def key(self) -> str:
        """A name for the shard's output: its number and byte range."""
        return f"{self.number:05d}-{self.start}-{'eof' if self.end is None else self.end}"


def shard_size(total: int, shard_bytes: int | None, minimum: int = _MIN_SHARD_BYTES) -> int:
    """The target bytes per shard: `shard_bytes` if given, else up to the default, and small
    enough that a small input still makes up to 64 shards."""
    if shard_bytes:
        return max(1, int(shard_bytes))
    return min(DEFAULT_SHARD_BYTES, max(minimum, total // _MAX_SHARDS_SMALL))


def dump_header(path: str | os.PathLike[str], limit: int = 64 << 20) -> bytes:
    """The decompressed bytes before the dump's first `<page>` tag (at most `limit`)."""
    head = b""
    with open_dump(path) as stream:
        while len(head) < limit:
            block = stream.read(_BLOCK)
            if not block:
                break
            head += block
            found = _PAGE_OPEN.search(head)
            if found is not None:
                return head[: found.start()]
    return head


def plan_shards(
    dump: str | os.PathLike[str],
    *,
    index: str | os.PathLike[str] | None = None,
    shard_bytes: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    threads: int = 1,
) -> list[DumpShard]:
    """The shards of `dump` (see the module docstring). `index`: a multistream dump's index;
    `shard_bytes`: compressed bytes per multistream shard (4x that of decompressed XML per
    range shard; default: `DEFAULT_SHARD_BYTES`, less for small inputs); `work_dir`: where a
    single-stream bz2/gz dump's decompression index is built (with `threads` threads) and
    kept; without it, such a dump is one shard."""
    path = Path(dump)
    open_dump(path).close()  # the reader's own checks: missing, empty, not a dump
    if index is not None:
        return _multistream(path, stream_offsets(index), shard_bytes)
    source = seekable(path, work_dir, threads=threads)
    if source is None:
        return [DumpShard(str(path), "whole", 0, 0, None, True)]
    per = shard_size(
        source.size,
        shard_bytes and shard_bytes * _XML_PER_COMPRESSED,
        _MIN_RANGE_BYTES,
    )
    return _shards(path, "range", list(range(0, source.size, per)) or [0], source)


def _multistream(path: Path, starts: list[int], shard_bytes: int | None) -> list[DumpShard]:
    size = path.stat().st_size
    per = shard_size(size, shard_bytes)
    cuts = [0]
    for offset in starts:  # a small header-only stream at 0 joins the first shard
        if 0 < offset < size and offset - cuts[-1] >= per:
            cuts.append(offset)
    return _shards(path, "multistream", cuts)


def _shards(
    path: Path, kind: str, cuts: list[int], source: Seekable | None = None
) -> list[DumpShard]:
    """One shard from each cut to the next (the last to the end); every shard but the first
    gets the dump's header."""
    header = dump_header(path) if len(cuts) > 1 else b""
    return [
        DumpShard(
            str(path),
            kind,
            n,
            start,
            cuts[n + 1] if n + 1 < len(cuts) else None,
            n + 1 == len(cuts),
            header if n else b"",
            source,
        )
        for n, start in enumerate(cuts)
    ]


def iter_shard_pages(
    shard: DumpShard, *, namespaces: Collection[int] | None = (0,)
) -> Iterator[Page | PageReject]:
    """The pages (and rejects) that `shard` owns, in file order."""
    if shard.kind == "whole":
        stream = open_dump(shard.path)
        yield from _scan(stream, _Scanner(stream, namespaces))
        return
    if shard.kind == "multistream":
        stream = open_dump(shard.path, start=shard.start, end=shard.end)
        if shard.number:
            stream = _Joined(shard.header, b"", stream)
        yield from _scan(stream, _Scanner(stream, namespaces, shard=not shard.last))
        return
    assert shard.source is not None
    raw = open_at(shard.source, shard.start)
    if shard.start == 0:
        stream: BinaryIO = raw
        stop = shard.end
    else:
        first, rest = _first_page(raw, shard.start)
        if first is None or (shard.end is not None and first >= shard.end):
            raw.close()  # no page starts here: an earlier shard reads to the end of the file
            return
        stream = _Joined(shard.header, rest, raw)
        stop = None if shard.end is None else len(shard.header) + shard.end - first
    yield from _scan(stream, _Scanner(stream, namespaces, stop=stop))


def _scan(stream: BinaryIO, scanner: _Scanner) -> Iterator[Page | PageReject]:
    """The scanner's pages, the stream decompressed ahead by a thread, closed at the end."""
    try:
        with _ReadAhead(stream) as ahead:
            scanner.stream = ahead  # type: ignore[assignment]
            yield from scanner.pages()
    finally:
        stream.close()


def _first_page(raw: BinaryIO, start: int) -> tuple[int | None, bytes]:
    """(offset of the first `<page>` tag at or after `start`, the data from it on that was
    read), or (None, b"") when none starts before the end of the file."""
    seen = b""
    offset = start  # the offset of seen[0]
    while True:
        block = raw.read(_BLOCK)
        if not block:
            return None, b""
        seen += block
        found = _PAGE_OPEN.search(seen)
        if found is not None:
            return offset + found.start(), seen[found.start() :]
        keep = max(0, len(seen) - 4096)  # a tag cut by the block end is searched again
        lt = seen.rfind(b"<", keep)
        cut = lt if lt >= 0 else len(seen)
        offset += cut
        seen = seen[cut:]


class _Joined:
    """`head`, then `rest`, then the rest of `stream`: read() in blocks, close() closes all."""

    def __init__(self, head: bytes, rest: bytes, stream: BinaryIO) -> None:
        self._pending = [part for part in (head, rest) if part]
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            return self._pending.pop(0)
        return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()
