"""The difficulty stage of the MedRECT builder: the validator panel answers each record.

Each validator model of the roster (option `validators`) answers the record at temperature 0
with the run's seed, its corrected sentence and sentence id bounded by the record's own
sentences; `dsbuild.medrect.panel` scores the answers and decides against the bounds (per
error type). A kept record gains `metadata.validators` (the scored answers),
`metadata.difficulty` (the panel's counts) and the validators' provenance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from dsbuild.builder_kit import ask, spec_list
from dsbuild.stages import reject

__all__ = ["run_panel", "summary"]


def summary(record: Mapping[str, Any], scored: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The panel's counts kept in `metadata.difficulty`."""
    return {
        "panel": len(scored),
        "correct": sum(s["correct"] for s in scored),
        "detected": sum(s["detected"] for s in scored),
        "mislocated": sum(s["detected"] and not s["located"] for s in scored)
        if record["error_flag"] == 1
        else 0,
    }


async def _ask_panel(record: dict, template: Any, ctx: Any, specs: list[str | None]) -> list:
    """(label, LLMResult) of each validator's answer, in roster order."""
    from dsbuild.languages import language_name
    from dsbuild.medrect.sentences import sentence_texts
    from dsbuild.medrect.stem import token_budget
    from dsbuild.medrect.synthesizer import bounded_format

    meta = record["metadata"]
    texts = sentence_texts(record["sentences"])
    n = len(texts)
    limit = min(300, int(max(map(len, texts), default=80) * 1.2) + 10)
    budget = token_budget(meta["question"], limit)

    async def answer(spec: str | None):
        fmt = bounded_format(template, lengths={"corrected_sentence": limit}, max_id=n)
        res = await ask(
            ctx.llm.get(spec),
            template,
            language=language_name(meta["lang"]),
            record=record["sentences"],
            response_format=fmt,
            id=record["id"],
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": budget},
        )
        return ctx.llm.spec_label(spec), res

    return await asyncio.gather(*(answer(spec) for spec in specs))


async def run_panel(record: dict, template: Any, ctx: Any, opts: Any) -> Any:
    """The validator panel answers the record; keep it within the configured bounds (the
    record with the panel's answers), else a rejection. `opts` is the run's MedRECT options."""
    from dsbuild.medrect.panel import BOUNDS, decide, parse_by_type, score_answer, thresholds_for

    meta = record["metadata"]
    answers = await _ask_panel(record, template, ctx, spec_list(opts.validators))
    for label, res in answers:
        if not res.ok:
            return res.rejection(f"validator {label}")
    scored = [
        {
            "model": label,
            **score_answer(
                record,
                res.json,
                correction_min_rouge=opts.correction_min_rouge,
                answer_text=meta["answer_text"],
            ),
        }
        for label, res in answers
    ]
    bounds = thresholds_for(
        record.get("error_type"),
        {k: getattr(opts, k) for k in BOUNDS},
        parse_by_type(opts.difficulty_by_type),
    )
    verdict = decide(record, scored, bounds)
    if verdict is not None:
        return reject(*verdict)
    return {
        **record,
        "metadata": {**meta, "validators": scored, "difficulty": summary(record, scored)},
        "provenance": {
            **record.get("provenance", {}),
            "validators": [res.provenance() for _, res in answers],
        },
    }
