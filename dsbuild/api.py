"""The Python API, for notebooks and scripts; the command line stands on it.

    import dsbuild
    run = dsbuild.build("psiloqa", run_dir="runs/pq", options={"passages_per_language": 2})
    run.records()[:3], run.rejects(), run.stats()
    ds = run.to_dataset()                 # a datasets.DatasetDict with the typed features
    dsbuild.validate("runs/pq").ok
    dsbuild.export(run, "runs/pq/hf")     # the Hub-ready folder with its card
    run = dsbuild.open_run("runs/pq")     # a finished (or stopped) run, read back

`build` takes the same settings as the command line (`dsbuild.config.Settings`: model,
base_url, languages, seed, options, ...), resolved the same way (flags here, then
`config_file`, then environment variables), resumes a stopped run with the same settings,
and raises the same `dsbuild.errors` exceptions. The test double (`fake:` models) may be
used from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Run", "build", "export", "open_run", "validate"]


@dataclass(frozen=True)
class Run:
    """A run directory and its dataset: records, rejects, statistics, a `datasets` view."""

    path: Path
    dataset: str

    @property
    def records_path(self) -> Path:
        return self.path / "records.jsonl"

    @property
    def rejects_path(self) -> Path:
        return self.path / "rejects.jsonl"

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """The kept records, streamed in order."""
        yield from _jsonl(self.records_path)

    def records(self) -> list[dict[str, Any]]:
        """The kept records, in order."""
        return list(self.iter_records())

    def rejects(self) -> list[dict[str, Any]]:
        """The rejected records: id, stage, reason, detail."""
        return list(_jsonl(self.rejects_path))

    def info(self) -> dict[str, Any]:
        """`run.json`: status, stages, counts, tokens and cost."""
        path = self.path / "run.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def stats(self) -> dict[str, Any]:
        """The figures `dsbuild <dataset> stats RUN --json` prints."""
        from dsbuild.stats import compute_stats

        return compute_stats(self.records_path, self.dataset)

    def to_dataset(self, splits: str | None = None) -> Any:
        """The records as a `datasets.DatasetDict` with the dataset's typed features and its
        seeded, grouped splits (as `export` writes them)."""
        import datasets

        from dsbuild.hub.folder import run_splits
        from dsbuild.hub.hooks import hooks_for
        from dsbuild.hub.rundata import read_run
        from dsbuild.hub.splits import parse_proportions

        run = read_run(self.path)
        seed = int(run.config.get("seed") or 0)
        parts = run_splits(self.dataset, run, parse_proportions(splits), seed)
        hooks = hooks_for(self.dataset)
        features = hooks.features()
        if hooks.per_language_configs:  # the export's files run language by language
            lang = hooks.language_field
            parts = {s: sorted(p, key=lambda r: f"{r[lang]}/") for s, p in parts.items()}
        return datasets.DatasetDict(
            {s: datasets.Dataset.from_list(p, features=features) for s, p in parts.items()}
        )


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    from dsbuild.runs.jsonl import iter_jsonl

    if path.is_file():
        yield from iter_jsonl(path)


def open_run(path: str | Path) -> Run:
    """A run directory read back; its dataset comes from its `config.yaml`."""
    from dsbuild.errors import InputError

    path = Path(path)
    config = path / "config.yaml"
    if not config.is_file():
        raise InputError(
            f"{path} is not a run directory (no config.yaml)",
            "give the folder a build wrote (-o / run_dir)",
            code="DSB204",
        )
    import yaml

    dataset = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("dataset")
    if not dataset:
        raise InputError(
            f"{config} names no dataset", "give the folder a dataset build wrote", code="DSB204"
        )
    return Run(path, str(dataset))


def build(
    dataset: str,
    *,
    config_file: str | Path | None = None,
    mode: str = "resume",
    progress: bool = False,
    max_cost: float | None = None,
    cache_only: bool = False,
    **settings: Any,
) -> Run:
    """Build `dataset` into `run_dir` (default runs/<dataset>) and write its own files;
    `mode` is resume (default), new or overwrite. Returns the `Run`."""
    from dsbuild import builders
    from dsbuild.config import resolve_settings

    resolved, _ = resolve_settings({**settings, "dataset": dataset}, config_file)
    result = run_settings(
        dataset, resolved, mode=mode, progress=progress, max_cost=max_cost, cache_only=cache_only
    )
    builders.finalize_run(dataset, result, resolved)
    return Run(Path(result.run_dir), dataset)


def run_settings(
    dataset: str,
    settings: Any,
    *,
    run_dir: str | Path | None = None,
    mode: str = "resume",
    progress: bool = False,
    max_cost: float | None = None,
    cache_only: bool = False,
    on_finish: Any = None,
    batch: Any = None,
):
    """Run the dataset's builder with resolved `Settings`: its LLM stages reach their models
    through one `ModelPool`, made here and closed on the run's own event loop. `on_finish`
    (result, pool) is called once the run has ended, finished or not (None for the result
    of a run whose batches were left in flight). `batch`: a `BatchSettings` (`--batch`):
    the requests that miss the cache go through Batch API rounds."""
    import asyncio

    from dsbuild.datasets import get
    from dsbuild.llm.pool import ModelPool
    from dsbuild.outcomes import Detached
    from dsbuild.progress import make_progress
    from dsbuild.runs import run_builder
    from dsbuild.runs.runner import RunIncompleteError

    spec = get(dataset)
    run_dir = Path(run_dir or settings.run_dir or Path("runs") / dataset)
    builder = spec.builder(settings)
    pool = ModelPool(settings, cache_only=cache_only, max_cost=max_cost, batch=batch)
    pool.check(spec.models(settings))
    with asyncio.Runner() as loop:
        try:
            result = run_builder(
                builder,
                run_dir,
                settings.public_dict(),
                mode=mode,
                progress=make_progress(progress),
                context_extras={"settings": settings, "llm": pool},
                loop=loop,
            )
        except RunIncompleteError as exc:  # records left pending: what was done, then re-raise
            if on_finish is not None:
                on_finish(exc.result, pool)
            raise
        except Detached:  # batches left in flight (--detach): the models' usage, then re-raise
            if on_finish is not None:
                on_finish(None, pool)
            raise
        finally:
            loop.run(pool.aclose())
    if on_finish is not None:
        on_finish(result, pool)
    return result


def validate(
    path: str | Path, dataset: str | None = None, *, fmt: str | None = None, strict: bool = False
):
    """Validate a file, folder or run directory (`dsbuild.validation.ValidationReport`)."""
    from dsbuild.validation import validate_path

    path = Path(path)
    if path.is_dir() and (path / "records.jsonl").is_file():
        dataset = dataset or open_run(path).dataset
        path = path / "records.jsonl"
    return validate_path(path, dataset, fmt, strict=strict)


def export(run: Run | str | Path, out: str | Path | None = None, *, splits: str | None = None):
    """The Hub-ready folder of a run (default RUN/hf): typed Parquet splits, original formats
    and the data card (`dsbuild.hub.ExportResult`)."""
    from dsbuild.hub import export_run

    run = run if isinstance(run, Run) else open_run(run)
    return export_run(run.dataset, run.path, out, splits=splits)
