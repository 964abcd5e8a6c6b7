"""What a PsiloQA stage reads from its context: the run's options, the engine of a model
option, and the sampling of a call.

    run_options(ctx)      the run's validated `Options` (parsed once per stage context)
    opt(ctx, key)         one option's value
    engine(ctx, key)      the pool's engine for a model option (None: the run's --model)
    sampling(ctx, ...)    the run's temperature and seed, plus per-call extras
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsbuild.psiloqa.options import Options

__all__ = ["engine", "opt", "run_options", "sampling"]


def run_options(ctx: Any) -> Options:
    """The run's options, parsed once per stage context (the spec's options model; imported
    here, as pydantic is, so that `dsbuild --help` stays light)."""
    from dsbuild.builder_options import options_of
    from dsbuild.psiloqa.options import Options

    return options_of(ctx, Options)


def opt(ctx: Any, key: str) -> Any:
    return getattr(run_options(ctx), key)


def engine(ctx: Any, key: str):
    """The pool's engine for option `key` (a model spec; None: the run's --model)."""
    return ctx.llm.get(opt(ctx, key))


def sampling(ctx: Any, **extra: Any) -> dict[str, Any]:
    return {"temperature": opt(ctx, "temperature"), "seed": ctx.seed, **extra}
