"""The protocol between the shared Label Studio layer and one dataset's annotation rounds.

Each dataset's spec names its rounds object (`DatasetSpec.annotation`, a lazy
`"dsbuild.<dataset>.rounds:ROUNDS"`); `push`, `pull`, `tasks`, `results`, `reconcile`
and `agreement` ask `rounds_for(dataset)` for it and call only what is below. They never
test a dataset's name. A dataset subclasses `AnnotationRounds` and overrides what differs
from the defaults:

    what the annotator sees      interface()                       the labelling config
    records → tasks              id_fields, units(record, rid)     one unit per record by default
                                 task(unit) → (data, result)       data and pre-annotation result
                                 display                           data keys `dsbuild_check` hashes
    pre-annotation provenance    prediction_step                   provenance step that made them
                                 prediction_source(record, t)      (provenance, fallback version)
    tasks → values               parse_result(unit, result, where) one annotator's values
    values → records             reconcile(unit, values, method)   record, disagreements
                                 attach(record, unit, block)       where the round's metadata goes
    agreement                    unit_info(unit), agreement(units, raters)

Only `interface`, `task`, `parse_result` and `reconcile` have no default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dsbuild.labelstudio.interfaces import Interface

__all__ = ["AnnotationRounds", "Unit", "annotated", "rounds_for"]

Values = Mapping[str, Mapping[str, Any]]  # annotator -> parsed values, for one unit


@dataclass
class Unit:
    """One task's worth of a record: its key, the record, and (when a record holds several
    things to judge, e.g. translations) which one; `extra` is the dataset's own."""

    key: str
    record_id: str
    record: dict[str, Any]
    translation: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class AnnotationRounds:
    """One dataset's annotation rounds: defaults for a dataset whose record is one task."""

    id_fields: tuple[str, ...] = ("id",)
    """Record fields holding its id, tried in order."""

    display: tuple[str, ...] = ()
    """Task data keys the annotator sees: what `dsbuild_check` hashes."""

    prediction_step: str | None = None
    """The provenance step whose output the pre-annotation shows (None: no such step)."""

    # -- interface and tasks ----------------------------------------------------------------
    def interface(self) -> Interface:
        """The labelling config and the annotator instructions."""
        raise NotImplementedError

    def units(self, record: Mapping[str, Any], record_id: str) -> list[Unit]:
        """The record's annotation units, each with its key (default: the record, by id)."""
        return [Unit(record_id, record_id, dict(record))]

    def task(self, unit: Unit) -> tuple[dict[str, Any], list[dict]]:
        """The task data the interface reads and the pre-annotation result (may be empty)."""
        raise NotImplementedError

    def prediction_source(
        self, record: Mapping[str, Any], translation: int | None
    ) -> tuple[Mapping[str, Any], str]:
        """(provenance by step, the model version to use without provenance)."""
        prov = record.get("provenance") or (record.get("metadata") or {}).get("provenance") or {}
        return prov, ""

    # -- annotations back ------------------------------------------------------------------------
    def parse_result(
        self, unit: Unit, result: Sequence[Mapping[str, Any]], where: str
    ) -> dict[str, Any]:
        """The values one annotation gives the unit; InputError naming `where` if unreadable."""
        raise NotImplementedError

    def reconcile(self, unit: Unit, values: Values, method: str) -> tuple[dict, list[dict]]:
        """The unit's record with the annotators' values written in, and the disagreements."""
        raise NotImplementedError

    def attach(self, record: dict[str, Any], unit: Unit, block: dict[str, Any]) -> None:
        """Keep the round's metadata block in the reconciled record (default: `annotation`)."""
        record["annotation"] = block

    def unit_info(self, unit: Unit) -> Any:
        """What `agreement` needs to know of a unit besides the values (default: nothing)."""
        return None

    def agreement(self, units: Sequence[tuple[Any, Values]], raters: list[str]) -> dict[str, Any]:
        """Agreement per field; `units` are (unit_info, values by annotator)."""
        return {}


def rounds_for(dataset: str, *, for_records: bool = False) -> AnnotationRounds:
    """The dataset's annotation rounds (its spec's `annotation` hook).

    An unknown dataset, or one without annotation rounds, is a UsageError DSB105, or an
    InputError DSB303 when the dataset name came with records (`for_records`), naming the
    datasets that have them.
    """
    from dsbuild.datasets import get
    from dsbuild.errors import ConfigError, InputError, UsageError

    try:
        rounds = get(dataset).hook("annotation")
    except ConfigError:
        rounds = None
    if rounds is None:
        hint = f"use one of {', '.join(annotated())}"
        if for_records:
            raise InputError(
                f"no Label Studio interface for dataset {dataset!r}", hint, code="DSB303"
            )
        raise UsageError(f"dataset {dataset!r} has no Label Studio interface", hint, code="DSB105")
    return rounds


def annotated() -> tuple[str, ...]:
    """The datasets with annotation rounds, in the registry's order."""
    from dsbuild.datasets import get, names
    from dsbuild.errors import DsbuildError

    found = []
    for name in names():
        try:
            if get(name).annotation is not None:
                found.append(name)
        except DsbuildError:  # a built-in dataset missing from this installation
            continue
    return tuple(found)
