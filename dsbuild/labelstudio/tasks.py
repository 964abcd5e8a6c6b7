"""Records → Label Studio tasks: one task per annotation unit, keyed, checked, pre-annotated.

A **unit** is what one task shows: a record, or a part of one (e.g. one of its
translations), as the dataset's annotation rounds (`AnnotationRounds.units`) cut it. Its
**key** names it for good (the record id, plus what tells the record's units apart): push
skips keys already in the project, pull maps tasks back by key.

Task data carries `dsbuild_key`, `dsbuild_record_id` and `dsbuild_check` (a hash of the
fields the annotator sees): pull recomputes the hash to notice a task edited in the UI,
or a record changed since the push. Span offsets cross into Label Studio as they are, in
code points: Label Studio's Text tag converts the browser's UTF-16 selection to code points
before it stores `start`/`end` (`fixCodePointsInRange` in its editor; measured in a real
browser with Label Studio 1.23.2, `tests/labelstudio/test_labelstudio_browser.py`), and
shows pre-annotations by code points too. Every span is checked: in bounds, and
`text[start:end] == surface` when Label Studio gives the surface.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dsbuild.errors import InputError
from dsbuild.labelstudio.hooks import Unit, annotated, rounds_for

__all__ = [
    "Unit",
    "check_of",
    "display_fields",
    "mark",
    "model_version_of",
    "record_id",
    "sample_keys",
    "span_from_ls",
    "span_to_ls",
    "task_data",
    "to_task",
    "units_of",
]


def __getattr__(name: str) -> Any:
    """`DATASETS`: the datasets with annotation rounds, asked of the registry on each use."""
    if name == "DATASETS":
        return annotated()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def record_id(record: Mapping[str, Any], dataset: str) -> str:
    """The record's id (the first of the dataset's id fields); InputError when there is none."""
    for name in rounds_for(dataset, for_records=True).id_fields:
        value = record.get(name)
        if value is not None and value != "":
            return str(value)
    raise InputError(
        f"a {dataset} record has no id: {json.dumps(record, ensure_ascii=False)[:80]}",
        "give every record an id",
        code="DSB303",
    )


def units_of(records: Iterable[Mapping[str, Any]], dataset: str) -> list[Unit]:
    """Every annotation unit of the records, in order; a repeated key is an InputError."""
    rounds = rounds_for(dataset, for_records=True)
    units: list[Unit] = []
    seen: dict[str, str] = {}
    for record in records:
        units.extend(rounds.units(record, record_id(record, dataset)))
    for unit in units:
        if unit.key in seen:
            raise InputError(
                f"two {dataset} annotation units share the key {unit.key!r}",
                "make record ids unique before pushing",
                code="DSB303",
            )
        seen[unit.key] = unit.record_id
    return units


# -- offsets ---------------------------------------------------------------------------------
def span_to_ls(text: str, start: int, end: int, *, where: str = "span") -> tuple[int, int]:
    """Code-point span → Label Studio span (code points too), checked (InputError DSB303)."""
    if not 0 <= start <= end <= len(text):
        raise InputError(
            f"{where}: span [{start}, {end}) is not within the text ({len(text)} characters)",
            "fix the record's span offsets",
            code="DSB303",
        )
    return start, end


def span_from_ls(
    text: str, start: int, end: int, surface: str | None = None, *, where: str = "span"
) -> tuple[int, int]:
    """Label Studio span (code points) → code points; checks bounds and the surface if given."""
    if start > end:
        raise InputError(
            f"{where}: span [{start}, {end}) ends before it starts",
            "re-select the span in Label Studio",
            code="DSB303",
        )
    if not 0 <= start <= end <= len(text):
        raise InputError(
            f"{where}: span [{start}, {end}) is not within the text ({len(text)} characters)",
            "the task text differs from the record (edited in the UI?); re-push the record",
            code="DSB303",
        )
    if surface is not None and text[start:end] != surface:
        raise InputError(
            f"{where}: span [{start}, {end}) covers {text[start:end][:40]!r}, "
            f"but Label Studio says {surface[:40]!r}",
            "the task text differs from the record (edited in the UI?); re-push the record",
            code="DSB303",
        )
    return start, end


# -- provenance -------------------------------------------------------------------------------
def model_version_of(
    record: Mapping[str, Any], dataset: str, translation: int | None = None
) -> str:
    """Label Studio's `model_version` for a pre-annotation: the model and prompt that made it.

    The dataset's `prediction_step` names the provenance entry (e.g. the step that tagged
    the spans); without one, its fallback (e.g. the record's own model field) or
    `dsbuild-<dataset>`.
    """
    rounds = rounds_for(dataset)
    prov, fallback = rounds.prediction_source(record, translation)
    step = rounds.prediction_step
    entry = prov.get(step) if step else None
    if isinstance(entry, Mapping) and (entry.get("model_answered") or entry.get("model_requested")):
        model = entry.get("model_answered") or entry.get("model_requested")
        template = entry.get("template_id") or step
        digest = str(entry.get("template_hash") or "")[:8]
        return f"{model} {template}@{digest}" if digest else f"{model} {template}"
    return fallback or f"dsbuild-{dataset}"


# -- task data --------------------------------------------------------------------------------
def _digest(values: Any) -> str:
    blob = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def display_fields(data: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The task data fields the annotator sees (what the check hashes)."""
    return {name: data.get(name) for name in rounds_for(dataset).display}


def check_of(data: Mapping[str, Any], dataset: str) -> str:
    """Hash of the displayed task data: differs when the task or its record changed."""
    return _digest(display_fields(data, dataset))


def mark(text: str, start: int | None, end: int | None) -> str:
    """HTML of `text` (whitespace kept) with [start, end) highlighted."""
    if start is None or end is None:
        body = html.escape(text)
    else:
        body = (
            html.escape(text[:start])
            + "<mark>"
            + html.escape(text[start:end])
            + "</mark>"
            + html.escape(text[end:])
        )
    return f'<div style="white-space: pre-wrap">{body}</div>'


def task_data(unit: Unit, dataset: str) -> tuple[dict[str, Any], list[dict]]:
    """The task's data (with the dsbuild keys) and its pre-annotation result (may be empty)."""
    data, result = rounds_for(dataset).task(unit)
    data.update(
        dsbuild_key=unit.key,
        dsbuild_record_id=unit.record_id,
        dsbuild_check=check_of(data, dataset),
    )
    return data, result


def to_task(unit: Unit, dataset: str) -> dict[str, Any]:
    """The import payload of one task: data, and the model's output as a prediction."""
    data, result = task_data(unit, dataset)
    task: dict[str, Any] = {"data": data}
    if result:
        task["predictions"] = [
            {
                "model_version": model_version_of(unit.record, dataset, unit.translation),
                "result": result,
            }
        ]
    return task


def sample_keys(keys: Sequence[str], n: int | None, seed: int) -> set[str]:
    """A stable sample of `n` keys: the same seed picks the same keys on every push."""
    if n is None or n >= len(keys):
        return set(keys)
    ranked = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}\x00{k}".encode()).hexdigest())
    return set(ranked[:n])
