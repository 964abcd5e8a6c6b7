"""Source questions for MedRECT synthesis: JMLE-style JSON and MedQA/USMLE-style JSONL, read
into one shape, with the questions synthesis cannot use skipped for a stated reason.

MedRECT turns each choice of a single-answer clinical question into a record, so a question
is skipped (reason code, then what it means) when:

- `missing_question`   it has no question text
- `missing_choices`    it has fewer than two choices, or a choice without text (JMLE puts
                       table-shaped choices into the question and leaves them empty)
- `missing_answer`     it names no answer
- `answer_not_a_choice` the answer letter is not one of the choices
- `multiple_answers`   it has more than one correct choice ("2つ選べ")
- `numeric_choices`    every choice is a number (calculations, "which underlined part 1-5")
- `needs_figure`       it refers to a figure, photograph, image or table the text lacks
                       (JMLE: 別冊, 別に示す, 写真/図/表/画像 … を示す; English: image,
                       figure, shown, photograph, exhibit)
- `duplicate_id`       an earlier question has the same id

A written-out finding ("胸部エックス線写真で浸潤影を認める") is text, not a figure, and
is kept.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError

__all__ = [
    "SKIP_REASONS",
    "LoadResult",
    "Skip",
    "SourceQuestion",
    "detect_language",
    "load_embedded_vignettes",
    "load_questions",
    "needs_figure",
    "numeric_choices",
    "question_from_item",
]

SKIP_REASONS = (
    "missing_question",
    "missing_choices",
    "missing_answer",
    "answer_not_a_choice",
    "multiple_answers",
    "numeric_choices",
    "needs_figure",
    "duplicate_id",
)

# A figure the reader must look at. Japanese exam wording: 別冊 (the picture booklet),
# "…を別に示す" (shown separately), "写真/図/画像/表 … を示す"; 心電図 and 表在/表情 are not.
_FIGURE_JA = re.compile(
    r"別冊|別に示す|(?:写真|(?<!電)図|画像|グラフ|表)(?:\s*[\(（][^)）]{0,12}[\)）])?\s*(?:を|に)示す"
    r"|下図|次の図|下表|次の表|(?:写真|図|表)\s*[\(（]\s*(?:[A-ZＡ-Ｚ]|\d|No)"
)
_FIGURE_EN = re.compile(
    r"\b(?:image|images|figure|figures|fig\.|shown|photograph|photographs|photo|picture|exhibit)\b",
    re.IGNORECASE,
)
# A number, optionally with sign, separators, a range and a unit ("2.0 L/min", "3日", "1.5倍");
# "1型糖尿病" is not a number.
_NUMBER = re.compile(
    r"\s*[-+−±]?[\d０-９][\d０-９.,，．\s/:~〜～\-−×]*"
    r"(?:[A-Za-z/%°µμ²³·]{1,10}|歳|日|週|週間|時間|分|秒|倍|回|個|錠|本|人|年|か月|ヶ月|カ月|点)?"
    r"(?:未満|以上|以下|以内|程度)?\s*"
)
_NUMBER_STRICT = re.compile(r"[\d０-９.,，．\s/:~〜～\-−+×%()（）]+")


@dataclass(frozen=True)
class SourceQuestion:
    """One usable question: id, language, stem, lettered choices (a, b, ...), the one answer."""

    id: str
    lang: str
    question: str
    choices: dict[str, str]
    answer: str
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "lang": self.lang,
            "question": self.question,
            "choices": dict(self.choices),
            "answer": self.answer,
            "source": self.source,
            "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class Skip:
    """A question that was not imported, and why (a code from SKIP_REASONS)."""

    id: str
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason, "detail": self.detail}


@dataclass
class LoadResult:
    """The usable questions and the skipped ones, in input order."""

    questions: list[SourceQuestion] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.questions) + len(self.skipped)

    def skipped_by_reason(self) -> dict[str, int]:
        counts = Counter(s.reason for s in self.skipped)
        return {r: counts[r] for r in SKIP_REASONS if counts[r]}

    def summary(self) -> dict[str, Any]:
        langs = Counter(q.lang for q in self.questions)
        return {
            "total": self.total,
            "usable": len(self.questions),
            "skipped": len(self.skipped),
            "skipped_by_reason": self.skipped_by_reason(),
            "usable_by_lang": dict(sorted(langs.items())),
        }


def detect_language(text: str) -> str:
    """`ja` with kana, `zh` with Han but no kana, `ko` with Hangul, else `en`."""
    kana = han = hangul = 0
    for ch in text:
        name = unicodedata.name(ch, "")
        if name.startswith(("HIRAGANA", "KATAKANA")):
            kana += 1
        elif name.startswith("CJK UNIFIED"):
            han += 1
        elif name.startswith("HANGUL"):
            hangul += 1
    if kana:
        return "ja"
    if hangul:
        return "ko"
    if han:
        return "zh"
    return "en"


def needs_figure(text: str, lang: str | None = None) -> str | None:
    """The words that show the question needs a figure/image/table, or None."""
    for pattern in (_FIGURE_JA, _FIGURE_EN):
        m = pattern.search(text)
        if m:
            return m.group(0)
    return None


def numeric_choices(choices: Mapping[str, str]) -> bool:
    """Every choice is a number (optionally with a short unit) or a row of numbers."""
    values = [v for v in choices.values() if isinstance(v, str)]
    if not values:
        return False
    return all(_NUMBER_STRICT.fullmatch(v.strip()) or _NUMBER.fullmatch(v) for v in values)


def _letters(choices: Any) -> dict[str, str] | None:
    """Choices as {a: text, b: text, ...} from a dict (any letter case) or a list."""
    if isinstance(choices, Mapping):
        return {str(k).strip().lower(): "" if v is None else str(v) for k, v in choices.items()}
    if isinstance(choices, list):
        return {chr(ord("a") + i): "" if v is None else str(v) for i, v in enumerate(choices)}
    return None


def question_from_item(
    item: Mapping[str, Any], *, default_id: str, source: str = "", lang: str | None = None
) -> SourceQuestion | Skip:
    """One JMLE-style (`choices`, `answer` letters) or MedQA-style (`options`, `answer_idx`)
    item as a SourceQuestion, or a Skip saying why it cannot be used."""
    qid = str(item.get("id") or item.get("qid") or default_id)
    question = str(item.get("question") or "").strip()
    if not question:
        return Skip(qid, "missing_question", "the question text is empty")
    choices = _letters(
        item.get("choices") if item.get("choices") is not None else item.get("options")
    )
    if not choices or len(choices) < 2:
        return Skip(
            qid, "missing_choices", f"{len(choices or {})} choice(s); at least 2 are needed"
        )
    empty = [k for k, v in choices.items() if not v.strip()]
    if empty:
        return Skip(qid, "missing_choices", f"choice(s) {', '.join(empty)} have no text")
    answer = (
        item.get("answer_idx") if item.get("answer_idx") not in (None, "") else item.get("answer")
    )
    if (
        isinstance(answer, str)
        and "answer_idx" not in item
        and answer.strip().lower() not in choices
    ):
        # MedQA without answer_idx gives the answer's text: find its letter
        matches = [k for k, v in choices.items() if v.strip() == answer.strip()]
        answer = matches[0] if len(matches) == 1 else answer
    answers = [answer] if isinstance(answer, str) else list(answer or [])
    answers = [str(a).strip().lower() for a in answers if str(a).strip()]
    if not answers:
        return Skip(qid, "missing_answer", "no answer is given")
    if len(answers) > 1:
        return Skip(
            qid, "multiple_answers", f"{len(answers)} correct choices ({', '.join(answers)})"
        )
    if answers[0] not in choices:
        return Skip(
            qid, "answer_not_a_choice", f"answer {answers[0]!r} is not one of {', '.join(choices)}"
        )
    if numeric_choices(choices):
        return Skip(
            qid, "numeric_choices", "every choice is a number: " + " | ".join(choices.values())[:80]
        )
    words = needs_figure(question) or needs_figure(" ".join(choices.values()))
    if words:
        return Skip(qid, "needs_figure", f"refers to a figure or table ({words!r})")
    lang = str(item.get("lang") or lang or detect_language(question + "".join(choices.values())))
    meta = {
        k: v
        for k, v in item.items()
        if k not in ("id", "qid", "question", "choices", "options", "answer", "answer_idx", "lang")
    }
    return SourceQuestion(qid, lang, question, choices, answers[0], source, meta)


def _items(path: Path) -> list[dict[str, Any]]:
    from dsbuild.medrect.formats import read_json_items

    data = read_json_items(path, "questions (JMLE JSON or MedQA JSON Lines)")
    if len(data) == 1 and isinstance(data[0], dict) and isinstance(data[0].get("questions"), list):
        data = data[0]["questions"]
    bad = next((i for i, x in enumerate(data, 1) if not isinstance(x, dict)), None)
    if bad is not None:
        raise InputError(
            f"{path} item {bad} is not a question object",
            "give a list of question objects",
            code="DSB303",
        )
    return data


def load_questions(
    paths: str | Path | Iterable[str | Path], *, lang: str | None = None
) -> LoadResult:
    """Read JMLE JSON and/or MedQA JSONL files into usable questions and skips."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    result = LoadResult()
    seen: set[str] = set()
    for path in map(Path, paths):
        for n, item in enumerate(_items(path), 1):
            got = question_from_item(
                item, default_id=f"{path.stem}-{n}", source=path.name, lang=lang
            )
            if isinstance(got, SourceQuestion) and got.id in seen:
                got = Skip(got.id, "duplicate_id", f"id {got.id} appears earlier")
            if isinstance(got, SourceQuestion):
                seen.add(got.id)
                result.questions.append(got)
            else:
                result.skipped.append(got)
    return result


def load_embedded_vignettes() -> LoadResult:
    """The dozen vignettes written for this project (English and Japanese), the default source."""
    from importlib.resources import files

    resource = files("dsbuild.samples").joinpath("medrect", "vignettes.json")
    result = LoadResult()
    for n, item in enumerate(json.loads(resource.read_text("utf-8")), 1):
        got = question_from_item(item, default_id=f"vignette-{n}", source="embedded")
        (result.questions if isinstance(got, SourceQuestion) else result.skipped).append(got)  # type: ignore[arg-type]
    return result
