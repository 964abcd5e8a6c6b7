"""The strict parser of an annotator's inline tags: `[HAL]…[/HAL]` → `[start, end)` offsets.

The annotator LLM copies the answer and wraps each hallucinated part in tags. Anything but a
faithful copy with well-formed tags is refused with a reason code, never repaired by
guessing, because a wrong offset is worse than a lost row:

    annotation_unbalanced   a closing tag without an opening one, or an unclosed tag
    annotation_nested       a tag opened inside another
    annotation_empty_span   a tag pair around nothing (or only whitespace)
    annotation_text_changed the text without tags is not the answer, character for character

The engine checks the same things of every tagged copy before it is returned
(`dsbuild.llm.structured.copy_problem`), so a broken copy first gets the repair turns;
`broken_copy` gives the reason of one still broken after them. The parsing itself is
`dsbuild.spans.parse_tagged`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsbuild.spans import HAL_CLOSE, HAL_OPEN

__all__ = ["REASONS", "AnnotationError", "broken_copy", "parse_annotation"]

REASONS = (
    "annotation_unbalanced",
    "annotation_nested",
    "annotation_empty_span",
    "annotation_text_changed",
)


@dataclass(frozen=True)
class AnnotationError(Exception):
    """Why an annotation was refused: `reason` (one of `REASONS`) and a readable detail."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def parse_annotation(
    annotated: str, answer: str, *, open_tag: str = HAL_OPEN, close_tag: str = HAL_CLOSE
) -> list[tuple[int, int]]:
    """The spans of `answer` that `annotated` wraps in tags; raises `AnnotationError`."""
    from dsbuild.spans import TagError, parse_tagged

    try:
        return parse_tagged(annotated, answer, open_tag, close_tag)
    except TagError as exc:
        raise AnnotationError(f"annotation_{exc.reason}", exc.detail) from None


def broken_copy(result: Any, answer: str, key: str = "annotated_answer") -> AnnotationError | None:
    """Why the last answer of a failed `result` (an `LLMResult`) is no usable copy, when
    that is why it failed: the engine checks the tagged copy and gives the model repair
    turns (`dsbuild.llm.structured`), and once they have run out the answer keeps its own
    reason (`annotation_unbalanced`, ...) rather than a generic `schema_mismatch`. None when
    the request failed otherwise."""
    import json

    if result.error is None or result.error.get("reason") != "schema_mismatch":
        return None
    try:
        annotated = json.loads(result.content or "", strict=False)[key]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(annotated, str):
        return None
    try:
        parse_annotation(annotated, answer)
    except AnnotationError as exc:
        return AnnotationError(exc.reason, f"{exc.detail} (after the repair turns)")
    return None
