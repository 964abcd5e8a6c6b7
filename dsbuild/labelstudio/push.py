"""Push a run's records to Label Studio as tasks with pre-annotations: idempotent, resumable.

The project is created on the first push (title from the dataset and run name) and
remembered in `RUN/annotation/project.json`; later pushes update its labelling config,
instructions and overlap. Before importing, the project's tasks are listed by
`dsbuild_key`: a key already there is never imported again, so a re-push creates no
duplicate and a push cut short (server down, Ctrl-C) resumes with the batches still
missing. Each batch is one import request; what it created is appended to
`RUN/annotation/pushed.jsonl` as soon as the server answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.errors import UsageError
from dsbuild.labelstudio.client import ANNOTATOR_PRIVACY
from dsbuild.labelstudio.state import AnnotationState, load_records, now

__all__ = ["PushSummary", "push_run"]


@dataclass
class PushSummary:
    """What one push did."""

    url: str
    project: int
    title: str
    created_project: bool
    units: int
    selected: int
    already_there: int
    imported: int
    batches: int
    changed: int
    seconds: float
    predictions: int = 0
    changed_keys: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["changed_keys"] = data["changed_keys"][:20]
        return data


def _title(dataset: str, run_dir: Path) -> str:
    return f"dsbuild {dataset} {Path(run_dir).resolve().name}"[:50]


def push_run(
    run_dir: Path,
    dataset: str,
    client,
    *,
    overlap: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    batch_size: int = 500,
    project: int | None = None,
    new_project: bool = False,
    title: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PushSummary:
    """Push the run's units not yet in the project; see the module docstring.

    `overlap` None keeps the overlap of an earlier push (1 for a new project)."""
    from dsbuild.labelstudio.interfaces import interface_for
    from dsbuild.labelstudio.tasks import sample_keys, task_data, to_task, units_of

    info = AnnotationState(Path(run_dir)).project()
    if overlap is None:  # keep the project's overlap on a re-push
        overlap = int((info or {}).get("overlap") or 1)
    if overlap < 1:
        raise UsageError(f"--overlap {overlap} is not a number of annotators", "use 1 or more")
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size} must be at least 1", "use e.g. 500")
    started = time.monotonic()
    state = AnnotationState(Path(run_dir))
    records = load_records(run_dir, dataset)
    units = units_of(records, dataset)
    chosen = sample_keys([u.key for u in units], sample, seed)
    selected = [u for u in units if u.key in chosen]
    client.check_server()  # another program on the port is named, not read as a 404
    client.whoami()
    prefilled = any(task_data(u, dataset)[1] for u in selected)
    interface = interface_for(dataset).for_tasks(prefilled=prefilled)

    if info is not None and info.get("url") != client.url and project is None and not new_project:
        raise UsageError(
            f"run {run_dir} was pushed to {info.get('url')}, not {client.url}",
            "use that server (LABEL_STUDIO_URL), or --new-project to start a project here",
        )
    project_id = (
        project
        if project is not None
        else (None if new_project or info is None else info["project"])
    )
    created = False
    settings = {
        "label_config": interface.label_config,
        "expert_instruction": interface.instructions_html,
        "show_instruction": True,
        "maximum_annotations": overlap,
        "show_overlap_first": overlap > 1,
        "overlap_cohort_percentage": 100,
        **ANNOTATOR_PRIVACY,
    }
    if project_id is None:
        title = title or _title(dataset, run_dir)
        project_id = client.create_project(
            title,
            interface.label_config,
            description=f"dsbuild {dataset} run {Path(run_dir).resolve()}",
            instructions_html=interface.instructions_html,
            overlap=overlap,
        )
        created = True
    else:
        current = client.get_project(project_id)
        title = current.get("title") or title or _title(dataset, run_dir)
        changes = {k: v for k, v in settings.items() if current.get(k) != v}
        if changes:
            client.update_project(project_id, **changes)
    state.save_project(
        {
            "url": client.url,
            "project": project_id,
            "title": title,
            "dataset": dataset,
            "overlap": overlap,
            "sample": sample,
            "seed": seed,
            "created_at": (info or {}).get("created_at") if not created else now(),
            "updated_at": now(),
        }
    )

    existing = client.task_keys(project_id)
    todo, changed = [], []
    for unit in selected:
        there = existing.get(unit.key)
        if there is None:
            todo.append(unit)
        else:
            data, _ = task_data(unit, dataset)
            if there.get("check") != data["dsbuild_check"]:
                changed.append(unit.key)
    imported = batches = predictions = 0
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        tasks = [to_task(u, dataset) for u in batch]
        ids = client.import_tasks(project_id, tasks)
        batches += 1
        imported += len(ids)
        predictions += sum(1 for t in tasks if t.get("predictions"))
        _log_batch(state, batch, ids)
        if progress is not None:
            progress(imported, len(todo))
    return PushSummary(
        client.url,
        project_id,
        title or "",
        created,
        len(units),
        len(selected),
        len(selected) - len(todo),
        imported,
        batches,
        len(changed),
        round(time.monotonic() - started, 3),
        predictions,
        changed,
    )


def _log_batch(state: AnnotationState, batch, ids: list[int]) -> None:
    import os

    from dsbuild.runs.jsonl import dumps_line

    stamp = now()
    state.folder.mkdir(parents=True, exist_ok=True)
    with open(state.pushed_log, "ab") as f:
        f.writelines(
            dumps_line(
                {"key": unit.key, "record_id": unit.record_id, "task": task_id, "pushed_at": stamp}
            )
            for unit, task_id in zip(batch, ids)
        )
        f.flush()
        os.fsync(f.fileno())
