"""Clinical error-correction records: MedRECT (JSON), MEDEC (CSV) and JMLE source questions.

A clinical text is split into numbered sentences, one per line: MedRECT numbers them
`1. …` from 1, MEDEC `0 …` from 0. A line without a number continues the sentence above
(lab tables in the sources break sentences over lines, e.g. `29. IU/L` then `GGT`), and
blank lines are ignored. A text with an error (`error_flag` 1) names the sentence by
number, quotes it, and gives the corrected sentence and the corrected full text; a clean
text (`error_flag` 0) leaves all of those empty (MEDEC: `NA`, and sentence id -1).

Sentences are compared after collapsing whitespace: the sources break lines inside a
sentence differently in different columns (MEDEC's `Error Sentence` may hold CR LF where
its `Sentences` column has a space), which is layout, not content.

The error types are the eight categories MedRECT reassigned (its classification prompt)
and MEDEC's five; the comparison ignores case, spaces and underscores. MedRECT-ja writes
the eight in Japanese (`MEDRECT_JA_TYPES`), which are accepted as they are. A type outside
the scheme (the Japanese release also uses e.g. 検査所見エラー) is kept verbatim with the
warning `error_type_outside_scheme` (`dsbuild.quirks`), never dropped or guessed.

A numbered line of MedRECT-ja may hold several sentences, and `error_sentence` may quote only
the wrong one: read as it is, with the warning `error_sentence_partial` (a quote that is not
part of the numbered line is the error `error_sentence_mismatch`).

A separator or blank line after the last numbered sentence (`***`, `---`, as some MedRECT-ja
records end) belongs to no sentence: the text keeps it, with the warning
`trailing_separator`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from ._common import Problems, RecordModel, squash

__all__ = [
    "ERROR_FIELDS",
    "MEDEC_ERROR_TYPES",
    "MEDRECT_JA_TYPES",
    "MEDRECT_ERROR_TYPES",
    "JMLEQuestion",
    "MEDECRecord",
    "MedRECTRecord",
    "parse_numbered_sentences",
    "trailing_separator_lines",
]

MEDRECT_ERROR_TYPES = (
    "history_taking",
    "physical_findings",
    "test_interpretation",
    "diagnosis",
    "medication_selection",
    "medication_dosage",
    "procedure_intervention",
    "monitoring_management",
)
MEDEC_ERROR_TYPES = ("diagnosis", "management", "treatment", "pharmacotherapy", "causalOrganism")
# MedRECT-ja's names for the eight types, as its release writes them.
MEDRECT_JA_TYPES = {
    "病歴聴取エラー": "history_taking",
    "身体所見エラー": "physical_findings",
    "検査解釈エラー": "test_interpretation",
    "診断エラー": "diagnosis",
    "薬剤選択エラー": "medication_selection",
    "薬剤用法・用量エラー": "medication_dosage",
    "手技・介入エラー": "procedure_intervention",
    "経過観察・管理エラー": "monitoring_management",
}

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MEDRECT_LINE = re.compile(r"(\d+)\.\s(.*)", re.S)
_MEDEC_LINE = re.compile(r"(\d+)\s(.*)", re.S)


def _type_key(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).lower()


def parse_numbered_sentences(
    text: str, pattern: re.Pattern[str], first: int
) -> tuple[dict[int, str], list[tuple[str, str]]]:
    """Sentences by number, and (code, message) for what is wrong with the numbering."""
    sentences: dict[int, str] = {}
    errors: list[tuple[str, str]] = []
    current: int | None = None
    expected = first
    lines = _LINE_BREAK.split(text)
    tail = trailing_separator_lines(lines)
    if tail:
        shown = (
            " ".join(line.strip() for line in lines[len(lines) - tail :] if line.strip())
            or "a blank line"
        )
        errors.append(("trailing_separator", f"{shown!r} follows the last numbered sentence"))
        lines = lines[: len(lines) - tail]
    for line in lines:
        if not line.strip():
            continue
        m = pattern.fullmatch(line)
        if m is None:
            if current is None:
                errors.append(
                    ("sentence_unnumbered", f"the first line {line[:40]!r} has no sentence number")
                )
                current = first - 1
                sentences[current] = line
            else:
                sentences[current] += "\n" + line
            continue
        number = int(m.group(1))
        if number != expected and not any(code == "numbering_gap" for code, _ in errors):
            errors.append(
                ("numbering_gap", f"sentence numbered {number} where {expected} was expected")
            )
        sentences[number] = m.group(2)
        current = number
        expected = number + 1
    sentences.pop(first - 1, None)
    if not sentences:
        errors.append(("no_sentences", "there are no numbered sentences"))
    return sentences, errors


def _is_separator(line: str) -> bool:
    """A line of only punctuation or symbols (`***`, `---`, `＊＊＊`): no letter, no digit."""
    return bool(line.strip()) and not any(ch.isalnum() for ch in line)


def trailing_separator_lines(lines: list[str]) -> int:
    """How many of the last lines are separator lines, or blank lines next to one, after the
    last numbered sentence (0 when the text ends with a sentence, or with blank lines only,
    which are plain layout)."""
    n = len(lines)
    while n and (not lines[n - 1].strip() or _is_separator(lines[n - 1])):
        n -= 1
    tail = lines[n:]
    return len(tail) if any(_is_separator(line) for line in tail) else 0


ERROR_FIELDS = (
    "error_type",
    "error_sentence_id",
    "error_sentence",
    "corrected_sentence",
    "corrected_text",
)


def _check_error_fields(
    problems: Problems,
    *,
    fields: dict[str, str],
    flag: int,
    values: dict[str, Any],
    known_types: tuple[str, ...],
    sentences: dict[int, str],
    clean_id: int | None,
) -> None:
    """The checks MedRECT and MEDEC share; `fields` maps our names to the record's keys."""

    def add(name: str, code: str, message: str, value: Any = None) -> None:
        problems.add((fields[name],), code, message, value)

    if flag == 0:
        for name in ERROR_FIELDS:
            value = values[name]
            if value is None or (name == "error_sentence_id" and value == clean_id):
                continue
            want = (
                f"{clean_id}" if name == "error_sentence_id" and clean_id is not None else "empty"
            )
            add(
                name,
                "clean_has_error_fields",
                f"error flag is 0, so {fields[name]} must be {want}",
                value,
            )
        return
    for name in ERROR_FIELDS:
        if values[name] is None or (name == "error_sentence_id" and values[name] == clean_id):
            add(
                name,
                "error_field_missing",
                f"error flag is 1 but {fields[name]} is empty",
                values[name],
            )
    kind = values["error_type"]
    if kind is not None and _type_key(kind) not in {_type_key(t) for t in known_types}:
        problems.warn(
            (fields["error_type"],),
            "error_type_outside_scheme",
            f"{kind!r} is not one of {', '.join(known_types)}; kept as written",
        )
    number = values["error_sentence_id"]
    sentence = values["error_sentence"]
    if number is not None and number != clean_id:
        if number not in sentences:
            numbered = f"{min(sentences)}..{max(sentences)}" if sentences else "none"
            message = f"there is no sentence {number} (sentences are numbered {numbered})"
            add("error_sentence_id", "error_sentence_id_out_of_range", message, number)
        elif sentence is not None and squash(sentences[number]) != squash(sentence):
            actual = squash(sentences[number])[:60]
            if _within(sentence, sentences[number]):
                problems.warn(
                    (fields["error_sentence"],),
                    "error_sentence_partial",
                    f"{fields['error_sentence']} quotes a part of sentence {number}, "
                    f"which reads {actual!r}",
                )
            else:
                message = (
                    f"{fields['error_sentence']} is not sentence {number}, which reads {actual!r}"
                )
                add("error_sentence", "error_sentence_mismatch", message)
    corrected = values["corrected_sentence"]
    if corrected is not None and sentence is not None and squash(corrected) == squash(sentence):
        add(
            "corrected_sentence",
            "correction_unchanged",
            "the corrected sentence is the error sentence",
        )
    text = values["corrected_text"]
    if corrected is not None and text is not None and squash(corrected) not in squash(text):
        add(
            "corrected_text",
            "corrected_text_mismatch",
            "the corrected text does not contain the corrected sentence",
        )


def _within(part: str, sentence: str) -> bool:
    """True when `part` (its final full stop aside) is a piece of `sentence`, whitespace
    ignored: MedRECT-ja numbers lines that hold several sentences and may quote only the
    wrong one."""
    piece = "".join(part.split()).rstrip("。.")
    return bool(piece) and piece in "".join(sentence.split())


def _add_numbering(problems: Problems, loc: tuple[str, ...], errors: list[tuple[str, str]]) -> None:
    """Numbering problems are errors, except a trailing separator line (a release quirk)."""
    for code, message in errors:
        if code == "trailing_separator":
            problems.warn(loc, code, message)
        else:
            problems.add(loc, code, message)


class MedRECTRecord(RecordModel):
    """One MedRECT item: a numbered clinical text that holds at most one medical error."""

    sample_id: str = Field(
        description="Item id, e.g. ms-test-0 (MEDEC source) or a JMLE-derived id."
    )
    sentences: str = Field(
        description='Numbered sentences, one per line: "1. ...\\n2. ..." (from 1).'
    )
    error_flag: Literal[0, 1] = Field(description="1 when the text holds an error.")
    error_type: str | None = Field(
        default=None, description=f"One of {', '.join(MEDRECT_ERROR_TYPES)}; null when clean."
    )
    error_sentence_id: int | None = Field(
        default=None, description="Number of the erroneous sentence (from 1); null when clean."
    )
    error_sentence: str | None = Field(default=None, description="That sentence, as written.")
    corrected_sentence: str | None = Field(
        default=None, description="The sentence with the error fixed."
    )
    corrected_text: str | None = Field(
        default=None, description="The whole text with the corrected sentence in place."
    )
    metadata: dict[str, Any] | None = Field(
        default=None, description="Source details (row index, original text)."
    )
    screening_results: dict[str, Any] | None = Field(
        default=None, description="The LLM screening verdict, when screened."
    )

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> MedRECTRecord:
        problems = Problems(type(self).__name__, info.context)
        sentences, errors = parse_numbered_sentences(self.sentences, _MEDRECT_LINE, 1)
        _add_numbering(problems, ("sentences",), errors)
        _check_error_fields(
            problems,
            fields={n: n for n in ERROR_FIELDS},
            flag=self.error_flag,
            values={n: getattr(self, n) for n in ERROR_FIELDS},
            known_types=(*MEDRECT_ERROR_TYPES, *MEDRECT_JA_TYPES),
            sentences=sentences,
            clean_id=None,
        )
        problems.raise_if_any()
        return self


_MEDEC_FIELDS = {
    "error_type": "Error Type",
    "error_sentence_id": "Error Sentence ID",
    "error_sentence": "Error Sentence",
    "corrected_sentence": "Corrected Sentence",
    "corrected_text": "Corrected Text",
}


class MEDECRecord(RecordModel):
    """One MEDEC row (CSV columns as named in the release); `NA` or an empty cell means none."""

    text_id: str = Field(alias="Text ID", description="Row id, e.g. ms-val-0.")
    text: str = Field(alias="Text", description="The clinical text as one paragraph.")
    sentences: str = Field(
        alias="Sentences",
        description='Numbered sentences, one per line: "0 ...\\r\\n1 ..." (from 0).',
    )
    error_flag: Literal[0, 1] = Field(alias="Error Flag")
    error_type: str | None = Field(
        default=None, alias="Error Type", description=f"One of {', '.join(MEDEC_ERROR_TYPES)}."
    )
    error_sentence_id: int = Field(
        alias="Error Sentence ID", description="Number of the erroneous sentence; -1 when clean."
    )
    error_sentence: str | None = Field(default=None, alias="Error Sentence")
    corrected_sentence: str | None = Field(default=None, alias="Corrected Sentence")
    corrected_text: str | None = Field(default=None, alias="Corrected Text")

    @field_validator(
        "error_type", "error_sentence", "corrected_sentence", "corrected_text", mode="before"
    )
    @classmethod
    def _na_is_none(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and value.strip() in ("", "NA")):
            return None
        return value

    @field_validator("error_flag", mode="before")
    @classmethod
    def _flag_from_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() in ("0", "1"):
            return int(value)
        return value

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> MEDECRecord:
        problems = Problems(type(self).__name__, info.context)
        sentences, errors = parse_numbered_sentences(self.sentences, _MEDEC_LINE, 0)
        _add_numbering(problems, ("Sentences",), errors)
        _check_error_fields(
            problems,
            fields=_MEDEC_FIELDS,
            flag=self.error_flag,
            values={n: getattr(self, n) for n in _MEDEC_FIELDS},
            known_types=MEDEC_ERROR_TYPES,
            sentences=sentences,
            clean_id=-1,
        )
        problems.raise_if_any()
        return self


class CaseClassification(BaseModel):
    """How surely a JMLE question is a clinical case (MedRECT's screening)."""

    type: str = Field(description="e.g. definite_case, probable_case.")
    confidence: str
    score: int


class JMLEQuestion(RecordModel):
    """A Japanese medical licensing exam question, the source pool of MedRECT-ja."""

    id: str = Field(
        pattern=r"^\d{3}[A-Z]\d{1,3}$",
        description="Exam number, block letter, question number (e.g. 119A16).",
    )
    question: str = Field(min_length=1)
    choices: dict[str, str] = Field(description="Choice letter (a, b, ...) to choice text.")
    answer: list[str] = Field(min_length=1, description="Letters of the correct choices.")
    case_classification: CaseClassification | None = None

    @model_validator(mode="after")
    def _check(self) -> JMLEQuestion:
        problems = Problems(type(self).__name__)
        letters = list(self.choices)
        expected = [chr(ord("a") + i) for i in range(len(letters))]
        if letters != expected:
            problems.add(
                ("choices",), "choice_letters", f"choices are {letters}, expected {expected}"
            )
        if len(letters) < 2:
            message = f"a question needs at least 2 choices, not {len(letters)}"
            problems.add(("choices",), "too_few_choices", message)
        for letter, text in self.choices.items():
            if not text.strip():
                problems.add(("choices", letter), "choice_empty", f"choice {letter} has no text")
        for i, letter in enumerate(self.answer):
            if letter not in self.choices:
                message = f"answer {letter!r} is not one of the choices {letters}"
                problems.add(("answer", i), "answer_not_a_choice", message, letter)
        problems.raise_if_any()
        return self
