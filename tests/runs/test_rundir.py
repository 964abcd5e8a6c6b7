"""Run directory modes: resume refuses another config, --new, --overwrite, and the lock."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from collections import Counter

import pytest

from dsbuild.errors import RunConflictError, UsageError
from dsbuild.runs import run_builder
from dsbuild.stages import Builder, map_stage

from .helpers import cfg, make_builder, outputs


def test_different_config_is_refused_naming_keys(tmp_path):
    run = tmp_path / "RUN"
    run_builder(make_builder(Counter()), run, cfg(10))
    before = outputs(run)
    with pytest.raises(RunConflictError) as e:
        run_builder(make_builder(Counter()), run, cfg(12, extra_key="x"))
    err = e.value
    assert err.code == "DSB201"
    assert str(run) in err.what
    assert "config.n" in err.what and "config.extra_key" in err.what
    assert "seed" not in err.what
    assert err.fix == (
        "pass --new to start a fresh run directory beside it, or --overwrite to replace it"
    )
    assert outputs(run) == before


def test_stage_version_bump_is_refused(tmp_path):
    run_builder(make_builder(Counter()), tmp_path, cfg(10))
    with pytest.raises(RunConflictError, match="builder.stages") as e:
        b = make_builder(Counter())
        bumped = Builder(
            b.name,
            b.version,
            (*b.stages[:1], map_stage("double", b.stages[1].fn, version="2"), *b.stages[2:]),
        )
        run_builder(bumped, tmp_path, cfg(10))
    assert e.value.code == "DSB201"
    with pytest.raises(RunConflictError, match="builder.version"):
        run_builder(make_builder(Counter(), version="2"), tmp_path, cfg(10))


def test_excluded_settings_resume_instead_of_conflicting(tmp_path):
    calls = Counter()
    run_builder(make_builder(calls), tmp_path, cfg(10))
    result = run_builder(
        make_builder(calls), tmp_path, cfg(10, concurrency=99, timeout_s=5, log_level="DEBUG")
    )
    assert result.resumed
    assert [s.status for s in result.stages] == ["skipped"] * 4
    assert "concurrency: 99" in (tmp_path / "config.yaml").read_text()


def test_new_uses_next_free_sibling(tmp_path):
    run = tmp_path / "RUN"
    first = run_builder(make_builder(Counter()), run, cfg(10), mode="new")
    assert first.run_dir == run  # absent: used as is
    before = outputs(run)
    second = run_builder(make_builder(Counter()), run, cfg(12), mode="new")
    third = run_builder(make_builder(Counter()), run, cfg(12), mode="new")
    assert (second.run_dir, third.run_dir) == (tmp_path / "RUN-2", tmp_path / "RUN-3")
    assert not second.resumed and second.records_path == tmp_path / "RUN-2" / "records.jsonl"
    assert outputs(run) == before
    assert outputs(second.run_dir) == outputs(third.run_dir) != before


def test_overwrite_replaces_a_run(tmp_path):
    run_builder(make_builder(Counter()), tmp_path, cfg(10))
    stale = tmp_path / "stages" / "09-old" / "records.jsonl"
    stale.parent.mkdir()
    stale.write_text("stale\n")
    calls = Counter()
    result = run_builder(make_builder(calls), tmp_path, cfg(12), mode="overwrite")
    assert result.run_dir == tmp_path and not result.resumed
    assert calls["src"] == 12 and not stale.exists()
    assert [s.status for s in result.stages] == ["ran"] * 4


@pytest.mark.parametrize("mode", ["overwrite", "resume"])
def test_a_directory_that_is_not_a_run_is_left_alone(tmp_path, mode):
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(UsageError) as e:
        run_builder(make_builder(Counter()), tmp_path, cfg(10), mode=mode)
    assert e.value.code == "DSB204"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".lock") == ["thesis.tex"]


def test_a_file_is_not_a_run_dir(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(UsageError) as e:
        run_builder(make_builder(Counter()), f, cfg(10))
    assert e.value.code == "DSB204"


def test_unknown_mode_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown run mode"):
        run_builder(make_builder(Counter()), tmp_path, cfg(10), mode="fresh")  # type: ignore[arg-type]


def test_lock_held_in_this_process_gives_dsb202(tmp_path):
    (tmp_path / ".lock").touch()
    with open(tmp_path / ".lock") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RunConflictError) as e:
            run_builder(make_builder(Counter()), tmp_path, cfg(10))
        assert e.value.code == "DSB202" and str(tmp_path) in e.value.what
        fcntl.flock(held.fileno(), fcntl.LOCK_UN)
    assert run_builder(make_builder(Counter()), tmp_path, cfg(10)).status == "finished"


def test_lock_held_by_another_process_gives_dsb202_with_its_pid(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from dsbuild.runs.rundir import RunDir, RunLock; "
            "lock = RunLock(RunDir(Path(sys.argv[1]))).acquire(); "
            "print('locked', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunConflictError) as e:
            run_builder(make_builder(Counter()), tmp_path, cfg(10))
        assert e.value.code == "DSB202" and f"pid {holder.pid}" in e.value.what
    finally:
        holder.kill()
        holder.wait()
    # The kernel drops a dead process's lock: no stale-lock cleanup needed.
    assert run_builder(make_builder(Counter()), tmp_path, cfg(10)).status == "finished"


def test_a_kill_before_the_fingerprint_was_written_leaves_a_usable_dir(tmp_path):
    (tmp_path / ".lock").write_text("123\n")
    (tmp_path / ".fingerprint.json.tmp").write_text('{"finger')
    assert run_builder(make_builder(Counter()), tmp_path, cfg(10)).status == "finished"


def test_a_forked_process_does_not_hold_the_lock(tmp_path):
    """A stage's forked workers may outlive a killed run for a moment: they must not keep
    its directory locked (an flock is shared by a fork)."""
    import multiprocessing

    from dsbuild.runs.rundir import RunDir, RunLock

    lock = RunLock(RunDir(tmp_path)).acquire()
    ready = multiprocessing.get_context("fork").Event()
    stop = multiprocessing.get_context("fork").Event()

    def child() -> None:
        ready.set()
        stop.wait(30)

    worker = multiprocessing.get_context("fork").Process(target=child)
    worker.start()
    try:
        assert ready.wait(30)
        lock.file.close()  # the run was killed (its files closed, no unlock); a worker lives on
        lock.file = None
        assert run_builder(make_builder(Counter()), tmp_path, cfg(10)).status == "finished"
    finally:
        stop.set()
        worker.join(30)
