"""Whole-set deduplication with a sort-based LSH: what `dedup_stage` and `dsbuild check dedup`
run, with the verdicts of `Deduplicator.check` over the same sequence and a fraction of its
memory.

The streaming `Deduplicator` keeps rensa's LSH index (about 1.6 KB per record: 2.6 GB at a
million short records). Here every distinct normalised text gets a MinHash signature
(rensa), each band of it a 64-bit hash in one numpy matrix (8 bytes x bands per text), and
texts that share a band hash are found by sorting each band column; candidates are then
verified by exact 5-gram Jaccard, in input order, against the texts kept so far. One
difference: a repeat of a text that was itself dropped as a near duplicate of X is reported
as a near duplicate of X (the stream would look again, possibly finding a closer kept text
that came later).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Sequence

from dsbuild.errors import ConfigError
from dsbuild.gates.base import Verdict
from dsbuild.gates.dedup import _is_wide, lsh_params, normalize_text, shingles

__all__ = ["dedup_all"]

_CHUNK = 20_000
_MAX_BUCKET = 64
_KEPT = Verdict("kept")  # earliest members of one band bucket that a text is compared with


def _key(norm: str) -> bytes:
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).digest()


def _band_hashes(norms: list[str], shingle: int, num_perm: int, bands: int, seed: int):
    import numpy as np

    try:
        from rensa import RMinHash
    except ImportError as exc:
        raise ConfigError(
            "near-duplicate detection needs rensa",
            "pip install rensa, or pass near=False",
            code="DSB103",
        ) from exc
    rows = num_perm // bands
    out = np.empty((len(norms), bands), dtype=np.uint64)
    digest = np.empty((min(_CHUNK, len(norms)), num_perm), dtype=np.uint64)
    for start in range(0, len(norms), _CHUNK):
        chunk = norms[start : start + _CHUNK]
        for i, norm in enumerate(chunk):
            # shingles made here, one text at a time: a list of them all would take ~5 KB
            # per short text
            mh = RMinHash(num_perm=num_perm, seed=seed)
            mh.update(shingles(norm, min(shingle, 2) if _is_wide(norm) else shingle) or [""])
            digest[i] = mh.digest()
        d = digest[: len(chunk)]
        with np.errstate(over="ignore"):
            for b in range(bands):
                h = np.full(len(chunk), 0xCBF29CE484222325, dtype=np.uint64)
                for col in range(b * rows, (b + 1) * rows):
                    h = (h ^ d[:, col]) * np.uint64(0x100000001B3)
                out[start : start + len(chunk), b] = h
    return out


def _candidates(bands_matrix) -> dict[int, list[int]]:
    """For each row, the earlier rows that share at least one band hash with it."""
    import numpy as np

    found: dict[int, set[int]] = {}
    for b in range(bands_matrix.shape[1]):
        keys = bands_matrix[:, b]
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        same = np.flatnonzero(sk[1:] == sk[:-1])
        if not len(same):
            continue
        # runs of equal keys: starts are positions whose predecessor differs
        starts = same[np.r_[True, same[1:] != same[:-1] + 1]]
        for s in starts.tolist():
            e = s + 1
            while e < len(sk) and sk[e] == sk[s]:
                e += 1
            members = order[s:e].tolist()  # ascending: the sort is stable
            head = members[:_MAX_BUCKET]
            for pos, j in enumerate(members[1:], 1):
                found.setdefault(j, set()).update(head[:pos] if pos < _MAX_BUCKET else head)
    return {j: sorted(c) for j, c in found.items()}


def dedup_all(
    items: Sequence[tuple[str, str]],
    *,
    references: Iterable[tuple[str, str]] = (),
    near: bool = True,
    threshold: float = 0.8,
    num_perm: int = 120,
    bands: int | None = None,
    shingle: int = 5,
    seed: int = 1,
    backend: str = "rensa",
) -> list[Verdict]:
    """Verdicts for `items` ((id, text) in order): the first occurrence kept, later exact or
    near duplicates rejected with the id they repeat; `references` ((id, text)) count as
    seen before everything (ids `ref:<id>`) and get no verdict. Parameters as `Deduplicator`."""
    bands = lsh_params(threshold, num_perm, bands)
    refs = [(f"ref:{rid}", text) for rid, text in references]
    n_refs = len(refs)
    ids: list[str] = []
    uid_of = array("q")  # per position: the index of its distinct text
    unique_pos = array("q")  # per distinct text: the position it first appears at
    unique_norm: list[str] = []
    seen: dict[bytes, int] = {}
    for rid, text in [*refs, *items]:
        norm = normalize_text(text or "")
        u = seen.setdefault(_key(norm), len(unique_norm))
        if u == len(unique_norm):
            unique_pos.append(len(ids))
            unique_norm.append(norm)
        uid_of.append(u)
        ids.append(rid)
    del seen

    cands: dict[int, list[int]] = {}
    if near and unique_norm:
        matrix = _band_hashes(unique_norm, shingle, num_perm, bands, seed)
        cands = _candidates(matrix)
        del matrix

    kept_unique = bytearray(len(unique_pos))
    dropped: dict[int, Verdict] = {}  # distinct texts dropped as near duplicates
    verdict_at: list[Verdict] = []
    grams_cache: dict[int, set[str]] = {}

    def gram_set(u: int) -> set[str]:
        if u not in grams_cache:
            n = unique_norm[u]
            grams_cache[u] = set(shingles(n, min(shingle, 2) if _is_wide(n) else shingle))
        return grams_cache[u]

    for pos in range(len(ids)):
        u = uid_of[pos]
        first = unique_pos[u]
        if first != pos:
            if kept_unique[u]:
                verdict_at.append(
                    Verdict.reject(
                        "duplicate_exact",
                        f"same normalised text as {ids[first]}",
                        duplicate_of=ids[first],
                    )
                )
            else:
                verdict_at.append(dropped[u])
            continue
        if pos < n_refs or not unique_norm[u]:
            kept_unique[u] = 1
            verdict_at.append(_KEPT)
            continue
        best, best_j = None, 0.0
        if cands.get(u):
            mine = gram_set(u)
            for c in cands[u]:
                if not kept_unique[c]:
                    continue
                other = gram_set(c)
                j = len(mine & other) / len(mine | other)
                if j > best_j:
                    best, best_j = c, j
        if best is not None and best_j >= threshold:
            of = ids[unique_pos[best]]
            dropped[u] = Verdict.reject(
                "near_duplicate",
                f"similar to {of} (Jaccard {best_j:.2f})",
                duplicate_of=of,
                score=best_j,
            )
            verdict_at.append(dropped[u])
        else:
            kept_unique[u] = 1
            verdict_at.append(_KEPT)
        if len(grams_cache) > 4096:  # candidates are rare; their 5-gram sets are large
            grams_cache.clear()
    return verdict_at[n_refs:]
