"""The strict parser of an annotator's inline tags: `[HAL]…[/HAL]` → `[start, end)` offsets.

The annotator LLM copies the answer and wraps each hallucinated part in tags. Anything but a
faithful copy with well-formed tags is refused with a reason code, never repaired by
guessing, because a wrong offset is worse than a lost row:

    annotation_unbalanced   a closing tag without an opening one, or an unclosed tag
    annotation_nested       a tag opened inside another
    annotation_empty_span   a tag pair around nothing (or only whitespace)
    annotation_text_changed the text without tags is not the answer, character for character
"""

from __future__ import annotations

from dataclasses import dataclass

from dsbuild.spans import HAL_CLOSE, HAL_OPEN

__all__ = ["REASONS", "AnnotationError", "parse_annotation"]

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
    spans: list[tuple[int, int]] = []
    plain: list[str] = []
    length = 0  # characters of plain text so far
    pos = 0
    opened_at: int | None = None  # plain-text offset of the open tag, when inside one
    while True:
        o = annotated.find(open_tag, pos)
        c = annotated.find(close_tag, pos)
        if o == -1 and c == -1:
            if opened_at is not None:
                raise AnnotationError(
                    "annotation_unbalanced",
                    f"{open_tag} opened at answer character {opened_at} is never closed",
                )
            plain.append(annotated[pos:])
            break
        is_open = c == -1 or (o != -1 and o < c)
        at = o if is_open else c
        chunk = annotated[pos:at]
        plain.append(chunk)
        length += len(chunk)
        if is_open:
            if opened_at is not None:
                raise AnnotationError(
                    "annotation_nested",
                    f"{open_tag} at answer character {length} is inside the "
                    f"tag opened at {opened_at}",
                )
            opened_at = length
            pos = at + len(open_tag)
        else:
            if opened_at is None:
                raise AnnotationError(
                    "annotation_unbalanced",
                    f"{close_tag} at answer character {length} closes no tag",
                )
            inner = chunk  # tags cannot nest, so everything since the open tag
            if not inner.strip():
                raise AnnotationError(
                    "annotation_empty_span",
                    f"the tags at answer character {opened_at} wrap "
                    f"{'nothing' if not inner else 'only whitespace'}",
                )
            spans.append((opened_at, length))
            opened_at = None
            pos = at + len(close_tag)
    text = "".join(plain)
    if text != answer:
        at = next(
            (i for i, (a, b) in enumerate(zip(text, answer)) if a != b), min(len(text), len(answer))
        )
        raise AnnotationError(
            "annotation_text_changed",
            f"without its tags the annotation differs from the answer at "
            f"character {at}: {text[at : at + 20]!r} instead of "
            f"{answer[at : at + 20]!r}",
        )
    return spans
