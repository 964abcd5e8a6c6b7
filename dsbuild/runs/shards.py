"""Shard jobs run by local processes or a Ray cluster, each writing its own output file,
collected in job order; finished shards are kept, so a killed run redoes only the others.

    run = ShardRun(out_dir, workers=2, engine="local", on_report=print)
    for job, path, counts in run.results(fn, jobs, shared):   # in job order, when ready
        ...read path...
    run.summary()   # shards run/kept, per-worker shards and peak RSS (for run.json)

`fn(shared, job.payload, out_path, report) -> dict` runs in a worker: it writes `out_path`
(whole, or not at all; companion files first, `companion(out_path, SUFFIX)`, if any) and
returns counters; `report(**counts)` sends counts of work done
so far to `on_report` in the main process (one progress line for all workers). `shared` is
sent once per worker (not once per job); with `start_method="fork"` local workers inherit
it, unpickled (e.g. a stage's context, which cannot be pickled). A job is done when
`out_dir/KEY.json` (its counters) exists next to `out_dir/KEY.out`; a new run skips done
jobs. On Ray (`ray_address`: None
starts a local instance of `workers` CPUs; "auto" or HOST:PORT joins a cluster) the job's
output comes back as bytes and is written by the main process, so the workers' disks need
not be shared; the inputs must be on a path every node can read.
"""

from __future__ import annotations

import os
import queue
import resource
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.errors import ConfigError, DsbuildError, error_from_data, error_to_data
from dsbuild.runs.jsonl import atomic_write_bytes, atomic_write_json, read_json

__all__ = ["ShardJob", "ShardRun", "companion", "peak_rss_mb", "progress_line", "save_summary"]

_SHARED: Any = None  # set once per worker process
_REPORTS: Any = None


@dataclass(frozen=True)
class ShardJob:
    """One shard to run: `key` names its output files; `payload` is what `fn` needs."""

    key: str
    payload: Any


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _init_worker(shared: Any, reports: Any) -> None:
    global _SHARED, _REPORTS
    _SHARED, _REPORTS = shared, reports


def _failure(error: DsbuildError) -> dict:
    return {"error": error_to_data(error)}


def _run_local(fn: Callable, key: str, payload: Any, out: str) -> dict:
    """A job in a pool worker; a dsbuild error comes back as data (its class may not unpickle)."""

    def report(**counts: int) -> None:
        if _REPORTS is not None:
            _REPORTS.put((key, counts))

    try:
        counts = fn(_SHARED, payload, Path(out), report)
    except DsbuildError as error:
        return _failure(error)
    return {**counts, "worker": _worker_id(), "peak_rss_mb": peak_rss_mb()}


def companion(out: Path, suffix: str) -> Path:
    """A file a job writes beside its output `out` (e.g. `KEY.out.rejects`)."""
    return out.with_name(out.name + suffix)


def _run_ray(fn: Callable, shared: Any, key: str, payload: Any) -> tuple[dict, dict[str, bytes]]:
    """A job on a Ray worker: its output (and companions) are written to a local temporary
    folder and returned, by suffix ("" for the output itself)."""
    with tempfile.TemporaryDirectory(prefix="dsbuild-shard-") as tmp:
        out = Path(tmp) / "out"
        try:
            counts = fn(shared, payload, out, lambda **_: None)
        except DsbuildError as error:
            return _failure(error), {}
        files = {p.name[len(out.name) :]: p.read_bytes() for p in Path(tmp).glob("out*")}
    return {**counts, "worker": _worker_id(), "peak_rss_mb": peak_rss_mb()}, files


def _raise(counts: dict) -> None:
    if "error" in counts:
        raise error_from_data(counts["error"])


class ShardRun:
    """Runs shard jobs into `out_dir`; see the module docstring."""

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        workers: int = 1,
        engine: str = "local",
        ray_address: str | None = None,
        on_report: Callable[[dict[str, int]], None] | None = None,
        start_method: str = "spawn",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.start_method = start_method
        self.workers = max(1, int(workers))
        self.engine = engine
        self.ray_address = ray_address
        self.on_report = on_report
        self.kept = 0
        self.ran = 0
        self.per_worker: dict[str, dict[str, float]] = {}
        self._live: dict[str, dict[str, int]] = {}  # counts of the jobs in progress
        self._results: dict[str, dict] = {}  # counters of the jobs done, by key
        self._done: dict[str, int] = {}  # summed counts of finished jobs

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.out_dir / f"{key}.out", self.out_dir / f"{key}.json"

    def is_done(self, key: str) -> bool:
        out, counts = self.paths(key)
        return out.is_file() and counts.is_file()

    def results(
        self, fn: Callable, jobs: Iterable[ShardJob], shared: Any = None
    ) -> Iterator[tuple[ShardJob, Path, dict]]:
        """(job, output path, its counters) of every job, in job order; runs the ones not
        done yet."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        jobs = list(jobs)
        self._results = {}
        for job in jobs:
            if self.is_done(job.key):
                self._results[job.key] = read_json(self.paths(job.key)[1])
                self._count(job.key, self._results[job.key], kept=True)
        todo = [job for job in jobs if job.key not in self._results]
        self.kept = len(self._results)
        if not todo:
            ready: Iterator[str] = iter(())
        elif self.engine == "ray":
            ready = self._ray(fn, todo, shared)
        elif self.workers > 1 and len(todo) > 1:
            ready = self._pool(fn, todo, shared)
        else:
            ready = self._inline(fn, todo, shared)
        try:
            for job in jobs:
                while job.key not in self._results:
                    next(ready)
                yield job, self.paths(job.key)[0], self._results[job.key]
        finally:
            close = getattr(ready, "close", None)
            if close is not None:
                close()

    def _finish(self, key: str, counts: dict, files: dict[str, bytes] | None = None) -> str:
        _raise(counts)
        out, path = self.paths(key)
        for suffix, data in sorted((files or {}).items(), reverse=True):  # the output last
            atomic_write_bytes(companion(out, suffix), data)
        atomic_write_json(path, counts)
        self._results[key] = counts
        self.ran += 1
        self._live.pop(key, None)
        self._count(key, counts)
        return key

    def _count(self, key: str, counts: dict, kept: bool = False) -> None:
        for name, value in counts.items():
            if isinstance(value, int) and not isinstance(value, bool):
                self._done[name] = self._done.get(name, 0) + value
        if not kept:
            worker = self.per_worker.setdefault(
                str(counts.get("worker", "main")), {"shards": 0, "peak_rss_mb": 0.0}
            )
            worker["shards"] += 1
            worker["peak_rss_mb"] = max(worker["peak_rss_mb"], counts.get("peak_rss_mb", 0.0))
        self._emit()

    def _report(self, key: str, counts: dict[str, int]) -> None:
        self._live[key] = counts
        self._emit()

    def _emit(self) -> None:
        if self.on_report is None:
            return
        total = dict(self._done)
        for counts in self._live.values():
            for name, value in counts.items():
                total[name] = total.get(name, 0) + value
        self.on_report(total)

    def _inline(self, fn: Callable, todo: list[ShardJob], shared: Any) -> Iterator[str]:
        for job in todo:
            out = self.paths(job.key)[0]
            counts = fn(shared, job.payload, out, lambda key=job.key, **c: self._report(key, c))
            yield self._finish(job.key, {**counts, "worker": "main", "peak_rss_mb": peak_rss_mb()})

    def _pool(self, fn: Callable, todo: list[ShardJob], shared: Any) -> Iterator[str]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        context = multiprocessing.get_context(self.start_method)
        reports = context.Queue()
        pool = ProcessPoolExecutor(
            min(self.workers, len(todo)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(shared, reports),
        )
        completed = False
        try:
            futures = {
                pool.submit(_run_local, fn, job.key, job.payload, str(self.paths(job.key)[0])): job
                for job in todo
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                self._drain(reports)
                for future in done:
                    yield self._finish(futures[future].key, future.result())
            completed = True
        finally:
            if completed:
                pool.shutdown(wait=True)
            else:  # stopped early (an error, a kill): the jobs in flight are abandoned
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    process.terminate()
            reports.close()

    def _drain(self, reports: Any) -> None:
        while True:
            try:
                key, counts = reports.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return
            if not self.is_done(key):
                self._report(key, counts)

    def _ray(self, fn: Callable, todo: list[ShardJob], shared: Any) -> Iterator[str]:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--engine ray needs Ray, which is not installed",
                "pip install 'dsbuild[ray]'",
                code="DSB103",
            ) from None
        if not ray.is_initialized():
            if self.ray_address:
                ray.init(address=self.ray_address, log_to_driver=False)
            else:  # a local instance; its session files in DSBUILD_RAY_TMPDIR if set
                tmp = os.environ.get("DSBUILD_RAY_TMPDIR")
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    **({"_temp_dir": tmp} if tmp else {}),
                )
        task = ray.remote(num_cpus=1)(_run_ray)
        shared_ref = ray.put(shared)
        refs = {task.remote(fn, shared_ref, job.key, job.payload): job for job in todo}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
                for ref in done:
                    counts, files = ray.get(ref)
                    yield self._finish(refs[ref].key, counts, files)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def summary(self, seconds: float | None = None) -> dict[str, Any]:
        """Shards run and kept, summed counters, and per worker: shards run, peak RSS MB."""
        out: dict[str, Any] = {
            "shards": self.kept + self.ran,
            "shards_kept": self.kept,
            "engine": self.engine,
            "workers": self.workers,
            "counts": dict(self._done),
            "per_worker": [
                {"worker": name, **stats} for name, stats in sorted(self.per_worker.items())
            ],
        }
        if seconds is not None:
            out["seconds"] = round(seconds, 3)
        return out


def progress_line(
    name: str,
    total_bytes: int | None = None,
    every_s: float = 5.0,
    task: Any = None,
) -> Callable[[dict[str, int]], None]:
    """An `on_report` for all workers at once: `N pages (R/s), M sentences (R/s), P% of the
    input, ETA S s` (from the counts' `bytes` of input done out of `total_bytes`), as the
    note of the stage's progress `task` (at most once a second) and as a log line at most
    every `every_s` seconds."""
    import logging

    log = logging.getLogger("dsbuild.shards")
    t0 = time.monotonic()
    last = {"log": t0, "note": 0.0}
    note = getattr(task, "note", None)

    def report(counts: dict[str, int]) -> None:
        now = time.monotonic()
        due_log, due_note = now - last["log"] >= every_s, now - last["note"] >= 1.0
        if not (due_log or (note is not None and due_note)):
            return
        elapsed = max(now - t0, 1e-9)
        parts = [f"{v:,} {k} ({v / elapsed:,.0f}/s)" for k, v in counts.items() if k != "bytes"]
        done = counts.get("bytes", 0)
        if total_bytes and done:
            share = min(done / total_bytes, 1.0)
            parts.append(f"{share:.0%} of the input, ETA {elapsed * (1 - share) / share:,.0f} s")
        text = ", ".join(parts)
        if note is not None and due_note:
            last["note"] = now
            note(text)
        if due_log:
            last["log"] = now
            log.info("%s: %s", name, text)

    return report


def save_summary(run_info: Any, stage: str, summary: dict[str, Any]) -> None:
    """A stage's `ShardRun.summary()` into `run.json` (`shards.<stage>`), if there is one."""
    if run_info is not None:
        shards = dict(run_info.data.get("shards") or {})
        shards[stage] = summary
        run_info.write(shards=shards)
