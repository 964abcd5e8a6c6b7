"""PsiloQA's quality-gate stages (the shared gates of `dsbuild.gates`), each switchable with
`--option gate.NAME=false` (the names are `Options.gate_names`)."""

from __future__ import annotations

from typing import Any

__all__ = ["answer_gates", "question_gates"]


def question_gates() -> tuple[Any, ...]:
    """Quality gates on the written questions: hygiene, language, not lifted from the
    passage, no duplicates (per language)."""
    from dsbuild.gates.copying import CopiedFromPassage
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import dedup_stage, gate_stage

    return (
        gate_stage("hygiene_question", HygieneGate, field="question", lang_field="lang"),
        gate_stage("langid_question", LangIdGate, field="question", lang_field="lang"),
        gate_stage("copied_question", CopiedFromPassage, field="question"),
        dedup_stage("dedup_questions", field="question", lang_field="lang", per_language=True),
    )


def answer_gates(opts: Any) -> tuple[Any, ...]:
    """Quality gates on the closed-book answers (the answer-length limit is the option's,
    as in the filter)."""
    from functools import partial

    from dsbuild.gates.copying import AnswerRepeatsQuestion
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import gate_stage

    return (
        gate_stage(
            "hygiene_answer",
            partial(HygieneGate, max_chars=opts.max_answer_chars),
            field="llm_answer",
            lang_field="lang",
        ),
        gate_stage("langid_answer", LangIdGate, field="llm_answer", lang_field="lang"),
        gate_stage("answer_repeats_question", AnswerRepeatsQuestion, field="llm_answer"),
    )
