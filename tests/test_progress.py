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


def test_a_task_note_goes_into_the_line_and_the_rich_bar():
    import rich.progress  # noqa: F401  (the rich bar's column reads the note field)

    from dsbuild.progress import RichProgress

    stream = io.StringIO()
    with PlainProgress(every_s=0.0, stream=stream).task("read", total=None) as task:
        task.advance(3)
        task.note("120 pages (40/s), 50% of the input, ETA 3 s")
    assert stream.getvalue().splitlines()[-1].startswith("read: 3")
    assert "; 120 pages (40/s), 50% of the input, ETA 3 s" in stream.getvalue()
    with RichProgress().task("read", total=None) as rich_task:
        rich_task.note("7 pages")
        assert rich_task.bar.tasks[0].fields["note"] == "7 pages"


def test_shard_reports_of_all_workers_become_one_note_with_rates_and_eta():
    from dsbuild.runs.shards import progress_line

    class Task:
        notes: list[str] = []

        def note(self, text: str) -> None:
            self.notes.append(text)

    task = Task()
    report = progress_line("read", total_bytes=1000, task=task)
    report({"pages": 10, "sentences": 40, "bytes": 250})
    report({"pages": 20, "sentences": 80, "bytes": 500})  # within the second: not shown
    (note,) = task.notes
    assert note.startswith("10 pages (") and "40 sentences (" in note
    assert "25% of the input, ETA" in note
