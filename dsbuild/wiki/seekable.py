"""Reading a dump from a decompressed byte offset, so that shards of it can be read alone.

A plain file seeks. A single-stream `.bz2` or `.gz` file needs a decompression index,
built in one multi-threaded pass by `indexed_bzip2` (bz2) or `rapidgzip` (gz) — the
`shards` extra (`pip install 'dsbuild[shards]'`); after it, any worker opens the file and
seeks to an offset of the decompressed data by decompressing from the nearest block. Without
those libraries (or when the file cannot be indexed, e.g. it is cut short), `seekable`
returns None and the caller reads the file whole, in one shard: slower, same output.
The index is kept next to the run's other work files and reused while the dump is unchanged.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dsbuild.compression import compression_of

__all__ = ["Seekable", "decompression_library", "open_at", "seekable"]


@dataclass(frozen=True)
class Seekable:
    """A dump that `open_at` can read from any decompressed offset; `size` is the size of
    its decompressed data, `index` the index file (bz2, gz) or None (plain)."""

    path: str
    kind: str
    size: int
    index: str | None = None


def decompression_library(kind: str):
    """The module that indexes and seeks `kind` ("bz2" or "gz"), or None when missing."""
    try:
        if kind == "gz":
            import rapidgzip

            return rapidgzip
        if kind == "bz2":
            try:
                import indexed_bzip2

                return indexed_bzip2
            except ImportError:
                import rapidgzip  # carries the same IndexedBzip2File

                return rapidgzip
    except ImportError:
        return None
    return None


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"name": path.name, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def seekable(
    path: str | os.PathLike[str], work_dir: str | os.PathLike[str] | None, *, threads: int = 1
) -> Seekable | None:
    """`path` as a `Seekable` (building and keeping its index in `work_dir`), or None when
    it cannot be read from an offset (no library for its compression, or indexing failed)."""
    path = Path(path)
    with path.open("rb") as handle:
        kind = compression_of(handle.read(3))
    if kind == "plain":
        return Seekable(str(path), "plain", path.stat().st_size)
    lib = decompression_library(kind)
    if lib is None or work_dir is None:
        return None
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    index = work / f"{path.name}.{kind}-index"
    meta = work / f"{path.name}.{kind}-index.json"
    stamp = _stamp(path)
    if index.is_file() and meta.is_file():
        try:
            known = json.loads(meta.read_text("utf-8"))
            if known.get("dump") == stamp:
                return Seekable(str(path), kind, int(known["size"]), str(index))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    tmp = index.with_name(index.name + f".tmp{os.getpid()}")
    try:
        if kind == "bz2":
            with lib.IndexedBzip2File(str(path), parallelization=max(1, threads)) as f:
                offsets = f.block_offsets()  # one pass over the whole file
                size = f.size()
            tmp.write_text(json.dumps(sorted(offsets.items())), "utf-8")
        else:
            with lib.RapidgzipFile(str(path), parallelization=max(1, threads)) as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.export_index(str(tmp))
    except Exception:  # a cut or damaged file: the whole-file reader reports it properly
        tmp.unlink(missing_ok=True)
        return None
    os.replace(tmp, index)
    meta.write_text(json.dumps({"dump": stamp, "size": size}), "utf-8")
    return Seekable(str(path), kind, size, str(index))


def open_at(source: Seekable, offset: int) -> BinaryIO:
    """The decompressed data of `source` from `offset` on (one decompression thread)."""
    if source.kind == "plain":
        handle = open(source.path, "rb")
        handle.seek(offset)
        return handle
    lib = decompression_library(source.kind)
    assert lib is not None and source.index is not None
    if source.kind == "bz2":
        stream = lib.IndexedBzip2File(source.path, parallelization=1)
        offsets = json.loads(Path(source.index).read_text("utf-8"))
        stream.set_block_offsets({int(bit): int(byte) for bit, byte in offsets})
    else:
        stream = lib.RapidgzipFile(source.path, parallelization=1)
        stream.import_index(source.index)
    stream.seek(offset)
    return stream
