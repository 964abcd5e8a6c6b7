"""A multi-stage build (PsiloQA: questions, answers, annotation, judge) with `--batch`: through
the Batch API of an in-process fake endpoint, detached and collected, and as files for an
offline tool. Every way gives the rows and rejects of the online build, with no online call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_psiloqa_builder import RoutedFake, _settings

pytest.importorskip("httpx2")

from dsbuild.llm.batch_queue import BatchSettings, state_files  # noqa: E402
from dsbuild.outcomes import Detached  # noqa: E402
from dsbuild.testing.fake_batch_api import FakeBatchAPI, completion  # noqa: E402

BATCH_ONLY = {"batch_id", "batch_line", "cached"}  # provenance that says how it was answered


@pytest.fixture
def endpoint(monkeypatch):
    """Every OpenAI-compatible backend made in the test talks to one fake, which answers
    each prompt as the routed fake of the PsiloQA builder tests does."""
    router = RoutedFake()
    fake = FakeBatchAPI(responder=router._deterministic)
    fake.serve_every_endpoint(monkeypatch)
    return fake


def settings(tmp_path: Path, cache: str):
    return _settings(tmp_path).model_copy(
        update={
            "model": "openai:m",
            "base_url": "http://test.invalid/v1",
            "cache_dir": tmp_path / cache,
        }
    )


def build(tmp_path: Path, name: str, batch: BatchSettings | None = None, cache: str = ""):
    from dsbuild.cli.dataset_group import build_dataset

    return build_dataset(
        "psiloqa",
        settings(tmp_path, f"cache-{cache or name}"),
        tmp_path / name,
        progress=False,
        batch=batch,
    )


def without_batch_marks(value):
    if isinstance(value, dict):
        return {k: without_batch_marks(v) for k, v in value.items() if k not in BATCH_ONLY}
    if isinstance(value, list):
        return [without_batch_marks(v) for v in value]
    return value


def outputs(run: Path):
    """The records and rejects of a run; a reject's detail without the batch that gave it."""
    records = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]
    rejects = re.sub(r"batch \S+: ", "", (run / "rejects.jsonl").read_text())
    return without_batch_marks(records), rejects


def batches_of(run: Path) -> list[dict]:
    return [b for path in state_files(run) for b in json.loads(path.read_text())["batches"]]


@pytest.fixture
def online(tmp_path, endpoint):
    result = build(tmp_path, "online")
    assert endpoint.calls["online"] > 0 and endpoint.calls["create"] == 0
    endpoint.calls.clear()
    return outputs(result.run_dir)


def test_a_batch_build_gives_the_online_rows_without_an_online_call(tmp_path, endpoint, online):
    result = build(tmp_path, "batched", BatchSettings())
    assert endpoint.calls["online"] == 0
    records, rejects = outputs(result.run_dir)
    assert result.n_out == 2 and records == online[0] and rejects == online[1]
    rows = [json.loads(x) for x in result.records_path.read_text().splitlines()]
    for row in rows:  # every answer says which batch and line gave it
        for step in ("qa", "answer", "annotate", "judge"):
            prov = row["provenance"][step]
            assert prov["batch_id"].startswith("batch_") and prov["batch_line"].startswith(
                prov["request_hash"]
            )
    batches = batches_of(result.run_dir)
    assert all(b["collected"] for b in batches)
    assert endpoint.calls["create"] == len(batches)
    # one round per LLM stage, two repair rounds for the answer that is never JSON and two
    # for the annotations that break the tagged copy (unbalanced, nested, empty, changed)
    assert len({b["round"] for b in batches}) == 4 + 2 + 2
    # a later online run replays every answer from the cache
    again = build(tmp_path, "replay", cache="batched")
    assert endpoint.calls["online"] == 1  # only the refused request: refusals are not cached
    assert outputs(again.run_dir)[0] == records


def test_detached_build_is_collected_by_running_it_again(tmp_path, endpoint, online):
    endpoint.polls_to_finish = 2  # a batch is still in progress at the first look
    runs = 0
    while True:
        runs += 1
        assert runs < 30
        try:
            result = build(tmp_path, "detached", BatchSettings(detach=True))
            break
        except Detached as exc:
            assert "run the same command again" in exc.message
            run = json.loads((tmp_path / "detached" / "run.json").read_text())
            assert run["status"] == "detached"
    assert endpoint.calls["online"] == 0
    assert outputs(result.run_dir) == online
    batches = batches_of(result.run_dir)
    lines = [c for b in batches for c in b["custom_ids"]]
    assert endpoint.calls["create"] == len(batches) and len(lines) == len(set(lines))
    # each batch was submitted by one run and collected by a later one
    assert runs >= 2 * len({b["round"] for b in batches})


def offline_tool(folder: Path, done: set[str], out: Path, responder) -> None:
    """What `vllm run-batch` does: answer each line of each new batch input file."""
    lines = []
    for path in sorted(folder.glob("*.jsonl")):
        if path.name in done:
            continue
        done.add(path.name)
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            content = responder(line["body"])
            if isinstance(content, Exception):
                response = {"status_code": 400, "body": {"error": {"message": str(content)}}}
            else:
                if not isinstance(content, str):
                    content = json.dumps(content)
                response = {"status_code": 200, "body": completion(line["body"], content)}
            lines.append({"id": "x", "custom_id": line["custom_id"], "response": response})
    out.write_text("".join(json.dumps(x) + "\n" for x in reversed(lines)))


def test_offline_batch_files_and_their_results_give_the_online_rows(tmp_path, endpoint, online):
    router = RoutedFake()
    results: list[Path] = []
    done: set[str] = set()
    for n in range(1, 30):
        try:
            result = build(
                tmp_path, "offline", BatchSettings(mode="offline", results=tuple(results))
            )
            break
        except Detached as exc:
            assert "vllm run-batch" in exc.message and "--batch-results" in exc.message
            (state,) = state_files(tmp_path / "offline")
            folder = state.with_suffix("")
            results.append(tmp_path / f"results-{n}.jsonl")
            offline_tool(folder, done, results[-1], router._deterministic)
    assert sum(endpoint.calls.values()) == 0  # no endpoint at all
    assert outputs(result.run_dir) == online


def test_the_batch_options_are_checked_before_anything_runs(cli, tmp_path):
    base = ["psiloqa", "build", "--run-dir", str(tmp_path / "r"), "--no-progress"]
    code, _, err = cli(*base, "--detach")
    assert code == 2 and "--detach needs --batch" in err
    code, _, err = cli(*base, "--batch", "--batch-fallback", "online", "--batch-results", __file__)
    assert code == 2 and "--batch-results is for --batch offline" in err
    code, _, err = cli(*base, "--batch", "--model", "local:smollm2")
    assert code == 2 and "--batch needs an OpenAI-compatible endpoint" in err
    assert not (tmp_path / "r").exists()


def stage_outputs(run: Path) -> dict[str, tuple]:
    """Each stage's records and rejects, the marks of how an answer came aside."""

    def rows(path: Path) -> list:
        if not path.is_file():
            return []
        text = re.sub(r"batch \S+: ", "", path.read_text())
        return [without_batch_marks(json.loads(x)) for x in text.splitlines()]

    return {
        stage.name: (rows(stage / "records.jsonl"), rows(stage / "rejects.jsonl"))
        for stage in sorted((run / "stages").iterdir())
    }


def clinical(body: dict):
    """The medrect builder tests' fake clinician, as a responder of the Batch API fake."""
    from test_medrect_builder import ClinicalFake

    from dsbuild.testing import FakeLLM

    system = body["messages"][0]["content"]
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    kinds = {
        "You write clinical records": "record",
        "You finish clinical records": "conclude",
        "You make test items": "inject",
        "senior physician": "validate",
        "You check items": "screen",
    }
    kind = next((k for marker, k in kinds.items() if marker in system), None)
    if kind is None:
        return FakeLLM()._deterministic(body)
    return getattr(ClinicalFake, f"_{kind}")(user)


@pytest.mark.parametrize("dataset", ["medrect", "cultural"])
def test_every_llm_builder_gives_the_same_stage_outputs_with_batch(tmp_path, monkeypatch, dataset):
    """The other LLM builders (several calls per record, gathered answers of a roster) on
    their embedded samples: every stage's records and rejects are the online run's, and
    nothing is sent online."""
    from dsbuild.cli.dataset_group import build_dataset
    from dsbuild.config import Settings
    from dsbuild.testing import FakeLLM

    responder = clinical if dataset == "medrect" else FakeLLM()._deterministic
    fake = FakeBatchAPI(responder=responder).serve_every_endpoint(monkeypatch)
    runs = {}
    for tag, batch in (("online", None), ("batch", BatchSettings())):
        settings = Settings(
            dataset=dataset,
            model="openai:m",
            base_url="http://test.invalid/v1",
            cache_dir=tmp_path / f"cache-{tag}",
            seed=0,
        )
        before = fake.calls["online"]
        runs[tag] = build_dataset(
            dataset, settings, tmp_path / tag, progress=False, batch=batch
        ).run_dir
        sent = fake.calls["online"] - before
        assert (sent > 0) if batch is None else (sent == 0 and fake.calls["create"] > 0)
    batched = stage_outputs(runs["batch"])
    assert batched == stage_outputs(runs["online"])
    last = batched[max(batched)]
    assert last[0], "no record reached the last stage: the test would prove little"
