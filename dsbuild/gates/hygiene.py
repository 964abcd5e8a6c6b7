"""Text hygiene: repair what can be repaired, reject what cannot, and say which.

Repairs (the text is changed and each kind recorded):

    mojibake        UTF-8 decoded as Latin-1/Windows-1252 and the like, undone by `ftfy`
    control_chars   C0/C1 control characters other than tab, newline and CR removed
    nfc             Unicode NFC normalisation

Rejections (reason codes):

    missing_field         the field is absent or null
    empty_field           the field is empty or only whitespace
    too_short / too_long  outside [min_chars, max_chars] (after repair, spaces trimmed)
    truncated_generation  the model stopped at its token limit (finish reason `length`, read
                          from the record or from any step of its `provenance`)
    leftover_markup       HTML tags, markdown code fences, bracket tags like [HAL]...[/HAL],
                          or a chat-role prefix ("ASSISTANT:") left in generated text
    mojibake              text that still looks mis-decoded after repair
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from dsbuild.gates.base import Verdict

__all__ = ["MARKUP_KINDS", "HygieneGate", "find_markup", "finish_reasons"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MARKUP = {
    "html": re.compile(
        r"</?[A-Za-z][A-Za-z0-9-]{0,20}(?:\s+[^<>]{0,200})?/?>|&(?:lt|gt|amp|"
        r"quot|nbsp|#\d{2,6}|#x[0-9a-fA-F]{2,6});"
    ),
    "fence": re.compile(r"```|~~~"),
    "bracket_tag": re.compile(r"\[/?[A-Z][A-Z_]{1,15}\]"),
    "role_prefix": re.compile(r"^\s*(?:assistant|user|system|human|ai|answer)\s*:", re.IGNORECASE),
}
MARKUP_KINDS = tuple(_MARKUP)


def find_markup(text: str, kinds: Iterable[str] = MARKUP_KINDS) -> tuple[str, str] | None:
    """(kind, matched text) of the first leftover markup of the given kinds, else None."""
    for kind in kinds:
        m = _MARKUP[kind].search(text)
        if m:
            return kind, m.group(0)
    return None


def finish_reasons(record: dict | None) -> dict[str, str]:
    """Finish reasons a record carries: its own `finish_reason`, and one per provenance step
    that has one (`{"answer": "length"}`)."""
    if not record:
        return {}
    found = {}
    if isinstance(record.get("finish_reason"), str):
        found["record"] = record["finish_reason"]
    prov = record.get("provenance")
    if isinstance(prov, dict):
        if isinstance(prov.get("finish_reason"), str):
            found["provenance"] = prov["finish_reason"]
        for step, value in prov.items():
            if isinstance(value, dict) and isinstance(value.get("finish_reason"), str):
                found[step] = value["finish_reason"]
    return found


class HygieneGate:
    """Repair and check one text field (see the module docstring).

    `markup`: the kinds of leftover markup to reject (drop `bracket_tag` where [HAL]-style
    tags are expected); `steps`: the provenance steps whose finish reason counts (None: any);
    `repair`: False to check only, never change the text.
    """

    name = "hygiene"
    reasons = (
        "missing_field",
        "empty_field",
        "too_short",
        "too_long",
        "truncated_generation",
        "leftover_markup",
        "mojibake",
    )

    def __init__(
        self,
        *,
        min_chars: int = 1,
        max_chars: int | None = None,
        markup: Iterable[str] = MARKUP_KINDS,
        steps: Iterable[str] | None = None,
        repair: bool = True,
        check_truncation: bool = True,
    ) -> None:
        self.min_chars, self.max_chars = min_chars, max_chars
        self.markup = tuple(markup)
        unknown = set(self.markup) - set(MARKUP_KINDS)
        if unknown:
            from dsbuild.errors import ConfigError

            raise ConfigError(
                f"unknown markup kinds {sorted(unknown)}",
                f"use some of {', '.join(MARKUP_KINDS)}",
                code="DSB103",
            )
        self.steps = None if steps is None else frozenset(steps)
        self.repair, self.check_truncation = repair, check_truncation

    def check(
        self, text: str | None, *, lang: str | None = None, record: dict | None = None
    ) -> Verdict:
        if text is None:
            return Verdict.reject("missing_field", "the field is absent or null")
        if not isinstance(text, str):
            text = str(text)
        repairs: list[str] = []
        fixed = text
        if self.repair:
            fixed, repairs = _repair(text)
        if not fixed.strip():
            return Verdict.reject(
                "empty_field", "the field is empty or only whitespace", repairs=tuple(repairs)
            )
        if self.check_truncation:
            for step, reason in finish_reasons(record).items():
                if reason == "length" and (self.steps is None or step in self.steps):
                    return Verdict.reject(
                        "truncated_generation", f"finish reason 'length' at step {step!r}"
                    )
        n = len(fixed.strip())
        if n < self.min_chars:
            return Verdict.reject("too_short", f"{n} characters, fewer than {self.min_chars}")
        if self.max_chars is not None and n > self.max_chars:
            return Verdict.reject("too_long", f"{n} characters, more than {self.max_chars}")
        found = find_markup(fixed, self.markup)
        if found:
            return Verdict.reject("leftover_markup", f"{found[0]}: {found[1]!r}")
        from ftfy.badness import is_bad

        if is_bad(fixed):
            return Verdict.reject("mojibake", "the text still looks mis-decoded after repair")
        return Verdict("kept", text=fixed if fixed != text else None, repairs=tuple(repairs))


def _repair(text: str) -> tuple[str, list[str]]:
    import ftfy

    repairs = []
    fixed = ftfy.fix_encoding(text)
    if fixed != text:
        repairs.append("mojibake")
    cleaned = _CONTROL.sub("", fixed)
    if cleaned != fixed:
        repairs.append("control_chars")
    normal = unicodedata.normalize("NFC", cleaned)
    if normal != cleaned:
        repairs.append("nfc")
    return normal, repairs
