"""Test helpers that run the real code paths with only the expensive parts swapped.

`toy` holds a deterministic builder exercising every stage kind (`toy_builder`);
`fake_llm` a fake LLM backend for offline tests (`FakeLLM`, `installed`); `fake_batch_api`
an in-process OpenAI Batch API for the openai SDK's real client (`FakeBatchAPI`). Names are imported
lazily, so `python -m dsbuild.testing.toy` does not import its module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FakeBatchAPI",
    "FakeLLM",
    "build_toy",
    "example_for_schema",
    "installed",
    "toy_builder",
    "toy_config",
]

_LAZY = {
    "build_toy": "dsbuild.testing.toy",
    "toy_builder": "dsbuild.testing.toy",
    "toy_config": "dsbuild.testing.toy",
    "FakeBatchAPI": "dsbuild.testing.fake_batch_api",
    "FakeLLM": "dsbuild.testing.fake_llm",
    "example_for_schema": "dsbuild.testing.fake_llm",
    "installed": "dsbuild.testing.fake_llm",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dsbuild.testing' has no attribute {name!r}")
