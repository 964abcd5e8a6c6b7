"""The screen stage of the MedRECT builder: an LLM judge flags what makes a record unusable.

The judge reads the question, the correct answer, the record and what the record is meant
to hold (`intended`: no error, or the one error, its sentence, type and correction), and
answers five yes/no flags (`SCREEN_FLAGS`) and a short reason. Any "yes" rejects the record
as `screen_<flag>` with the reason kept; else the output row carries `screening_results`.
With the option `screen` off, records become output rows unjudged (`screening_results` null).
"""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import ask
from dsbuild.medrect.rows import output_row
from dsbuild.stages import reject

__all__ = ["REASON_CHARS", "SCREEN_FLAGS", "intended", "screen_record"]

REASON_CHARS = 160  # the screen judge's reason, at most
SCREEN_FLAGS = (
    "ambiguous_error",
    "extra_elements",
    "multiple_errors",
    "numerical_error",
    "inconsistent_synthesis",
)


def intended(record: dict) -> str:
    """What the record is meant to hold, in the judge's words."""
    meta = record["metadata"]
    if record["error_flag"] != 1:
        return f"no error; the record states the correct answer ({meta['answer_text']})."
    return (
        f"exactly one error, in sentence {record['error_sentence_id']} ({record['error_type']}): "
        f"it states {meta['choice_text']!r} where the correct answer is "
        f"{meta['answer_text']!r}; corrected, it reads: {record['corrected_sentence']}"
    )


def _ask_judge(record: dict, template: Any, ctx: Any, spec: str | None):
    """The judge's request for one record (temperature 0, the run's seed)."""
    from dsbuild.languages import language_name
    from dsbuild.medrect.stem import token_budget
    from dsbuild.medrect.synthesizer import bounded_format

    meta = record["metadata"]
    return ask(
        ctx.llm.get(spec),
        template,
        language=language_name(meta["lang"]),
        question=meta["question"],
        answer=meta["answer_text"],
        record=record["sentences"],
        intended=intended(record),
        response_format=bounded_format(template, lengths={"reason": REASON_CHARS}),
        sampling={
            "temperature": 0.0,
            "seed": ctx.seed,
            "max_tokens": token_budget(meta["question"], REASON_CHARS, overhead=80),
        },
        id=record["id"],
    )


async def screen_record(record: dict, template: Any, ctx: Any, opts: Any) -> Any:
    """The judge's five flags; any "yes" rejects as screen_<flag>, the reason kept; else the
    output row with `screening_results`. `opts` is the run's MedRECT options."""
    if not opts.screen:
        return output_row(record, None)
    spec = opts.judge_model
    res = await _ask_judge(record, template, ctx, spec)
    if not res.ok:
        return res.rejection("judge")
    verdict = res.json
    flags = {
        f: str(verdict.get(f, "no")).strip().lower() in ("yes", "true", "1") for f in SCREEN_FLAGS
    }
    raised = [f for f in SCREEN_FLAGS if flags[f]]
    reason = str(verdict.get("reason") or "").strip()
    if raised:
        return reject(f"screen_{raised[0]}", f"flags: {', '.join(raised)}; judge: {reason}"[:600])
    screening = {
        "is_valid": True,
        "total_issues": 0,
        "flags": flags,
        "reason": reason,
        "model": ctx.llm.spec_label(spec),
    }
    return output_row(
        {**record, "provenance": {**record.get("provenance", {}), "screen": res.provenance()}},
        screening,
    )
