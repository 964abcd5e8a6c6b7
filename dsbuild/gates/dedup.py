"""Deduplication: exact (normalised hash) and near-duplicate (MinHash LSH), keeping the first.

    normalize_text(text)   NFKC, casefold, punctuation to spaces, whitespace collapsed: the
                           form two texts must share to be exact duplicates
    Deduplicator           `check(id, text)` → kept, or rejected as `duplicate_exact` /
                           `near_duplicate` with the id of the first occurrence in
                           `Verdict.duplicate_of`; `add_reference(id, text)` preloads texts the
                           run must not repeat (a published set), ids prefixed `ref:`

Near duplicates: character 5-grams of the normalised text (bigrams for text that is mostly
CJK, kana or hangul, where a character carries about a word; works without word boundaries),
MinHash signatures and LSH find candidates; the exact Jaccard similarity of the two 5-gram
sets must then reach `threshold` (so a flag is never a MinHash estimate's error; the
normalised texts of kept records are held for this, ~100 bytes each). Backend `rensa` (Rust;
chosen by measurement, see benchmarks/gates_dedup.py) or `datasketch` (pure Python/numpy).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from dsbuild.errors import ConfigError
from dsbuild.gates.base import Verdict

__all__ = ["Deduplicator", "exact_key", "lsh_bands", "lsh_params", "normalize_text", "shingles"]

_SPACE = re.compile(r"\s+")
_PUNCT_TABLE: dict[int, str] = {}


def _punct_table() -> dict[int, str]:
    if not _PUNCT_TABLE:
        import sys

        for cp in range(sys.maxunicode + 1):
            if unicodedata.category(chr(cp))[0] in "PS" or unicodedata.category(chr(cp)) == "Cf":
                _PUNCT_TABLE[cp] = " "
    return _PUNCT_TABLE


def normalize_text(text: str) -> str:
    """NFKC, casefold, punctuation/symbols/format characters to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_punct_table())
    return _SPACE.sub(" ", text).strip()


def exact_key(text: str) -> int:
    """A 64-bit hash of the normalised text (collisions: ~3e-8 at a million texts)."""
    digest = hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shingles(norm: str, k: int = 5) -> list[str]:
    """Character k-grams of a normalised text (the whole text when shorter than k)."""
    if len(norm) <= k:
        return [norm] if norm else []
    return [norm[i : i + k] for i in range(len(norm) - k + 1)]


_WIDE = re.compile("[\u2e80-\U0010ffff]")


def _is_wide(norm: str) -> bool:
    """Whether most characters are CJK/kana/hangul (each carries about a word)."""
    return not norm.isascii() and len(_WIDE.findall(norm)) * 2 > len(norm)


class _RensaIndex:
    def __init__(self, threshold: float, num_perm: int, bands: int, seed: int) -> None:
        from rensa import RMinHash, RMinHashLSH

        self._mh = RMinHash
        self._lsh = RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=bands)
        self._num_perm, self._seed = num_perm, seed

    def signature(self, grams: list[str]):
        mh = self._mh(num_perm=self._num_perm, seed=self._seed)
        mh.update(grams)
        return mh

    def candidates(self, sig) -> list[int]:
        return self._lsh.query(sig)

    def insert(self, key: int, sig) -> None:
        self._lsh.insert(key, sig)


class _DatasketchIndex:
    def __init__(self, threshold: float, num_perm: int, bands: int, seed: int) -> None:
        from datasketch import MinHash, MinHashLSH

        self._mh = MinHash
        rows = num_perm // bands
        self._lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
        self._num_perm, self._seed = num_perm, seed

    def signature(self, grams: list[str]):
        mh = self._mh(num_perm=self._num_perm, seed=self._seed)
        mh.update_batch([g.encode("utf-8") for g in grams])
        return mh

    def candidates(self, sig) -> list[int]:
        return self._lsh.query(sig)

    def insert(self, key: int, sig) -> None:
        self._lsh.insert(key, sig)


_BACKENDS = {"rensa": _RensaIndex, "datasketch": _DatasketchIndex}


def lsh_bands(threshold: float, num_perm: int, recall: float = 0.995) -> int:
    """The fewest bands (so the fewest false candidates) whose LSH still makes a pair at
    Jaccard `threshold` a candidate with probability >= `recall`."""
    for rows in range(num_perm, 0, -1):
        if num_perm % rows:
            continue
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands
    return num_perm


def lsh_params(threshold: float, num_perm: int, bands: int | None) -> int:
    """Check a near-duplicate configuration; returns the number of LSH bands to use."""
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(
            f"dedup threshold {threshold} is not in (0, 1]", "use e.g. threshold=0.8", code="DSB103"
        )
    bands = bands or lsh_bands(threshold, num_perm)
    if num_perm % bands:
        raise ConfigError(
            f"dedup num_perm {num_perm} is not a multiple of bands {bands}",
            "use e.g. num_perm=120, bands=20",
            code="DSB103",
        )
    return bands


class Deduplicator:
    """Exact and near-duplicate detection over a stream, keeping the first occurrence.

    `threshold` is the Jaccard similarity of character `shingle`-gram sets at or above which
    a text is a near duplicate; `bands` LSH bands of `num_perm / bands` rows (20 x 6: a pair
    at Jaccard 0.8 becomes a candidate with probability 0.998, one at 0.3 with 0.015);
    `near=False` keeps only the exact check.
    """

    name = "dedup"
    reasons = ("duplicate_exact", "near_duplicate")

    def __init__(
        self,
        *,
        near: bool = True,
        threshold: float = 0.8,
        num_perm: int = 120,
        bands: int | None = None,
        shingle: int = 5,
        backend: str = "rensa",
        seed: int = 1,
    ) -> None:
        bands = lsh_params(threshold, num_perm, bands)
        if backend not in _BACKENDS:
            raise ConfigError(
                f"unknown dedup backend {backend!r}",
                f"use one of {', '.join(_BACKENDS)}",
                code="DSB103",
            )
        self.near, self.threshold, self.shingle = near, threshold, shingle
        self._exact: dict[int, str] = {}
        self._ids: list[str] = []
        self._norms: list[str] = []
        self._index = None
        if near:
            try:
                self._index = _BACKENDS[backend](threshold, num_perm, bands, seed)
            except ImportError as exc:
                package = "rensa" if backend == "rensa" else "datasketch"
                raise ConfigError(
                    f"near-duplicate detection needs {package}",
                    f"pip install {package}, or pass near=False",
                    code="DSB103",
                ) from exc

    def _k(self, norm: str) -> int:
        return min(self.shingle, 2) if _is_wide(norm) else self.shingle

    def __len__(self) -> int:
        return len(self._exact)

    def check(self, record_id: str, text: str, *, add: bool = True) -> Verdict:
        """Reject `text` if it repeats one seen before; otherwise remember it (if `add`)."""
        norm = normalize_text(text or "")
        key = int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "big")
        first = self._exact.get(key)
        if first is not None:
            return Verdict.reject(
                "duplicate_exact", f"same normalised text as {first}", duplicate_of=first
            )
        sig = None
        if self._index is not None and norm:
            grams = shingles(norm, self._k(norm))
            sig = self._index.signature(grams)
            best, best_j, mine = None, 0.0, set(grams)
            for cand in self._index.candidates(sig):
                other = set(shingles(self._norms[cand], self._k(self._norms[cand])))
                j = len(mine & other) / len(mine | other)
                if j > best_j or (j == best_j and best is not None and cand < best):
                    best, best_j = cand, j
            if best is not None and best_j >= self.threshold:
                of = self._ids[best]
                return Verdict.reject(
                    "near_duplicate",
                    f"similar to {of} (Jaccard {best_j:.2f})",
                    duplicate_of=of,
                    score=best_j,
                )
        if add:
            self._exact[key] = record_id
            if sig is not None:
                self._remember(record_id, norm, sig)
        return Verdict("kept")

    def _remember(self, record_id: str, norm: str, sig) -> None:
        self._index.insert(len(self._ids), sig)
        self._ids.append(record_id)
        self._norms.append(norm)

    def add_reference(self, ref_id: str, text: str) -> None:
        """Remember a reference text (id kept as `ref:<id>`) without judging it."""
        rid = f"ref:{ref_id}"
        norm = normalize_text(text or "")
        key = int.from_bytes(hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest(), "big")
        self._exact.setdefault(key, rid)
        if self._index is not None and norm:
            self._remember(rid, norm, self._index.signature(shingles(norm, self._k(norm))))

    def add_references(self, items: Iterable[tuple[str, str]]) -> int:
        n = 0
        for ref_id, text in items:
            self.add_reference(ref_id, text)
            n += 1
        return n
