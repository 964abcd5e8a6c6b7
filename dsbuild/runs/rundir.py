"""The run directory: its layout, its lock, and the resume / new / overwrite decision.

::

    RUN/
      .lock                 flock held by the process running in it (holds its pid)
      fingerprint.json      {fingerprint, version, builder, config}: written first; marks a run
      config.yaml           the config as given (secrets already stripped by the caller)
      run.json              versions, status, timings, counts, tokens, cost
      records.jsonl         the last stage's output
      rejects.jsonl         every stage's rejects: id, stage, reason, detail
      logs/run.log          the "dsbuild" logger while running
      stages/NN-name/       log.jsonl while running; records.jsonl, rejects.jsonl, done.json
                            (a stage run in parts: parts.json, listing its parts' files,
                            instead of records.jsonl; `StageCheckpoint.record_files`)
"""

from __future__ import annotations

import fcntl
import os
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from dsbuild.errors import DsbuildError, RunConflictError, UsageError
from dsbuild.runs.fingerprint import FINGERPRINT_VERSION, diff_keys
from dsbuild.runs.jsonl import atomic_write_json, atomic_write_text, read_json

__all__ = ["Mode", "RunDir", "RunLock", "claim_new_run_dir", "open_run_dir"]

Mode = Literal["resume", "new", "overwrite"]
MODES: tuple[str, ...] = ("resume", "new", "overwrite")


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory (no I/O)."""

    path: Path

    @property
    def lock(self) -> Path:
        return self.path / ".lock"

    @property
    def fingerprint(self) -> Path:
        return self.path / "fingerprint.json"

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def records(self) -> Path:
        return self.path / "records.jsonl"

    @property
    def rejects(self) -> Path:
        return self.path / "rejects.jsonl"

    @property
    def log_file(self) -> Path:
        return self.path / "logs" / "run.log"

    def stage_dir(self, index: int, name: str) -> Path:
        """`stages/01-name` for the first stage (1-based, so listings sort in run order)."""
        return self.path / "stages" / f"{index + 1:02d}-{name}"

    def is_run(self) -> bool:
        return self.fingerprint.is_file()


_HELD: weakref.WeakSet[RunLock] = weakref.WeakSet()


def _close_in_child() -> None:
    """In a forked process (a stage's worker): close the held locks' files without unlocking.
    An flock belongs to the open file, which a fork shares: a worker outliving a killed run
    would otherwise keep its run directory locked."""
    for lock in list(_HELD):
        if lock.file is not None:
            lock.file.close()
            lock.file = None


os.register_at_fork(after_in_child=_close_in_child)


class RunLock:
    """An exclusive, non-blocking `flock` on `RUN/.lock`, released on close (or process death;
    forked processes do not hold it)."""

    def __init__(self, run: RunDir) -> None:
        self.run = run
        self.file: IO[str] | None = None

    def acquire(self) -> RunLock:
        f = open(self.run.lock, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip()
            f.close()
            raise RunConflictError(
                f"run directory {self.run.path} is in use by another dsbuild process"
                + (f" (pid {holder})" if holder else ""),
                "wait for it to finish, stop it, or pass --new to start a fresh run directory "
                "beside it",
                code="DSB202",
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self.file = f
        _HELD.add(self)
        return self

    def release(self) -> None:
        _HELD.discard(self)
        if self.file is not None:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
            self.file.close()
            self.file = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# What a run leaves before `fingerprint.json` exists: the lock, and the temp file of a
# fingerprint write that a kill interrupted. A directory holding only these is still empty.
_PRE_RUN_FILES = (".lock", ".fingerprint.json.tmp")


def _is_empty(path: Path, ignore: tuple[str, ...] = _PRE_RUN_FILES) -> bool:
    return not any(p.name not in ignore for p in path.iterdir())


def claim_new_run_dir(path: Path) -> Path:
    """`path` if it is absent or empty, else the first free sibling `path-2`, `path-3`, ...

    Claimed with `mkdir`, which is atomic, so two processes never pick the same one.
    """
    path = Path(path)
    if path.is_dir() and _is_empty(path, ignore=()):
        return path
    candidates = [path] + [path.with_name(f"{path.name}-{k}") for k in range(2, 10_000)]
    for candidate in candidates:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise UsageError(
        f"no free run directory name beside {path}", "choose another --run-dir", code="DSB204"
    )


def _not_a_run(path: Path) -> UsageError:
    return UsageError(
        f"{path} is not empty and is not a dsbuild run directory (no fingerprint.json)",
        "choose another --run-dir; dsbuild only resumes or replaces its own run directories",
        code="DSB204",
    )


def _clear(run: RunDir) -> None:
    """Remove everything but the lock (which we hold)."""
    for child in run.path.iterdir():
        if child.name == ".lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def open_run_dir(
    path: Path, mode: Mode, fingerprint: str, payload: dict, config: dict
) -> tuple[RunDir, RunLock, bool]:
    """Pick and lock the run directory for `mode`; return (run, lock, resumed).

    `resumed` is True when an existing run with the same fingerprint is continued. Raises
    DSB201 when the directory holds another config, DSB202 when it is locked, DSB204 when it
    is not a run directory.
    """
    if mode not in MODES:
        raise UsageError(f"unknown run mode {mode!r}", f"use one of {', '.join(MODES)}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"{path} is a file, not a run directory", "choose another --run-dir", code="DSB204"
        )
    if mode == "new":
        path = claim_new_run_dir(path)
    path.mkdir(parents=True, exist_ok=True)
    run = RunDir(path)
    lock = RunLock(run).acquire()
    try:
        resumed = False
        if run.is_run():
            if mode == "overwrite":
                _clear(run)
            else:
                _check_same_run(run, fingerprint, payload)
                resumed = True
        elif not _is_empty(path):
            raise _not_a_run(path)
        if not resumed:
            atomic_write_json(
                run.fingerprint,
                {
                    "fingerprint": fingerprint,
                    "version": FINGERPRINT_VERSION,
                    "builder": payload["builder"],
                    "config": payload["config"],
                },
            )
        import yaml  # only when a run starts: keeps `import dsbuild.runs` light

        atomic_write_text(run.config, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        return run, lock, resumed
    except BaseException:
        lock.release()
        raise


def _check_same_run(run: RunDir, fingerprint: str, payload: dict) -> None:
    stored = read_json(run.fingerprint)
    if not isinstance(stored, dict) or "fingerprint" not in stored:
        raise DsbuildError(
            f"{run.fingerprint} is not a fingerprint file",
            "re-run with --overwrite to replace the run",
            code="DSB203",
        )
    if stored["fingerprint"] == fingerprint:
        return
    keys = diff_keys(
        {"builder": stored.get("builder"), "config": stored.get("config")},
        {"builder": payload["builder"], "config": payload["config"]},
    )
    if stored.get("version") != FINGERPRINT_VERSION:
        keys = [f"fingerprint version {stored.get('version')} -> {FINGERPRINT_VERSION}"] + keys
    differ = ", ".join(keys) or "unknown"
    raise RunConflictError(
        f"run directory {run.path} holds a run with a different configuration "
        f"(differs in: {differ})",
        "pass --new to start a fresh run directory beside it, or --overwrite to replace it",
        code="DSB201",
    )
