"""Find a segment's surface string in a text and give its exact code-point offsets.

LLMs quote segments loosely: other case, curly instead of straight quotes, a line break
where the text has a space. `locate` tries an exact match first, then a normalised one
(case folded, whitespace runs as one space, typographic quotes, apostrophes and dashes as
their ASCII forms) and maps the normalised match back to offsets of the original text, so
`text[start:end]` is always a real substring (which may differ from the model's spelling).

Offsets are half-open `[start, end)` in code points (Python `str` indices), as everywhere in
dsbuild. `merge_segments` keeps the non-overlapping candidates by priority (user-given >
lexicon > LLM), deterministically.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "PRIORITY",
    "Candidate",
    "Match",
    "Normalized",
    "find_all",
    "locate",
    "merge_segments",
    "normalize",
]

_FOLD = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u02bc": "'",
    "\uff07": "'",
    "`": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\uff02": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u00ad": "",  # soft hyphen: invisible, dropped
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",  # zero-width characters
}
PRIORITY = {"given": 0, "lexicon": 1, "llm": 2}
"""Which origin wins an overlap: lower is stronger."""


@dataclass(frozen=True)
class Normalized:
    """A normalised text and, per normalised character, the index of the original
    character it came from (`index[i]`), plus whether it starts that character's output."""

    text: str
    index: tuple[int, ...]
    first: tuple[bool, ...]

    def to_original(self, start: int, end: int) -> tuple[int, int] | None:
        """The original `[start, end)` of normalised `[start, end)`, or None when a boundary
        falls inside the expansion of one original character (`ß` folded to `ss`)."""
        if start >= end or not self.first[start]:
            return None
        if end < len(self.text) and not self.first[end]:
            return None
        return self.index[start], self.index[end - 1] + 1


def _fold_char(ch: str) -> str:
    mapped = _FOLD.get(ch)
    if mapped is not None:
        return mapped
    return unicodedata.normalize("NFKD", ch).casefold()


def normalize(text: str) -> Normalized:
    """`text` decomposed (NFKD) and case-folded, quotes/dashes as ASCII, whitespace runs as one
    space, with the map back to the original offsets."""
    out: list[str] = []
    index: list[int] = []
    first: list[bool] = []
    in_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if not in_space:
                out.append(" ")
                index.append(i)
                first.append(True)
            in_space = True
            continue
        in_space = False
        folded = _fold_char(ch)
        for k, c in enumerate(folded):
            out.append(c)
            index.append(i)
            first.append(k == 0)
    return Normalized("".join(out), tuple(index), tuple(first))


def _no_space_script(ch: str) -> bool:
    """Characters of scripts written without spaces between words (CJK, kana, Thai, ...)."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0x0E00 <= o <= 0x0EFF
        or 0x1000 <= o <= 0x109F
        or 0x1780 <= o <= 0x17FF
        or 0xFF66 <= o <= 0xFF9F
        or 0x20000 <= o <= 0x3FFFF
    )


def _joins(a: str, b: str) -> bool:
    """True when `a` followed by `b` would be one word (a match must not cut it)."""
    return a.isalnum() and b.isalnum() and not _no_space_script(a) and not _no_space_script(b)


def _on_word_boundaries(text: str, start: int, end: int) -> bool:
    if start > 0 and _joins(text[start - 1], text[start]):
        return False
    return not (end < len(text) and _joins(text[end - 1], text[end]))


@dataclass(frozen=True)
class Match:
    """Where a surface was found: `text[start:end]` and how (`exact` or `normalized`)."""

    start: int
    end: int
    how: str

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


def _occurrences(haystack: str, needle: str) -> Iterable[int]:
    at = haystack.find(needle)
    while at >= 0:
        yield at
        at = haystack.find(needle, at + 1)


def find_all(
    text: str, surface: str, *, whole_words: bool = True, normalized: Normalized | None = None
) -> list[Match]:
    """Every occurrence of `surface` in `text`, in text order: the exact matches, or when there
    are none, the normalised ones. `whole_words` skips matches that cut a word in two
    (`pun` in `punch`); scripts without spaces (CJK, Thai) have no such boundaries."""
    surface = surface.strip()
    if not surface:
        return []
    exact = [
        Match(s, s + len(surface), "exact")
        for s in _occurrences(text, surface)
        if not whole_words or _on_word_boundaries(text, s, s + len(surface))
    ]
    if exact:
        return exact
    norm = normalized or normalize(text)
    needle = normalize(surface).text.strip()
    if not needle:
        return []
    found = []
    for s in _occurrences(norm.text, needle):
        span = norm.to_original(s, s + len(needle))
        if span is None:
            continue
        start, end = span
        if not text[start:end].strip() or (
            whole_words and not _on_word_boundaries(text, start, end)
        ):
            continue
        found.append(Match(start, end, "normalized"))
    return found


def locate(
    text: str,
    surface: str,
    *,
    taken: Sequence[tuple[int, int]] = (),
    whole_words: bool = True,
    normalized: Normalized | None = None,
) -> Match | None:
    """The first occurrence of `surface` in `text` that overlaps none of `taken`, else the
    first occurrence at all, else None. Passing the spans already claimed makes a surface
    quoted twice land on its second occurrence the second time."""
    matches = find_all(text, surface, whole_words=whole_words, normalized=normalized)
    if not matches and whole_words:
        matches = find_all(text, surface, whole_words=False, normalized=normalized)
    for m in matches:
        if not any(m.overlaps(s, e) for s, e in taken):
            return m
    return matches[0] if matches else None


@dataclass(frozen=True)
class Candidate:
    """A located segment proposed by one origin (`given`, `lexicon`, `llm`)."""

    start: int
    end: int
    category: str
    origin: str
    note: str | None = None
    how: str = "exact"
    extra: dict[str, Any] = field(default_factory=dict)

    def sort_key(self, order: int) -> tuple:
        return (PRIORITY.get(self.origin, 9), self.start, -(self.end - self.start), order)


def merge_segments(candidates: Sequence[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """(kept, dropped): candidates taken strongest first (origin priority, then earlier start,
    then longer span, then input order), each kept unless it overlaps one already kept or
    repeats its span; kept in text order. Same input, same output."""
    kept: list[Candidate] = []
    dropped: list[Candidate] = []
    ranked = sorted(enumerate(candidates), key=lambda ic: ic[1].sort_key(ic[0]))
    for _, cand in ranked:
        if any(cand.start < k.end and k.start < cand.end for k in kept):
            dropped.append(cand)
        else:
            kept.append(cand)
    kept.sort(key=lambda c: (c.start, c.end))
    return kept, dropped
