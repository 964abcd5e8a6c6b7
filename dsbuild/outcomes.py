"""What a stage's work on one record can end in besides a new record: a rejection for a
reason about the record (`reject`), or `Pending` when the world failed instead.

A primitive (it imports nothing from dsbuild), so the code that does a stage's work, e.g.
`dsbuild.llm`'s results, can say "reject" or "pending" without importing the stage engine.
`dsbuild.stages` re-exports all three names; the builder contract is documented there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Pending", "Rejection", "reject"]


@dataclass(frozen=True)
class Rejection:
    """What a map function returns to drop a record with a reason (see `reject`)."""

    reason: str
    detail: str = ""


def reject(reason: str, detail: str = "") -> Rejection:
    """Reject the current record: `reason` is a short code (`too_short`), `detail` free text."""
    return Rejection(reason, detail)


class Pending(Exception):
    """Raised by a map function when its record could not be processed for a reason outside
    the record (a service down, a timeout): the record is neither kept nor rejected, and the
    next run of the same command retries it.

    `reason` is a short code (`llm_connection`); `output`, if given, is written for now in
    the record's place (e.g. `llm run`'s failed line, so its output lines up with its input)
    and replaced when the retry succeeds.
    """

    def __init__(
        self, reason: str, detail: str = "", *, output: dict | list[dict] | None = None
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail, self.output = reason, detail, output
