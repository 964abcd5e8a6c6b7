"""The question stem as the body of a MedRECT record: its sentences (Japanese and English),
without the question itself, and the few helpers that size and constrain what a model
writes after it.

A clinical exam question is already a vignette: presentation, history, findings, results,
then the question ("Which is the most appropriate next step?", "適切な治療薬はどれか。").
`stem_sentences` splits it and keeps the vignette, so a record built on it keeps every
number and finding of the question by construction; `question_sentences` gives what was
dropped (it tells the model which decision the record must end with).

The splitter is rule based on purpose: vignettes are short, regular texts, and a rule
splitter needs no model. It breaks after `。！？` and after `. ! ?` followed by a space and a
capital, a digit or a CJK character; decimals (`38.6`), abbreviations (`Dr.`, `e.g.`,
`approx.`) and text inside brackets are not broken.
"""

from __future__ import annotations

import json
import math
import re

__all__ = [
    "choice_pattern",
    "is_question",
    "question_sentences",
    "split_sentences",
    "stem_sentences",
    "text_pattern",
    "token_budget",
    "tokens_per_char",
]

_OPEN, _CLOSE = "(（「『[【", ")）」』]】"
# Abbreviations a sentence rarely ends with (units such as "min." often do end one).
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "prof", "st", "no", "vs", "approx", "e.g", "i.e", "etc", "fig", "cf"}
)
_QUESTION_JA = re.compile(
    r"(?:どれか|何か|なにか|選べ|答えよ|求めよ|はどこか|いくつか|か)[。．.]?$"
)
_QUESTION_EN = re.compile(
    r"^(?:which|what|who|where|when|how|select|choose)\b.*[?:]?$", re.IGNORECASE
)


def _is_cjk(ch: str) -> bool:
    return "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uff66" <= ch <= "\uff9f"


def split_sentences(text: str) -> list[str]:
    """The sentences of a text (Japanese or a Latin-script language), whitespace collapsed."""
    text = " ".join(text.split())
    out: list[str] = []
    start = depth = 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        if depth:
            continue
        end = None
        if ch in "。！？":
            end = i + 1
        elif ch in ".!?" and (i + 1 == len(text) or text[i + 1] == " "):
            nxt = text[i + 2] if i + 2 < len(text) else ""
            word = text[start:i].rsplit(" ", 1)[-1].casefold()
            if i + 1 == len(text) or (
                nxt
                and (nxt.isupper() or nxt.isdigit() or _is_cjk(nxt) or nxt in _OPEN)
                and (ch != "." or word not in _ABBREVIATIONS)
            ):
                end = i + 1
        if end is not None:
            piece = text[start:end].strip()
            if piece:
                out.append(piece)
            start = end
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def is_question(sentence: str) -> bool:
    """True for the question or instruction of an exam item, not part of the vignette."""
    s = sentence.strip()
    if not s:
        return False
    if s.endswith(("?", "？")):
        return True
    if any(_is_cjk(ch) for ch in s):
        return bool(_QUESTION_JA.search(s))
    return bool(_QUESTION_EN.match(s)) and not s.endswith(".")


def stem_sentences(question: str) -> list[str]:
    """The vignette's sentences: the question's sentences without the question itself."""
    return [s for s in split_sentences(question) if not is_question(s)]


def question_sentences(question: str) -> list[str]:
    """The question's own sentences (what the exam asks), in order."""
    return [s for s in split_sentences(question) if is_question(s)]


def tokens_per_char(sample: str) -> float:
    """Tokens per character of a text in this script, by `dsbuild.llm.tokens` (CJK ~1,
    Latin ~0.25)."""
    from dsbuild.llm.tokens import estimate_tokens

    return estimate_tokens(sample) / max(1, len(sample)) if sample else 0.25


def token_budget(sample: str, chars: int, *, overhead: int = 40, factor: float = 3.0) -> int:
    """max_tokens for an answer holding up to `chars` characters in the script of `sample`.

    `factor` covers tokenizers worse than the estimate: SmolLM2 spends 1.5-1.9 tokens on a
    Japanese character on average and 3 (its UTF-8 bytes) on a rare kanji, ~0.27 on an
    English one, but a whole token on each digit or odd symbol of a rambling answer, so a
    character never gets less than one token; `overhead` the JSON keys and short fields. A
    grammar-bound answer (maxLength) then closes its JSON before max_tokens; for a capable
    model the budget is only a cap."""
    return math.ceil(chars * max(1.0, factor * tokens_per_char(sample))) + overhead


_REGEX_SPECIAL = re.compile(r"([.$*+?(){}|])")
_REGEX_ESCAPED = re.compile(r"([\\\[\]^])")
# Any character a JSON string may hold unescaped (llama-cpp-python's JSON grammar lets raw
# control characters such as line breaks into strings, which JSON forbids).
_FREE = r'[^"\\\x00-\x1f]'
_BOUNDARY = r'[^"\\\x00-\x1fA-Za-z0-9]'  # a character that cannot continue a Latin word


def text_pattern(max_chars: int) -> str:
    """A `pattern` for free text of at most `max_chars` characters that a grammar backend
    cannot break with raw control characters (for grammar backends, like `choice_pattern`)."""
    return f"^{_FREE}{{0,{int(max_chars)}}}$"


def _literal(text: str) -> str:
    """`text` as a pattern over its JSON-escaped form (what a grammar emits)."""
    escaped = _REGEX_ESCAPED.sub(r"\\\1", json.dumps(text, ensure_ascii=False)[1:-1])
    return _REGEX_SPECIAL.sub(r"[\1]", escaped)


def choice_pattern(choice: str, before: int, after: int, *, lead: str | None = None) -> str | None:
    """A `pattern` for a string that contains `choice` (its first letter in either case, as
    whole words in a Latin script) with at most `before`/`after` other characters around
    it; with `lead`, the string starts with exactly that text instead (the sentence being
    rewritten up to its old choice: the new one then differs only from the choice on).
    None when the choice or lead holds characters JSON escapes (quotes, backslashes),
    which the pattern cannot mirror.

    For grammar backends only (llama.cpp turns `pattern` into grammar rules): the local
    model then cannot leave the choice out. Remote endpoints get no pattern; `check`
    rejects their sentences that do not state the choice (`choice_not_stated`)."""
    choice = " ".join(choice.split())
    if not choice or any(
        json.dumps(t, ensure_ascii=False)[1:-1] != t for t in (choice, lead or "")
    ):
        return None
    head, tail = choice[0], choice[1:]
    if head.lower() != head.upper():
        first = f"[{head.upper()}{head.lower()}]"
    else:
        first = _literal(head)
    core = first + _literal(tail)
    if any(_is_cjk(ch) for ch in choice) or before < 1 or after < 1:
        head_part = _literal(lead) if lead is not None else f"{_FREE}{{0,{before}}}"
        return f"^{head_part}{core}{_FREE}{{0,{after}}}$"
    # Latin script: the choice stands as words (a space or bracket before, no letter after),
    # so a small model cannot glue it to the word it was writing ("theTOTPrimary").
    if lead is not None:
        head_part = _literal(lead) if not lead or lead[-1] in " (" else _literal(lead) + "[ ]"
    else:
        head_part = f"({_FREE}{{0,{before - 1}}}[ (])?"
    return f"^{head_part}{core}({_BOUNDARY}{_FREE}{{0,{after - 1}}})?$"
