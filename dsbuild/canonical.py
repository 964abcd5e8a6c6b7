"""Canonical JSON: one text per value, for hashing (run fingerprints, LLM cache keys).

A primitive: it imports nothing from dsbuild, so any layer may use it (`dsbuild.llm` for its
request keys, `dsbuild.runs.fingerprint` for the run fingerprint).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: one text per value."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
