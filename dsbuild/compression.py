"""Which compression a dump file uses, told from its first bytes, and opening it for reading.

Dumps are named inconsistently (`.json`, `.json.bz2`, renamed downloads); the magic bytes
are what counts. bz2 here reads every stream of a multistream file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

__all__ = ["compression_of", "open_decompressed"]

_MAGIC = ((b"BZh", "bz2"), (b"\x1f\x8b", "gz"))


def compression_of(head: bytes) -> str:
    """ "bz2", "gz" or "plain", from a file's first bytes (at least 3)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "plain"


def open_decompressed(path: str | os.PathLike[str]) -> BinaryIO:
    """The file's decompressed bytes, whatever its compression."""
    path = Path(path)
    with path.open("rb") as handle:
        kind = compression_of(handle.read(3))
    if kind == "bz2":
        import bz2

        return bz2.BZ2File(path, "rb")
    if kind == "gz":
        import gzip

        return gzip.GzipFile(path, "rb")
    return path.open("rb")
