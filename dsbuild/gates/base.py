"""What every gate returns: a `Verdict` (kept, rejected with a reason, abstained, unchecked).

A gate looks at one text (a field of a record) and says keep or reject-with-reason, as
datatrove's filters do; it may also repair the text (hygiene) or decline to judge:

    kept        the text passed
    rejected    `reason` (a short code) and `detail` (free text) say why
    abstained   too little text to judge: kept, and counted apart
    unchecked   the gate cannot judge this language (the model does not know it): kept

`Verdict.as_stage_result()` turns it into what a map stage returns (see dsbuild.stages).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["Gate", "Status", "Verdict", "field_value"]

Status = Literal["kept", "rejected", "abstained", "unchecked"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One gate's judgement of one text."""

    status: Status = "kept"
    reason: str = ""
    detail: str = ""
    detected: str | None = None  # language ID: the detected language
    score: float | None = None  # language ID: the requested language's probability
    text: str | None = None  # hygiene: the repaired text, when it changed
    repairs: tuple[str, ...] = field(default=())
    duplicate_of: str | None = None  # dedup: the id of the first occurrence

    @property
    def keep(self) -> bool:
        return self.status != "rejected"

    @staticmethod
    def reject(reason: str, detail: str = "", **extra: Any) -> Verdict:
        return Verdict("rejected", reason, detail, **extra)


class Gate(Protocol):
    """A gate: `check(text, lang=..., record=...)` → Verdict; `reasons` lists its codes."""

    name: str
    reasons: tuple[str, ...]

    def check(
        self, text: str, *, lang: str | None = None, record: dict | None = None
    ) -> Verdict: ...


_MISSING = object()


def field_value(record: dict, path: str) -> Any:
    """`record[path]`, where a dotted path walks nested dicts (`provenance.answer.model`) and
    list indices (`translations.0.text`); a missing step gives `None`."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            value = _MISSING
        if value is _MISSING:
            return None
    return value
