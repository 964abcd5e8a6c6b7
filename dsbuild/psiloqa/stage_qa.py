"""The `qa` stage: an LLM writes question/answer pairs of graded complexity from a passage.

The plan (complexity and answer length per question) is drawn with the run's seed per
passage; pairs that are empty or repeat a question are dropped, and a passage without any
pair left is rejected with `no_questions`.
"""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import ask
from dsbuild.psiloqa.stage_context import engine, opt, sampling
from dsbuild.stages import StageContext, reject

__all__ = ["make_qa", "plan", "qa_record"]


def plan(ctx: StageContext, passage_id: str) -> list[tuple[str, str]]:
    """(complexity, answer length) per question to write; lengths drawn with the seed."""
    rng = ctx.rng(passage_id)
    share = opt(ctx, "long_answer_share")
    return [(c, "long" if rng.random() < share else "short") for c in opt(ctx, "complexities")]


def qa_record(passage: dict, i: int, pair: dict, answer_length: str, provenance: dict) -> dict:
    """The record of question `i` (1-based) written from `passage`."""
    return {
        "id": f"{passage['id']}/q{i}",
        "passage_id": passage["id"],
        "lang": passage["lang"],
        "wiki_title": passage["title"],
        "wiki_url": passage["url"],
        "wiki_passage": passage["text"],
        "source": passage.get("source"),
        "question": pair["question"],
        "golden_answer": pair["answer"],
        "complexity": pair["complexity"],
        "answer_length": answer_length,
        "provenance": {"qa": provenance},
    }


def make_qa(template):
    async def qa(passage: dict, ctx: StageContext) -> Any:
        """Question/answer pairs of graded complexity from the passage."""
        from dsbuild.languages import language_name

        steps = plan(ctx, passage["id"])
        lines = "\n".join(f"{i}. {c} question, {n} answer" for i, (c, n) in enumerate(steps, 1))
        result = await ask(
            engine(ctx, "qa_model"),
            template,
            language=language_name(passage["lang"]),
            title=passage["title"],
            passage=passage["text"],
            plan=lines,
            response_format=template.response_format(),
            sampling=sampling(ctx, max_tokens=900),
            id=passage["id"],
        )
        if not result.ok:
            return result.rejection()
        out, seen = [], set()
        for i, pair in enumerate(result.json["pairs"][: len(steps)], 1):
            question, answer = pair["question"].strip(), pair["answer"].strip()
            if not question or not answer or question.casefold() in seen:
                continue
            seen.add(question.casefold())
            stripped = {**pair, "question": question, "answer": answer}
            out.append(qa_record(passage, i, stripped, steps[i - 1][1], result.provenance()))
        return out or reject("no_questions", "the model's pairs were all empty or repeated")

    return qa
