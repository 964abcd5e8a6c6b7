"""Character spans: half-open `[start, end)` offsets in Unicode code points (DESIGN §4).

Every span indexes one exact string, and `text[start:end]` is its surface. Checks here are
shared by all record schemas; `SpanProblem.to_error()` turns a problem into the pydantic
error whose `type` is the reason code (`span_out_of_range`, `span_inverted`, `span_empty`,
`span_unsorted`, `span_overlap`, `surface_mismatch`).

Label Studio runs in a browser, which counts UTF-16 code units: characters outside the
Basic Multilingual Plane (most emoji, rare CJK ideographs) take two units there and one
here. Convert with `to_utf16_offset` / `from_utf16_offset` at that boundary only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

from dsbuild.errors import InputError

__all__ = [
    "Span",
    "SpanProblem",
    "TagError",
    "check_spans",
    "ensure_spans",
    "from_utf16_offset",
    "insert_markers",
    "parse_tagged",
    "spans_from_utf16",
    "spans_to_utf16",
    "strip_markers",
    "surface",
    "to_utf16_offset",
    "utf16_len",
]

Span = tuple[int, int]

HAL_OPEN = "[HAL]"
HAL_CLOSE = "[/HAL]"


@dataclass(frozen=True, slots=True)
class SpanProblem:
    """One thing wrong with the span at `index` of a list of spans."""

    index: int
    code: str
    message: str

    def to_error(self) -> PydanticCustomError:
        """The pydantic error for this problem: `type` is the code, message as written."""
        return PydanticCustomError(self.code, "{detail}", {"detail": self.message})


def surface(text: str, span: Sequence[int]) -> str:
    """The text a span covers."""
    return text[span[0] : span[1]]


def _preview(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def check_spans(
    text: str,
    spans: Iterable[Sequence[int]],
    *,
    sorted_required: bool = True,
    non_overlapping: bool = True,
    allow_empty: bool = False,
    surfaces: Sequence[str | None] | None = None,
) -> list[SpanProblem]:
    """Every problem with `spans` as offsets into `text` (empty list when all is well).

    Sorting is by (start, end). Two spans overlap when they share a character, so
    adjacent spans ([0,4) and [4,6)) and empty spans never overlap. When `surfaces` is
    given, `text[start:end]` must equal `surfaces[i]` (None skips that span).
    """
    problems: list[SpanProblem] = []
    n = len(text)
    placed: list[tuple[int, int, int]] = []
    prev: tuple[int, int] | None = None
    for i, span in enumerate(spans):
        start, end = int(span[0]), int(span[1])
        if start < 0 or end > n or start > n:
            problems.append(
                SpanProblem(
                    i,
                    "span_out_of_range",
                    f"span [{start}, {end}) is outside the text (length {n})",
                )
            )
            continue
        if start > end:
            problems.append(
                SpanProblem(i, "span_inverted", f"span [{start}, {end}) ends before it starts")
            )
            continue
        if start == end and not allow_empty:
            problems.append(SpanProblem(i, "span_empty", f"span [{start}, {end}) is empty"))
        elif sorted_required and prev is not None and (start, end) < prev:
            problems.append(
                SpanProblem(
                    i, "span_unsorted", f"span [{start}, {end}) comes after [{prev[0]}, {prev[1]})"
                )
            )
        if surfaces is not None and i < len(surfaces) and surfaces[i] is not None:
            actual = text[start:end]
            if actual != surfaces[i]:
                problems.append(
                    SpanProblem(
                        i,
                        "surface_mismatch",
                        f"text[{start}:{end}] is {_preview(actual)}, not {_preview(surfaces[i])}",
                    )
                )
        prev = (start, end)
        if start < end:
            placed.append((start, end, i))
    if non_overlapping:
        flagged = {p.index for p in problems if p.code == "span_unsorted"}
        placed.sort()
        reach: tuple[int, int, int] | None = None
        for start, end, i in placed:
            if reach is not None and start < reach[1]:
                later = max(i, reach[2])
                if later not in flagged:
                    flagged.add(later)
                    problems.append(
                        SpanProblem(
                            later,
                            "span_overlap",
                            f"span [{start}, {end}) overlaps span [{reach[0]}, {reach[1]})",
                        )
                    )
            if reach is None or end > reach[1]:
                reach = (start, end, i)
        problems.sort(key=lambda p: p.index)
    return problems


def ensure_spans(text: str, spans: Iterable[Sequence[int]], **options: object) -> None:
    """Raise the first problem of `check_spans` as a `PydanticCustomError` (for validators)."""
    problems = check_spans(text, spans, **options)  # type: ignore[arg-type]
    if problems:
        raise problems[0].to_error()


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, as JavaScript's `String.length` counts it."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def to_utf16_offset(text: str, i: int) -> int:
    """The UTF-16 offset (browser, Label Studio) of code-point offset `i` in `text`."""
    if not 0 <= i <= len(text):
        raise InputError(
            f"code-point offset {i} is outside a text of {len(text)} characters",
            "check the span against the text it indexes",
            code="DSB303",
        )
    return i + sum(1 for ch in text[:i] if ord(ch) > 0xFFFF)


def from_utf16_offset(text: str, j: int) -> int:
    """The code-point offset of UTF-16 offset `j` (from a browser) in `text`."""
    units = 0
    for i, ch in enumerate(text):
        if units == j:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > j:
            raise InputError(
                f"UTF-16 offset {j} falls inside the surrogate pair of {ch!r} at character {i}",
                "the annotation tool split a character; re-select the span",
                code="DSB303",
            )
    if units == j:
        return len(text)
    raise InputError(
        f"UTF-16 offset {j} is outside a text of {units} UTF-16 units",
        "check that the offsets belong to this text",
        code="DSB303",
    )


def spans_to_utf16(text: str, spans: Iterable[Sequence[int]]) -> list[Span]:
    """Convert code-point spans to UTF-16 spans for Label Studio."""
    return [(to_utf16_offset(text, s), to_utf16_offset(text, e)) for s, e in spans]


def spans_from_utf16(text: str, spans: Iterable[Sequence[int]]) -> list[Span]:
    """Convert UTF-16 spans from Label Studio to code-point spans."""
    return [(from_utf16_offset(text, s), from_utf16_offset(text, e)) for s, e in spans]


@dataclass(frozen=True)
class TagError(Exception):
    """Why a tagged copy is refused by `parse_tagged`: `reason` (`unbalanced`, `nested`,
    `empty_span`, `text_changed`) and a readable detail."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def parse_tagged(
    tagged: str, text: str, open_tag: str = HAL_OPEN, close_tag: str = HAL_CLOSE
) -> list[Span]:
    """The spans of `text` that `tagged` (a copy of it with tags) wraps; strict, never a
    guess: an unclosed or stray tag, a nested one, tags around nothing or only whitespace,
    or a copy that differs from `text` by one character raise `TagError`."""
    spans: list[Span] = []
    plain: list[str] = []
    length = 0  # characters of plain text so far
    pos = 0
    opened_at: int | None = None  # plain-text offset of the open tag, when inside one
    while True:
        o = tagged.find(open_tag, pos)
        c = tagged.find(close_tag, pos)
        if o == -1 and c == -1:
            if opened_at is not None:
                raise TagError(
                    "unbalanced",
                    f"{open_tag} opened at answer character {opened_at} is never closed",
                )
            plain.append(tagged[pos:])
            break
        is_open = c == -1 or (o != -1 and o < c)
        at = o if is_open else c
        chunk = tagged[pos:at]
        plain.append(chunk)
        length += len(chunk)
        if is_open:
            if opened_at is not None:
                raise TagError(
                    "nested",
                    f"{open_tag} at answer character {length} is inside the "
                    f"tag opened at {opened_at}",
                )
            opened_at = length
            pos = at + len(open_tag)
        else:
            if opened_at is None:
                raise TagError(
                    "unbalanced", f"{close_tag} at answer character {length} closes no tag"
                )
            inner = chunk  # tags cannot nest, so everything since the open tag
            if not inner.strip():
                raise TagError(
                    "empty_span",
                    f"the tags at answer character {opened_at} wrap "
                    f"{'nothing' if not inner else 'only whitespace'}",
                )
            spans.append((opened_at, length))
            opened_at = None
            pos = at + len(close_tag)
    copy = "".join(plain)
    if copy != text:
        at = next(
            (i for i, (a, b) in enumerate(zip(copy, text)) if a != b), min(len(copy), len(text))
        )
        raise TagError(
            "text_changed",
            f"without its tags the annotation differs from the answer at "
            f"character {at}: {copy[at : at + 20]!r} instead of {text[at : at + 20]!r}",
        )
    return spans


def strip_markers(
    marked: str, open_tag: str = HAL_OPEN, close_tag: str = HAL_CLOSE
) -> tuple[str, list[Span]]:
    """Remove `open_tag`…`close_tag` markers: the plain text and the spans they wrapped.

    Markers may not nest; an unbalanced marker raises `InputError` (DSB303).
    """
    pieces: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    while True:
        o = marked.find(open_tag, pos)
        c = marked.find(close_tag, pos)
        if o == -1 and c == -1:
            pieces.append(marked[pos:])
            return "".join(pieces), spans
        if o == -1 or (c != -1 and c < o):
            raise InputError(
                f"{close_tag} at character {c} has no {open_tag} before it",
                "balance the markers",
                code="DSB303",
            )
        pieces.append(marked[pos:o])
        length += o - pos
        inner_start = o + len(open_tag)
        c = marked.find(close_tag, inner_start)
        nested = marked.find(open_tag, inner_start)
        if c == -1:
            raise InputError(
                f"{open_tag} at character {o} is never closed", "balance the markers", code="DSB303"
            )
        if nested != -1 and nested < c:
            raise InputError(
                f"{open_tag} at character {nested} is nested in another",
                "do not nest markers",
                code="DSB303",
            )
        inner = marked[inner_start:c]
        pieces.append(inner)
        spans.append((length, length + len(inner)))
        length += len(inner)
        pos = c + len(close_tag)


def insert_markers(
    text: str, spans: Iterable[Sequence[int]], open_tag: str = HAL_OPEN, close_tag: str = HAL_CLOSE
) -> str:
    """Wrap each (sorted, non-overlapping) span of `text` in markers; inverse of `strip_markers`."""
    out: list[str] = []
    pos = 0
    for start, end in spans:
        out += [text[pos:start], open_tag, text[start:end], close_tag]
        pos = end
    out.append(text[pos:])
    return "".join(out)
