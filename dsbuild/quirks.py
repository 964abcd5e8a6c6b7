"""Warnings for release quirks: one rule for `validate`, every reader and every converter.

A record is **invalid** when it is wrong: a field missing or of the wrong type, a span
outside its text, an error flag that contradicts its fields. A **quirk** is something a
published release does that is not how the format is specified, but that can be read
faithfully without guessing: a list stored as a string holding a Python list, a label
written in the release's own language, a stray separator line after the last sentence, an
empty spreadsheet row. A quirk is read as the release has it and reported as a warning with
its code; the record stays valid (exit 0). `--strict` turns every warning into an error.

Schemas emit warnings through pydantic's validation context (`collecting(...)` gives the
context dict; `Problems.warn` and `warn_in` write into it), so every caller that validates a
record with that context sees the same warnings; readers that find quirks outside a schema
(empty spreadsheet rows) add them to the same `Warnings` collector.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dsbuild.errors import InvalidRecordsError

__all__ = ["WARNING_CODES", "Finding", "Quirk", "Warnings", "collecting", "found", "warn_in"]

# Every warning code, with what it means. A test keeps this table, the code and the README
# in step.
WARNING_CODES: dict[str, str] = {
    "list_as_string": "a list field holds a string with a Python or JSON list (as some releases "
    "store token lists); it is parsed",
    "error_type_outside_scheme": "an error type outside the 8-class scheme, kept verbatim (never "
    "dropped or guessed)",
    "error_sentence_partial": "the error sentence quotes a part of the numbered sentence (a "
    "numbered line holding several sentences); read as the erroneous part of that line",
    "trailing_separator": "a separator or blank line after the last numbered sentence; kept in "
    "the text, not part of any sentence",
    "empty_row": "a spreadsheet row with no cell filled; skipped",
}

_KEY = "dsbuild_warnings"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found, a defect or a quirk: where, which record and field, its
    code and a message (`dsbuild.validation.Problem` is the same class)."""

    locator: str
    record_id: str | None
    field: str | None
    reason: str
    message: str

    def line(self) -> str:
        rid = f" id={self.record_id}" if self.record_id is not None else ""
        fld = f" field={self.field}" if self.field else ""
        return f"{self.locator}{rid}{fld} [{self.reason}] {self.message}"


Quirk = Finding
"""A release quirk read faithfully (a warning)."""


@dataclass
class Warnings:
    """Warnings collected while reading; `records` counts the records that had any."""

    items: list[Quirk] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    records: int = 0

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, warning: Quirk) -> None:
        if warning.reason not in WARNING_CODES:
            raise ValueError(f"unknown warning code {warning.reason!r}: add it to WARNING_CODES")
        self.items.append(warning)
        self.by_reason[warning.reason] += 1

    def add_record(
        self, found: list[tuple[str | None, str, str]], locator: str, record_id: str | None
    ) -> None:
        """Add what `collecting` gathered for one record: (field, code, message) triples."""
        for fld, code, message in found:
            self.add(Quirk(locator, record_id, fld, code, message))
        if found:
            self.records += 1

    def summary(self) -> str:
        """`3 warning(s) in 2 record(s): list_as_string x3`."""
        reasons = ", ".join(f"{code} x{n}" for code, n in self.by_reason.most_common())
        return f"{len(self.items)} warning(s) in {self.records} record(s): {reasons}"

    def raise_if_strict(self, strict: bool, where: str) -> None:
        """With `strict`, any warning is an error (DSB303, exit 3)."""
        if strict and self.items:
            first = self.items[0]
            raise InvalidRecordsError(
                f"--strict: {where} has {self.summary()}; first: {first.line()}",
                "drop --strict to read release quirks as warnings, or fix the records",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "warnings": len(self.items),
            "warned_records": self.records,
            "by_reason": dict(sorted(self.by_reason.items())),
        }


def collecting() -> dict[str, Any]:
    """A fresh pydantic validation context that collects warnings (read them with `found`)."""
    return {_KEY: []}


def found(context: dict[str, Any] | None) -> list[tuple[str | None, str, str]]:
    """The (field, code, message) warnings a validation with `context` produced."""
    return list((context or {}).get(_KEY, []))


def warn_in(context: Any, field_name: str | None, code: str, message: str) -> None:
    """Record a warning in a validation context (no-op when the caller collects none)."""
    if code not in WARNING_CODES:
        raise ValueError(f"unknown warning code {code!r}: add it to WARNING_CODES")
    if isinstance(context, dict) and _KEY in context:
        context[_KEY].append((field_name, code, message))
