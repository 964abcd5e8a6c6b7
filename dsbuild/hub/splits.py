"""Deterministic train/validation/test splits, grouped so that nothing leaks between them.

Every row goes where its **group** goes, and a group goes by a seeded hash of its key:
the same key and seed give the same split on any machine, in any row order, and adding
rows never moves old groups. A dataset's export hook names the group column (`split_key`):
e.g. every question about one passage, every language version of one sentence, every
variant made from one case, every translation of one source text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dsbuild.errors import ConfigError
from dsbuild.hub.hooks import hooks_for

__all__ = ["SPLITS", "assign_split", "group_key", "parse_proportions", "split_rows"]

SPLITS = ("train", "validation", "test")
DEFAULT_PROPORTIONS = (0.8, 0.1, 0.1)


def parse_proportions(text: str | Sequence[float] | None) -> tuple[float, float, float]:
    """`"0.8,0.1,0.1"` -> (0.8, 0.1, 0.1): train, validation, test shares summing to 1."""
    if text is None:
        return DEFAULT_PROPORTIONS
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(
            f"--splits {text!r} is not three shares (train,validation,test) that sum to 1",
            "write e.g. --splits 0.8,0.1,0.1",
            code="DSB103",
        )
    return values  # type: ignore[return-value]


def group_key(dataset: str, row: Mapping[str, Any]) -> str:
    """The value that keeps a row with its group (see the module docstring)."""
    return str(row[hooks_for(dataset).split_key])


def assign_split(key: str, proportions: Sequence[float], seed: int = 0) -> str:
    """The split of group `key`: a uniform draw in [0, 1) from a hash of seed and key."""
    digest = hashlib.sha256(f"dsbuild-split\x1f{seed}\x1f{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, share in zip(SPLITS, proportions):
        edge += share
        if u < edge:
            return name
    return next(n for n, p in reversed(list(zip(SPLITS, proportions))) if p > 0)


def split_rows(
    dataset: str, rows: Iterable[Mapping[str, Any]], proportions: Sequence[float], seed: int = 0
) -> dict[str, list[Mapping[str, Any]]]:
    """Rows by split, in input order within each; empty splits are left out."""
    key = hooks_for(dataset).split_key
    out: dict[str, list[Mapping[str, Any]]] = {name: [] for name in SPLITS}
    for row in rows:
        out[assign_split(str(row[key]), proportions, seed)].append(row)
    return {name: part for name, part in out.items() if part}
