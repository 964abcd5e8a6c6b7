"""The `roster` stage: each question gets its answer models, drawn per language from the
roster option with the run's seed (one record per drawn model)."""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import spec_list
from dsbuild.psiloqa.stage_context import opt
from dsbuild.stages import StageContext

__all__ = ["draw_roster", "roster_for"]


def roster_for(lang: str, roster: Any, default: str) -> list[str]:
    """The answer models for `lang`: a list applies to every language; a mapping gives
    per-language lists with `*` as the fallback; None means the run's model."""
    if isinstance(roster, dict):
        chosen = roster.get(lang) or roster.get(lang.split("-")[0]) or roster.get("*")
        return list(chosen) if chosen else [default]
    return spec_list(roster, default)  # type: ignore[return-value]


def draw_roster(record: dict, ctx: StageContext) -> Any:
    """One record per answer model drawn for the question (seeded by the question id)."""
    models = [
        ctx.llm.spec_label(m)
        for m in roster_for(record["lang"], opt(ctx, "answer_models"), ctx.llm.spec_label(None))
    ]
    k = min(opt(ctx, "answers_per_question"), len(models))
    picked = sorted(ctx.rng(record["id"]).sample(range(len(models)), k))
    return [{**record, "id": f"{record['id']}/m{i}", "answer_model": models[i]} for i in picked]
