"""The `annotate` stage: an annotator LLM copies the answer with its unsupported spans
inside `[HAL]…[/HAL]` tags; the strict parser (`dsbuild.psiloqa.annotation`) turns the tags
into character offsets or rejects the record with its reason."""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import ask, response_format
from dsbuild.psiloqa.stage_context import engine
from dsbuild.stages import StageContext, reject

__all__ = ["make_annotate"]


def make_annotate(template):
    async def annotate(record: dict, ctx: StageContext) -> Any:
        """Inline [HAL] tags from the annotator, parsed strictly into character offsets."""
        from dsbuild.languages import language_name
        from dsbuild.llm.structured import copy_of
        from dsbuild.psiloqa.annotation import AnnotationError, parse_annotation
        from dsbuild.spans import HAL_CLOSE, HAL_OPEN, insert_markers

        if not record["llm_answer"]:
            return reject("empty_answer", "the answer model returned no text")
        answer = record["llm_answer"]
        # Grammar backends (the local model) can only copy the answer with tags between its
        # pieces; endpoints get the plain schema and the strict parser checks the copy.
        copy = copy_of(answer, (HAL_OPEN, HAL_CLOSE))
        result = await ask(
            engine(ctx, "annotator_model"),
            template,
            language=language_name(record["lang"]),
            passage=record["wiki_passage"],
            question=record["question"],
            golden_answer=record["golden_answer"],
            answer=answer,
            response_format=response_format(template, replace={"annotated_answer": copy}),
            # room for the copy (a CJK character can be a token) and a few tags
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 64 + len(answer)},
            id=record["id"],
        )
        if not result.ok:
            return result.rejection()
        try:
            labels = parse_annotation(result.json["annotated_answer"], record["llm_answer"])
        except AnnotationError as exc:
            return reject(exc.reason, exc.detail)
        return {
            **record,
            "labels": [list(s) for s in labels],
            "annotated_span": insert_markers(record["llm_answer"], labels),
            "provenance": {**record["provenance"], "annotate": result.provenance()},
        }

    return annotate
