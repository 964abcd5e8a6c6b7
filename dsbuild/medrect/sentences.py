"""Numbered clinical sentences: parse, number, renumber, replace one, and verify a record.

MedRECT numbers sentences `1. …` from 1 and joins them with LF; MEDEC numbers them `0 …`
from 0 and (in its releases) joins them with CR LF. A line without a number continues the
sentence above (lab tables are broken over lines in the sources) and blank lines are
ignored, as in `dsbuild.schemas.medrect`. The builder's `check` stage calls
`verify_record`, which returns (reason_code, detail) pairs instead of raising, so that
every defect of a synthesised record becomes a reject reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from dsbuild.schemas._common import first_difference
from dsbuild.schemas.medrect import (
    ERROR_FIELDS,
    MEDRECT_ERROR_TYPES,
    parse_numbered_sentences,
    trailing_separator_lines,
)

__all__ = [
    "STYLES",
    "Style",
    "corrected_text",
    "join_sentences",
    "number_sentences",
    "parse_sentences",
    "renumber",
    "replace_sentence",
    "sentence_texts",
    "verify_record",
]

Style = Literal["medrect", "medec"]

# style -> (line pattern, first number, line separator written)
STYLES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "medrect": (re.compile(r"(\d+)\.\s(.*)", re.DOTALL), 1, "\n"),
    "medec": (re.compile(r"(\d+)\s(.*)", re.DOTALL), 0, "\r\n"),
}
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _style(style: str) -> tuple[re.Pattern[str], int, str]:
    try:
        return STYLES[style]
    except KeyError:
        raise ValueError(f"unknown sentence style {style!r}; use medrect or medec") from None


def parse_sentences(
    text: str, style: Style = "medrect"
) -> tuple[dict[int, str], list[tuple[str, str]]]:
    """Sentences by number (continuation lines joined with LF), and numbering problems."""
    pattern, first, _ = _style(style)
    return parse_numbered_sentences(text, pattern, first)


def sentence_texts(text: str, style: Style = "medrect") -> list[str]:
    """The sentences in order, without their numbers (continuation lines kept)."""
    sentences, _ = parse_sentences(text, style)
    return [sentences[n] for n in sorted(sentences)]


def number_sentences(sentences: Sequence[str], style: Style = "medrect") -> str:
    """Number plain sentences the way `style` does: `1. A\\n2. B` or `0 A\\r\\n1 B`."""
    _, first, sep = _style(style)
    mark = "{}. " if style == "medrect" else "{} "
    return sep.join(mark.format(first + i) + s.strip() for i, s in enumerate(sentences))


def renumber(text: str, source: Style, target: Style, *, sep: str | None = None) -> str:
    """Convert numbered text between styles line by line.

    Numbered lines get the target's number and mark, with trailing whitespace stripped (as
    MedRECT does for MEDEC's lines); continuation lines are kept, stripped; blank lines are
    dropped. A separator block after the last sentence (`***`, blank lines around it, and
    the whitespace before it: a release quirk) is carried over verbatim, only its line
    breaks changed, so both directions give it back. `sep` overrides the target's line
    separator.
    """
    pattern, first, _ = _style(source)
    _, target_first, target_sep = _style(target)
    sep = target_sep if sep is None else sep
    mark = "{}. " if target == "medrect" else "{} "
    lines = _LINE_BREAK.split(text)
    n_tail = trailing_separator_lines(lines)
    tail = ""
    if n_tail:
        lines, rest = lines[: len(lines) - n_tail], lines[len(lines) - n_tail :]
        last = lines[-1] if lines else ""
        tail = last[len(last.rstrip()) :] + sep + sep.join(rest)
    out = []
    for line in lines:
        if not line.strip():
            continue
        m = pattern.fullmatch(line)
        if m is None:
            out.append(line.strip())
        else:
            number = int(m.group(1)) - first + target_first
            out.append(mark.format(number) + m.group(2).strip())
    return sep.join(out) + tail


def _is_cjk(ch: str) -> bool:
    if not ch:
        return False
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL", "FULLWIDTH", "IDEOGRAPHIC"))


def join_sentences(sentences: Sequence[str]) -> str:
    """One paragraph: sentences joined by a space, or by nothing where either side is a
    CJK character (Japanese and Chinese write no space after `。`). Inner line breaks
    become spaces."""
    out = ""
    for sentence in sentences:
        s = " ".join(sentence.split())
        if not s:
            continue
        if out and not (_is_cjk(out[-1]) or _is_cjk(s[0])):
            out += " "
        out += s
    return out


def replace_sentence(text: str, number: int, new: str, style: Style = "medrect") -> str:
    """The numbered text with sentence `number` replaced by `new` (continuation lines of the
    old sentence go with it); other lines are kept exactly. Raises KeyError if absent."""
    pattern, _, _ = _style(style)
    lines = _LINE_BREAK.split(text)
    seps = [*_LINE_BREAK.findall(text), ""]
    out: list[str] = []
    inside = found = False
    for line, sep in zip(lines, seps):
        m = pattern.fullmatch(line) if line.strip() else None
        if m is not None:
            inside = int(m.group(1)) == number
            if inside:
                found = True
                line = line[: m.start(2)] + new.strip()
        elif inside and line.strip():
            continue  # a continuation line of the replaced sentence goes with it
        out.append(line + sep)
    if not found:
        raise KeyError(f"there is no sentence {number}")
    joined = "".join(out)
    return joined if text.endswith(("\n", "\r")) else joined.rstrip("\r\n")


def corrected_text(text: str, number: int, new: str, style: Style = "medrect") -> str:
    """The plain corrected text: every sentence in order, sentence `number` replaced by `new`."""
    sentences, _ = parse_sentences(text, style)
    if number not in sentences:
        raise KeyError(f"there is no sentence {number}")
    return join_sentences([new if n == number else sentences[n] for n in sorted(sentences)])


def _bare(text: str) -> str:
    """The text without any whitespace: the comparison key for layout-insensitive equality."""
    return "".join(text.split())


def verify_record(
    record: Mapping[str, Any], *, types: Sequence[str] = MEDRECT_ERROR_TYPES
) -> list[tuple[str, str]]:
    """What is wrong with one MedRECT record, as (reason_code, detail) pairs; [] when sound.

    Checks the numbering; for a clean record that every error field is empty; for an error
    record that every error field is filled, the type is known, the sentence id names a
    sentence whose text is `error_sentence`, the correction changes it, and
    `corrected_text` is the text with that sentence replaced. Texts are compared without
    whitespace, which is layout (line breaks inside lab values), not content.
    """
    problems: list[tuple[str, str]] = []
    text = record.get("sentences")
    if not isinstance(text, str) or not text.strip():
        return [("no_sentences", "the record has no numbered sentences")]
    sentences, numbering = parse_sentences(text, "medrect")
    problems.extend(numbering)
    flag = record.get("error_flag")
    if flag not in (0, 1) or isinstance(flag, bool):
        problems.append(("error_flag_invalid", f"error_flag is {flag!r}, not 0 or 1"))
        return problems
    values = {name: record.get(name) for name in ERROR_FIELDS}
    if flag == 0:
        for name, value in values.items():
            if value is not None:
                problems.append(
                    ("clean_has_error_fields", f"error_flag is 0 but {name} is {value!r}"[:160])
                )
        return problems
    missing = [name for name, value in values.items() if value is None or value == ""]
    for name in missing:
        problems.append(("error_field_missing", f"error_flag is 1 but {name} is empty"))
    kind = values["error_type"]
    if isinstance(kind, str) and kind and kind not in types:
        problems.append(("error_type_unknown", f"{kind!r} is not one of {', '.join(types)}"))
    number = values["error_sentence_id"]
    if number is not None and not (isinstance(number, int) and not isinstance(number, bool)):
        problems.append(
            ("error_sentence_id_invalid", f"error_sentence_id {number!r} is not a whole number")
        )
        return problems
    if number is None:
        return problems
    if number not in sentences:
        span = f"{min(sentences)}..{max(sentences)}" if sentences else "none"
        problems.append(
            ("error_sentence_id_out_of_range", f"there is no sentence {number} (sentences {span})")
        )
        return problems
    sentence, fixed, full = (
        values["error_sentence"],
        values["corrected_sentence"],
        values["corrected_text"],
    )
    if isinstance(sentence, str) and sentence and _bare(sentence) != _bare(sentences[number]):
        problems.append(
            (
                "error_sentence_mismatch",
                f"error_sentence is not sentence {number}, which reads {sentences[number][:60]!r}",
            )
        )
    if isinstance(fixed, str) and fixed:
        if isinstance(sentence, str) and _bare(fixed) == _bare(sentence):
            problems.append(
                ("correction_unchanged", "corrected_sentence is the same as error_sentence")
            )
        if isinstance(full, str) and full:
            expected = corrected_text(text, number, fixed)
            if _bare(full) != _bare(expected):
                at = first_difference(_bare(full), _bare(expected))
                detail = (
                    f"corrected_text is not the text with sentence {number} replaced "
                    f"(first difference at character {at}, ignoring whitespace)"
                )
                problems.append(("corrected_text_mismatch", detail))
    return problems
