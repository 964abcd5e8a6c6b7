"""`ModelPool`: the engines of one build, one per model spec, sharing cache, totals and budget.

A builder may ask several models (a question writer, a roster of answer models, an
annotator, a judge). Each spec gets one `LLMEngine`, made on first use; all of them share
the run's SQLite cache, add their tokens and cost to the run's `run.json`, and draw on one
`--max-cost` budget. A spec may name its own endpoint after an `@`:

    openai:gpt-4o-mini                     the configured endpoint (OPENAI_API_KEY / --base-url)
    vllm:Qwen/Qwen2.5-7B-Instruct@http://gpu1:8000/v1    that server
    local:smollm2                          the embedded model, in-process
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsbuild.config import Settings
    from dsbuild.llm.engine import LLMEngine

__all__ = ["ModelPool", "split_endpoint"]


def split_endpoint(spec: str) -> tuple[str, str | None]:
    """`"vllm:m@http://h:8000/v1"` → `("vllm:m", "http://h:8000/v1")`; no `@http` → no URL."""
    for marker in ("@https://", "@http://"):
        at = spec.find(marker)
        if at > 0:
            return spec[:at], spec[at + 1 :]
    return spec, None


class ModelPool:
    """Engines by spec for one build; `get(None)` is the settings' own model."""

    def __init__(
        self,
        settings: Settings,
        *,
        cache_only: bool = False,
        max_cost: float | None = None,
        http_client: Any = None,
        batch: Any = None,
    ) -> None:
        self.settings = settings
        self.cache_only, self.max_cost, self.http_client = cache_only, max_cost, http_client
        self.batch = batch  # a `batch_queue.BatchSettings` with --batch: every engine uses it
        self.engines: dict[str, LLMEngine] = {}
        self._unredacted: dict[str, str] = {}  # label with masked credentials -> the spec
        self.run_info: Any = None
        self._cache: Any = None
        self._budget: Any = None

    def bind_run_info(self, run_info: Any) -> None:
        """Count every engine's usage in this run's `run.json` (now and for later engines)."""
        self.run_info = run_info
        for engine in self.engines.values():
            engine.bind_run_info(run_info)

    def _raw(self, spec: str | None) -> str:
        """The spec as given (credentials in its URL included), from a label or a spec."""
        raw = self.settings.model_spec if not spec else spec.strip()
        return self._unredacted.get(raw, raw)

    def spec_label(self, spec: str | None) -> str:
        """The name of a spec to write into records (the default model when None): its URL's
        credentials masked (`dsbuild.redact`); `get` takes the label back."""
        from dsbuild.redact import redact_text

        raw = self._raw(spec)
        label = redact_text(raw)
        if label != raw:
            self._unredacted[label] = raw
        return label

    def get(self, spec: str | None = None) -> LLMEngine:
        """The engine for `spec` (a spec or a label), made on first use."""
        label = self._raw(spec)
        engine = self.engines.get(label)
        if engine is None:
            engine = self.engines[label] = self._make(label)
        return engine

    def _settings_for(self, label: str) -> Settings:
        model, url = split_endpoint(label)
        settings = self.settings
        if url is not None or model != settings.model_spec:
            settings = settings.model_copy(
                update={"model": model, "base_url": url or settings.base_url}
            )
        return settings

    def check(self, specs) -> None:
        """Fail now, before any stage runs, on a spec that names no usable endpoint (DSB103):
        a run should not spend an hour on one model to stop at the next."""
        from dsbuild.llm.factory import check_endpoint, model_spec_of

        for spec in specs:
            self.spec_label(spec)  # learns the label of a spec whose URL holds credentials
            settings = self._settings_for(self._raw(spec))
            check_endpoint(model_spec_of(settings), settings)
            if self.batch is not None:  # --batch: each model's endpoint must take batches
                from dsbuild.llm.batch_queue import check_backend

                check_backend(self.get(spec), self.batch, cache_only=self.cache_only)

    def _make(self, label: str) -> LLMEngine:
        from dsbuild.llm.factory import make_engine

        settings = self._settings_for(label)
        engine = make_engine(
            settings,
            cache_only=self.cache_only,
            max_cost=self.max_cost,
            http_client=self.http_client,
            cache=self._shared_cache(),
            budget=self._shared_budget(),
        )
        if self.run_info is not None:
            engine.bind_run_info(self.run_info)
        if self.batch is not None:
            engine.use_batch(self.batch)
        return engine

    def _shared_cache(self) -> Any:
        if self._cache is None:
            from dsbuild.llm.cache import open_cache

            self._cache = open_cache(self.settings.cache_dir)
        return self._cache

    def _shared_budget(self) -> Any:
        if self._budget is None:
            from dsbuild.llm.engine import Budget

            self._budget = Budget(self.max_cost)
        return self._budget

    def usage(self) -> dict[str, dict[str, Any]]:
        """Each engine's statistics (requests, cache hits, failures, tokens, cost; with
        --batch its rounds, batches and polls under "batch") by spec (credentials in a
        spec's URL masked)."""
        usage = {}
        for spec, engine in self.engines.items():
            stats = engine.stats.to_dict()
            if engine.batch is not None:
                stats["batch"] = engine.batch.stats.to_dict()
            usage[self.spec_label(spec)] = stats
        return usage

    async def aclose(self) -> None:
        """Close every engine's client and the shared cache."""
        for engine in self.engines.values():
            await engine.aclose()
        if self._cache is not None:
            self._cache.close()
            self._cache = None
