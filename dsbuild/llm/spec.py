"""Model specs: short names for which model answers and through which backend.

local:smollm2          the embedded SmolLM2-135M-Instruct (the default without key/URL)
local:/path/model.gguf any GGUF file, in-process
openai:gpt-4o-mini     OpenAI, or any OpenAI-compatible endpoint given a base URL
vllm:Qwen/Qwen2.5-7B-Instruct, ollama:llama3.1:8b, litellm:..., llamacpp:...
                       an OpenAI-compatible server at the base URL
gpt-4o-mini            no prefix: an OpenAI-compatible model name
fake:NAME              the test double from `dsbuild.testing` (no network)
"""

from __future__ import annotations

from dataclasses import dataclass

from dsbuild.errors import ConfigError

__all__ = ["DEFAULT_OPENAI_MODEL", "ModelSpec", "parse_model_spec"]

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
_OPENAI_COMPATIBLE = ("openai", "vllm", "ollama", "litellm", "llamacpp", "lmstudio", "together")


@dataclass(frozen=True)
class ModelSpec:
    """`provider` is local, openai (any compatible endpoint) or fake; `name` the model to ask
    (None: the first model the endpoint lists)."""

    provider: str
    name: str | None

    def __str__(self) -> str:
        return f"{self.provider}:{self.name or '(server default)'}"


def parse_model_spec(
    spec: str | None, *, base_url: str | None = None, api_key: bool = False
) -> ModelSpec:
    """Parse a spec; with none, use the local model unless a key or base URL is configured."""
    if not spec:
        if base_url:
            return ModelSpec("openai", None)
        if api_key:
            return ModelSpec("openai", DEFAULT_OPENAI_MODEL)
        return ModelSpec("local", "smollm2")
    spec = spec.strip()
    if spec.endswith(".gguf") and ":" not in spec.split("/")[0]:
        return ModelSpec("local", spec)
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in ("local", "fake"):
        if not rest:
            raise ConfigError(
                f"model spec '{spec}' names no model", f"write e.g. {prefix}:smollm2", code="DSB103"
            )
        return ModelSpec(prefix, rest)
    if sep and prefix in _OPENAI_COMPATIBLE:
        return ModelSpec("openai", rest or None)
    return ModelSpec("openai", spec)
