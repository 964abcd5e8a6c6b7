"""The explicit `datasets.Features` of an exported dataset: its export hook's `features()`.

Conventions every dataset's features follow: spans that index a text are `[start, end)`
pairs of int64 (`List(List(int64, length=2))`) where the record format has pairs; where the
format names the ends the names are kept so exported JSONL still validates against the
record schemas. Closed vocabularies are `ClassLabel`s (null when unknown). Nested
provenance and metadata, whose keys vary by model and source, are JSON strings.
"""

from __future__ import annotations

from typing import Any

from dsbuild.hub.hooks import hooks_for

__all__ = ["features_for"]


def features_for(dataset: str) -> Any:
    """The `datasets.Features` of `dataset`'s exported rows."""
    return hooks_for(dataset).features()
