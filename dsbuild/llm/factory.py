"""Build an `LLMEngine` from settings: the backend for the model spec, the shared cache,
the price for the budget. The one place that knows which backend a spec means."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dsbuild.errors import ConfigError
from dsbuild.llm.spec import ModelSpec, parse_model_spec

if TYPE_CHECKING:
    from dsbuild.config import Settings
    from dsbuild.llm.engine import LLMEngine
    from dsbuild.llm.types import Backend

__all__ = ["check_endpoint", "make_backend", "make_engine", "model_spec_of", "register_provider"]


_PROVIDERS: dict[str, Callable[[str], Any]] = {}
"""Backends that register themselves (the test double `fake:`): provider -> factory(name)."""


def register_provider(provider: str, factory: Callable[[str], Any]) -> None:
    """Make model specs `PROVIDER:NAME` reach `factory(NAME)` (a `Backend`)."""
    _PROVIDERS[provider] = factory


def model_spec_of(settings: Settings) -> ModelSpec:
    return parse_model_spec(
        settings.model, base_url=settings.base_url, api_key=settings.api_key is not None
    )


def check_endpoint(spec: ModelSpec, settings: Settings) -> None:
    """Raise DSB103 when an OpenAI-compatible model has neither a key nor a base URL."""
    if spec.provider == "openai" and settings.base_url is None and settings.api_key is None:
        raise ConfigError(
            f"model {spec} needs an endpoint: no OPENAI_API_KEY and no base URL are set",
            "set OPENAI_API_KEY, or --base-url for a local server (or SPEC@URL), or use "
            "--model local:smollm2",
            code="DSB103",
        )


def make_backend(spec: ModelSpec, settings: Settings, *, http_client: Any = None) -> Backend:
    if spec.provider == "local":
        from dsbuild.llm.backends.local import LocalLlamaBackend

        return LocalLlamaBackend(spec.name or "smollm2", seed=settings.seed)
    if spec.provider in _PROVIDERS:
        return _PROVIDERS[spec.provider](spec.name or "default")
    if spec.provider == "fake":
        raise ConfigError(
            f"model {spec} is the test double, which is not loaded",
            "import dsbuild.testing first (it registers the fake: provider)",
            code="DSB103",
        )
    from dsbuild.llm.backends.openai_compat import OpenAIBackend

    check_endpoint(spec, settings)
    key = settings.api_key.get_secret_value() if settings.api_key else None
    from dsbuild.llm.cache import default_cache_dir
    from dsbuild.llm.structured_modes import MODES_FILENAME

    cache_dir = Path(settings.cache_dir).expanduser() if settings.cache_dir else default_cache_dir()
    return OpenAIBackend(
        base_url=settings.base_url,
        api_key=key,
        timeout_s=settings.timeout_s,
        http_client=http_client,
        structured=settings.structured,
        modes_file=cache_dir / MODES_FILENAME,
    )


def make_engine(
    settings: Settings,
    *,
    cache_only: bool = False,
    use_cache: bool = True,
    max_cost: float | None = None,
    prices_file: Path | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    max_repairs: int = 2,
    on_usage: Callable[[int, int, float], None] | None = None,
    http_client: Any = None,
    cache: Any = None,
    budget: Any = None,
) -> LLMEngine:
    """The engine for `settings.model` (local SmolLM2 without key or base URL).

    `cache` and `budget` may be shared with other engines (see `dsbuild.llm.pool`); by
    default the engine opens the user cache and keeps its own budget."""
    from dsbuild.llm.engine import LLMEngine
    from dsbuild.llm.pricing import PriceTable, load_price_file

    spec = model_spec_of(settings)
    backend = make_backend(spec, settings, http_client=http_client)
    model = backend.model if spec.provider == "fake" else spec.name  # type: ignore[attr-defined]
    table = PriceTable(load_price_file(prices_file) if prices_file else None)
    label = f"{spec.provider}:{model}" if model else spec.provider
    price = table.price_for(label)
    if max_cost is not None and price is None:
        raise ConfigError(
            f"--max-cost needs a price, and none is known for model {label}",
            "give a price file with --prices FILE (model: {input: USD per 1M tokens, output: ...})",
            code="DSB103",
        )
    if cache is None and (use_cache or cache_only):
        from dsbuild.llm.cache import open_cache

        cache = open_cache(settings.cache_dir)
    return LLMEngine(
        backend,
        model=model,
        spec=label,
        cache=cache,
        cache_only=cache_only,
        concurrency=settings.concurrency,
        max_retries=settings.max_retries,
        timeout_s=settings.timeout_s,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        price=price,
        max_cost=max_cost,
        max_repairs=max_repairs,
        on_usage=on_usage,
        seed=settings.seed,
        budget=budget,
    )
