"""Pending records: a failure of the world is never final, and the same command retries it."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from dsbuild.errors import ServiceError
from dsbuild.runs import run_builder
from dsbuild.runs.runner import RunIncompleteError
from dsbuild.stages import Builder, Pending, map_stage, reject, source_stage


def builder(
    down: set[str],
    calls: Counter,
    *,
    async_map: bool = False,
    placeholder: bool = False,
    stop_at: str | None = None,
) -> Builder:
    """src (10 records) -> work (pending for ids in `down`, rejects r3) -> after."""

    def src(ctx):
        for i in range(10):
            yield {"id": f"r{i}", "x": i}

    def body(rec):
        calls[rec["id"]] += 1
        if rec["id"] == stop_at:
            raise ServiceError("the endpoint fails every request", "start it", code="DSB403")
        if rec["id"] in down:
            raise Pending(
                "llm_connection",
                "cannot reach the endpoint",
                output={**rec, "error": "connection"} if placeholder else None,
            )
        if rec["id"] == "r3":
            return reject("too_short", "content")
        return {**rec, "y": rec["x"] * 10}

    def work(rec, ctx):
        return body(rec)

    async def awork(rec, ctx):
        return body(rec)

    def after(rec, ctx):
        calls["after"] += 1
        return True

    return Builder(
        "pend",
        "1",
        (
            source_stage("src", src),
            map_stage("work", awork if async_map else work, concurrency=3 if async_map else 1),
            map_stage("after", after),
        ),
    )


def records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("async_map", [False, True])
def test_pending_records_end_the_run_incomplete_and_the_rerun_retries_only_them(
    tmp_path, async_map
):
    calls: Counter = Counter()
    run = tmp_path / "run"
    with pytest.raises(RunIncompleteError) as caught:
        run_builder(builder({"r1", "r7"}, calls, async_map=async_map), run, {"n": 10})
    err = caught.value
    assert err.exit_code == 4 and err.code == "DSB402"
    assert "2 of 10 records pending" in err.one_line() and "llm_connection x2" in err.one_line()
    assert "run the same command again" in err.one_line()
    work = err.result.stages[1]
    assert (work.status, work.n_out, work.n_rejected, work.n_pending) == ("incomplete", 7, 1, 2)
    assert work.pending_by_reason == {"llm_connection": 2}
    assert len(err.result.stages) == 2 and calls["after"] == 0  # later stages wait
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "incomplete" and info["totals"]["n_rejected"] == 1
    assert "DSB402" in info["error"]
    assert not (run / "stages" / "02-work" / "done.json").exists()

    calls.clear()
    result = run_builder(builder(set(), calls, async_map=async_map), run, {"n": 10})
    assert result.status == "finished" and result.n_pending == 0
    assert {k: v for k, v in calls.items() if k != "after"} == {"r1": 1, "r7": 1}
    assert [r["id"] for r in records(run)] == [f"r{i}" for i in range(10) if i != 3]
    assert [json.loads(x)["reason"] for x in (run / "rejects.jsonl").read_text().splitlines()] == [
        "too_short"
    ]


def test_still_down_stays_incomplete_and_nothing_done_is_lost(tmp_path):
    calls: Counter = Counter()
    run = tmp_path / "run"
    for _ in range(2):
        with pytest.raises(RunIncompleteError):
            run_builder(builder({"r1", "r7"}, calls), run, {"n": 10})
    assert calls["r1"] == 2 and calls["r0"] == 1  # only the pending ones were tried again
    result = run_builder(builder(set(), calls), run, {"n": 10})
    assert result.n_out == 9 and calls["r1"] == 3


def test_placeholder_output_is_written_then_replaced(tmp_path):
    calls: Counter = Counter()
    run = tmp_path / "run"
    b = Builder("pend", "1", builder({"r2"}, calls, placeholder=True).stages[:2])
    with pytest.raises(RunIncompleteError) as caught:
        run_builder(b, run, {"n": 10})
    assert caught.value.result.status == "incomplete"
    partial = records(run)  # the last stage's records so far, placeholders included
    assert [r["id"] for r in partial] == [f"r{i}" for i in range(10) if i != 3]
    assert partial[2]["error"] == "connection"
    calls.clear()
    result = run_builder(Builder("pend", "1", builder(set(), calls).stages[:2]), run, {"n": 10})
    assert result.status == "finished" and dict(calls) == {"r2": 1}
    final = records(run)
    assert final[2] == {"id": "r2", "x": 2, "y": 20} and final[0] == partial[0]
    log = run / "stages" / "02-work" / "log.jsonl"
    assert not log.exists()


def test_a_systematic_service_error_stops_the_stage_and_keeps_what_was_done(tmp_path):
    calls: Counter = Counter()
    run = tmp_path / "run"
    with pytest.raises(ServiceError) as caught:
        run_builder(builder(set(), calls, stop_at="r5"), run, {"n": 10})
    assert caught.value.exit_code == 4 and caught.value.code == "DSB403"
    assert json.loads((run / "run.json").read_text())["status"] == "incomplete"
    assert set(calls) == {f"r{i}" for i in range(6)}  # stopped at once
    calls.clear()
    result = run_builder(builder(set(), calls), run, {"n": 10})
    assert result.status == "finished" and set(calls) - {"after"} == {f"r{i}" for i in range(5, 10)}
    assert result.n_out == 9
