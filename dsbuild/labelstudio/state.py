"""What a run remembers about its annotation rounds, in `RUN/annotation/`::

RUN/annotation/
  project.json          server URL, project id and title, dataset, overlap, sample
  pushed.jsonl          one line per task pushed: key, record id, task id, time (append)
  pulls/001/            one folder per pull, never overwritten:
    export.json           the raw snapshot export, written first
    annotations.jsonl     one line per annotation: key, task, annotator, times, values
    records.jsonl         the annotated records (the round's new stage)
    disagreements.jsonl   what the annotators disagreed on, for adjudication
    problems.jsonl        tasks and annotations left out, each with the reason
    incomplete.jsonl      tasks with fewer annotations than the overlap (left out unless kept)
    agreement.json        agreement per field
    done.json             the pull's summary, written last (absent: the pull was cut)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.errors import UsageError
from dsbuild.runs.jsonl import atomic_write_json, iter_jsonl, read_json

__all__ = ["AnnotationState", "load_records"]


@dataclass(frozen=True)
class AnnotationState:
    """Paths and small reads/writes of `RUN/annotation/`."""

    run_dir: Path

    @property
    def folder(self) -> Path:
        return self.run_dir / "annotation"

    @property
    def project_file(self) -> Path:
        return self.folder / "project.json"

    @property
    def pushed_log(self) -> Path:
        return self.folder / "pushed.jsonl"

    @property
    def pulls(self) -> Path:
        return self.folder / "pulls"

    def project(self) -> dict[str, Any] | None:
        return read_json(self.project_file) if self.project_file.is_file() else None

    def save_project(self, info: dict[str, Any]) -> None:
        atomic_write_json(self.project_file, info)

    def require_project(self, dataset: str) -> dict[str, Any]:
        info = self.project()
        if info is None:
            raise UsageError(
                f"run {self.run_dir} has not been pushed to Label Studio",
                f"run `dsbuild {dataset} annotate push {self.run_dir}` first",
                code="DSB204",
            )
        return info

    def new_pull_dir(self) -> tuple[int, Path]:
        """Claim the next pull folder (`pulls/NNN`) with an atomic mkdir."""
        self.pulls.mkdir(parents=True, exist_ok=True)
        taken = [int(p.name) for p in self.pulls.iterdir() if p.name.isdigit()]
        n = max(taken, default=0) + 1
        while True:
            path = self.pulls / f"{n:03d}"
            try:
                path.mkdir()
                return n, path
            except FileExistsError:
                n += 1

    def finished_pulls(self) -> list[Path]:
        if not self.pulls.is_dir():
            return []
        return sorted(p for p in self.pulls.iterdir() if (p / "done.json").is_file())


def load_records(run_dir: Path, dataset: str) -> list[dict[str, Any]]:
    """The run's final records (`RUN/records.jsonl`); UsageError when RUN is not a run."""
    run_dir = Path(run_dir)
    path = run_dir / "records.jsonl"
    if not path.is_file():
        raise UsageError(
            f"{run_dir} has no records.jsonl (is it a finished {dataset} run directory?)",
            f"build it first with `dsbuild {dataset} build -o {run_dir}`",
            code="DSB204",
        )
    return list(iter_jsonl(path))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
