"""Small builders for runner tests: every stage function counts its calls."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from dsbuild.stages import Builder, Reject, batch_stage, map_stage, reject, source_stage


def make_builder(
    calls: Counter,
    *,
    fail_at: str | None = None,
    fail_stage: str = "double",
    version: str = "1",
    async_map: bool = False,
    concurrency: int = 4,
    exc: BaseException | None = None,
) -> Builder:
    """source (n records) -> double (map, rejects x%5==0) -> odd3 (filter) -> flip (batch:
    drops the first record, reverses the rest).

    `fail_at` makes `fail_stage` raise `exc` (ValueError by default) on that record id.
    """

    def boom(stage: str, rid: str) -> None:
        if stage == fail_stage and rid == fail_at:
            raise exc if exc is not None else ValueError(f"boom on {rid}")

    def src(ctx):
        for i in range(ctx.config["n"]):
            calls["src"] += 1
            boom("src", f"r{i:03d}")
            yield {"id": f"r{i:03d}", "x": i, "text": f"é{i}"}

    def double_body(rec):
        calls["double"] += 1
        boom("double", rec["id"])
        if rec["x"] % 5 == 0:
            return reject("div5", f"x={rec['x']}")
        return {**rec, "y": rec["x"] * 2}

    def double(rec, ctx):
        return double_body(rec)

    async def adouble(rec, ctx):
        await asyncio.sleep(0.001 * ((rec["x"] * 7) % 5))
        return double_body(rec)

    def odd3(rec, ctx):
        calls["odd3"] += 1
        boom("odd3", rec["id"])
        return True if rec["x"] % 3 else reject("div3")

    def flip(records, ctx):
        calls["flip"] += 1
        return list(reversed(records[1:])), [Reject(records[0]["id"], "", "first", "dropped")]

    return Builder(
        "testb",
        version,
        (
            source_stage("src", src),
            map_stage(
                "double",
                adouble if async_map else double,
                concurrency=concurrency if async_map else 1,
            ),
            map_stage("odd3", odd3),
            batch_stage("flip", flip),
        ),
    )


def cfg(n: int = 20, **extra: Any) -> dict[str, Any]:
    return {"dataset": "testb", "n": n, "seed": 1, **extra}


def outputs(run_dir: Path) -> tuple[bytes, bytes]:
    return (run_dir / "records.jsonl").read_bytes(), (run_dir / "rejects.jsonl").read_bytes()
