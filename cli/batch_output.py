"""The rows of what `--batch` did (`BatchRunStats`), for the summaries of `cli.output`."""

from __future__ import annotations

from typing import Any

__all__ = ["BATCH_FIELDS", "batch_rows"]

# (label, key of `BatchRunStats.to_dict()`)
BATCH_FIELDS = (
    ("rounds", "rounds"),
    ("batches", "batches"),
    ("lines sent", "lines_sent"),
    ("polls", "polls"),
    ("re-attached", "reattached"),
    ("in flight", "in_flight"),
    ("repair turns", "repairs"),
    ("sent online after", "fallback_online"),
)


def batch_rows(stats: dict[str, Any]) -> list[tuple[str, str]]:
    """The (label, value) rows of one model's batch statistics."""
    return [(label, f"{stats.get(key, 0):,}") for label, key in BATCH_FIELDS]
