"""Ratings left out of an analysis because the sheet holds something outside the scheme.

A rating sheet is read as it is: a segment block whose category is not one of the scheme's
or whose rating is not 0-3/NA, a full-text rating outside 0-3, a row without its ids, is
*excluded*: named with its sheet row and column, counted by reason, and left out of every
figure. The rest of the sheet is read. `--strict` turns any exclusion into an error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EXCLUSION_REASONS", "Excluded", "Exclusions"]

EXCLUSION_REASONS: dict[str, str] = {
    "category_outside_scheme": "a segment category that is not idiom, pun, holiday, "
    "cultural concept or other (after normalising case, spaces, hyphens and plurals); "
    "the segment block is left out",
    "rating_out_of_range": "a rating that is not 0-3 (or NA, for segments); "
    "that rating is left out",
    "missing_category": "a segment block with a rating but no category; left out",
    "missing_segment": "a segment block filled in without its source segment; left out",
    "missing_id": "a row without a text id, model or target language; the row is left out",
    "invalid_row": "a row the long table's schema rejects (`RatingRow`); left out",
}


@dataclass(frozen=True, slots=True)
class Excluded:
    """One excluded row or segment block: where (`file:row 17, Segment 3 rating`), why, what."""

    locator: str
    reason: str
    message: str

    def line(self) -> str:
        return f"{self.locator} [{self.reason}] {self.message}"


@dataclass
class Exclusions:
    """What a reader left out, in sheet order, with counts by reason."""

    items: list[Excluded] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, locator: str, reason: str, message: str) -> None:
        if reason not in EXCLUSION_REASONS:
            raise ValueError(f"unknown exclusion reason {reason!r}: add it to EXCLUSION_REASONS")
        self.items.append(Excluded(locator, reason, message))
        self.by_reason[reason] += 1

    def summary(self) -> str:
        """`2 excluded: rating_out_of_range x1, category_outside_scheme x1`."""
        reasons = ", ".join(f"{code} x{n}" for code, n in self.by_reason.most_common())
        return f"{len(self.items)} excluded: {reasons}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "excluded": len(self.items),
            "excluded_by_reason": dict(sorted(self.by_reason.items())),
        }
