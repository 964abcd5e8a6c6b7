"""Reconcile several annotators: spans (union, intersection, majority, soft labels) and
ratings (majority, median), with every disagreement listed for adjudication.

Generic functions first; then `reconcile_unit`, which has the dataset's annotation rounds
(`AnnotationRounds.reconcile`) write one unit's human annotations into its record the way
the dataset keeps them (see `dsbuild.<dataset>.rounds`).

Every unit also gets `annotation` metadata: project, task, annotators with their
annotation ids and timestamps, and each annotator's raw values; the rounds' `attach` says
where it goes (the record's `annotation` by default).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dsbuild.labelstudio.hooks import Unit, rounds_for
from dsbuild.span_labels import (
    chars_of,
    hard_from_soft,
    soft_from_annotations,
    spans_of,
)

__all__ = [
    "SPAN_METHODS",
    "disagreement",
    "majority_vote",
    "median_rating",
    "rating_block",
    "reconcile_spans",
    "reconcile_unit",
]

SPAN_METHODS = ("majority", "union", "intersection")
NA = "NA"


def reconcile_spans(per_annotator: Mapping[str, Sequence[Sequence[int]]]) -> dict[str, Any]:
    """Union, intersection, strict majority (> half) and soft labels of annotators' spans."""
    sets = [chars_of(spans) for spans in per_annotator.values()]
    union = set().union(*sets) if sets else set()
    inter = set.intersection(*sets) if sets else set()
    soft = soft_from_annotations(per_annotator) if per_annotator else []
    return {
        "union": spans_of(union),
        "intersection": spans_of(inter),
        "majority": hard_from_soft(soft),
        "soft": soft,
    }


def majority_vote(values: Iterable[Any]) -> tuple[Any, bool]:
    """(the most frequent value or None on a tie, whether everyone agreed). Missing values
    (None) are not votes."""
    votes = Counter(v for v in values if v is not None)
    if not votes:
        return None, True
    ranked = votes.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, False
    return ranked[0][0], len(ranked) == 1


def median_rating(values: Iterable[Any]) -> Any:
    """The median of ordinal ratings (the lower one of two middles, so it stays on the scale);
    NA when NA is the majority answer, else NA ratings are left out."""
    given = [v for v in values if v is not None]
    if not given:
        return None
    na = sum(1 for v in given if v == NA)
    if na * 2 > len(given):
        return NA
    numbers = [int(v) for v in given if v != NA]
    return statistics.median_low(numbers) if numbers else NA


def rating_block(votes: Mapping[str, Any]) -> dict[str, Any]:
    """Majority, median, unanimity and the votes of one rated item."""
    majority, unanimous = majority_vote(votes.values())
    return {
        "majority": majority,
        "median": median_rating(votes.values()),
        "unanimous": unanimous,
        "votes": dict(votes),
    }


def disagreement(unit: Unit, field: str, votes: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """One line of `disagreements.jsonl`: the unit, the field and each annotator's vote."""
    return {
        "key": unit.key,
        "record_id": unit.record_id,
        "field": field,
        "votes": dict(votes),
        **extra,
    }


def reconcile_unit(
    dataset: str,
    unit: Unit,
    values: Mapping[str, dict],
    meta: Mapping[str, Any],
    *,
    method: str = "majority",
) -> tuple[dict, list[dict]]:
    """The unit's record with the annotations written in, and its disagreements.

    `values` maps annotator → parsed values; `meta` (project, task, annotators, ...) is kept
    as the record's `annotation` block (where the dataset's `attach` puts it).
    """
    rounds = rounds_for(dataset)
    record, disagreements = rounds.reconcile(unit, values, method)
    block = {**meta, "method": method, "values": {a: _jsonable(v) for a, v in values.items()}}
    rounds.attach(record, unit, block)
    return record, disagreements


def _jsonable(value: Any) -> Any:
    """Dict keys as strings (segment and entity indices), for JSON files."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
