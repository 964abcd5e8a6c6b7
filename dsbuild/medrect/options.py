"""MedRECT's build options: one validated model read by every stage and gate of a run."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from dsbuild.builder_options import BuilderOptions, check_relations, comma_list

__all__ = ["SUPPORTED_LANGUAGES", "Options"]


class Options(BuilderOptions):
    """MedRECT's options (`--option KEY=VALUE`, the build flags, or `options:` in a config)."""

    gate_names: ClassVar[tuple[str, ...]] = ("dedup_sources", "hygiene_record", "langid_record")

    questions: str | None = Field(
        None, description="JMLE JSON / MedQA JSONL file (default: the embedded vignettes)"
    )
    per_language: int | None = Field(None, ge=1, description="at most N questions per language")
    sample_per_language: int = Field(1, ge=1, description="the embedded sample's per_language")
    models: Annotated[list[str] | None, BeforeValidator(comma_list)] = Field(
        None, description="synthesis roster (default: --model)"
    )
    validators: Annotated[list[str] | None, BeforeValidator(comma_list)] = Field(
        None, description="difficulty panel (default: --model)"
    )
    judge_model: str | None = Field(None, description="screen judge (default: --model)")
    screen: bool = Field(True, description="run the LLM screen")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="sampling temperature")
    rewrite_stem: bool = Field(
        True, description="let the model rewrite the stem (kept only if every number survives)"
    )
    choice_margin_tokens: int = Field(
        25, ge=0, description="tokens a closing sentence may spend around the choice"
    )
    min_sentences: int = Field(3, ge=1, description="fewest sentences a record keeps")
    min_numbers_kept: float = Field(
        1.0, ge=0.0, le=1.0, description="share of the stem's numbers a rewrite keeps"
    )
    min_choice_overlap: float = Field(
        0.5, ge=0.0, le=1.0, description="share of the choice a closing sentence states"
    )
    min_correct: int = Field(0, ge=0, description="fewest panel models that get a record right")
    max_correct: int | None = Field(
        None, ge=0, description="most panel models that get it right (default: the panel size)"
    )
    max_mislocated_share: float = Field(
        1.0, ge=0.0, le=1.0, description="drop records mislocated by more of the panel"
    )
    difficulty_by_type: dict[str, dict[str, Any]] | str | None = Field(
        None, description="bounds per error type, e.g. {diagnosis: {min_correct: 1}}"
    )
    correction_min_rouge: float = Field(
        0.5, ge=0.0, le=1.0, description="ROUGE a correction needs to count"
    )
    labels: Literal["en", "ja"] | None = Field(
        None, description="name error types in exports in en or ja (default: as built)"
    )

    @model_validator(mode="after")
    def _relations(self) -> Options:
        from dsbuild.medrect.panel import parse_by_type

        check_relations([("min_correct", self.min_correct, "max_correct", self.max_correct)])
        parse_by_type(self.difficulty_by_type)  # its own one-line errors
        return self


SUPPORTED_LANGUAGES = frozenset({"en", "ja"})
