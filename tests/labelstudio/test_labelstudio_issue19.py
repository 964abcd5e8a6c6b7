"""Pull integrity, the server check, prefilled instructions and tables (no server needed)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from dsbuild.errors import ServiceError
from dsbuild.labelstudio.client import LabelStudioClient
from dsbuild.labelstudio.pull import edited_by, pull_run
from dsbuild.labelstudio.tasks import task_data, units_of


def _annotation(author: int, editor: int, created: str, updated: str) -> dict:
    return {
        "id": 7,
        "completed_by": {"id": author, "email": f"u{author}@x"},
        "updated_by": editor,
        "created_at": created,
        "updated_at": updated,
        "result": [],
    }


def test_an_edit_by_another_user_is_told_from_an_import() -> None:
    t0, t1 = "2026-01-01T10:00:00.000Z", "2026-01-01T10:05:00.000Z"
    assert edited_by(_annotation(1, 2, t0, t1)) == 2  # changed later by user 2
    assert edited_by(_annotation(2, 1, t0, "2026-01-01T10:00:00.100Z")) is None  # made for 2
    assert edited_by(_annotation(1, 1, t0, t1)) is None


class FakeClient:
    """A Label Studio that holds one exported project (pull's calls only)."""

    url = "http://fake"

    def __init__(self, exported: list[dict], overlap: int) -> None:
        self.exported, self.overlap = exported, overlap

    def check_server(self) -> str:
        return "1.23.2"

    def get_project(self, project: int) -> dict:
        return {"maximum_annotations": self.overlap}

    def export_snapshot(self, project: int) -> list[dict]:
        return self.exported


def _pushed_run(make_run_dir, records):
    run = make_run_dir(records)
    (run / "annotation").mkdir()
    (run / "annotation" / "project.json").write_text(
        json.dumps({"url": "http://fake", "project": 1, "dataset": "psiloqa", "overlap": 2})
    )
    return run


def test_pull_reports_edits_and_leaves_out_incomplete_tasks(samples, make_run_dir) -> None:
    records = samples("psiloqa")[:2]
    run = _pushed_run(make_run_dir, records)
    units = units_of(records, "psiloqa")
    t0, t1 = "2026-01-01T10:00:00Z", "2026-01-01T10:09:00Z"
    exported = []
    for i, unit in enumerate(units):
        data, _ = task_data(unit, "psiloqa")
        exported.append({"id": 10 + i, "data": data, "annotations": []})
    # task 10: annotated by 1, then changed by 2 (the Data Manager mix-up), and by 3
    exported[0]["annotations"] = [_annotation(1, 2, t0, t1), {**_annotation(3, 3, t0, t0), "id": 8}]
    # task 11: one annotation of the two the overlap asks for
    exported[1]["annotations"] = [{**_annotation(3, 3, t0, t0), "id": 9}]

    summary = pull_run(run, "psiloqa", FakeClient(exported, overlap=2))
    folder = run / "annotation" / "pulls" / "001"
    problems = [json.loads(x) for x in (folder / "problems.jsonl").read_text().splitlines()]
    assert [p["reason"] for p in problems] == ["edited_by_other"]
    assert "user 1" in problems[0]["message"] and "user 2" in problems[0]["message"]
    assert summary.edited == 1 and summary.incomplete == 2
    assert (folder / "records.jsonl").read_text() == ""  # nothing complete to reconcile
    incomplete = [json.loads(x) for x in (folder / "incomplete.jsonl").read_text().splitlines()]
    assert [(i["task"], i["annotations"], i["overlap"]) for i in incomplete] == [
        (10, 1, 2),
        (11, 1, 2),
    ]

    both = pull_run(
        run, "psiloqa", FakeClient(exported, 2), accept_edited=True, include_incomplete=True
    )
    rows = [
        json.loads(x) for x in (folder.parent / "002" / "records.jsonl").read_text().splitlines()
    ]
    assert both.edited == 1 and both.incomplete == 1 and len(rows) == 2
    first = next(r for r in rows if r["annotation"]["task"] == 10)
    assert set(first["annotations"]) == {"u1@x", "u3@x"} and "incomplete" not in first["annotation"]
    assert next(r for r in rows if r["annotation"]["task"] == 11)["annotation"]["incomplete"]


@pytest.fixture
def other_program():
    """Something on a port that is not Label Studio: 404 everywhere."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<h1>Not Found</h1>")

        do_POST = do_PATCH = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_another_program_on_the_port_is_named_not_a_deleted_project(other_program) -> None:
    client = LabelStudioClient(other_program, "tok", max_retries=0)
    with pytest.raises(ServiceError) as info:
        client.get_project(3)
    message = str(info.value)
    assert "is not a Label Studio server" in message and "HTTP 404" in message
    assert "--new-project" not in message and "does not exist" not in message
    with pytest.raises(ServiceError, match="is not a Label Studio server"):
        client.whoami()


def test_instructions_speak_of_pre_annotations_only_when_pushed() -> None:
    from dsbuild.labelstudio.interfaces import interface_for

    for dataset, phrase in (("psiloqa", "Pre-selected spans"), ("medrect", "pre-filled answer")):
        full = interface_for(dataset)
        bare = full.for_tasks(prefilled=False)
        assert phrase in full.instructions_html and phrase in full.label_config
        assert phrase not in bare.instructions_html and phrase not in bare.label_config
        assert full.for_tasks(prefilled=True) is full


def test_cultural_segments_number_like_their_fields_and_show_the_note(samples) -> None:
    from dsbuild.labelstudio.interfaces import interface_for

    unit = units_of(samples("cultural"), "cultural")[0]
    data, _ = task_data(unit, "cultural")
    [segment] = data["segments"]
    assert segment["title"].startswith("Segment 0 ")  # the field is seg_score_0
    assert "means raining very heavily" in segment["source_html"]
    assert "no counterpart" in segment["translation_html"]
    assert unit.record["translations"][0]["text"] not in segment["translation_html"]
    assert (
        'requiredMessage="Segment {{idx}} has no rating' in interface_for("cultural").label_config
    )


def test_entitycs_titles_name_the_entity_and_the_language(samples) -> None:
    record = next(r for r in samples("entitycs") if r["language"] == "de")
    record = {**record, "entities": [{**e, "title": None} for e in record["entities"]]}
    [unit] = units_of([record], "entitycs")
    data, _ = task_data(unit, "entitycs")
    assert data["entities"][1]["title"] == "Entity 2 · Warsaw (Q270) → “Warschau” in German"


def test_tables_without_a_terminal_keep_headers_whole(monkeypatch, capsys) -> None:
    from dsbuild.cli.output import _table, console

    monkeypatch.setenv("COLUMNS", "80")
    columns = ("annotator", "annotated", "skipped", "of tasks", "mean s/task", "first", "last")
    row = ("ann-a@dsbuild.test", 5, 0, "100.0%", 12.5, "2026-12-07 01:26", "2026-12-07 01:27")
    console().print(_table("Annotators", columns, [row]))
    console().print(_table("Pushed", ("", ""), [("project", "3 (new)")]))
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "annotator" in line)
    assert all(f" {c} " in header for c in columns)  # no header cut or wrapped
    assert "2026-12-07 01:27" in out
    assert "┏" not in out.split("Pushed")[1]  # no (empty) header row
