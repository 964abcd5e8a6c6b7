"""PsiloQA's build options: one validated model read by every stage and gate of a run."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from dsbuild.builder_options import BuilderOptions, check_relations, comma_list
from dsbuild.languages import LANGUAGE_NAMES

__all__ = ["SUPPORTED_LANGUAGES", "Options"]

SUPPORTED_LANGUAGES = frozenset(LANGUAGE_NAMES)
"""The languages the prompts can name (`--lang`)."""


class Options(BuilderOptions):
    """PsiloQA's options (`--option KEY=VALUE`, the build flags, or `options:` in a config)."""

    gate_names: ClassVar[tuple[str, ...]] = (
        "hygiene_question",
        "langid_question",
        "copied_question",
        "dedup_questions",
        "hygiene_answer",
        "langid_answer",
        "answer_repeats_question",
    )

    passages: str | None = Field(None, description="JSONL of passages {id, lang, title, url, text}")
    wikipedia: str | None = Field(None, description="pages-articles XML dump of one language")
    online: int | None = Field(
        None, ge=1, description="random pages per language via the MediaWiki API"
    )
    complexities: list[Literal["easy", "medium", "hard"]] = Field(
        ["easy", "medium", "hard"], min_length=1, description="question difficulties per passage"
    )
    long_answer_share: float = Field(
        0.5, ge=0.0, le=1.0, description="share of long-answer questions"
    )
    min_passage_chars: int = Field(200, ge=1, description="shortest passage kept")
    max_passage_chars: int = Field(1500, ge=1, description="longest passage kept")
    chunk: bool = Field(False, description="split long articles into several passages")
    passages_per_language: int | None = Field(
        None, ge=1, description="at most N passages per language"
    )
    answers_per_question: int = Field(1, ge=1, description="answer models drawn per question")
    answer_models: Annotated[
        list[str] | dict[str, list[str]] | None, BeforeValidator(comma_list)
    ] = Field(None, description="roster of answer models (a list, or {lang: [...], '*': [...]})")
    qa_model: str | None = Field(None, description="model writing the QA pairs (default: --model)")
    annotator_model: str | None = Field(None, description="model marking spans (default: --model)")
    annotators: Annotated[list[str] | None, BeforeValidator(comma_list)] = Field(
        None,
        description="panel of annotator models marking spans (instead of annotator_model): "
        "each one's spans are kept as its annotations, soft labels are the share of them "
        "marking a character, labels the characters above 0.5",
    )
    judge_model: str | None = Field(None, description="LLM filter judge (default: --model)")
    llm_filter: bool = Field(True, description="run the LLM judge after the heuristic filters")
    max_answer_chars: int = Field(
        1500, ge=1, description="longest answer kept (filter and hygiene gate)"
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="sampling temperature")
    answer_max_tokens: int = Field(192, ge=1, description="tokens an answer may take")

    @model_validator(mode="after")
    def _relations(self) -> Options:
        if self.annotators is not None and self.annotator_model is not None:
            raise ValueError("give annotator_model or annotators (a panel), not both")
        if self.annotators is not None and len(set(self.annotators)) != len(self.annotators):
            raise ValueError("annotators names a model twice")
        check_relations(
            [
                (
                    "min_passage_chars",
                    self.min_passage_chars,
                    "max_passage_chars",
                    self.max_passage_chars,
                )
            ]
        )
        return self
