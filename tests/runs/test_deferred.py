"""Records that raise `Deferred`: the runner runs them again after each queue's flush, in as
many passes as the records need; a flush that raises `Detached` stops the run cleanly and the
same command goes on."""

from __future__ import annotations

import json

import pytest

from dsbuild.outcomes import Deferred, Detached
from dsbuild.runs import run_builder
from dsbuild.stages import Builder, map_stage, reject, source_stage


class Queue:
    """Work queued across records: each record asks for `steps` answers in a row (the second
    depends on the first), and a flush answers everything queued so far."""

    def __init__(self, detach_at: int | None = None) -> None:
        self.answers: dict[str, int] = {}
        self.queued: list[str] = []
        self.flushes: list[list[str]] = []
        self.detach_at = detach_at  # the flush that hands the work off instead
        self.released = 0

    def ask(self, key: str) -> int:
        if key in self.answers:
            return self.answers[key]
        self.queued.append(key)
        raise Deferred("queued", self.flush, key, release=self.release)

    def release(self) -> None:
        self.released += 1

    async def flush(self, task=None) -> None:
        batch, self.queued = self.queued, []
        self.flushes.append(batch)
        if self.detach_at == len(self.flushes):
            self.detach_at = None
            raise Detached(f"{len(batch)} handed off")
        for key in batch:
            self.answers[key] = len(key)
        if task is not None:
            task.advance(len(batch))


def builder(queue: Queue) -> Builder:
    def src(ctx):
        for i in range(6):
            yield {"id": f"r{i}", "steps": 1 + i % 3}

    async def work(rec, ctx):
        if rec["id"] == "r4":
            return reject("too_short", "kept out before any question")
        total = 0
        for step in range(rec["steps"]):  # each answer is needed before the next question
            total += queue.ask(f"{rec['id']}/{step}")
        return {**rec, "total": total}

    return Builder(
        "deferred",
        "1",
        (source_stage("src", src), map_stage("work", work, concurrency=2)),
    )


def rows(run):
    return [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]


def test_deferred_records_run_again_after_each_flush_until_none_waits(tmp_path):
    queue = Queue()
    result = run_builder(builder(queue), tmp_path / "run", {"seed": 0})
    assert result.status == "finished"
    # pass 1 queues every first question, pass 2 the second ones, pass 3 the third ones
    assert queue.flushes == [
        ["r0/0", "r1/0", "r2/0", "r3/0", "r5/0"],
        ["r1/1", "r2/1", "r5/1"],
        ["r2/2", "r5/2"],
    ]
    out = rows(tmp_path / "run")
    assert [r["id"] for r in out] == ["r0", "r1", "r2", "r3", "r5"]  # input order
    assert [r["total"] for r in out] == [4, 8, 12, 4, 12]
    assert result.stages[1].n_rejected == 1
    assert queue.released == 1  # once the stage has no record waiting


def test_a_detached_flush_stops_the_run_and_the_same_command_goes_on(tmp_path):
    queue = Queue(detach_at=2)
    with pytest.raises(Detached, match="3 handed off"):
        run_builder(builder(queue), tmp_path / "run", {"seed": 0})
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "detached" and info["detached"] == "3 handed off"
    assert not (tmp_path / "run" / "records.jsonl").exists()
    # the records done before it are kept: the next run asks only for the rest
    queue.flushes.clear()
    result = run_builder(builder(queue), tmp_path / "run", {"seed": 0})
    assert result.status == "finished" and result.resumed
    assert queue.flushes == [["r1/1", "r2/1", "r5/1"], ["r2/2", "r5/2"]]
    assert [r["total"] for r in rows(tmp_path / "run")] == [4, 8, 12, 4, 12]
