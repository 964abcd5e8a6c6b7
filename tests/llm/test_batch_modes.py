"""`dsbuild llm run --batch` with `--detach`, `--batch offline` / `--batch-results`,
`--batch-fallback online`, and a run killed between uploading a batch file and recording its
batch, against the in-process Batch API fake."""

from __future__ import annotations

import asyncio
import json

import pytest
from batch_fake import FakeBatchAPI, completion, llm_run, rows, use_fake_endpoint

from dsbuild.llm.batch_api import BatchAPIClient, BatchRunner
from dsbuild.llm.batch_queue import state_files
from dsbuild.llm.cache import ResponseCache
from dsbuild.llm.types import ChatRequest


@pytest.fixture
def fake_endpoint(monkeypatch):
    return use_fake_endpoint(monkeypatch)


def write_input(path, n=6):
    lines = [
        {"id": f"q{i}", "messages": [{"role": "user", "content": f"Q{i}"}], "max_tokens": 50}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def contents(path):
    return [r["content"] for r in rows(path)]


def test_detach_submits_and_exits_0_and_the_same_command_collects(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl")
    assert llm_run(cli, tmp_path, out="online.jsonl", cache="c-online")[0] == 0
    fake_endpoint.calls.clear()
    fake_endpoint.polls_to_finish = 2

    code, out, err = llm_run(cli, tmp_path, "--batch", "--detach")
    assert code == 0 and fake_endpoint.calls["create"] == 1, err
    assert "1 batch(es) in flight" in out and "run the same command again" in out
    assert not (tmp_path / "out.jsonl").exists()
    # still in progress at the next look: nothing new is submitted
    code, out, _ = llm_run(cli, tmp_path, "--batch", "--detach")
    assert code == 0 and "in flight" in out and fake_endpoint.calls["create"] == 1
    # ended now: collected, written, nothing sent online
    code, out, err = llm_run(cli, tmp_path, "--batch", "--detach")
    assert code == 0, err
    assert fake_endpoint.calls["create"] == 1 and fake_endpoint.calls["online"] == 0
    assert contents(tmp_path / "out.jsonl") == contents(tmp_path / "online.jsonl")
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["batch"]["reattached"] == 1 and summary["batch"]["in_flight"] == 0


def test_offline_batch_writes_files_then_ingests_their_results(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl")
    assert llm_run(cli, tmp_path, out="online.jsonl", cache="c-online")[0] == 0
    fake_endpoint.calls.clear()

    code, out, err = llm_run(cli, tmp_path, "--batch", "offline")
    assert code == 0, err
    assert "batch input file(s) written to" in out and "--batch-results" in out
    (state,) = state_files(tmp_path / "out.jsonl")
    (infile,) = state.with_suffix("").glob("*.jsonl")
    lines = [json.loads(x) for x in infile.read_text().splitlines()]
    assert len(lines) == 6 and lines[0]["url"] == "/v1/chat/completions"

    # the tool answers all but the last line; the output is in another order
    answers = [
        {
            "id": f"x{i}",
            "custom_id": x["custom_id"],
            "response": {"status_code": 200, "body": completion(x["body"])},
            "error": None,
        }
        for i, x in enumerate(lines[:-1])
    ]
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(a) + "\n" for a in reversed(answers)))
    code, out, err = llm_run(cli, tmp_path, "--batch-results", str(results))
    assert code == 0 and "written to" in out, err  # the missing line goes into a new file
    assert len(list(state.with_suffix("").glob("*.jsonl"))) == 2
    last = json.loads(sorted(state.with_suffix("").glob("*.jsonl"))[-1].read_text())
    assert last["custom_id"] == lines[-1]["custom_id"]
    more = tmp_path / "results-2.jsonl"
    more.write_text(
        json.dumps(
            {
                "custom_id": last["custom_id"],
                "response": {"status_code": 200, "body": completion(last["body"])},
            }
        )
        + "\n"
    )
    code, out, err = llm_run(
        cli, tmp_path, "--batch-results", str(results), "--batch-results", str(more)
    )
    assert code == 0, err
    assert contents(tmp_path / "out.jsonl") == contents(tmp_path / "online.jsonl")
    assert sum(fake_endpoint.calls.values()) == 0  # the endpoint was never asked


def test_offline_results_that_are_not_batch_output_are_one_line_errors(cli, tmp_path):
    write_input(tmp_path / "in.jsonl", n=2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"no": "custom id"}\n')
    assert llm_run(cli, tmp_path, "--batch", "offline")[0] == 0
    code, _, err = llm_run(cli, tmp_path, "--batch-results", str(bad))
    assert code == 3 and "bad.jsonl line 1: not a batch output line" in err
    assert len(err.strip().splitlines()) == 1


def test_fallback_online_answers_what_every_round_left_unanswered(cli, tmp_path, monkeypatch):
    fake = use_fake_endpoint(monkeypatch, FakeBatchAPI(endings=[("expired", 2)] * 10))
    write_input(tmp_path / "in.jsonl")
    code, out, err = llm_run(cli, tmp_path, "--batch")  # 2 lines expire in every round
    assert code == 4 and "pending" in err
    assert fake.calls["online"] == 0
    code, out, err = llm_run(
        cli, tmp_path, "--batch", "--batch-fallback", "online", "--run-dir", str(tmp_path / "r2")
    )
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert fake.calls["online"] == summary["batch"]["fallback_online"] == 2
    assert all(r["error"] is None for r in rows(tmp_path / "out.jsonl"))


def test_a_run_killed_between_upload_and_record_finds_its_batch(tmp_path):
    """The state file names the input file before the batch is created: a rerun finds the
    batch made from it (or makes it from the file already uploaded): never twice."""
    fake = FakeBatchAPI()
    reqs = [
        ChatRequest(model="m", messages=({"role": "user", "content": f"Q{i}"},), id=f"q{i}")
        for i in range(3)
    ]
    cache = ResponseCache(tmp_path / "c.sqlite3")

    class KilledAfterCreate(Exception):
        pass

    class Api(BatchAPIClient):
        kill = True

        async def create(self, input_file_id):
            batch = await super().create(input_file_id)
            if self.kill:
                raise KilledAfterCreate  # the batch exists; its id never reached the file
            return batch

    async def nosleep(_s):
        await asyncio.sleep(0)

    api = Api(fake.client())
    state = tmp_path / "state.json"
    with pytest.raises(KilledAfterCreate):
        asyncio.run(BatchRunner(api, state, cache=cache, sleep=nosleep).run(reqs))
    recorded = json.loads(state.read_text())["batches"]
    assert recorded[0]["batch_id"] == "" and recorded[0]["input_file_id"] == "file_0001"
    api.kill = False
    out = asyncio.run(BatchRunner(api, state, cache=cache, sleep=nosleep).run(reqs))
    assert all(r.ok for r in out.values())
    assert fake.calls["create"] == 1 and fake.calls["upload"] == 1 and fake.calls["list"] == 1
    assert json.loads(state.read_text())["batches"][0]["batch_id"] == "batch_0002"

    # killed before the create went through: the rerun creates it from the uploaded file
    fake2, state2 = FakeBatchAPI(), tmp_path / "state2.json"

    class DiesBeforeCreate(BatchAPIClient):
        async def create(self, input_file_id):
            raise KilledAfterCreate

    cache2 = ResponseCache(tmp_path / "c2.sqlite3")
    with pytest.raises(KilledAfterCreate):
        asyncio.run(
            BatchRunner(DiesBeforeCreate(fake2.client()), state2, cache=cache2, sleep=nosleep).run(
                reqs
            )
        )
    out = asyncio.run(
        BatchRunner(BatchAPIClient(fake2.client()), state2, cache=cache2, sleep=nosleep).run(reqs)
    )
    assert all(r.ok for r in out.values())
    assert fake2.calls["upload"] == 1 and fake2.calls["create"] == 1


def test_a_batch_line_body_is_what_the_online_path_sends(tmp_path, monkeypatch):
    """dsbuild's schema extensions (copy-with-tags) are sent as a plain JSON-Schema endpoint
    takes them, online and in a batch line alike: so the answers are the same."""
    from dsbuild.llm.batch_api import batch_line
    from dsbuild.llm.structured import COPY_OF, copy_of
    from dsbuild.testing import FakeBatchAPI

    fake = use_fake_endpoint(monkeypatch, FakeBatchAPI())
    from dsbuild.config import Settings
    from dsbuild.llm.factory import make_engine

    settings = Settings(
        dataset="llm",
        model="openai:m",
        base_url="http://test.invalid/v1",
        cache_dir=tmp_path / "c",
    )
    engine = make_engine(settings)
    schema = {
        "type": "object",
        "properties": {"annotated": copy_of("Paris is in France.", ["[HAL]", "[/HAL]"])},
        "required": ["annotated"],
    }
    rf = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}
    req = engine.request([{"role": "user", "content": "mark it"}], response_format=rf)

    async def online():
        try:
            return await engine.complete(req)
        finally:
            await engine.aclose()

    asyncio.run(online())
    sent = fake.online_bodies[0]  # (the fake's answer fails the schema: repair turns follow)
    line = json.loads(batch_line(engine.with_structured_mode(req)))
    assert COPY_OF not in json.dumps(line)
    assert line["body"] == sent
