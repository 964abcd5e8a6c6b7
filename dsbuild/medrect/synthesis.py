"""What the MedRECT builder checks in a synthesised record beyond its structure, and the small
text helpers its synthesis needs (cleaning the model's sentences, how much of a choice a
sentence states, the numbers of a question stem).

`content_problems(record, ...)` returns (reason_code, detail) pairs like
`dsbuild.medrect.sentences.verify_record`, so every defect becomes a reject reason:

- `too_few_sentences`    fewer sentences than a record needs (default 3)
- `stem_numbers_missing` numbers of the question (age, vital signs, laboratory values) that
                         the record lost; the share kept must reach `min_numbers_kept`
- `choice_not_stated`    a clean record's closing sentence does not state the correct
                         answer, or an error record's error sentence does not state its wrong
                         choice (judged by token overlap with the choice, `min_choice_overlap`)
- `signposted_error`     the error sentence gives itself away ("incorrectly", "誤って", "?")
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "SIGNPOSTS",
    "choice_overlap",
    "clean_sentences",
    "content_problems",
    "signpost",
    "stem_numbers",
]

# Words that announce an error instead of hiding it (English, Japanese), and question marks.
SIGNPOSTS = re.compile(
    r"\b(?:error|errors|erroneous(?:ly)?|incorrect(?:ly)?|mistaken(?:ly)?|mistake|wrong(?:ly)?"
    r"|inappropriate(?:ly)?|instead of|by mistake|in error)\b"
    r"|誤って|誤り|間違|不適切|ミス|[?？]",
    re.IGNORECASE,
)
_LEADING_NUMBER = re.compile(r"^\s*(?:\d+\s*[.)．:：]\s*|[-*•・]\s+)")
# A number not glued to a preceding Latin letter (HbA1c, m2 and CHA2DS2 are names, not values).
_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)*")


def clean_sentences(items: Sequence[Any]) -> list[str]:
    """The model's sentences as plain one-line strings: numbering it added (`3. `, `- `)
    removed, whitespace collapsed, empty items dropped."""
    out = []
    for item in items:
        text = " ".join(str(item).split())
        text = _LEADING_NUMBER.sub("", text, count=1).strip()
        if text:
            out.append(text)
    return out


def _tokens(text: str) -> list[str]:
    from dsbuild.metrics.correction import tokenize

    return tokenize(text)


def choice_overlap(choice: str, sentence: str) -> float:
    """Share of the choice's tokens (words; single characters for Japanese) found in the
    sentence: 1.0 when the sentence names the choice in its own words."""
    wanted = _tokens(choice)
    if not wanted:
        return 0.0
    have = set(_tokens(sentence))
    return sum(t in have for t in wanted) / len(wanted)


def stem_numbers(text: str) -> list[str]:
    """The distinct numbers of a text in order, NFKC-normalised, thousands commas dropped
    (`14,200` → `14200`); `38.6` stays one number."""
    normal = unicodedata.normalize("NFKC", text)
    seen: list[str] = []
    for m in _NUMBER.finditer(normal):
        value = re.sub(r"(?<=\d),(?=\d{3}\b)", "", m.group(0))
        if value not in seen:
            seen.append(value)
    return seen


def signpost(sentence: str, allowed: str = "") -> str | None:
    """The words by which a sentence announces its own error, or None; words that occur in
    `allowed` (the question and its choices) do not count."""
    allowed_norm = allowed.casefold()
    for m in SIGNPOSTS.finditer(sentence):
        if m.group(0).casefold() not in allowed_norm:
            return m.group(0)
    return None


def content_problems(
    record: Mapping[str, Any],
    *,
    question: str,
    choice_text: str,
    answer_text: str,
    min_sentences: int = 3,
    min_numbers_kept: float = 1.0,
    min_choice_overlap: float = 0.5,
    stem: str | None = None,
) -> list[tuple[str, str]]:
    """(reason_code, detail) for each content defect of a structurally sound record (see
    the module docstring); [] when it passes. The numbers to keep are those of `stem` (the
    vignette without the question itself) when given, else of `question`."""
    from dsbuild.medrect.sentences import sentence_texts

    problems: list[tuple[str, str]] = []
    sentences = sentence_texts(record["sentences"])
    if len(sentences) < min_sentences:
        problems.append(
            ("too_few_sentences", f"{len(sentences)} sentence(s); at least {min_sentences} needed")
        )
    numbers = stem_numbers(question if stem is None else stem)
    if numbers:
        have = set(stem_numbers(" ".join(sentences)))
        missing = [n for n in numbers if n not in have]
        kept = 1 - len(missing) / len(numbers)
        if kept < min_numbers_kept:
            detail = (
                f"kept {len(numbers) - len(missing)} of {len(numbers)} numbers of the question; "
                f"missing {', '.join(missing[:8])}"
            )
            problems.append(("stem_numbers_missing", detail))
    if min_choice_overlap > 0:
        if record.get("error_flag") == 1:
            target, text, what = (
                choice_text,
                record.get("error_sentence") or "",
                "the error sentence",
            )
        else:  # the record ends with the decision
            target, text, what = (
                answer_text,
                sentences[-1] if sentences else "",
                "the closing sentence",
            )
        overlap = choice_overlap(target, text)
        if overlap < min_choice_overlap:
            problems.append(
                (
                    "choice_not_stated",
                    f"{what} does not state {target!r} ({overlap:.0%} of its words)",
                )
            )
    if record.get("error_flag") == 1:
        words = signpost(
            record.get("error_sentence") or "", question + " " + choice_text + " " + answer_text
        )
        if words:
            problems.append(
                ("signposted_error", f"the error sentence gives itself away with {words!r}")
            )
    return problems
