"""The `answers` stage: the drawn answer model answers the question without the passage.

The answered row gets its final id (`row_id`: a hash of the content that makes the row),
the checkpoint that answered, and the answer's provenance.
"""

from __future__ import annotations

import hashlib
from typing import Any

from dsbuild.builder_kit import ask
from dsbuild.psiloqa.stage_context import opt, sampling
from dsbuild.stages import StageContext

__all__ = ["make_answers", "row_id"]


def row_id(lang: str, passage: str, question: str, model: str, answer: str) -> str:
    """A stable id from the content that makes a row (same content, same id)."""
    key = "\x1f".join((lang, passage, question, model, answer)).encode()
    return f"psiloqa-{lang}-{hashlib.sha256(key).hexdigest()[:16]}"


def make_answers(template):
    async def answers(record: dict, ctx: StageContext) -> Any:
        """The answer model answers the question without the passage."""
        from dsbuild.languages import language_name

        engine = ctx.llm.get(record["answer_model"])
        result = await ask(
            engine,
            template,
            language=language_name(record["lang"]),
            question=record["question"],
            id=record["id"],
            sampling=sampling(ctx, max_tokens=opt(ctx, "answer_max_tokens")),
        )
        if not result.ok:
            return result.rejection()
        answer = (result.content or "").strip()
        checkpoint = result.model_answered or engine.model or record["answer_model"]
        return {
            **record,
            "id": row_id(
                record["lang"],
                record["wiki_passage"],
                record["question"],
                record["answer_model"],
                answer,
            ),
            "llm_checkpoint": checkpoint,
            "llm_answer": answer,
            "provenance": {**record["provenance"], "answer": result.provenance()},
        }

    return answers
