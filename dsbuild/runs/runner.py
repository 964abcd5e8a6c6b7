"""`run_builder`: run a builder's stages into a run directory, resuming where it stopped.

Each stage reads the previous stage's `records.jsonl` as a stream and checkpoints every
input item as it finishes (see `checkpoint`), so a kill loses at most the items in flight
(for a source, also up to 256 buffered lines: a resume re-runs a source from its start anyway).
Finished stages are skipped on resume; a partly done stage continues with the items it has
not logged yet. Only batch stages hold their whole input in memory.

A map function that raises `Pending` (the world failed: an endpoint down, a timeout) leaves
its item unlogged, or logged as a placeholder that a resume drops. The other items go on;
then the stage ends *incomplete* (no `done.json`, later stages do not run) and
`run_builder` raises `RunIncompleteError` (exit 4): the same command retries exactly the
pending items. A `ServiceError` raised by a stage (an endpoint failing systematically)
stops the stage at once; the items in flight are logged, the rest stay pending.

A map function that raises `Deferred` (its work was queued across items: a Batch API round)
is run again once the pass has ended and the queue's `flush` has answered (see
`_run_map_async`); a flush that raises `Detached` stops the run cleanly (what is done is kept,
the same command goes on later).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dsbuild.errors import ConfigError, DsbuildError, ServiceError
from dsbuild.outcomes import Deferred, Detached
from dsbuild.progress import NullProgress, Progress, Task
from dsbuild.runs.checkpoint import StageCheckpoint, utc_now
from dsbuild.runs.fingerprint import compute_fingerprint, fingerprint_payload, runtime_settings
from dsbuild.runs.jsonl import AppendLog, AtomicWriter, loads
from dsbuild.runs.loglines import out_line, reject_line
from dsbuild.runs.mapcall import call_map, item_line, pending_item_line, stage_error
from dsbuild.runs.rundir import Mode, RunDir, open_run_dir
from dsbuild.runs.runinfo import RunInfo
from dsbuild.stages import (
    Builder,
    Part,
    Pending,
    Reject,
    Stage,
    StageContext,
    normalize_map_result,
)

__all__ = ["RunIncompleteError", "RunResult", "StageSummary", "run_builder"]

log = logging.getLogger("dsbuild.runs")


@dataclass(frozen=True)
class StageSummary:
    """How one stage went in this invocation: `status` is skipped, resumed, ran, or
    incomplete (`n_pending` items left for the next run, `pending_by_reason` this run's
    causes)."""

    name: str
    kind: str
    status: str
    n_in: int
    n_out: int
    n_rejected: int
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    n_pending: int = 0
    pending_by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "n_in": self.n_in,
            "n_out": self.n_out,
            "n_rejected": self.n_rejected,
            "rejects_by_reason": dict(self.rejects_by_reason),
            "seconds": self.seconds,
            "n_pending": self.n_pending,
            "pending_by_reason": dict(self.pending_by_reason),
        }


@dataclass(frozen=True)
class RunResult:
    """A finished run: where it is, what each stage did, and where the outputs are."""

    run_dir: Path
    status: str
    fingerprint: str
    resumed: bool
    stages: tuple[StageSummary, ...]
    records_path: Path
    rejects_path: Path
    run_json_path: Path

    @property
    def n_out(self) -> int:
        return self.stages[-1].n_out if self.stages else 0

    @property
    def n_rejected(self) -> int:
        return sum(s.n_rejected for s in self.stages)

    @property
    def n_pending(self) -> int:
        return sum(s.n_pending for s in self.stages)


class RunIncompleteError(ServiceError):
    """A stage left records pending after failures of the world (exit 4); `result` is the
    run so far (status "incomplete"). The same command retries exactly those records."""

    default_code = "DSB402"

    def __init__(
        self, what: str, fix: str | None = None, *, result: RunResult, code: str | None = None
    ) -> None:
        super().__init__(what, fix, code=code)
        self.result = result


class _PendingLog:
    """What a map stage left pending in this invocation: counts by reason, a sample detail."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()
        self.details: dict[str, str] = {}

    def add(self, p: Pending) -> None:
        self.reasons[p.reason] += 1
        self.details.setdefault(p.reason, " ".join(str(p.detail).split())[:300])


def run_builder(
    builder: Builder,
    run_dir: str | os.PathLike[str],
    config: dict[str, Any],
    *,
    mode: Mode = "resume",
    progress: Progress | None = None,
    context_extras: dict[str, Any] | None = None,
    loop: asyncio.Runner | None = None,
) -> RunResult:
    """Run `builder` with `config` into `run_dir` and return what happened.

    `mode`: "resume" continues a run with the same fingerprint (DSB201 if it differs);
    "new" uses the next free sibling `RUN-2`, `RUN-3`...; "overwrite" replaces an existing
    run directory. `config` must already be free of secrets: it is written to `config.yaml`.
    `context_extras` become attributes of the `StageContext` (e.g. `llm=engine`); those with
    a `bind_run_info` method (an LLM engine or pool) count their usage in this run's run.json.
    Every async stage runs on one event loop, `loop` if given (so a caller can close its
    clients on the loop they were used on), else one the run opens and closes.
    Raises DSB202 if another process runs in the directory, DSB205 if a stage raises.
    """
    if loop is None:
        with asyncio.Runner() as own_loop:
            return run_builder(
                builder,
                run_dir,
                config,
                mode=mode,
                progress=progress,
                context_extras=context_extras,
                loop=own_loop,
            )
    progress = progress or NullProgress()
    parts = builder.fingerprint_parts()
    payload = fingerprint_payload(parts, config)
    fingerprint = compute_fingerprint(parts, config)
    seed = _seed(config)
    run, lock, resumed = open_run_dir(Path(run_dir), mode, fingerprint, payload, config)
    try:
        handler = _attach_log_file(run, config.get("log_level", "INFO"))
    except BaseException:
        lock.release()
        raise
    info = RunInfo(run.run_json, builder=parts, fingerprint=fingerprint, started_at=utc_now())
    try:
        if resumed:
            info.carry_usage_from_previous()
        info.write()
        log.info(
            "run %s: builder %s %s, fingerprint %s (%s)",
            run.path,
            builder.name,
            builder.version,
            fingerprint[:12],
            "resumed" if resumed else "new",
        )
        for extra in (context_extras or {}).values():
            if callable(getattr(extra, "bind_run_info", None)):  # an LLM engine or pool
                extra.bind_run_info(info)  # its tokens and cost go into this run's run.json
        base = StageContext(
            config=config,
            options=config.get("options") or {},
            runtime=runtime_settings(config),
            seed=seed,
            run_info=info,
            **(context_extras or {}),
        )
        summaries: list[StageSummary] = []
        ckpts = [
            StageCheckpoint(run.stage_dir(i, s.name), s.name) for i, s in enumerate(builder.stages)
        ]

        def result(status: str) -> RunResult:
            return RunResult(
                run.path,
                status,
                fingerprint,
                resumed,
                tuple(summaries),
                run.records,
                run.rejects,
                run.run_json,
            )

        prev: StageCheckpoint | None = None
        prev_n_out = 0
        for index, (stage, ckpt) in enumerate(zip(builder.stages, ckpts)):
            pending = _PendingLog()
            summary = _run_stage(
                stage, ckpt, prev, prev_n_out, base.for_stage(stage.name), progress, loop, pending
            )
            summaries.append(summary)
            info.set_stage(summary.to_dict())
            info.write()
            log.info(
                "stage %s %s: %d in, %d out, %d rejected, %d pending in %.2fs",
                stage.name,
                summary.status,
                summary.n_in,
                summary.n_out,
                summary.n_rejected,
                summary.n_pending,
                summary.seconds,
            )
            if summary.status == "incomplete":
                last = index == len(builder.stages) - 1
                if last:  # the records so far (placeholders included) are the run's output
                    _publish_outputs(run, ckpt, ckpts)
                info.write(status="incomplete", finished_at=utc_now())
                error = _incomplete_error(summary, pending, result("incomplete"))
                info.write(error=error.one_line())
                log.warning("run incomplete: %s", error.one_line())
                raise error
            prev, prev_n_out = ckpt, summary.n_out
        assert prev is not None
        _publish_outputs(run, prev, ckpts)
        info.write(status="finished", finished_at=utc_now())
        log.info(
            "run finished: %d records, %d rejects",
            summaries[-1].n_out,
            sum(s.n_rejected for s in summaries),
        )
        return result("finished")
    except KeyboardInterrupt:
        info.write(status="interrupted", finished_at=utc_now())
        log.warning("run interrupted; re-run the same command to resume")
        raise
    except RunIncompleteError:
        raise
    except Detached as e:  # work handed off (--detach): the same command goes on later
        info.write(status="detached", finished_at=utc_now(), error=None, detached=e.message)
        log.info("run detached: %s", e.message)
        raise
    except ServiceError as e:  # a service failed systematically: the stage stopped early
        info.write(status="incomplete", finished_at=utc_now(), error=e.one_line())
        log.error("run stopped: %s", e)
        raise
    except BaseException as e:
        info.write(
            status="failed",
            finished_at=utc_now(),
            error=e.one_line() if isinstance(e, DsbuildError) else repr(e),
        )
        log.error("run failed: %s", e)
        raise
    finally:
        _detach_log_file(handler)
        lock.release()


def _seed(config: dict[str, Any]) -> int:
    seed = config.get("seed", 0)
    if seed is None:
        return 0
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(
            f"seed must be an integer, not {seed!r}", "set seed to e.g. 0", code="DSB103"
        )
    return seed


def _attach_log_file(run: RunDir, level: str | int) -> tuple[logging.Handler, int]:
    run.log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run.log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("dsbuild")
    old_level = logger.level
    wanted = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(wanted, int):
        wanted = logging.INFO
    handler.setLevel(wanted)
    if logger.level == logging.NOTSET or logger.level > wanted:
        logger.setLevel(wanted)
    logger.addHandler(handler)
    return handler, old_level


def _detach_log_file(state: tuple[logging.Handler, int]) -> None:
    handler, old_level = state
    logger = logging.getLogger("dsbuild")
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    handler.close()


def _incomplete_error(
    summary: StageSummary, pending: _PendingLog, result: RunResult
) -> RunIncompleteError:
    """The one-line summary of a stage that left records pending."""
    causes = "; ".join(
        f"{reason} x{n}: {pending.details[reason]}" for reason, n in pending.reasons.most_common(3)
    )
    done = summary.n_in - summary.n_pending
    return RunIncompleteError(
        f"stage {summary.name!r} left {summary.n_pending} of {summary.n_in} records pending "
        f"after failures outside them ({causes or 'not processed'}); {done} are done and kept",
        "run the same command again to retry them (only the pending records are sent again)",
        result=result,
    )


def _run_stage(
    stage: Stage,
    ckpt: StageCheckpoint,
    prev: StageCheckpoint | None,
    n_in: int,
    ctx: StageContext,
    progress: Progress,
    loop: asyncio.Runner,
    pending: _PendingLog,
) -> StageSummary:
    if ckpt.is_done():
        done = ckpt.read_done()
        return _summary(stage, "skipped", done)
    t0 = time.monotonic()
    if stage.kind == "batch":
        assert prev is not None
        with progress.task(stage.name, total=n_in) as task:
            done = _run_batch(stage, ckpt, prev, n_in, ctx, t0)
            task.advance(n_in)
        return _summary(stage, "ran", done)
    if stage.kind == "source" and stage.processes:
        return _run_source_parts(stage, ckpt, ctx, progress, t0)
    state = ckpt.recover(None if stage.kind == "source" else n_in)
    status = "resumed" if state.n_lines else "ran"
    # the stage's own folder for what it keeps between runs (an index, drawn titles): a stage
    # asks the context for it and knows nothing else about the run directory (made on use)
    ctx.workdir = ckpt.path / "work"
    if stage.prepare is not None:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        try:
            stage.prepare(ctx, lambda: (record for _, record in _pending(prev, bytearray())))
        except DsbuildError:
            raise
        except Exception as e:
            raise stage_error(stage, "its preparation", e) from e
    if stage.processes and not state.n_lines:  # (a log: begun in one process by an older dsbuild)
        return _run_parts(stage, ckpt, prev, n_in, ctx, progress, pending, t0)
    if state.n_lines:
        log.info("stage %s: resuming after %d logged items", stage.name, state.n_lines)
    total = None if stage.kind == "source" else n_in
    with (
        progress.task(stage.name, total=total, done=state.n_lines) as task,
        ckpt.open_log(cheap=stage.kind == "source" or not stage.is_async) as out,
    ):
        ctx.task = task  # the stage's bar: a stage may add a note to it (`Task.note`)
        if stage.kind == "source":
            _run_source(stage, ctx, state.n_lines, state.last, out, task)
        elif stage.is_async:
            loop.run(
                _run_map_async(stage, ctx, _pending(prev, state.done), out, task, pending, progress)
            )
        else:
            _run_map_sync(stage, ctx, _pending(prev, state.done), out, task, pending)
    if pending.reasons:
        return _incomplete(stage, n_in, ckpt.write_partial(n_in), t0, pending)
    done = ckpt.finalize(
        kind=stage.kind,
        n_in=None if stage.kind == "source" else n_in,
        seconds=time.monotonic() - t0,
    )
    return _summary(stage, status, done)


def _run_source_parts(
    stage: Stage, ckpt: StageCheckpoint, ctx: StageContext, progress: Progress, t0: float
) -> StageSummary:
    """A source whose function yields its output as `Part`s: its records stay in their
    files (`StageCheckpoint.write_parts`), its rejects are joined in order."""
    ctx.workdir = ckpt.path / "work"
    kept = any(ctx.workdir.iterdir()) if ctx.workdir.is_dir() else False

    def checked(parts: Iterator[Any], task: Task) -> Iterator[Part]:
        for part in parts:
            if not isinstance(part, Part):
                raise DsbuildError(
                    f"source stage {stage.name!r} (parts=True) yielded a "
                    f"{type(part).__name__}, not a Part",
                    "yield dsbuild.stages.Part objects, in output order",
                    code="DSB205",
                )
            task.advance(part.items)
            yield part

    with progress.task(stage.name) as task:
        ctx.task = task
        try:
            parts = checked(iter(stage.fn(ctx)), task)
            done = ckpt.write_parts(parts, kind="source", t0=t0)
        except DsbuildError:
            raise
        except Exception as e:
            raise stage_error(stage, "one of its parts", e) from e
    return _summary(stage, "resumed" if kept else "ran", done)


def _run_parts(
    stage: Stage,
    ckpt: StageCheckpoint,
    prev: StageCheckpoint | None,
    n_in: int,
    ctx: StageContext,
    progress: Progress,
    pending: _PendingLog,
    t0: float,
) -> StageSummary:
    """A `processes` map stage, run in parts by the run's workers (`dsbuild.runs.parts`)."""
    from dsbuild.runs.parts import run_parts

    assert prev is not None
    with progress.task(stage.name, total=n_in) as task:
        ctx.task = task
        result = run_parts(stage, ctx, prev.record_files(), ckpt, task, t0)
    done = result.done
    if done["n_in"] != n_in:
        raise ckpt.damaged(f"its parts hold {done['n_in']} input items, not {n_in}")
    if not result.pending:
        return _summary(stage, result.status, done)
    pending.reasons.update(result.pending)
    for reason, detail in result.details.items():
        pending.details.setdefault(reason, detail)
    return _incomplete(stage, n_in, done, t0, pending)


def _incomplete(
    stage: Stage, n_in: int, part: dict, t0: float, pending: _PendingLog
) -> StageSummary:
    """The summary of a stage that ended with items pending (`part`: its counts so far)."""
    return StageSummary(
        stage.name,
        stage.kind,
        "incomplete",
        n_in,
        part["n_out"],
        part["n_rejected"],
        part["rejects_by_reason"],
        round(time.monotonic() - t0, 3),
        part["n_pending"],
        dict(pending.reasons),
    )


def _summary(stage: Stage, status: str, done: dict) -> StageSummary:
    return StageSummary(
        stage.name,
        stage.kind,
        status,
        done["n_in"],
        done["n_out"],
        done["n_rejected"],
        dict(done["rejects_by_reason"]),
        done["seconds"],
    )


def _check_source_item(stage: Stage, item: object, index: int) -> dict | Reject | bytes:
    if isinstance(item, (Reject, bytes)):
        return item
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise DsbuildError(
            f"source stage {stage.name!r} yielded a {type(item).__name__} without a string 'id' "
            f"as item {index}",
            "yield record dicts with a string 'id'",
            code="DSB205",
        )
    return item


def _item_id(item: dict | Reject | bytes | None) -> str | None:
    if item is None:
        return None
    if isinstance(item, Reject):
        return item.id
    return (loads(item) if type(item) is bytes else item)["id"]


def _run_source(
    stage: Stage, ctx: StageContext, skip: int, last: dict | None, out: AppendLog, task: Task
) -> None:
    """Log each yielded record (or `Reject`: a source may drop what it reads, with a
    reason; or `bytes`: a record already encoded, logged without decoding it); on resume
    skip the first `skip` items of the iterator."""
    index, item = -1, None
    try:
        for index, item in enumerate(stage.fn(ctx)):
            item = _check_source_item(stage, item, index)
            if index < skip:
                if index == skip - 1 and last is not None:
                    before, now = _logged_id(last), _item_id(item)
                    if before != now:
                        raise DsbuildError(
                            f"source stage {stage.name!r} is not deterministic: item {index} "
                            f"was {before!r} before and is {now!r} now",
                            "make the source yield the same records for the same config, or "
                            "re-run with --overwrite",
                            code="DSB205",
                        )
                continue
            if isinstance(item, Reject):
                out.write_line(reject_line(index, item.id, item.reason, item.detail))
            elif type(item) is bytes:
                out.write_line(out_line(index, [item]))
            else:
                out.write_line(item_line(stage, index, item, [item]))
            task.advance(1)
        if index + 1 < skip:
            raise DsbuildError(
                f"source stage {stage.name!r} is not deterministic: it yielded {index + 1} "
                f"items, fewer than the {skip} already checkpointed",
                "make the source yield the same records for the same config, or re-run with "
                "--overwrite",
                code="DSB205",
            )
    except DsbuildError:
        raise
    except Exception as e:
        record_id = _item_id(item)
        where = (
            f"the item after record {record_id!r} (index {index + 1})"
            if record_id
            else "its first item"
        )
        raise stage_error(stage, where, e) from e


def _logged_id(line: dict | None) -> str | None:
    """The id of a logged source item: its record's, or its reject's."""
    if line is None:
        return None
    return line["out"][0]["id"] if "out" in line else line["reject"]["id"]


def _pending(prev: StageCheckpoint | None, done: bytearray) -> Iterator[tuple[int, dict]]:
    """Stream (index, record) from the previous stage's records, skipping done indices."""
    assert prev is not None
    index = -1
    for path in prev.record_files():
        with open(path, "rb") as f:
            for line in f:
                index += 1
                if index < len(done) and done[index]:
                    continue
                yield index, loads(line)


def _log_pending(
    stage: Stage, index: int, record: dict, p: Pending, out: AppendLog, pending: _PendingLog
) -> None:
    """Count a pending item; log its placeholder output, if it has one, as a `pending` line
    (which the next run's recover drops, so the item is processed again)."""
    pending.add(p)
    line = pending_item_line(stage, index, record, p)
    if line is not None:
        out.write_line(line)


def _run_map_sync(
    stage: Stage,
    ctx: StageContext,
    items: Iterator[tuple[int, dict]],
    out: AppendLog,
    task: Task,
    pending: _PendingLog,
) -> None:
    for index, record in items:
        try:
            raw = call_map(stage, record, ctx)
        except Pending as p:
            _log_pending(stage, index, record, p, out, pending)
            task.advance(1)
            continue
        result = normalize_map_result(raw, record, stage.name)
        out.write_line(item_line(stage, index, record, result))
        task.advance(1)


# Passes over one stage's deferred records (each pass answers what the last one queued).
MAX_DEFERRED_PASSES = 50


async def _run_map_async(
    stage: Stage,
    ctx: StageContext,
    items: Iterator[tuple[int, dict]],
    out: AppendLog,
    task: Task,
    pending: _PendingLog,
    progress: Progress | None = None,
) -> None:
    """`stage.concurrency` workers take items in input order; each result is logged as it
    completes, a `Pending` item counted (and its placeholder logged). After the first
    failure no new item starts; the calls in flight finish and are logged (they may have
    cost money), then the failure is raised.

    Items that raise `Deferred` (their work was queued, e.g. into a Batch API round) are
    kept; once the pass has ended, each queue's `flush` is awaited and those items run
    again, until none is deferred (`dsbuild.outcomes`)."""
    releases: list[Any] = []
    for _ in range(MAX_DEFERRED_PASSES):
        deferred, flushes = await _map_pass(stage, ctx, items, out, task, pending, releases)
        if not deferred:
            for release in releases:
                release()
            return
        for _ in range(3):  # sibling calls of a deferred item (a gather) queue theirs too
            await asyncio.sleep(0)
        with (progress or NullProgress()).task(f"{stage.name}: batch") as batch_task:
            await asyncio.gather(*(flush(batch_task) for flush in flushes))
        items = iter(sorted(deferred, key=lambda item: item[0]))
    raise DsbuildError(
        f"stage {stage.name!r} still had records waiting for queued work after "
        f"{MAX_DEFERRED_PASSES} passes",
        "report this with the command you ran",
        code="DSB205",
    )


async def _map_pass(
    stage: Stage,
    ctx: StageContext,
    items: Iterator[tuple[int, dict]],
    out: AppendLog,
    task: Task,
    pending: _PendingLog,
    releases: list[Any],
) -> tuple[list[tuple[int, dict]], list[Any]]:
    """One pass of `_run_map_async`: (the items deferred, the distinct flushes to await);
    the deferred items' distinct `release`s are added to `releases`."""
    failures: list[BaseException] = []
    deferred: list[tuple[int, dict]] = []
    flushes: list[Any] = []

    async def worker() -> None:
        while not failures:
            item = next(items, None)
            if item is None:
                return
            index, record = item
            try:
                raw = stage.fn(record, ctx)
                if inspect.isawaitable(raw):
                    raw = await raw
                result = normalize_map_result(raw, record, stage.name)
            except Deferred as d:
                deferred.append(item)
                if d.flush not in flushes:
                    flushes.append(d.flush)
                if d.release is not None and d.release not in releases:
                    releases.append(d.release)
                continue
            except Pending as p:
                _log_pending(stage, index, record, p, out, pending)
                task.advance(1)
                continue
            except DsbuildError as e:
                failures.append(e)
                return
            except Exception as e:
                failures.append(stage_error(stage, f"record {record.get('id')!r}", e))
                return
            out.write_line(item_line(stage, index, record, result))
            task.advance(1)

    await asyncio.gather(*(worker() for _ in range(stage.concurrency)))
    if failures:
        raise failures[0]
    return deferred, flushes


def _run_batch(
    stage: Stage,
    ckpt: StageCheckpoint,
    prev: StageCheckpoint,
    n_in: int,
    ctx: StageContext,
    t0: float,
) -> dict:
    records = [record for _, record in _pending(prev, bytearray())]
    try:
        result = stage.fn(records, ctx)
    except DsbuildError:
        raise
    except Exception as e:
        raise stage_error(stage, f"its batch of {len(records)} records", e) from e
    if not (isinstance(result, tuple) and len(result) == 2):
        raise DsbuildError(
            f"batch stage {stage.name!r} returned {type(result).__name__}",
            "return (records, rejects)",
            code="DSB205",
        )
    out_records, out_rejects = list(result[0]), list(result[1])
    for r in out_records:
        if not isinstance(r, dict) or not isinstance(r.get("id"), str):
            raise DsbuildError(
                f"batch stage {stage.name!r} returned a record without a string 'id'",
                "return record dicts with a string 'id'",
                code="DSB205",
            )
    rejects = []
    for rej in out_rejects:
        if not isinstance(rej, Reject) or not rej.reason:
            raise DsbuildError(
                f"batch stage {stage.name!r} returned a reject that is not a "
                f"Reject with a reason: {rej!r}",
                "return Reject(id, stage, reason, detail) objects",
                code="DSB205",
            )
        rejects.append({"id": rej.id, "reason": rej.reason, "detail": rej.detail})
    try:
        return ckpt.write_batch(out_records, rejects, n_in=n_in, seconds=time.monotonic() - t0)
    except (TypeError, ValueError) as e:
        raise DsbuildError(
            f"batch stage {stage.name!r} returned a record that is not JSON-serialisable: {e}",
            "return only JSON types",
            code="DSB205",
        ) from e


def _publish_outputs(run: RunDir, last: StageCheckpoint, stages: list[StageCheckpoint]) -> None:
    """`RUN/records.jsonl` (a hardlink of the last stage's, or a copy) and `RUN/rejects.jsonl`
    (every stage's rejects, in stage order)."""
    tmp = run.path / ".records.jsonl.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(last.joined(), tmp)
    except OSError:
        shutil.copyfile(last.records, tmp)
    os.replace(tmp, run.records)
    with AtomicWriter(run.rejects) as out:
        for ckpt in stages:
            with open(ckpt.rejects, "rb") as f:
                shutil.copyfileobj(f, out)
