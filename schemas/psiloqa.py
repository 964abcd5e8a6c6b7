"""PsiloQA and Mu-SHROOM records: LLM answers with their hallucinated character spans.

Offsets are half-open `[start, end)` in code points of the answer text (`llm_answer`,
`model_output_text`).

Mu-SHROOM rules follow what the task's official scorer needs, checked against the real
validation files: `hard_labels` are a set of character indices (order and overlap do not
change the score, so neither is required), `soft_labels` give one probability per character
(overlapping soft spans would make that ambiguous, so they are rejected; order is free),
and the hard labels are exactly the characters whose soft probability is above 0.5 (how the
scorer derives them). Per-annotator spans are raw selections: empty, unsorted or
overlapping spans are kept; only the range is checked.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from dsbuild.errors import InputError
from dsbuild.quirks import warn_in
from dsbuild.spans import check_spans, strip_markers

from ._common import Problems, RecordId, RecordModel, SpanPair, first_difference, list_from_string

__all__ = [
    "LIST_FIELDS",
    "MushroomRecord",
    "PsiloQARecord",
    "SoftLabel",
    "unstring_list",
    "unstring_lists",
]

Complexity = Literal["easy", "medium", "hard"]


class PsiloQARecord(RecordModel):
    """One PsiloQA row: a Wikipedia-grounded question, an LLM's answer and the spans of that
    answer that contradict the passage (`labels`, also shown inline in `annotated_span`)."""

    id: RecordId = Field(description="Row id, unique within the dataset.")
    lang: str = Field(
        min_length=2, description="Language code of the question and answer (e.g. en, zh)."
    )
    wiki_title: str = Field(description="Title of the Wikipedia page the passage comes from.")
    wiki_url: str = Field(description="URL of that page.")
    llm_checkpoint: str = Field(description="The model that wrote `llm_answer`.")
    wiki_passage: str = Field(description="The passage the question was written from.")
    question: str = Field(min_length=1)
    golden_answer: str = Field(description="Answer written from the passage.")
    llm_answer: str = Field(description="The model's answer, written without the passage.")
    annotated_span: str | None = Field(
        default=None,
        description="`llm_answer` with each labelled span wrapped in [HAL]...[/HAL]; "
        "null if not kept.",
    )
    complexity: Complexity | None = Field(
        default=None, description="Question difficulty, when known."
    )
    labels: list[SpanPair] = Field(
        description="Hallucinated spans of `llm_answer`: [start, end) code points, sorted, "
        "non-overlapping."
    )

    @model_validator(mode="after")
    def _check(self) -> PsiloQARecord:
        problems = Problems(type(self).__name__)
        bad = problems.add_spans(
            ("labels",), check_spans(self.llm_answer, self.labels), list(self.labels)
        )
        if self.annotated_span is not None:
            try:
                plain, marked = strip_markers(self.annotated_span)
            except InputError as exc:
                problems.add(("annotated_span",), "hal_markers_unbalanced", exc.what)
            else:
                if plain != self.llm_answer:
                    at = first_difference(plain, self.llm_answer)
                    problems.add(
                        ("annotated_span",),
                        "annotated_span_mismatch",
                        "without its [HAL] markers, annotated_span differs from llm_answer "
                        f"at character {at}",
                    )
                elif not bad and marked != [tuple(s) for s in self.labels]:
                    problems.add(
                        ("labels",),
                        "labels_mismatch",
                        f"labels are {[list(s) for s in self.labels]} but annotated_span marks "
                        f"{[list(s) for s in marked]}",
                    )
        problems.raise_if_any()
        return self


LIST_FIELDS = ("soft_labels", "hard_labels", "model_output_logits", "model_output_tokens")
"""Mu-SHROOM's list fields; some released files (the labelled test set) store the token and
logit lists as strings holding Python lists."""


def unstring_list(value: Any, field_name: str, context: Any = None) -> Any:
    """A string holding a list, parsed (with the warning `list_as_string`); anything else as is."""
    if isinstance(value, str):
        parsed = list_from_string(value)
        if parsed is not None:
            warn_in(
                context,
                field_name,
                "list_as_string",
                f"{field_name} is a string holding a list of {len(parsed)} item(s); parsed",
            )
            return parsed
    return value


def unstring_lists(record: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The record with every Mu-SHROOM list field that holds a list-in-a-string parsed (the
    rule validation applies, for readers and converters)."""
    out = dict(record)
    for name in LIST_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = unstring_list(out[name], name, context)
    return out


class SoftLabel(BaseModel):
    """A span with the share of annotators who marked it."""

    start: int
    end: int
    prob: float = Field(ge=0.0, le=1.0)


class MushroomRecord(RecordModel):
    """One Mu-SHROOM (SemEval-2025 Task 3) item: a model output with span-level labels."""

    id: RecordId
    lang: str = Field(
        min_length=2, description="Language code (the official files use upper case, e.g. EN)."
    )
    model_input: str = Field(description="The question put to the model.")
    model_output_text: str = Field(description="The model's answer; all offsets index this string.")
    model_id: str
    soft_labels: list[SoftLabel] = Field(
        description="Spans with the probability that they are hallucinated."
    )
    hard_labels: list[SpanPair] = Field(description="Spans marked by a majority of annotators.")
    annotations: dict[str, list[SpanPair]] | None = Field(
        default=None, description="Each annotator's own spans (may be empty, e.g. [69, 69])."
    )
    model_output_logits: list[float] | None = None
    model_output_tokens: list[str] | None = None
    wikipedia_url: str | None = None

    @field_validator(*LIST_FIELDS, mode="before")
    @classmethod
    def _list_in_a_string(cls, value: Any, info: ValidationInfo) -> Any:
        return unstring_list(value, info.field_name or "", info.context)

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> MushroomRecord:
        text = self.model_output_text
        problems = Problems(type(self).__name__, info.context)
        soft = [(s.start, s.end) for s in self.soft_labels]
        bad = problems.add_spans(
            ("soft_labels",), check_spans(text, soft, sorted_required=False, allow_empty=True), soft
        )
        bad += problems.add_spans(
            ("hard_labels",),
            check_spans(
                text,
                self.hard_labels,
                sorted_required=False,
                non_overlapping=False,
                allow_empty=True,
            ),
            list(self.hard_labels),
        )
        for annotator, spans in (self.annotations or {}).items():
            problems.add_spans(
                ("annotations", annotator),
                check_spans(
                    text, spans, sorted_required=False, non_overlapping=False, allow_empty=True
                ),
                list(spans),
            )
        if not bad:
            majority = {i for s in self.soft_labels if s.prob > 0.5 for i in range(s.start, s.end)}
            hard = {i for start, end in self.hard_labels for i in range(start, end)}
            if majority != hard:
                differ = sorted(majority ^ hard)
                problems.add(
                    ("hard_labels",),
                    "hard_soft_mismatch",
                    f"hard_labels should cover exactly the characters with soft prob > 0.5; "
                    f"they differ at {len(differ)} characters, first at {differ[0]}",
                )
        problems.raise_if_any()
        return self
