"""A `processes=True` map stage runs in parts (dsbuild.runs.parts): the same outputs as the
stage run record by record in one process, for one worker or two, with many parts; a
failure keeps the finished parts; a pending item reruns its part only."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from dsbuild.errors import DsbuildError
from dsbuild.outcomes import Pending
from dsbuild.runs import run_builder
from dsbuild.runs.runner import RunIncompleteError
from dsbuild.stages import Builder, map_stage, reject, source_stage


def make_builder(calls: Path, processes: bool, fail: Path | None = None) -> Builder:
    """source (n records, with text to make lines of many sizes) -> shape (a processes map:
    rejects x % 7 == 0, two outputs when x % 3 == 0, keeps x % 5 == 0 as is; raises or
    leaves pending the ids written in `fail` while that file exists, or sleeps 3 ms a call)."""

    def src(ctx):
        for i in range(ctx.config["n"]):
            yield {"id": f"r{i:04d}", "x": i, "text": 'é]}\\n"' * (i % 13)}

    def shape(rec, ctx):
        with open(calls, "a") as f:  # O_APPEND: lines from every process
            f.write(f"{os.getpid()} {rec['id']}\n")
        if fail is not None and fail.exists():
            how, _, ids = fail.read_text().partition(":")
            if how == "sleep":
                time.sleep(0.003)
            elif rec["id"] in ids.split(","):
                if how == "pending":
                    raise Pending("llm_connection", "down", output={**rec, "failed": True})
                raise ValueError(f"boom on {rec['id']}")
        x = rec["x"]
        if x % 7 == 0:
            return reject("div7", f"x={x}")
        if x % 5 == 0:
            return True
        if x % 3 == 0:
            return [{**rec, "half": 1}, {**rec, "id": rec["id"] + "b", "half": 2}]
        return {**rec, "y": x * 2}

    return Builder(
        "parts",
        "1",
        (source_stage("src", src), map_stage("shape", shape, processes=processes)),
    )


def outputs(run: Path) -> tuple[bytes, bytes, dict]:
    stage = run / "stages" / "02-shape"
    done = json.loads((stage / "done.json").read_text())
    for key in ("seconds", "finished_at", "records_sha256"):  # (None for parts: not hashed)
        done.pop(key)
    return (stage / "records.jsonl").read_bytes(), (stage / "rejects.jsonl").read_bytes(), done


def called(calls: Path) -> list[str]:
    return [line.split()[1] for line in calls.read_text().splitlines()] if calls.exists() else []


@pytest.fixture
def reference(tmp_path) -> tuple[bytes, bytes, dict]:
    calls = tmp_path / "ref-calls"
    run_builder(make_builder(calls, False), tmp_path / "ref", {"n": 400, "seed": 0})
    return outputs(tmp_path / "ref")


@pytest.mark.parametrize("workers", [1, 2])
def test_parts_give_what_one_process_gives(tmp_path, monkeypatch, reference, workers):
    monkeypatch.setenv("DSBUILD_PART_MB", "0.002")  # ~2 KB: many parts
    calls = tmp_path / "calls"
    result = run_builder(
        make_builder(calls, True), tmp_path / "run", {"n": 400, "seed": 0, "workers": workers}
    )
    assert outputs(tmp_path / "run") == reference
    assert sorted(called(calls)) == [f"r{i:04d}" for i in range(400)]  # each item once
    assert not (tmp_path / "run" / "stages" / "02-shape" / "parts").exists()
    info = json.loads(result.run_json_path.read_text())["shards"]["shape"]
    assert info["shards"] > 10 and info["shards_kept"] == 0
    pids = {line.split()[0] for line in calls.read_text().splitlines()}
    if workers == 2:
        assert len(info["per_worker"]) == 2 and str(os.getpid()) not in pids
    else:
        assert pids == {str(os.getpid())}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_part_keeps_the_finished_ones(tmp_path, monkeypatch, reference, workers):
    monkeypatch.setenv("DSBUILD_PART_MB", "0.002")
    calls, fail = tmp_path / "calls", tmp_path / "fail"
    fail.write_text("raise:r0350")
    builder = make_builder(calls, True, fail)
    cfg = {"n": 400, "seed": 0, "workers": workers}
    with pytest.raises(DsbuildError, match=r"DSB205.*'shape'.*'r0350'.*boom on r0350"):
        run_builder(builder, tmp_path / "run", cfg)
    first = called(calls)
    assert "r0000" in first
    fail.unlink()
    calls.unlink()
    result = run_builder(builder, tmp_path / "run", cfg)
    assert outputs(tmp_path / "run") == reference
    again = called(calls)
    assert "r0000" not in again and "r0350" in again  # the first parts were kept
    assert json.loads(result.run_json_path.read_text())["shards"]["shape"]["shards_kept"] > 0


def test_a_pending_item_reruns_its_part_only(tmp_path, monkeypatch, reference):
    monkeypatch.setenv("DSBUILD_PART_MB", "0.002")
    calls, fail = tmp_path / "calls", tmp_path / "fail"
    fail.write_text("pending:r0101")
    builder = make_builder(calls, True, fail)
    cfg = {"n": 400, "seed": 0, "workers": 2}
    with pytest.raises(RunIncompleteError) as info:
        run_builder(builder, tmp_path / "run", cfg)
    stage = info.value.result.stages[-1]
    assert stage.status == "incomplete" and stage.n_pending == 1
    assert stage.pending_by_reason == {"llm_connection": 1}
    partial = (tmp_path / "run" / "records.jsonl").read_bytes()
    assert b'"failed":true' in partial  # the placeholder shows until the retry
    fail.unlink()
    calls.unlink()
    run_builder(builder, tmp_path / "run", cfg)
    assert outputs(tmp_path / "run") == reference
    again = called(calls)
    assert "r0101" in again and len(again) < 40  # one part of ~2 KB, not the 400 items


CHILD = r"""
import sys, json
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.runs.test_parts import make_builder
from dsbuild.runs import run_builder
run_builder(make_builder(Path(sys.argv[3]), True, Path(sys.argv[4])), sys.argv[2],
            {"n": 400, "seed": 0, "workers": 2})
"""


@pytest.mark.slow
def test_a_killed_run_keeps_its_finished_parts(tmp_path, reference):
    """SIGKILL to the whole process group while the parts run; the next run keeps them."""
    import signal
    import subprocess
    import sys

    calls, slow = tmp_path / "calls", tmp_path / "fail"
    slow.write_text("sleep:")  # every call sleeps 3 ms: 0.6 s in all
    env = {**os.environ, "DSBUILD_PART_MB": "0.002"}
    repo = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, repo, str(tmp_path / "run"), str(calls), str(slow)],
        env=env,
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    parts = tmp_path / "run" / "stages" / "02-shape" / "parts"
    try:
        deadline = time.monotonic() + 120
        while len(list(parts.glob("*.json"))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no part finished in time"
            time.sleep(0.001)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    finished = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.json")}
    os.environ["DSBUILD_PART_MB"] = "0.002"
    try:
        result = run_builder(
            make_builder(calls, True, slow), tmp_path / "run", {"n": 400, "seed": 0, "workers": 2}
        )
    finally:
        del os.environ["DSBUILD_PART_MB"]
    assert result.resumed
    info = json.loads(result.run_json_path.read_text())["shards"]["shape"]
    assert info["shards_kept"] >= len(finished) >= 3
    assert info["shards_kept"] < info["shards"], "killed too late: every part was done"
    assert outputs(tmp_path / "run") == reference
