"""Kill the toy builder with SIGKILL at random moments, resume, and get the same bytes.

Three rounds of nine kills each. The seed is printed and repeated in every assertion
message; rerun a failure with `DSB_KILL_SEED=<seed> pytest tests/runs/test_kill_resume.py -s`
(round 0 then replays that seed exactly).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dsbuild.testing.toy import build_toy

N, DELAY = 300, 0.004
LOGGED_STAGES = ("01-generate", "02-transform", "03-min_words")
ALL_STAGES = LOGGED_STAGES + ("04-dedup",)


def _spawn(run: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dsbuild.testing.toy",
            str(run),
            "--n",
            str(N),
            "--delay",
            str(DELAY),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _log_lines(run: Path, stage: str) -> int:
    try:
        return (run / "stages" / stage / "log.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _in_progress(run: Path) -> str:
    """The first stage without done.json: the one a kill interrupted."""
    for stage in ALL_STAGES:
        if not (run / "stages" / stage / "done.json").exists():
            return stage
    return (
        "publishing"
        if not (run / "run.json").exists()
        or json.loads((run / "run.json").read_text())["status"] != "finished"
        else "finished"
    )


def _n_in(run: Path, stage: str) -> int:
    """Input items of a logged stage: N, or the previous stage's output count."""
    if stage == "03-min_words":
        done = run / "stages" / "02-transform" / "done.json"
        return json.loads(done.read_text())["n_out"] if done.exists() else N
    return N


def _kill_plan(rng: random.Random) -> list[tuple[str, object]]:
    """A kill at a random time (often during start-up), two at random log-line counts in each
    logged stage, then two more at random times (late stages, start-up, publishing).

    Time kills come first and last so they cannot jump over a stage the line kills target.
    """
    plan: list[tuple[str, object]] = [("time", rng.uniform(0.0, 0.3))]
    for stage in LOGGED_STAGES:
        plan += [("lines", (stage, rng.randint(1, 110))), ("lines", (stage, rng.randint(1, 110)))]
    return plan + [("time", rng.uniform(0.0, 0.4)), ("time", rng.uniform(0.0, 0.4))]


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_sigkill_at_random_moments_then_resume_gives_identical_output(tmp_path, round_):
    base = os.environ.get("DSB_KILL_SEED")
    seed = int(base) + round_ if base else random.SystemRandom().randrange(2**32)
    print(f"\nkill-and-resume seed: {seed}")
    rng = random.Random(seed)

    ref = tmp_path / "ref"
    build_toy(str(ref), n=N, delay=0.0)  # uninterrupted; completion order = input order

    run = tmp_path / "run"
    kills: list[tuple[str, str, int]] = []
    for kind, arg in _kill_plan(rng):
        proc = _spawn(run)
        if kind == "time":
            deadline = time.monotonic() + float(arg)  # type: ignore[arg-type]
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        else:
            stage, more = arg  # type: ignore[misc]
            # Stay short of the stage's end, so the kill lands inside it.
            target = min(_log_lines(run, stage) + more, _n_in(run, stage) - 15)
            while (
                proc.poll() is None
                and _log_lines(run, stage) < target
                and not (run / "stages" / stage / "done.json").exists()
            ):
                time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert proc.returncode in (0, -signal.SIGKILL), f"seed {seed}: {err}"
        where = _in_progress(run)
        kills.append(
            (
                f"{kind} {arg if kind == 'lines' else round(arg, 2)}",
                where,  # type: ignore[arg-type]
                _log_lines(run, where) if where in LOGGED_STAGES else 0,
            )
        )
        if where == "finished":
            break

    final = _spawn(run)
    _, err = final.communicate(timeout=60)
    assert final.returncode == 0, f"seed {seed}: {err.decode()}"
    print("kills (planned, stage in progress, its log lines at the kill):", *kills, sep="\n  ")

    info = f"seed {seed}, kills {kills}"
    assert (run / "records.jsonl").read_bytes() == (ref / "records.jsonl").read_bytes(), info
    assert (run / "rejects.jsonl").read_bytes() == (ref / "rejects.jsonl").read_bytes(), info
    for stage in ALL_STAGES:
        assert (run / "stages" / stage / "records.jsonl").read_bytes() == (
            ref / "stages" / stage / "records.jsonl"
        ).read_bytes(), (stage, info)
    # Every interrupted stage was really hit, and the kills were real (not all after the end).
    hit = {stage for _, stage, _ in kills}
    assert set(LOGGED_STAGES) <= hit, info

    # No id lost or duplicated: each source record is either transformed or rejected, once.
    def ids(path: Path) -> list[str]:
        return [json.loads(line)["id"] for line in path.read_text("utf-8").splitlines()]

    source = ids(run / "stages" / "01-generate" / "records.jsonl")
    assert len(source) == len(set(source)) == N, info
    out = [
        i.rsplit("-", 1)[0] if i.endswith(("-a", "-b")) else i
        for i in ids(run / "stages" / "02-transform" / "records.jsonl")
    ]
    rejected = ids(run / "stages" / "02-transform" / "rejects.jsonl")
    assert sorted(set(out) | set(rejected)) == sorted(source) and not set(out) & set(rejected)
    assert len(rejected) == len(set(rejected)), info
    final_ids = ids(run / "records.jsonl")
    assert len(final_ids) == len(set(final_ids)), info
    all_rejects = [
        (r["stage"], r["id"])
        for r in map(json.loads, (run / "rejects.jsonl").read_text("utf-8").splitlines())
    ]
    assert len(all_rejects) == len(set(all_rejects)), info
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
