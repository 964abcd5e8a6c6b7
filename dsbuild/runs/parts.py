"""A plain-CPU map stage (`map_stage(..., processes=True)`) run in parts by worker processes.

The stage's input (the previous stage's records: its `records.jsonl`, or the files of
its parts) is cut into parts at line ends (`part_bytes`); a worker runs a whole part and
writes the part's records and rejects to files of its own, whole or not at all, with its
counts (`dsbuild.runs.shards`). At the end the main process joins the parts' rejects and
lists their records' files in order (`StageCheckpoint.write_parts`, `parts.json`): it
never decodes, encodes or even copies a record, so the stage scales with its workers; the
next stage reads those files in turn, and the run's output is joined once, at its end. A
killed run keeps the finished parts and redoes the others.

Workers are forked after the stage's `prepare`, so they inherit its context (an index, an
open store: a handle that cannot cross a fork reopens itself, as `LabelStore` does).
`workers` is the run's setting, at most one per CPU, local processes also with `--engine
ray` (a cluster does not have the prepared context). With one worker, or where fork is not
available, the parts run in the main process: the same files, the same output.

A part with items pending (the world failed) is written with their placeholders and runs
again in the next run; the stage ends incomplete, as any map stage does.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dsbuild.outcomes import Pending
from dsbuild.runs.checkpoint import StageCheckpoint
from dsbuild.runs.jsonl import dumps_line, loads
from dsbuild.runs.mapcall import call_map, output_lines, placeholder
from dsbuild.runs.shards import ShardJob, ShardRun, companion, save_summary
from dsbuild.stages import Part, Reject, Rejection, Stage, StageContext, normalize_map_result

__all__ = ["PartsResult", "plan_parts", "process_workers", "run_parts"]

log = logging.getLogger("dsbuild.runs")

_REPORT_EVERY = 256  # items between a part's progress reports


def part_bytes(total: int) -> int:
    """The size of a part of an input of `total` bytes: `DSBUILD_PART_MB` if set, else a
    64th of the input (many parts per worker keep the workers evenly busy) within 256 KB -
    4 MB; never the number of workers, so a resumed run with other workers keeps its parts."""
    value = os.environ.get("DSBUILD_PART_MB")
    if value:
        return max(1, int(float(value) * (1 << 20)))
    return min(max(total // 64, 256 << 10), 4 << 20)


def process_workers(ctx: StageContext) -> int:
    """How many processes run a `processes` stage: the run's `workers`, at most the CPUs;
    1 (the main process) where fork is not available."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    workers = int(ctx.runtime.get("workers") or 1)
    return max(1, min(workers, os.cpu_count() or 1))


def plan_parts(paths: list[Path], size: int) -> list[ShardJob]:
    """Parts of the files `paths` (read in turn) of at most about `size` bytes, each ending
    at a line end and in one file; a part's key is its file's number and its byte range,
    so parts of another size or another input layout are never taken for these."""
    jobs = []
    for number, path in enumerate(paths):
        with open(path, "rb") as f:
            total = os.fstat(f.fileno()).st_size
            offset = 0
            while offset < total:
                end = offset + size
                if end >= total:
                    end = total
                else:  # to the end of the line that holds byte end - 1
                    f.seek(end - 1)
                    end += len(f.readline()) - 1
                key = f"{number:05d}-{offset:013d}-{end - offset:010d}"
                jobs.append(ShardJob(key, (str(path), offset, end)))
                offset = end
    return jobs


def run_part(shared: tuple[Stage, StageContext], payload: tuple, out: Path, report) -> dict:
    """In a worker: the stage over one part of its input into `out` (records) and the
    part's rejects file; returns its counts."""
    stage, ctx = shared
    path, start, end = payload
    with open(path, "rb") as f:
        f.seek(start)
        lines = f.read(end - start).split(b"\n")
    lines.pop()  # a part ends with a newline
    n_out = 0
    reasons: Counter[str] = Counter()
    pending: Counter[str] = Counter()
    details: dict[str, str] = {}
    rejects = companion(out, ".rejects")
    tmp_out, tmp_rej = out.with_name(out.name + ".tmp"), rejects.with_name(rejects.name + ".tmp")
    with open(tmp_out, "wb") as rec_f, open(tmp_rej, "wb") as rej_f:
        for k, line in enumerate(lines, 1):
            if k % _REPORT_EVERY == 0:
                report(items=k - 1)
            record = loads(line)
            try:
                result = call_map(stage, record, ctx)
                if result is True:  # kept as it is: its line as it was read, not encoded again
                    rec_f.write(line + b"\n")
                    n_out += 1
                    continue
                result = normalize_map_result(result, record, stage.name)
            except Pending as p:
                pending[p.reason] += 1
                details.setdefault(p.reason, " ".join(str(p.detail).split())[:300])
                rec_f.write(output_lines(stage, record, placeholder(stage, record, p) or []))
                continue
            if isinstance(result, Rejection):
                reasons[result.reason] += 1
                reject = Reject(record["id"], stage.name, result.reason, str(result.detail))
                rej_f.write(dumps_line(reject.to_dict()))
            else:
                rec_f.write(output_lines(stage, record, result))
                n_out += len(result)
    os.replace(tmp_rej, rejects)
    os.replace(tmp_out, out)
    return {
        "items": len(lines),
        "n_out": n_out,
        "rejects_by_reason": dict(reasons),
        "pending_by_reason": dict(pending),
        "pending_detail": details,
    }


@dataclass
class PartsResult:
    """What `run_parts` did: `done` is the stage's done.json (or, when items are pending,
    its counts so far), `status` ran or resumed; `pending` counts by reason, with a detail."""

    done: dict
    status: str
    pending: Counter = field(default_factory=Counter)
    details: dict[str, str] = field(default_factory=dict)


def run_parts(
    stage: Stage,
    ctx: StageContext,
    inputs: list[Path],
    ckpt: StageCheckpoint,
    task: Any,
    t0: float,
) -> PartsResult:
    """Run `stage` over the records in the files `inputs` (read in turn) in parts into
    `ckpt` (see the module docstring)."""
    jobs = plan_parts(inputs, part_bytes(sum(path.stat().st_size for path in inputs)))
    advanced = 0

    def on_report(totals: dict[str, int]) -> None:
        nonlocal advanced
        items = totals.get("items", 0)
        if items > advanced:
            task.advance(items - advanced)
            advanced = items

    run = ShardRun(
        ckpt.path / "parts",
        workers=process_workers(ctx),
        on_report=on_report,
        start_method="fork",
    )
    parts = []
    result = PartsResult({}, "")
    for job, out, counts in run.results(run_part, jobs, (stage, ctx)):
        parts.append(
            Part(
                out,
                companion(out, ".rejects"),
                counts["items"],
                counts["n_out"],
                counts["rejects_by_reason"],
            )
        )
        if counts["pending_by_reason"]:
            result.pending.update(counts["pending_by_reason"])
            for reason, detail in counts["pending_detail"].items():
                result.details.setdefault(reason, detail)
            run.paths(job.key)[1].unlink()  # the part runs again next time
    result.status = "resumed" if run.kept else "ran"
    save_summary(getattr(ctx, "run_info", None), stage.name, run.summary(time.monotonic() - t0))
    finished = not result.pending
    result.done = ckpt.write_parts(parts, kind="map", t0=t0, finished=finished, remove="parts")
    log.info(
        "stage %s: %d parts (%d kept) by %d worker(s)",
        stage.name,
        len(parts),
        run.kept,
        run.workers,
    )
    if result.pending:
        result.done["n_pending"] = sum(result.pending.values())
    return result
