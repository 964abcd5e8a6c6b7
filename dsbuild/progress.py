"""Progress reporting for long work: rich bars on a terminal, plain log lines otherwise.

Library code receives a `Progress` (or uses `NullProgress`) and calls `task()`; it never
decides how progress is shown. A task counts units (`advance`) and may carry a short note
(`note`: e.g. pages and sentences per second of parallel workers, and an ETA). The CLI picks
`make_progress()`, which is a rich bar with records, rate and ETA when stderr is a TTY, and a
line every few seconds when it is not.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Protocol

__all__ = ["NullProgress", "PlainProgress", "Progress", "Task", "make_progress"]

log = logging.getLogger("dsbuild")


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def note(self, text: str) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None = None, done: int = 0): ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class NullProgress:
    """Shows nothing (library default, tests)."""

    @contextmanager
    def task(self, description: str, total: int | None = None, done: int = 0) -> Iterator[Task]:
        yield _NullTask()


class _PlainTask:
    def __init__(self, description: str, total: int | None, done: int, every_s: float, stream):
        self.description, self.total, self.done = description, total, done
        self.start_done, self.t0, self.last = done, time.monotonic(), time.monotonic()
        self.every_s, self.stream = every_s, stream
        self.text = ""

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._maybe_write()

    def note(self, text: str) -> None:
        self.text = text
        self._maybe_write()

    def _maybe_write(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = (self.done - self.start_done) / elapsed
        text = f"{self.description}: {self.done}"
        if self.total is not None:
            text += f"/{self.total}"
            if rate > 0:
                text += f" ({rate:.1f}/s, ETA {max(self.total - self.done, 0) / rate:.0f}s)"
        elif rate > 0:
            text += f" ({rate:.1f}/s)"
        return f"{text}; {self.text}" if self.text else text


class PlainProgress:
    """A log line every `every_s` seconds and one at the end: for CI logs and pipes."""

    def __init__(self, every_s: float = 5.0, stream=None) -> None:
        self.every_s = every_s
        self.stream = stream or sys.stderr

    @contextmanager
    def task(self, description: str, total: int | None = None, done: int = 0) -> Iterator[Task]:
        t = _PlainTask(description, total, done, self.every_s, self.stream)
        try:
            yield t
        finally:
            self.stream.write(
                t.line() + " done\n" if t.total is None or t.done >= t.total else t.line() + "\n"
            )
            self.stream.flush()


class RichProgress:
    """A rich progress bar per task: records done, rate, elapsed time and ETA."""

    @contextmanager
    def task(self, description: str, total: int | None = None, done: int = 0) -> Iterator[Task]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _RichProgress
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task) -> Text:
                return Text(f"{task.speed:,.1f} rec/s" if task.speed else "- rec/s")

        bar = _RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(stderr=True),
        )
        with bar:
            task_id = bar.add_task(description, total=total, completed=done, note="")
            yield _RichTask(bar, task_id)


class _RichTask:
    def __init__(self, bar, task_id) -> None:
        self.bar, self.task_id = bar, task_id

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.task_id, n)

    def note(self, text: str) -> None:
        self.bar.update(self.task_id, note=text)


def make_progress(enabled: bool = True) -> Progress:
    """Rich bars on a terminal, plain lines otherwise, nothing when disabled."""
    if not enabled:
        return NullProgress()
    if sys.stderr.isatty():
        return RichProgress()
    return PlainProgress()
