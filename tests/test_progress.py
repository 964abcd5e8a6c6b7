from __future__ import annotations

import io

from dsbuild.progress import NullProgress, PlainProgress, make_progress


def test_plain_progress_reports_count_rate_and_eta():
    stream = io.StringIO()
    progress = PlainProgress(every_s=0.0, stream=stream)
    with progress.task("stage generate", total=10, done=2) as task:
        for _ in range(8):
            task.advance()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("stage generate: 3/10 (") and "/s, ETA" in lines[0]
    assert lines[-1].startswith("stage generate: 10/10") and lines[-1].endswith("done")


def test_plain_progress_without_total():
    stream = io.StringIO()
    with PlainProgress(every_s=3600, stream=stream).task("reading dump") as task:
        task.advance(5)
    assert stream.getvalue().startswith("reading dump: 5")


def test_make_progress_picks_plain_when_not_a_tty_and_null_when_disabled(monkeypatch):
    assert isinstance(make_progress(False), NullProgress)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert isinstance(make_progress(True), PlainProgress)
