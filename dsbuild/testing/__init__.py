"""Test helpers that run the real code paths with only the expensive parts swapped.

`toy` holds a deterministic builder exercising every stage kind (`toy_builder`); a fake
LLM for offline tests will live beside it. Names are imported lazily, so
`python -m dsbuild.testing.toy` does not import its module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_toy", "toy_builder", "toy_config"]

_LAZY = {"build_toy": "dsbuild.testing.toy", "toy_builder": "dsbuild.testing.toy",
         "toy_config": "dsbuild.testing.toy"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dsbuild.testing' has no attribute {name!r}")
