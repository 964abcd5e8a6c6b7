"""The `annotate` stage: an annotator LLM copies the answer with its unsupported spans
inside `[HAL]…[/HAL]` tags; the strict parser (`dsbuild.psiloqa.annotation`) turns the tags
into character offsets or rejects the record with its reason.

With a panel (`--annotators m1,m2,m3`) every annotator marks the answer: each one's spans
are kept under `annotations` (by model), the soft labels are the share of annotators marking
a character (among those whose annotation was usable), and `labels` the characters above
0.5, as the Mu-SHROOM release derives its hard labels; the provenance has one step
`annotate[<model>]` per annotator. An annotator whose copy fails is left out of that record
(its reason in its provenance step); a record no annotator could label is rejected with the
first reason.
"""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import ask, response_format
from dsbuild.psiloqa.stage_context import engine, opt
from dsbuild.stages import StageContext, reject

__all__ = ["make_annotate"]


def make_annotate(template):
    async def one(record: dict, ctx: StageContext, llm: Any) -> tuple[Any, Any]:
        """(spans or None, the result; a rejection when the copy failed)."""
        from dsbuild.languages import language_name
        from dsbuild.llm.structured import copy_of
        from dsbuild.psiloqa.annotation import AnnotationError, broken_copy, parse_annotation
        from dsbuild.spans import HAL_CLOSE, HAL_OPEN

        answer = record["llm_answer"]
        # Grammar backends (the local model) can only copy the answer with balanced tags
        # between its pieces; endpoints get the plain schema, and the engine checks the copy
        # (a broken one gets repair turns) before the strict parser makes offsets.
        copy = copy_of(answer, (HAL_OPEN, HAL_CLOSE))
        result = await ask(
            llm,
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
            broken = broken_copy(result, answer)
            if broken is not None:  # the repair turns did not mend the copy
                return reject(broken.reason, broken.detail), result
            return result.rejection(), result
        try:
            return parse_annotation(result.json["annotated_answer"], answer), result
        except AnnotationError as exc:
            return reject(exc.reason, exc.detail), result

    async def annotate(record: dict, ctx: StageContext) -> Any:
        """Inline [HAL] tags from the annotator, parsed strictly into character offsets."""
        from dsbuild.spans import insert_markers

        if not record["llm_answer"]:
            return reject("empty_answer", "the answer model returned no text")
        panel = opt(ctx, "annotators")
        if panel:
            return await annotate_panel(record, ctx, panel)
        labels, result = await one(record, ctx, engine(ctx, "annotator_model"))
        if not isinstance(labels, list):
            return labels
        return {
            **record,
            "labels": [list(s) for s in labels],
            "annotated_span": insert_markers(record["llm_answer"], labels),
            "provenance": {**record["provenance"], "annotate": result.provenance()},
        }

    async def annotate_panel(record: dict, ctx: StageContext, panel: list[str]) -> Any:
        from dsbuild.span_labels import hard_from_soft, soft_from_annotations
        from dsbuild.spans import insert_markers

        annotations: dict[str, list[list[int]]] = {}
        provenance: dict[str, Any] = {}
        failures = []
        for spec in panel:
            label = ctx.llm.spec_label(spec)
            spans, result = await one(record, ctx, ctx.llm.get(spec))
            provenance[label] = result.provenance()
            if isinstance(spans, list):
                annotations[label] = [list(s) for s in spans]
            else:
                provenance[label]["error"] = {"reason": spans.reason, "detail": spans.detail}
                failures.append((label, spans))
        if not annotations:
            label, first = failures[0]
            return reject(
                first.reason,
                f"no annotator of the panel could label the answer; {label}: {first.detail}",
            )
        soft = soft_from_annotations(annotations, len(record["llm_answer"]))
        labels = hard_from_soft(soft)
        return {
            **record,
            "labels": labels,
            "annotated_span": insert_markers(record["llm_answer"], labels),
            "annotations": annotations,
            # one provenance step per annotator, as the card's model table reads steps
            "provenance": {
                **record["provenance"],
                **{f"annotate[{label}]": p for label, p in provenance.items()},
            },
        }

    return annotate
