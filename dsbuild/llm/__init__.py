"""The LLM engine: every LLM request of every builder goes through `LLMEngine`.

Build one from settings with `make_engine(settings)`; describe a request with
`engine.request(messages, response_format=..., sampling=...)`; send it with
`await engine.complete(request)`. See `engine` for the order of cache, budget, limits,
retries and structured-output repair. Imports are lazy: `import dsbuild.llm` is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "ChatRequest",
    "LLMEngine",
    "LLMResult",
    "Usage",
    "make_engine",
    "parse_model_spec",
]

_LAZY = {
    "BackendError": "dsbuild.llm.types",
    "ChatRequest": "dsbuild.llm.types",
    "LLMResult": "dsbuild.llm.types",
    "Usage": "dsbuild.llm.types",
    "LLMEngine": "dsbuild.llm.engine",
    "make_engine": "dsbuild.llm.factory",
    "parse_model_spec": "dsbuild.llm.spec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dsbuild.llm' has no attribute {name!r}")
