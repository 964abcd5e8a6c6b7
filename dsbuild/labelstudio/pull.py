"""Pull a round's annotations back into the run: map, check, reconcile, measure agreement.

One snapshot export (with the annotators' identities) is saved as it came before anything
is read from it; then each annotated task is mapped back to its unit by `dsbuild_key`,
checked (task edited in the UI? record changed since the push? task never pushed from
this run?), each annotation parsed (spans in code points, bounds and surfaces checked), the
annotators reconciled, and everything written to a new `RUN/annotation/pulls/NNN/`. A
task or annotation that cannot be used is left out with a one-line reason in
`problems.jsonl`; earlier pulls are never touched.

Two checks keep a pull honest about who annotated what and how far the round got:

- an annotation changed by another user than its annotator (`updated_by` ≠
  `completed_by`, e.g. a second annotator who opened the task from the Data Manager got the
  first one's annotation and saved into it) is a problem naming both user ids, and is left
  out unless `accept_edited` (then it is used, credited to `completed_by`, and marked). An
  annotation written by one user for another (a scripted import: `updated_by` is the
  importer from the moment it was created) is not an edit;
- a task with fewer usable annotations than the project's overlap is *incomplete*: listed
  in `incomplete.jsonl` and left out of `records.jsonl` unless `include_incomplete` (then
  kept, its `annotation` block marked `"incomplete": true`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError
from dsbuild.labelstudio.state import AnnotationState, load_records, now
from dsbuild.runs.jsonl import write_jsonl

__all__ = ["PullSummary", "annotator_status", "edited_by", "pull_run"]

# An annotation whose `updated_at` is within this of its `created_at` was never changed
# after it was submitted (a scripted import sets `updated_by` to the importer at creation).
_SAME_MOMENT_S = 2.0


@dataclass
class PullSummary:
    """What one pull found and wrote."""

    url: str
    project: int
    pull: int
    folder: str
    tasks_exported: int
    annotations: int
    annotators: list[str]
    records_annotated: int
    units_annotated: int
    disagreements: int
    problems: int
    agreement: dict[str, Any]
    seconds: float
    problem_lines: list[str] = field(default_factory=list)
    overlap: int = 1
    incomplete: int = 0
    """Tasks with fewer usable annotations than the overlap."""
    incomplete_kept: bool = False
    edited: int = 0
    """Annotations changed by another user than their annotator."""
    edited_accepted: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problem_lines"] = data["problem_lines"][:20]
        return data


def pull_run(
    run_dir: Path,
    dataset: str,
    client,
    *,
    method: str = "majority",
    include_predictions_only: bool = False,
    accept_edited: bool = False,
    include_incomplete: bool = False,
) -> PullSummary:
    """Pull every submitted annotation of the run's project; see the module docstring."""
    from dsbuild.errors import UsageError
    from dsbuild.labelstudio.agreement import round_agreement
    from dsbuild.labelstudio.hooks import rounds_for
    from dsbuild.labelstudio.reconcile import SPAN_METHODS, reconcile_unit
    from dsbuild.labelstudio.results import annotator_of, parse_result
    from dsbuild.labelstudio.tasks import Unit, check_of, task_data, units_of
    from dsbuild.runs.jsonl import atomic_write_json

    if method not in SPAN_METHODS:
        raise UsageError(
            f"--method {method} is not a way to reconcile spans",
            f"use one of {', '.join(SPAN_METHODS)}",
        )
    started = time.monotonic()
    state = AnnotationState(Path(run_dir))
    info = state.require_project(dataset)
    project = int(info["project"])
    if info.get("url") and info["url"] != client.url:
        raise UsageError(
            f"run {run_dir} was pushed to {info['url']}, not {client.url}",
            "set LABEL_STUDIO_URL (or --url) to that server",
        )
    records = load_records(run_dir, dataset)
    units = {u.key: u for u in units_of(records, dataset)}
    rounds = rounds_for(dataset)

    client.check_server()  # another program on the port is named, not read as a 404
    details = client.get_project(project)  # a deleted project fails here, naming it
    overlap = max(1, int(details.get("maximum_annotations") or info.get("overlap") or 1))
    exported = client.export_snapshot(project)
    number, folder = state.new_pull_dir()
    atomic_write_json(folder / "export.json", exported)

    problems: list[dict[str, Any]] = []

    def problem(task: Any, key: Any, reason: str, message: str) -> None:
        problems.append({"task": task, "key": key, "reason": reason, "message": message})

    by_record: dict[str, list[tuple[Unit, dict, dict]]] = defaultdict(list)
    incomplete: list[dict[str, Any]] = []
    edited = 0
    annotation_rows: list[dict[str, Any]] = []
    agreement_units: list[tuple[Any, dict]] = []
    for task in exported:
        task_id = task.get("id")
        data = task.get("data") or {}
        key = data.get("dsbuild_key")
        where = f"task {task_id} of project {project} at {client.url}"
        unit = units.get(str(key)) if key is not None else None
        if unit is None:
            problem(
                task_id,
                key,
                "not_pushed",
                f"{where} is not a task dsbuild pushed from {run_dir} "
                f"({'no dsbuild_key' if key is None else f'unknown key {key!r}'}); "
                "its annotations were left out",
            )
            continue
        pushed_check = data.get("dsbuild_check")
        if check_of(data, dataset) != pushed_check:
            problem(
                task_id,
                key,
                "task_edited",
                f"{where} (record {unit.record_id}) was edited in Label Studio after the push, "
                "so its offsets cannot be trusted; left out — restore the task data or delete the "
                "task and push again",
            )
            continue
        record_data, _ = task_data(unit, dataset)
        if record_data["dsbuild_check"] != pushed_check:
            problem(
                task_id,
                key,
                "record_changed",
                f"record {unit.record_id} changed in {run_dir} since {where} was pushed; "
                "left out — push the changed record to a new project (--new-project)",
            )
            continue
        values: dict[str, dict] = {}
        annotators: list[dict[str, Any]] = []
        latest: dict[str, dict] = {}  # two annotations by one person: the later one counts
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            name, _ = annotator_of(annotation)
            if name not in latest or str(annotation.get("updated_at")) >= str(
                latest[name].get("updated_at")
            ):
                latest[name] = annotation
        for name, annotation in latest.items():
            _, user_id = annotator_of(annotation)
            editor = edited_by(annotation)
            if editor is not None:
                edited += 1
                problem(
                    task_id,
                    key,
                    "edited_by_other",
                    f"annotation {annotation.get('id')} on {where} was completed by user "
                    f"{user_id} ({name}) but last changed by user {editor}: "
                    + (
                        f"used as user {user_id}'s (--accept-edited)"
                        if accept_edited
                        else "left out — the second annotator probably opened the task from "
                        "the Data Manager and saved into the first one's annotation; have them "
                        "annotate through 'Label All Tasks', or pull with --accept-edited"
                    ),
                )
                if not accept_edited:
                    continue
            try:
                parsed = parse_result(
                    dataset,
                    unit,
                    annotation.get("result") or [],
                    where=f"annotation {annotation.get('id')} on {where}",
                )
            except InputError as exc:
                problem(task_id, key, "bad_annotation", exc.what)
                continue
            meta = {
                "annotator": name,
                "user_id": user_id,
                "annotation_id": annotation.get("id"),
                "created_at": annotation.get("created_at"),
                "updated_at": annotation.get("updated_at"),
                "lead_time": annotation.get("lead_time"),
            }
            if editor is not None:
                meta["edited_by"] = editor
            values[name] = parsed
            annotators.append(meta)
            annotation_rows.append(
                {
                    "key": unit.key,
                    "record_id": unit.record_id,
                    "task": task_id,
                    **meta,
                    "values": _jsonable(parsed),
                }
            )
        if not values:
            continue
        complete = len(values) >= overlap
        if not complete:
            incomplete.append(
                {
                    "task": task_id,
                    "key": unit.key,
                    "record_id": unit.record_id,
                    "annotations": len(values),
                    "overlap": overlap,
                    "annotators": sorted(values),
                    "kept": include_incomplete,
                }
            )
        agreement_units.append((rounds.unit_info(unit), values))
        if not complete and not include_incomplete:
            continue
        meta = {
            "round": number,
            "project": project,
            "url": client.url,
            "task": task_id,
            "key": unit.key,
            "pulled_at": now(),
            "annotators": annotators,
        }
        if not complete:
            meta["incomplete"] = True
            meta["overlap"] = overlap
        by_record[unit.record_id].append((unit, values, meta))

    annotated: list[dict[str, Any]] = []
    disagreements: list[dict[str, Any]] = []
    record_order = {}
    for u in units.values():
        record_order.setdefault(u.record_id, len(record_order))
    for record_id in sorted(by_record, key=lambda r: record_order.get(r, 0)):
        current = None
        for unit, values, meta in by_record[record_id]:
            if current is not None:
                unit = Unit(unit.key, unit.record_id, current, unit.translation, unit.extra)
            current, found = reconcile_unit(dataset, unit, values, meta, method=method)
            disagreements.extend({"task": meta["task"], **d} for d in found)
        annotated.append(current)

    agreement = round_agreement(dataset, agreement_units)
    write_jsonl(folder / "annotations.jsonl", annotation_rows, compact=True)
    write_jsonl(folder / "records.jsonl", annotated, compact=True)
    write_jsonl(folder / "disagreements.jsonl", disagreements, compact=True)
    write_jsonl(folder / "problems.jsonl", problems, compact=True)
    write_jsonl(folder / "incomplete.jsonl", incomplete, compact=True)
    atomic_write_json(folder / "agreement.json", agreement)
    annotators_all = sorted({row["annotator"] for row in annotation_rows})
    summary = PullSummary(
        client.url,
        project,
        number,
        str(folder),
        len(exported),
        len(annotation_rows),
        annotators_all,
        len(annotated),
        len(agreement_units),
        len(disagreements),
        len(problems),
        agreement,
        round(time.monotonic() - started, 3),
        [p["message"] for p in problems],
        overlap,
        len(incomplete),
        include_incomplete,
        edited,
        accept_edited,
    )
    atomic_write_json(
        folder / "done.json", {**summary.to_dict(), "method": method, "finished_at": now()}
    )
    return summary


def edited_by(annotation: dict[str, Any]) -> int | None:
    """The id of the user who changed an annotation after its annotator submitted it, or None
    (`updated_by` is its annotator, unknown, or set when it was created for someone)."""
    from datetime import datetime

    from dsbuild.labelstudio.results import annotator_of

    editor = annotation.get("updated_by")
    if isinstance(editor, dict):
        editor = editor.get("id")
    _, author = annotator_of(annotation)
    if editor is None or author is None or int(editor) == int(author):
        return None
    try:
        created = datetime.fromisoformat(str(annotation["created_at"]).replace("Z", "+00:00"))
        updated = datetime.fromisoformat(str(annotation["updated_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return int(editor)  # no times to tell an import from an edit: report it
    if (updated - created).total_seconds() <= _SAME_MOMENT_S:
        return None
    return int(editor)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def annotator_status(run_dir: Path, dataset: str, client) -> dict[str, Any]:
    """Progress of the run's project: tasks, and per annotator annotations, skips, times."""
    state = AnnotationState(Path(run_dir))
    info = state.require_project(dataset)
    project = int(info["project"])
    client.check_server()
    details = client.get_project(project)
    exported = client.export_snapshot(project)
    from dsbuild.labelstudio.results import annotator_of

    overlap = int(details.get("maximum_annotations") or info.get("overlap") or 1)
    people: dict[str, dict[str, Any]] = {}
    complete = 0
    for task in exported:
        done = 0
        for annotation in task.get("annotations") or []:
            name, user_id = annotator_of(annotation)
            row = people.setdefault(
                name,
                {
                    "annotator": name,
                    "user_id": user_id,
                    "annotated": 0,
                    "skipped": 0,
                    "first": None,
                    "last": None,
                    "lead_time_s": 0.0,
                },
            )
            if annotation.get("was_cancelled"):
                row["skipped"] += 1
                continue
            done += 1
            row["annotated"] += 1
            row["lead_time_s"] += float(annotation.get("lead_time") or 0.0)
            stamp = annotation.get("updated_at") or annotation.get("created_at")
            if stamp:
                row["first"] = min(filter(None, [row["first"], stamp]))
                row["last"] = max(filter(None, [row["last"], stamp]))
        complete += done >= overlap
    total = int(details.get("task_number") or 0)
    for row in people.values():
        row["mean_lead_time_s"] = (
            round(row.pop("lead_time_s") / row["annotated"], 1) if row["annotated"] else None
        )
        row["share_of_tasks"] = round(row["annotated"] / total, 4) if total else None
    return {
        "url": client.url,
        "project": project,
        "title": details.get("title"),
        "tasks": total,
        "tasks_with_annotations": len(exported),
        "tasks_complete": complete,
        "overlap": overlap,
        "pulls": [p.name for p in state.finished_pulls()],
        "annotators": sorted(people.values(), key=lambda r: r["annotator"]),
    }
