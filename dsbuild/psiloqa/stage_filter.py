"""The `filter` stage: the heuristic filters (`dsbuild.psiloqa.filters`), then the LLM judge
(incomplete or subjective questions, refusals); a kept record becomes a row in the PsiloQA
layout (`final_row`)."""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import ask
from dsbuild.psiloqa.stage_context import engine, opt
from dsbuild.stages import StageContext, reject

__all__ = ["JUDGE_FLAGS", "final_row", "make_filter"]

JUDGE_FLAGS = (
    ("incomplete_question", "incomplete_question"),
    ("subjective_question", "subjective_question"),
    ("refusal", "judged_refusal"),
)
"""(judge's flag, reject reason): a flag the judge sets rejects the record."""


def final_row(record: dict, provenance: dict) -> dict:
    """The PsiloQA fields of `record`, plus what the export and annotation rounds need."""
    from dsbuild.psiloqa.mushroom import PSILOQA_FIELDS

    row = {key: record.get(key) for key in PSILOQA_FIELDS}
    row.update(
        passage_id=record["passage_id"],
        answer_model=record["answer_model"],
        answer_length=record["answer_length"],
        source=record["source"],
        provenance=provenance,
    )
    if record.get("annotations") is not None:  # a panel's spans, per annotator
        row["annotations"] = record["annotations"]
    return row


def make_filter(template):
    async def filter_(record: dict, ctx: StageContext) -> Any:
        """Heuristic filters, then the LLM judge; keeps the row in the PsiloQA layout."""
        from dsbuild.languages import language_name
        from dsbuild.psiloqa.filters import run_filters

        verdict = run_filters(record, max_answer_chars=opt(ctx, "max_answer_chars"))
        if verdict is not None:
            return reject(*verdict)
        provenance = dict(record["provenance"])
        if opt(ctx, "llm_filter"):
            result = await ask(
                engine(ctx, "judge_model"),
                template,
                language=language_name(record["lang"]),
                question=record["question"],
                answer=record["llm_answer"],
                response_format=template.response_format(),
                sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 200},
                id=record["id"],
            )
            if not result.ok:
                return result.rejection()
            judged = result.json
            for flag, reason in JUDGE_FLAGS:
                if judged.get(flag):
                    return reject(reason, f"judge: {judged.get('reason', '')}".strip())
            provenance["judge"] = result.provenance()
        return final_row(record, provenance)

    return filter_
