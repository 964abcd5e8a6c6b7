"""Full annotation rounds against the real Label Studio server `make test` starts.

Each test makes its own project; annotations are created through the API as two different
users (what two annotators clicking in the UI would submit).
"""

from __future__ import annotations

import json

import pytest

from dsbuild.errors import ServiceError
from dsbuild.labelstudio.interfaces import interface_for
from dsbuild.labelstudio.pull import annotator_status, pull_run
from dsbuild.labelstudio.push import push_run
from dsbuild.labelstudio.state import AnnotationState
from dsbuild.labelstudio.tasks import DATASETS, to_task, units_of
from dsbuild.schemas import CulturalRecord, EntityCSRecord, MedRECTRecord, PsiloQARecord

pytestmark = pytest.mark.labelstudio


def _read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _label(text: str, start: int, end: int) -> dict:
    """A span region as Label Studio's editor stores it: offsets in code points."""
    return {
        "from_name": "hallucination",
        "to_name": "answer",
        "type": "labels",
        "value": {
            "start": start,
            "end": end,
            "text": text[start:end],
            "labels": ["Hallucination"],
        },
    }


def _choice(name: str, value: str, to: str) -> dict:
    return {"from_name": name, "to_name": to, "type": "choices", "value": {"choices": [value]}}


@pytest.mark.parametrize("dataset", DATASETS)
def test_interface_is_accepted_with_the_sample_tasks(dataset, ls_client, samples) -> None:
    interface = interface_for(dataset)
    project = ls_client.create_project(
        f"interface {dataset}",
        interface.label_config,
        instructions_html=interface.instructions_html,
    )
    tasks = [to_task(u, dataset) for u in units_of(samples(dataset), dataset)]
    ids = ls_client.import_tasks(project, tasks)
    assert len(ids) == len(tasks)
    details = ls_client.get_project(project)
    assert details["label_config"].count("How to annotate") == 1
    assert details["expert_instruction"] == interface.instructions_html


def test_psiloqa_full_round(ls_client, annotators, samples, make_run_dir) -> None:
    records = samples("psiloqa")
    run = make_run_dir(records)
    first = push_run(run, "psiloqa", ls_client, overlap=2, batch_size=4)
    assert first.created_project and first.imported == len(records) and first.batches == 2
    again = push_run(run, "psiloqa", ls_client)
    assert (
        again.imported == 0
        and again.already_there == len(records)
        and again.project == first.project
    )
    keys = ls_client.task_keys(first.project)
    assert len(keys) == len(records)
    logged = {row["key"]: row["task"] for row in _read(AnnotationState(run).pushed_log)}
    assert logged == {k: v["id"] for k, v in keys.items()}
    assert ls_client.get_project(first.project)["maximum_annotations"] == 2  # kept on re-push

    (alice, a_id), (bob, b_id) = annotators.items()
    by_id = {r["id"]: r for r in records}
    for key, task in keys.items():
        text = by_id[key]["llm_answer"]
        spans_a = [_label(text, s, e) for s, e in by_id[key]["labels"]]  # accepts the model's spans
        spans_b = [_label(text, 0, min(5, len(text)))]
        ls_client.create_annotation(task["id"], spans_a, completed_by=a_id, lead_time=12.5)
        ls_client.create_annotation(task["id"], spans_b, completed_by=b_id, lead_time=20.0)

    summary = pull_run(run, "psiloqa", ls_client)
    assert summary.problems == 0 and summary.annotations == 2 * len(records)
    assert summary.annotators == sorted([alice, bob])
    folder = AnnotationState(run).pulls / "001"
    pulled = _read(folder / "records.jsonl")
    assert len(pulled) == len(records)
    for record in pulled:
        PsiloQARecord.model_validate(record)
        original = by_id[record["id"]]
        assert record["annotations"][alice] == original["labels"]
        assert record["model_labels"] == original["labels"]
        assert {a["annotator"] for a in record["annotation"]["annotators"]} == {alice, bob}
        assert all(
            a["created_at"] and a["annotation_id"] for a in record["annotation"]["annotators"]
        )
    stats = json.loads((folder / "agreement.json").read_text())["fields"]["labels (characters)"]
    assert stats["characters"] == sum(len(r["llm_answer"]) for r in records)
    assert -1 <= stats["alpha_nominal"] <= 1
    assert _read(folder / "disagreements.jsonl")

    status = annotator_status(run, "psiloqa", ls_client)
    assert status["tasks"] == len(records) and status["tasks_complete"] == len(records)
    assert {r["annotator"]: r["annotated"] for r in status["annotators"]} == {
        alice: len(records),
        bob: len(records),
    }
    assert status["annotators"][0]["mean_lead_time_s"] in (12.5, 20.0)

    second = pull_run(run, "psiloqa", ls_client, method="union")  # never overwrites the first
    assert second.pull == 2 and (folder / "done.json").is_file()
    assert _read(folder / "records.jsonl") == pulled


def test_cultural_full_round(ls_client, annotators, samples, make_run_dir) -> None:
    records = samples("cultural")
    run = make_run_dir(records)
    pushed = push_run(run, "cultural", ls_client, overlap=2)
    units = {u.key: u for u in units_of(records, "cultural")}
    assert pushed.imported == len(units)
    (alice, a_id), (bob, b_id) = annotators.items()
    for key, task in ls_client.task_keys(pushed.project).items():
        n = len(units[key].record["nuances"])
        for user, scores in ((a_id, ["3", "NA", "1"]), (b_id, ["3", "2", "1"])):
            result = [_choice(f"seg_score_{i}", scores[i % 3], f"seg_tr_{i}") for i in range(n)]
            result += [
                _choice(c, "2", "translation") for c in ("content", "style", "audience", "overall")
            ]
            result.append(
                {
                    "from_name": "comment",
                    "to_name": "translation",
                    "type": "textarea",
                    "value": {"text": [f"comment by {user}"]},
                }
            )
            ls_client.create_annotation(task["id"], result, completed_by=user)

    summary = pull_run(run, "cultural", ls_client)
    assert summary.problems == 0 and summary.units_annotated == len(units)
    pulled = _read(AnnotationState(run).pulls / "001" / "records.jsonl")
    assert len(pulled) == len(records)
    for record in pulled:
        CulturalRecord.model_validate(record)
        for tr in record["translations"]:
            mine = [r for r in tr["ratings"] if r["annotator"] in (alice, bob)]
            assert len(mine) == 2 * (len(record["nuances"]) + 1)
            assert tr["annotation_result"]["full_text"]["overall"]["median"] == 2
            seg = tr["annotation_result"]["segments"]
            assert seg[0]["majority"] == 3 and seg[0]["unanimous"]
            if len(seg) > 1:
                assert seg[1]["votes"] == {alice: "NA", bob: 2} and seg[1]["majority"] is None
    fields = summary.agreement["fields"]
    assert fields["segment score"]["units"] > 0 and fields["overall"]["units"] == len(units)
    assert fields["segment score"]["alpha_ordinal"] is not None


def test_medrect_and_entitycs_rounds(ls_client, annotators, samples, make_run_dir) -> None:
    (_, a_id), (_, b_id) = annotators.items()
    med = samples("medrect")
    run = make_run_dir(med, "medrect")
    pushed = push_run(run, "medrect", ls_client, overlap=2)
    for key, task in ls_client.task_keys(pushed.project).items():
        ls_client.create_annotation(
            task["id"],
            [
                _choice("error_flag", "error", "text"),
                _choice("error_sentence", "2", "text"),
                _choice("error_type", "diagnosis", "text"),
            ],
            completed_by=a_id,
        )
        ls_client.create_annotation(
            task["id"], [_choice("error_flag", "no_error", "text")], completed_by=b_id
        )
    summary = pull_run(run, "medrect", ls_client)
    assert summary.problems == 0 and summary.records_annotated == len(med)
    for record in _read(AnnotationState(run).pulls / "001" / "records.jsonl"):
        MedRECTRecord.model_validate(record)
        assert record["annotation_result"]["error_sentence_id"]["majority"] == 2

    ent = samples("entitycs")
    run = make_run_dir(ent, "entitycs")
    pushed = push_run(run, "entitycs", ls_client)
    units = {u.key: u for u in units_of(ent, "entitycs")}
    for key, task in ls_client.task_keys(pushed.project).items():
        result = [
            _choice(f"verdict_{j}", "correct", f"ent_{j}")
            for j in range(len(units[key].extra["entities"]))
        ]
        ls_client.create_annotation(task["id"], result, completed_by=a_id)
    summary = pull_run(run, "entitycs", ls_client)
    assert summary.problems == 0 and summary.units_annotated == len(units)
    for record in _read(AnnotationState(run).pulls / "001" / "records.jsonl"):
        EntityCSRecord.model_validate(record)
        assert {e["verdict"] for e in record["annotation_result"]["entities"]} == {"correct"}


MULTILINGUAL_ANSWERS = [
    "Fire 🔥 rose to 6,100 m 🏔️ in 1889.",
    "東京タワーは𠮷野家の近くにあり、高さは333メートルです。",
    "برج خليفة هو أطول مبنى في العالم، ويقع في دبي.",
    "क़ुतुब मीनार दिल्ली में है। यह १२वीं शताब्दी में बनी थी।",
    "  Ame\u0301lie lives in Paris.\n\nShe was born in 1850.  ",
]


def test_multilingual_spans_survive_the_real_server(
    ls_client, annotators, samples, make_run_dir
) -> None:
    base = samples("psiloqa")[0]
    records = []
    for i, answer in enumerate(MULTILINGUAL_ANSWERS):
        body = answer.strip()
        start = answer.index(body)
        spans = [[start, start + 4], [start + 10, start + len(body) - 1]]
        records.append(
            {**base, "id": f"ml-{i}", "llm_answer": answer, "labels": spans, "annotated_span": None}
        )
    run = make_run_dir(records)
    pushed = push_run(run, "psiloqa", ls_client)
    keys = ls_client.task_keys(pushed.project)
    exported = {
        t["data"]["dsbuild_key"]: t
        for t in ls_client.export_snapshot(pushed.project, only_annotated=False)
    }
    mismatches = 0
    (alice, a_id), _ = annotators.items()
    for record in records:
        task = exported[record["id"]]
        assert (
            task["data"]["answer"] == record["llm_answer"]
        )  # whitespace and marks kept by the server
        [prediction] = ls_client._raw(
            "GET",
            "api/predictions/",
            what="list predictions",
            params={"task": keys[record["id"]]["id"]},
        )
        stored = [
            (r["value"]["start"], r["value"]["end"], r["value"]["text"])
            for r in prediction["result"]
        ]
        text = record["llm_answer"]
        expected = [(s, e, text[s:e]) for s, e in record["labels"]]  # code points
        mismatches += stored != expected
        result = [_label(record["llm_answer"], s, e) for s, e in record["labels"]]
        ls_client.create_annotation(keys[record["id"]]["id"], result, completed_by=a_id)
    pull = pull_run(run, "psiloqa", ls_client)
    pulled = {
        r["id"]: r for r in _read(AnnotationState(run).pulls / f"{pull.pull:03d}" / "records.jsonl")
    }
    for record in records:
        got = pulled[record["id"]]["annotations"][alice]
        text = record["llm_answer"]
        if [text[s:e] for s, e in got] != [text[s:e] for s, e in record["labels"]] or got != record[
            "labels"
        ]:
            mismatches += 1
    assert mismatches == 0


def test_failures_are_clear_and_lose_nothing(
    ls_client, ls_server, annotators, samples, make_run_dir
) -> None:
    from dsbuild.labelstudio.client import LabelStudioClient

    records = samples("psiloqa")
    run = make_run_dir(records)
    pushed = push_run(run, "psiloqa", ls_client)
    keys = ls_client.task_keys(pushed.project)
    (_, a_id), _ = annotators.items()
    by_id = {r["id"]: r for r in records}
    for key, task in keys.items():
        ls_client.create_annotation(
            task["id"], [_label(by_id[key]["llm_answer"], 0, 3)], completed_by=a_id
        )
    first = pull_run(run, "psiloqa", ls_client)
    assert first.problems == 0

    # a task edited in the UI, and a task nobody pushed (made in the UI)
    edited_key = records[0]["id"]
    task = keys[edited_key]["id"]
    data = next(t["data"] for t in ls_client.export_snapshot(pushed.project) if t["id"] == task)
    ls_client.update_task_data(task, {**data, "answer": data["answer"] + " (edited)"})
    [stranger] = ls_client.import_tasks(
        pushed.project,
        [{"data": {"passage": "p", "question": "q", "golden_answer": "g", "answer": "a b c"}}],
    )
    ls_client.create_annotation(stranger, [], completed_by=a_id)
    second = pull_run(run, "psiloqa", ls_client)
    reasons = {
        p["reason"]: p["message"]
        for p in _read(AnnotationState(run).pulls / "002" / "problems.jsonl")
    }
    assert set(reasons) == {"task_edited", "not_pushed"}
    assert f"task {task} of project {pushed.project}" in reasons["task_edited"]
    assert f"task {stranger} of project {pushed.project}" in reasons["not_pushed"]
    assert second.records_annotated == len(records) - 1

    # wrong token
    with pytest.raises(ServiceError, match="rejected the API token"):
        push_run(run, "psiloqa", LabelStudioClient(ls_server[0], "not-the-token"))

    # the project deleted in the UI: a clear error, the earlier pulls kept
    ls_client.delete_project(pushed.project)
    with pytest.raises(
        ServiceError, match=f"project {pushed.project} does not exist.*--new-project"
    ):
        pull_run(run, "psiloqa", ls_client)
    assert len(AnnotationState(run).finished_pulls()) == 2
    fresh = push_run(run, "psiloqa", ls_client, new_project=True)
    assert fresh.project != pushed.project and fresh.imported == len(records)


def test_push_resumes_after_a_failure_midway(ls_client, samples, make_run_dir) -> None:
    records = samples("psiloqa")
    run = make_run_dir(records)

    class Flaky:
        """The real client, with the server 'going down' after the first import."""

        def __init__(self, client):
            self.client, self.url, self.imports = client, client.url, 0

        def __getattr__(self, name):
            return getattr(self.client, name)

        def import_tasks(self, project, tasks):
            self.imports += 1
            if self.imports > 1:
                raise ServiceError("cannot reach Label Studio (simulated)")
            return self.client.import_tasks(project, tasks)

    with pytest.raises(ServiceError, match="simulated"):
        push_run(run, "psiloqa", Flaky(ls_client), batch_size=2)
    project = AnnotationState(run).project()["project"]
    assert len(ls_client.task_keys(project)) == 2
    resumed = push_run(run, "psiloqa", ls_client, batch_size=2)
    assert resumed.already_there == 2 and resumed.imported == len(records) - 2
    assert len(ls_client.task_keys(project)) == len(records)


def test_serve_command_starts_a_ready_server(tmp_path, ls_server, capsys) -> None:
    import shutil
    from pathlib import Path

    from dsbuild.cli import main
    from dsbuild.labelstudio.client import LabelStudioClient
    from dsbuild.labelstudio.server import free_port, read_account, stop_server

    template = Path(__file__).resolve().parents[2] / "build" / "labelstudio" / "template"
    if read_account(template) is None:
        pytest.skip(f"no data dir template at {template} (made by `make test`)")
    data = tmp_path / "data"
    shutil.copytree(template, data)
    port = free_port()
    assert (
        main(["labelstudio", "serve", "--data-dir", str(data), "--port", str(port), "--detach"])
        == 0
    )
    out = capsys.readouterr().out
    pid = int(out.split("as pid ")[1].split(";")[0])
    try:
        token = read_account(data).token
        assert f"http://127.0.0.1:{port}" in out and f"LABEL_STUDIO_API_KEY={token}" in out
        assert LabelStudioClient(f"http://127.0.0.1:{port}", token).whoami()["email"]
    finally:
        stop_server(pid)


def test_cli_push_sample_then_all_pull_and_status(
    ls_server, ls_client, annotators, samples, make_run_dir, capsys
) -> None:
    from dsbuild.cli import main

    url, token = ls_server
    records = samples("psiloqa")
    run = str(make_run_dir(records))
    server = ["--url", url, "--api-key", token, "--json"]
    assert (
        main(
            [
                "psiloqa",
                "annotate",
                "push",
                run,
                "--sample",
                "3",
                "--seed",
                "7",
                "--overlap",
                "2",
                *server,
            ]
        )
        == 0
    )
    first = json.loads(capsys.readouterr().out)
    assert first["selected"] == 3 and first["imported"] == 3 and first["predictions"] >= 1
    assert main(["psiloqa", "annotate", "push", run, *server]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["already_there"] == 3 and second["imported"] == len(records) - 3
    (_, a_id), _ = annotators.items()
    task = next(iter(ls_client.task_keys(first["project"]).values()))
    ls_client.create_annotation(task["id"], [], completed_by=a_id)
    assert main(["psiloqa", "annotate", "pull", run, *server]) == 0
    pulled = json.loads(capsys.readouterr().out)
    # one annotation of the two the overlap asks for: incomplete, left out of the records
    assert pulled["records_annotated"] == 0 and pulled["incomplete"] == 1 and pulled["pull"] == 1
    assert main(["psiloqa", "annotate", "status", run, *server]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["tasks"] == len(records) and status["overlap"] == 2 and status["pulls"] == ["001"]
