"""Heuristic filters of PsiloQA rows: cheap checks run before the LLM judge.

Each filter takes a row and returns None (keep) or `(reason, detail)`, datatrove style.
(Hygiene, language, copying and duplicates are the shared gates of `dsbuild.gates`, which
the builder runs as stages of their own.) The phrase lists cover the languages of the
embedded sample and a few more; a language without a list is simply not checked by that
filter. The LLM judge (`judge` prompt) catches what phrase lists miss.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["FILTERS", "REASONS", "run_filters"]

Verdict = tuple[str, str] | None

# Phrases that show an answer declining to answer. Lower-case; matched as substrings.
_REFUSALS = {
    "en": (
        "i don't know",
        "i do not know",
        "i'm not sure",
        "i am not sure",
        "i cannot answer",
        "i can't answer",
        "i'm sorry, but",
        "as an ai",
        "i don't have information",
        "i do not have information",
        "no information",
        "not able to answer",
        "could you provide more context",
        "please provide more context",
    ),
    "de": (
        "ich weiß nicht",
        "ich weiss nicht",
        "ich bin mir nicht sicher",
        "keine informationen",
        "kann ich nicht beantworten",
        "als ki",
    ),
    "fr": (
        "je ne sais pas",
        "je ne suis pas sûr",
        "je ne peux pas répondre",
        "aucune information",
        "en tant qu'ia",
        "en tant qu’ia",
    ),
    "es": (
        "no lo sé",
        "no sé",
        "no estoy seguro",
        "no puedo responder",
        "no tengo información",
        "como ia",
    ),
    "it": ("non lo so", "non sono sicuro", "non posso rispondere", "nessuna informazione"),
    "zh": ("我不知道", "不确定", "无法回答", "没有相关信息", "作为一个人工智能", "作为ai"),
    "ar": ("لا أعرف", "لا اعرف", "لست متأكد", "لا أستطيع الإجابة", "لا تتوفر لدي معلومات"),
    "fi": ("en tiedä", "en ole varma", "en voi vastata"),
}
# Phrases by which a question gives away that it was written from a passage.
_PASSAGE_REFS = {
    "en": re.compile(
        r"\b(the|this|above|given) (passage|text|article|paragraph|excerpt)\b"
        r"|\baccording to the (passage|text|article)\b",
        re.I,
    ),
    "de": re.compile(r"\b(im|dem|der|diesem|den) (Text|Absatz|Artikel|Abschnitt|Passage)\b", re.I),
    "fr": re.compile(r"\b(le|ce|du|au) (texte|passage|paragraphe)\b|\bl[’']article\b", re.I),
    "es": re.compile(r"\b(el|este|del) (texto|pasaje|párrafo|artículo)\b", re.I),
    "it": re.compile(r"\b(il|nel|del|questo) (testo|brano|passaggio|paragrafo)\b", re.I),
    "zh": re.compile(r"(文中|上文|本文|这段|段落|文章中|短文)"),
    "ar": re.compile(r"(النص|الفقرة|المقال|المقطع)"),
    "fi": re.compile(r"\b(tekstin|tekstissä|kappaleen|artikkelin)\b", re.I),
}


def refusal_phrase(row: dict) -> Verdict:
    answer = row["llm_answer"].casefold()
    for phrase in _REFUSALS.get(row["lang"], ()) + _REFUSALS["en"]:
        if phrase in answer:
            return "refusal", f"the answer says {phrase!r}"
    return None


def question_mentions_passage(row: dict) -> Verdict:
    pattern = _PASSAGE_REFS.get(row["lang"])
    m = pattern.search(row["question"]) if pattern else None
    if m:
        return "question_mentions_passage", f"the question refers to {m.group(0)!r}"
    return None


def make_length_filter(max_answer_chars: int) -> Callable[[dict], Verdict]:
    def answer_too_long(row: dict) -> Verdict:
        n = len(row["llm_answer"])
        if n > max_answer_chars:
            return "answer_too_long", f"{n} characters, more than {max_answer_chars}"
        return None

    return answer_too_long


FILTERS: tuple[Callable[[dict], Verdict], ...] = (refusal_phrase, question_mentions_passage)
REASONS = ("refusal", "question_mentions_passage", "answer_too_long")


def run_filters(row: dict, *, max_answer_chars: int = 1500) -> Verdict:
    """The first filter's verdict that rejects `row`, else None."""
    for f in (*FILTERS, make_length_filter(max_answer_chars)):
        verdict = f(row)
        if verdict is not None:
            return verdict
    return None
