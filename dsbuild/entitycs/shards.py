"""EntityCS's text stage in shards: each worker reads its own byte range of the Wikipedia
dump (decompression, XML, wikitext, sentences, filter) and writes its records and rejects
to its own file; the main process only plans the shards, schedules them
(`dsbuild.runs.shards`) and streams the files back in dump order.

The plan (`plan.json` in the stage's work folder) is made once per dump and kept, so a
killed run resumes with the same shards and redoes only those without output; a dump that
changed on disk (size or mtime) gets a new plan and new shards. Shard sizes never change
the output: `DSBUILD_SHARD_MB` (compressed MB per shard, a tuning knob) may be set freely.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from dsbuild.entitycs.text import chunk_records, chunks, whole_pages
from dsbuild.runs.jsonl import atomic_write_json, dumps_line
from dsbuild.stages import Part, Reject

__all__ = ["find_index", "load_plan", "read_sharded", "text_shard"]

_PLAN_VERSION = 2  # 2: a shard's rejects in a file of their own


def find_index(dump: str) -> str | None:
    """The multistream index Wikimedia publishes next to `dump`
    (`…-multistream.xml.bz2` -> `…-multistream-index.txt.bz2`), when it is there."""
    path = Path(dump)
    if "-multistream" not in path.name:
        return None
    stem = path.name.split("-multistream")[0]
    for name in (f"{stem}-multistream-index.txt.bz2", f"{stem}-multistream-index.txt"):
        if (path.parent / name).is_file():
            return str(path.parent / name)
    return None


def _stamp(path: str | None) -> dict | None:
    if path is None:
        return None
    st = Path(path).stat()
    return {"path": str(Path(path).resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _shard_bytes() -> int | None:
    value = os.environ.get("DSBUILD_SHARD_MB")
    return int(float(value) * (1 << 20)) if value else None


def load_plan(work: Path, dump: str, index: str | None, threads: int) -> list:
    """The shards of `dump`, planned once and kept in `work/plan.json`."""
    from dsbuild.wiki.seekable import Seekable
    from dsbuild.wiki.shards import DumpShard, plan_shards

    key = {
        "version": _PLAN_VERSION,
        "dump": _stamp(dump),
        "index": _stamp(index),
        "shard_bytes": _shard_bytes(),
    }
    path = work / "plan.json"
    if path.is_file():
        try:
            saved = json.loads(path.read_text("utf-8"))
            if saved["key"] == key:
                return [
                    DumpShard(
                        **{
                            **s,
                            "header": base64.b64decode(s["header"]),
                            "source": Seekable(**s["source"]) if s["source"] else None,
                        }
                    )
                    for s in saved["shards"]
                ]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    shutil.rmtree(work / "shards", ignore_errors=True)  # outputs of another plan
    plan = plan_shards(
        dump, index=index, shard_bytes=_shard_bytes(), work_dir=work / "index", threads=threads
    )
    shards = []
    for shard in plan:
        row = asdict(shard)
        row["header"] = base64.b64encode(shard.header).decode()
        shards.append(row)
    atomic_write_json(path, {"key": key, "shards": shards})
    return plan


def _span(shard) -> int:
    """The shard's share of the input, in the unit of its byte range (for progress)."""
    if shard.end is not None:
        return shard.end - shard.start
    size = shard.source.size if shard.source is not None else Path(shard.path).stat().st_size
    return max(size - shard.start, 0)


def text_shard(opts: dict, shard, out: Path, report) -> dict[str, Any]:
    """Read one shard into `out` (its records, one JSON line each) and its rejects file
    (`companion(out, ".rejects")`, lines of `rejects.jsonl`), written whole or not at all."""
    from dsbuild.runs.shards import companion
    from dsbuild.wiki.shards import iter_shard_pages

    counts = {"pages": 0, "sentences": 0, "redirects": 0, "rejects": 0, "bytes": 0}
    reasons: Counter[str] = Counter()
    rejects = companion(out, ".rejects")
    tmp, tmp_rej = companion(out, ".tmp"), companion(rejects, ".tmp")
    pages = whole_pages(iter_shard_pages(shard), opts["wikipedia"])
    with open(tmp, "wb") as f, open(tmp_rej, "wb") as rej_f:
        for chunk in chunks(pages, 64):
            for item in chunk_records(chunk, opts):
                if isinstance(item, Reject):
                    rej_f.write(dumps_line(item.to_dict()))
                    counts["rejects"] += 1
                    reasons[item.reason] += 1
                else:
                    f.write(dumps_line(item))
                    counts["redirects" if item["kind"] == "redirect" else "sentences"] += 1
            counts["pages"] += len(chunk)
            report(**counts)
    counts["bytes"] = _span(shard)
    os.replace(tmp_rej, rejects)
    os.replace(tmp, out)
    return {**counts, "rejects_by_reason": dict(reasons)}


def read_sharded(
    work: Path,
    opts: dict,
    *,
    workers: int,
    engine: str,
    ray_address: str | None,
    run_info: Any = None,
    stage: str = "read_wikipedia",
    task: Any = None,
) -> Iterator[Part]:
    """The dump's records and rejects as one `Part` per shard, in dump order, the shards
    read by `workers` processes (or Ray); per-worker peak memory goes into `run.json`
    (`shards.<stage>`); every worker's pages, sentences and bytes read feed the note of
    the stage's progress `task` (rates and ETA)."""
    import time

    from dsbuild.runs.shards import ShardJob, ShardRun, companion, progress_line, save_summary

    t0 = time.monotonic()
    dump = opts["wikipedia"]
    index = opts.get("wikipedia_index") or find_index(dump)
    plan = load_plan(work, dump, index, threads=workers)
    total = sum(_span(shard) for shard in plan)
    run = ShardRun(
        work / "shards",
        workers=workers,
        engine=engine,
        ray_address=ray_address,
        on_report=progress_line(stage, total, task=task),
    )
    jobs = [ShardJob(shard.key, shard) for shard in plan]
    for _, path, counts in run.results(text_shard, jobs, opts):
        yield Part(
            path,
            companion(path, ".rejects"),
            counts["sentences"] + counts["redirects"] + counts["rejects"],
            counts["sentences"] + counts["redirects"],
            counts["rejects_by_reason"],
        )
    save_summary(run_info, stage, run.summary(time.monotonic() - t0))
