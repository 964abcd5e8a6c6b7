"""What a stage's work on one record can end in besides a new record: a rejection for a
reason about the record (`reject`), or `Pending` when the world failed instead.

A primitive (it imports nothing from dsbuild), so the code that does a stage's work, e.g.
`dsbuild.llm`'s results, can say "reject" or "pending" without importing the stage engine.
`dsbuild.stages` re-exports them; the builder contract is documented there.

`Deferred` and `Detached` are how work gathered across records (a Batch API round) reaches
the runner without the runner knowing what it is: a record whose work was queued raises
`Deferred` carrying the queue's `flush`; once a pass over the stage ends, the runner awaits
each queue's `flush` and runs the deferred records again. A `flush` that handed the work to
someone else and will not wait for it (`--detach`, an offline batch) raises `Detached`:
the run stops cleanly, keeping what is done, and the same command later picks it up.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Deferred", "Detached", "Pending", "Rejection", "reject"]


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


class Deferred(Pending):
    """Raised by a map function whose record waits for work queued across records (a
    request added to a Batch API round). `flush(task)` is an async callable that does the
    queued work (`task`: a progress task it may advance, or None); the runner calls each
    distinct `flush` once the pass over the stage has ended, then runs the deferred records
    again (see the module docstring). `release()`, if given, is called once the stage has
    no record waiting any more: what the queue kept for the stage's records can go.
    """

    def __init__(self, reason: str, flush, detail: str = "", *, release=None) -> None:
        super().__init__(reason, detail)
        self.flush, self.release = flush, release


class Detached(Exception):
    """Raised by a `Deferred` record's `flush` when the queued work was handed off and will
    not be waited for (batches submitted with `--detach`, batch files written for an offline
    tool): the run stops, keeping every finished record, and the message says how to go on.
    Not an error: the command exits 0."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
