"""run_builder: layout, resume, stage failures, torn logs, async ordering, run.json."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from dsbuild.errors import BudgetExceededError, DsbuildError
from dsbuild.runs import run_builder
from dsbuild.stages import Builder, map_stage, source_stage

from .helpers import cfg, make_builder, outputs

# For cfg(20): double rejects x%5==0 (4), odd3 rejects x%3==0 of the rest (5), flip drops
# the first of the 11 left and reverses the other 10.
KEPT = [19, 17, 16, 14, 13, 11, 8, 7, 4, 2]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@pytest.fixture
def clean(tmp_path_factory) -> tuple[bytes, bytes]:
    """Outputs of an uninterrupted run of the test builder with cfg(20)."""
    run = tmp_path_factory.mktemp("clean")
    run_builder(make_builder(Counter()), run, cfg(20))
    return outputs(run)


def test_layout_counts_and_outputs(tmp_path):
    result = run_builder(make_builder(Counter()), tmp_path, cfg(20, concurrency=3))
    assert result.status == "finished" and result.run_dir == tmp_path and not result.resumed
    assert [p.name for p in sorted((tmp_path / "stages").iterdir())] == [
        "01-src",
        "02-double",
        "03-odd3",
        "04-flip",
    ]
    for stage_dir in (tmp_path / "stages").iterdir():
        names = sorted(p.name for p in stage_dir.iterdir())
        assert names == ["done.json", "records.jsonl", "rejects.jsonl"], stage_dir
    assert [r["x"] for r in lines(result.records_path)] == KEPT
    assert all(
        r["y"] == 2 * r["x"] and r["text"] == f"é{r['x']}" for r in lines(result.records_path)
    )
    rejects = lines(result.rejects_path)
    assert rejects[0] == {"id": "r000", "stage": "double", "reason": "div5", "detail": "x=0"}
    assert [(r["stage"], r["reason"]) for r in rejects] == (
        [("double", "div5")] * 4 + [("odd3", "div3")] * 5 + [("flip", "first")]
    )
    summary = [
        (s.name, s.status, s.n_in, s.n_out, s.n_rejected, s.rejects_by_reason)
        for s in result.stages
    ]
    assert summary == [
        ("src", "ran", 20, 20, 0, {}),
        ("double", "ran", 20, 16, 4, {"div5": 4}),
        ("odd3", "ran", 16, 11, 5, {"div3": 5}),
        ("flip", "ran", 11, 10, 1, {"first": 1}),
    ]
    done = json.loads((tmp_path / "stages" / "02-double" / "done.json").read_text())
    stage_records = (tmp_path / "stages" / "02-double" / "records.jsonl").read_bytes()
    assert done["records_sha256"] == hashlib.sha256(stage_records).hexdigest()
    assert (done["n_in"], done["n_out"], done["n_rejected"]) == (20, 16, 4)
    assert (
        result.records_path.read_bytes()
        == (tmp_path / "stages" / "04-flip" / "records.jsonl").read_bytes()
    )
    fingerprint = json.loads((tmp_path / "fingerprint.json").read_text())
    assert fingerprint["fingerprint"] == result.fingerprint and fingerprint["version"] == 1
    assert fingerprint["config"] == cfg(20)  # concurrency is not part of it
    assert "concurrency: 3" in (tmp_path / "config.yaml").read_text()
    assert "run finished" in (tmp_path / "logs" / "run.log").read_text()


def test_run_json(tmp_path):
    result = run_builder(make_builder(Counter()), tmp_path, cfg(20))
    info = json.loads(result.run_json_path.read_text())
    assert info["status"] == "finished" and info["fingerprint"] == result.fingerprint
    assert info["dsbuild_version"] and info["python"].count(".") == 2
    assert "pydantic" in info["packages"] and "click" in info["packages"]
    assert [s["name"] for s in info["stages"]] == ["src", "double", "odd3", "flip"]
    assert info["totals"]["n_out"] == 10 and info["totals"]["n_rejected"] == 10
    assert info["tokens"] == {"prompt": 0, "completion": 0} and info["cost_usd"] == 0.0
    assert info["started_at"] <= info["finished_at"]


def test_resume_skips_finished_stages(tmp_path, clean):
    calls = Counter()
    run_builder(make_builder(calls), tmp_path, cfg(20))
    first = dict(calls)
    result = run_builder(make_builder(calls), tmp_path, cfg(20))
    assert dict(calls) == first  # no stage function called again
    assert result.resumed and [s.status for s in result.stages] == ["skipped"] * 4
    assert [s.n_out for s in result.stages] == [20, 16, 11, 10]
    assert outputs(tmp_path) == clean


@pytest.mark.parametrize("async_map", [False, True])
def test_stage_exception_is_dsb205_and_earlier_work_is_kept(tmp_path, clean, async_map):
    calls = Counter()
    with pytest.raises(DsbuildError) as e:
        run_builder(make_builder(calls, fail_at="r007", async_map=async_map), tmp_path, cfg(20))
    err = e.value
    assert err.code == "DSB205" and type(err) is DsbuildError
    assert "'double'" in err.what and "'r007'" in err.what and "ValueError" in err.what
    assert "resume" in err.fix
    assert (tmp_path / "stages" / "01-src" / "done.json").exists()
    assert not (tmp_path / "stages" / "02-double" / "done.json").exists()
    logged = sorted(line["i"] for line in lines(tmp_path / "stages" / "02-double" / "log.jsonl"))
    assert 7 not in logged
    if not async_map:
        assert logged == list(range(7))
    else:
        assert set(range(4)) <= set(logged)  # started before r007 and no later than it
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "failed"
    assert "DSB205" in json.loads((tmp_path / "run.json").read_text())["error"]

    before = calls["double"]
    result = run_builder(make_builder(calls, async_map=async_map), tmp_path, cfg(20))
    assert calls["src"] == 20  # the finished source is not run again
    assert calls["double"] - before == 20 - len(logged)  # only the missing items
    assert [s.status for s in result.stages] == ["skipped", "resumed", "ran", "ran"]
    assert outputs(tmp_path) == clean


def test_failure_in_a_later_stage_keeps_finished_stages(tmp_path, clean):
    calls = Counter()
    with pytest.raises(DsbuildError, match="'odd3'.*'r004'"):
        run_builder(make_builder(calls, fail_at="r004", fail_stage="odd3"), tmp_path, cfg(20))
    result = run_builder(make_builder(calls), tmp_path, cfg(20))
    assert (calls["src"], calls["double"]) == (20, 20)
    assert [s.status for s in result.stages] == ["skipped", "skipped", "resumed", "ran"]
    assert outputs(tmp_path) == clean


def test_source_resume_skips_logged_items(tmp_path, clean):
    calls = Counter()
    with pytest.raises(DsbuildError, match="'src'.*after record 'r004' \\(index 5\\)") as e:
        run_builder(make_builder(calls, fail_at="r005", fail_stage="src"), tmp_path, cfg(20))
    assert e.value.code == "DSB205"
    assert len(lines(tmp_path / "stages" / "01-src" / "log.jsonl")) == 5
    result = run_builder(make_builder(calls), tmp_path, cfg(20))
    assert result.stages[0].status == "resumed"
    assert outputs(tmp_path) == clean
    ids = [r["id"] for r in lines(tmp_path / "stages" / "01-src" / "records.jsonl")]
    assert ids == [f"r{i:03d}" for i in range(20)]


def test_a_source_that_changed_is_detected(tmp_path):
    with pytest.raises(DsbuildError):
        run_builder(make_builder(Counter(), fail_at="r005", fail_stage="src"), tmp_path, cfg(20))

    def other(ctx):
        for i in range(20):
            yield {"id": f"other{i}"}

    def shorter(ctx):
        for i in range(3):
            yield {"id": f"r{i:03d}"}

    b = make_builder(Counter())
    for source in (other, shorter):
        changed = Builder(b.name, b.version, (source_stage("src", source), *b.stages[1:]))
        with pytest.raises(DsbuildError, match="not deterministic") as e:
            run_builder(changed, tmp_path, cfg(20))
        assert e.value.code == "DSB205"


def test_a_source_may_yield_encoded_records(tmp_path, clean):
    """Records as JSON bytes (e.g. read from files other processes wrote) are logged as they
    are: the same outputs as dicts, the same resume, the same determinism check."""
    from dsbuild.runs.loglines import encode_record

    b = make_builder(Counter())

    def encoded(ctx, fail_at=None, prefix="r"):
        for i in range(ctx.config["n"]):
            if f"r{i:03d}" == fail_at:
                raise ValueError("boom")
            yield encode_record({"id": f"{prefix}{i:03d}", "x": i, "text": f"é{i}"})

    def with_source(fn):
        return Builder(b.name, b.version, (source_stage("src", fn), *b.stages[1:]))

    with pytest.raises(DsbuildError, match="after record 'r004'"):
        run_builder(with_source(lambda ctx: encoded(ctx, "r005")), tmp_path, cfg(20))
    with pytest.raises(DsbuildError, match="item 4 was 'r004' before and is 'q004' now"):
        run_builder(with_source(lambda ctx: encoded(ctx, prefix="q")), tmp_path, cfg(20))
    result = run_builder(with_source(encoded), tmp_path, cfg(20))
    assert result.stages[0].status == "resumed"
    assert outputs(tmp_path) == clean


@pytest.mark.parametrize(
    "stage_dir, fail", [("01-src", ("src", "r005")), ("02-double", ("double", "r007"))]
)
def test_torn_last_line_is_cut_on_resume(tmp_path, clean, stage_dir, fail):
    with pytest.raises(DsbuildError):
        run_builder(make_builder(Counter(), fail_stage=fail[0], fail_at=fail[1]), tmp_path, cfg(20))
    log = tmp_path / "stages" / stage_dir / "log.jsonl"
    n_lines = len(lines(log))
    with open(log, "ab") as f:  # what a kill in the middle of a write leaves behind
        f.write(b'{"i":%d,"out":[{"id":"r0' % n_lines)
    result = run_builder(make_builder(Counter()), tmp_path, cfg(20))
    assert result.status == "finished"
    assert outputs(tmp_path) == clean


def test_a_damaged_log_line_in_the_middle_is_dsb203(tmp_path):
    with pytest.raises(DsbuildError):
        run_builder(make_builder(Counter(), fail_at="r007"), tmp_path, cfg(20))
    log = tmp_path / "stages" / "02-double" / "log.jsonl"
    content = log.read_bytes().split(b"\n")
    content[2] = b"garbage"
    log.write_bytes(b"\n".join(content))
    with pytest.raises(DsbuildError) as e:
        run_builder(make_builder(Counter()), tmp_path, cfg(20))
    assert e.value.code == "DSB203" and "log.jsonl" in e.value.what


def test_a_changed_checkpoint_is_dsb203(tmp_path):
    run_builder(make_builder(Counter()), tmp_path, cfg(20))
    with open(tmp_path / "stages" / "02-double" / "records.jsonl", "ab") as f:
        f.write(b'{"id":"intruder"}\n')
    with pytest.raises(DsbuildError) as e:
        run_builder(make_builder(Counter()), tmp_path, cfg(20))
    assert e.value.code == "DSB203"


def test_async_map_writes_input_order_and_bounds_concurrency(tmp_path):
    completed: list[int] = []
    live = Counter()

    def src(ctx):
        for i in range(40):
            yield {"id": f"r{i:03d}", "x": i}

    async def slow_first(rec, ctx):
        live["now"] += 1
        live["max"] = max(live["max"], live["now"])
        await asyncio.sleep(0.001 * (40 - rec["x"]) / 4)  # early inputs finish last
        live["now"] -= 1
        completed.append(rec["x"])
        return [{**rec, "part": 1}, {**rec, "id": rec["id"] + "b", "part": 2}]

    b = Builder(
        "order", "1", (source_stage("src", src), map_stage("slow", slow_first, concurrency=5))
    )
    result = run_builder(b, tmp_path, {"n": 40})
    assert live["max"] == 5
    assert completed != sorted(completed)  # completion order really differed
    ids = [r["id"] for r in lines(result.records_path)]
    assert ids == [i for x in range(40) for i in (f"r{x:03d}", f"r{x:03d}b")]


def test_map_outputs_zero_to_n_records(tmp_path):
    def src(ctx):
        for i in range(5):
            yield {"id": f"r{i}", "n": i}

    def explode(rec, ctx):
        return [{"id": f"{rec['id']}.{k}"} for k in range(rec["n"])]

    result = run_builder(
        Builder("x", "1", (source_stage("src", src), map_stage("explode", explode))), tmp_path, {}
    )
    assert result.stages[1].n_out == 0 + 1 + 2 + 3 + 4 and result.stages[1].n_rejected == 0
    assert [r["id"] for r in lines(result.records_path)][:3] == ["r1.0", "r2.0", "r2.1"]


@pytest.mark.parametrize("bad", [None, {"id": "r0", "x": {1, 2}}, {"id": "r0", "x": object()}])
def test_bad_stage_results_are_dsb205(tmp_path, bad):
    def src(ctx):
        yield {"id": "r0"}

    b = Builder("x", "1", (source_stage("src", src), map_stage("bad", lambda r, c: bad)))
    with pytest.raises(DsbuildError) as e:
        run_builder(b, tmp_path, {})
    assert e.value.code == "DSB205" and "'bad'" in e.value.what and "r0" in e.value.what


def test_dsbuild_errors_from_a_stage_pass_through(tmp_path):
    budget = BudgetExceededError("the next request would exceed --max-cost 1.00")
    with pytest.raises(BudgetExceededError) as e:
        run_builder(make_builder(Counter(), fail_at="r003", exc=budget), tmp_path, cfg(20))
    assert e.value is budget
    assert len(lines(tmp_path / "stages" / "02-double" / "log.jsonl")) == 3


def test_interrupt_marks_run_interrupted_and_releases_the_lock(tmp_path, clean):
    with pytest.raises(KeyboardInterrupt):
        run_builder(
            make_builder(Counter(), fail_at="r009", exc=KeyboardInterrupt()), tmp_path, cfg(20)
        )
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "interrupted"
    run_builder(make_builder(Counter()), tmp_path, cfg(20))  # lock released: resumes
    assert outputs(tmp_path) == clean


def test_context_carries_config_options_seed_and_extras(tmp_path):
    seen = {}
    engine = object()

    def src(ctx):
        seen.update(
            config=ctx.config,
            options=ctx.options,
            runtime=ctx.runtime,
            seed=ctx.seed,
            stage=ctx.stage,
            llm=ctx.llm,
            logger=ctx.logger.name,
        )
        yield {"id": "r0"}

    run_builder(
        Builder("x", "1", (source_stage("src", src),)),
        tmp_path,
        {"seed": 5, "n": 1, "concurrency": 8, "options": {"k": 2}},
        context_extras={"llm": engine},
    )
    assert seen == {
        "config": {"seed": 5, "n": 1, "concurrency": 8, "options": {"k": 2}},
        "options": {"k": 2},
        "runtime": {"concurrency": 8},
        "seed": 5,
        "stage": "src",
        "llm": engine,
        "logger": "dsbuild.stage.src",
    }


def test_run_log_collects_stage_logging_and_handler_is_removed(tmp_path):
    import logging

    def src(ctx):
        ctx.logger.info("hello from the source")
        yield {"id": "r0"}

    before = list(logging.getLogger("dsbuild").handlers)
    run_builder(Builder("x", "1", (source_stage("src", src),)), tmp_path, {})
    assert "hello from the source" in (tmp_path / "logs" / "run.log").read_text()
    assert logging.getLogger("dsbuild").handlers == before


def test_final_records_are_a_hardlink_or_copy(tmp_path):
    run_builder(make_builder(Counter()), tmp_path, cfg(20))
    final, last = tmp_path / "records.jsonl", tmp_path / "stages" / "04-flip" / "records.jsonl"
    assert final.read_bytes() == last.read_bytes()
    assert os.stat(final).st_ino == os.stat(last).st_ino  # same filesystem here: hardlinked


def test_async_failure_lets_calls_in_flight_finish_and_logs_them(tmp_path):
    """A failing call (e.g. the budget) stops new calls; slower ones already started finish
    and are checkpointed, since they may have cost money, and are not redone on resume."""
    started, finished = [], []

    def src(ctx):
        for i in range(12):
            yield {"id": f"r{i:02d}"}

    async def slow(record, ctx):
        started.append(record["id"])
        if record["id"] == "r01":
            await asyncio.sleep(0.01)
            raise BudgetExceededError("budget reached", "raise --max-cost", code="DSB501")
        await asyncio.sleep(0.05)
        finished.append(record["id"])
        return record

    builder = Builder("drain", "1", (source_stage("src", src), map_stage("m", slow, concurrency=4)))
    with pytest.raises(BudgetExceededError):
        run_builder(builder, tmp_path, {"seed": 0})
    logged = {line["i"] for line in lines(tmp_path / "stages" / "02-m" / "log.jsonl")}
    assert sorted(started) == ["r00", "r01", "r02", "r03"]  # no new call after the failure
    assert logged == {0, 2, 3} and sorted(finished) == ["r00", "r02", "r03"]


def test_a_source_may_yield_rejects_which_resume_like_records(tmp_path):
    from dsbuild.stages import Reject

    def src(ctx):
        for i in range(10):
            yield Reject(f"r{i}", "src", "odd", f"item {i}") if i % 2 else {"id": f"r{i}"}

    builder = Builder("srcrej", "1", (source_stage("src", src),))
    result = run_builder(builder, tmp_path, {"seed": 0})
    assert result.stages[0].n_in == 10 and result.stages[0].n_out == 5
    assert result.stages[0].rejects_by_reason == {"odd": 5}
    assert [r["id"] for r in lines(tmp_path / "rejects.jsonl")] == ["r1", "r3", "r5", "r7", "r9"]
    assert lines(tmp_path / "rejects.jsonl")[0] == {
        "id": "r1",
        "stage": "src",
        "reason": "odd",
        "detail": "item 1",
    }
