"""Batch API rounds (`dsbuild.llm.batch_api`) against an in-process fake of the API."""

from __future__ import annotations

import asyncio
import json

import batch_fake
import pytest
from batch_fake import FakeBatchAPI, rows, use_fake_endpoint

from dsbuild.errors import ServiceError
from dsbuild.llm.batch_api import STATE_FILENAME, BatchAPIClient, BatchRunner, custom_id
from dsbuild.llm.batch_queue import state_files
from dsbuild.llm.cache import ResponseCache
from dsbuild.llm.pricing import Price, batch_price
from dsbuild.llm.types import ChatRequest

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
RF = {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}


def requests(n=6):
    return [
        ChatRequest(
            model="m",
            messages=({"role": "user", "content": f"Q{i}"},),
            response_format=RF if i % 2 == 0 else None,
            sampling={"temperature": 0, "seed": 0},
            id=f"q{i}",
            structured_mode="json_schema" if i % 2 == 0 else None,
        )
        for i in range(n)
    ]


async def _nosleep(_s):
    await asyncio.sleep(0)


def runner(fake, tmp_path, **kw):
    tmp_path.mkdir(parents=True, exist_ok=True)
    kw.setdefault("cache", ResponseCache(tmp_path / "cache.sqlite3"))
    kw.setdefault("sleep", _nosleep)
    return BatchRunner(BatchAPIClient(fake.client()), tmp_path / "run", **kw)


def run(r, reqs):
    return asyncio.run(r.run(reqs))


def state(tmp_path):
    return json.loads((tmp_path / "run" / STATE_FILENAME).read_text())


def test_completed_batch_answers_validates_caches_and_records_ids(tmp_path):
    fake = FakeBatchAPI()
    seen = []
    r = runner(fake, tmp_path, progress=lambda *a: seen.append(a))
    reqs = requests()
    out = run(r, reqs)
    assert fake.calls["create"] == 1 and fake.calls["online"] == 0
    assert r.stats.rounds == 1 and r.stats.lines_sent == 6
    for req in reqs:
        res = out[req.key()]
        assert res.ok and not res.cached and res.batch_id == "batch_0002"
        assert res.content and res.model_answered == "served-m"
        assert (res.json is not None) == (req.json_schema is not None)
        assert r.cache.get(req.key())["content"] == res.content  # replayable online
    # the line sent is the canonical payload, under its custom id
    line = json.loads(fake.files["file_0001"].splitlines()[0])
    assert line == {
        "custom_id": custom_id(reqs[0]),
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": reqs[0].payload(),
    }
    st = state(tmp_path)["batches"]
    assert st[0]["batch_id"] == "batch_0002" and st[0]["collected"]
    assert st[0]["input_file_id"] == "file_0001"
    assert seen[-1] == ("batch_0002", 6, 0, 6)
    # a second run: everything from the cache, nothing sent
    out2 = run(runner(fake, tmp_path, cache=r.cache), reqs)
    assert fake.calls["create"] == 1 and all(x.cached for x in out2.values())


def test_split_into_several_batches(tmp_path):
    fake = FakeBatchAPI()
    r = runner(fake, tmp_path, max_lines=4)
    out = run(r, requests(10))
    assert fake.calls["create"] == 3 and all(x.ok for x in out.values())
    assert [len(b["custom_ids"]) for b in state(tmp_path)["batches"]] == [4, 4, 2]
    r = runner(FakeBatchAPI(), tmp_path / "b", max_bytes=400)
    run(r, requests(4))
    assert r.stats.batches >= 2


def test_completed_with_error_file_retries_those_lines_in_a_second_round(tmp_path):
    fake = FakeBatchAPI(endings=[("completed", 2)])
    r = runner(fake, tmp_path)
    reqs = requests()
    out = run(r, reqs)
    assert all(x.ok for x in out.values())
    assert r.stats.rounds == 2 and fake.calls["create"] == 2
    second = [
        json.loads(x)["custom_id"]
        for x in fake.files[state(tmp_path)["batches"][1]["input_file_id"]].splitlines()
    ]
    assert second == [custom_id(q) for q in reqs[-2:]]
    assert {out[q.key()].batch_id for q in reqs[-2:]} != {out[reqs[0].key()].batch_id}


def test_errors_every_round_end_pending_with_the_reason(tmp_path):
    fake = FakeBatchAPI(endings=[("completed", 1)] * 5)
    r = runner(fake, tmp_path, max_rounds=2)
    reqs = requests(3)
    out = run(r, reqs)
    bad = out[reqs[-1].key()]
    assert bad.error["reason"] == "server_error" and bad.pending
    assert "HTTP 500" in bad.error["detail"] and "after 2 batch rounds" in bad.error["detail"]
    assert out[reqs[0].key()].ok


def test_expired_then_unfinished_lines_resubmitted(tmp_path):
    fake = FakeBatchAPI(endings=[("expired", 3)])
    r = runner(fake, tmp_path)
    reqs = requests()
    out = run(r, reqs)
    assert all(x.ok for x in out.values()) and r.stats.rounds == 2
    b = state(tmp_path)["batches"]
    assert b[0]["status"] == "expired" and len(b[1]["custom_ids"]) == 3


def test_cancelled_batch_lines_resubmitted(tmp_path):
    fake = FakeBatchAPI(endings=[("cancelled", 6)])
    out = run(runner(fake, tmp_path), requests())
    assert all(x.ok for x in out.values()) and fake.calls["create"] == 2


def test_failed_input_file_is_one_clear_error(tmp_path):
    fake = FakeBatchAPI(endings=[("failed",)])
    with pytest.raises(ServiceError) as info:
        run(runner(fake, tmp_path), requests())
    msg = str(info.value)
    assert "batch_0002 failed" in msg and "line 2" in msg and "bad model name" in msg
    assert len(msg.splitlines()) == 1 and info.value.code == "DSB401"


def test_polling_http_500_retried_with_backoff(tmp_path):
    fake = FakeBatchAPI(poll_500s=3)
    waits = []

    async def sleep(s):
        waits.append(s)

    r = runner(fake, tmp_path, sleep=sleep)
    out = run(r, requests())
    assert all(x.ok for x in out.values())
    assert r.stats.poll_errors == 3 and len(waits) >= 3 and fake.calls["create"] == 1


def test_polling_errors_past_the_limit_keep_the_batch_id(tmp_path):
    fake = FakeBatchAPI(poll_500s=100)
    with pytest.raises(ServiceError) as info:
        run(runner(fake, tmp_path, max_poll_errors=2), requests())
    assert "batch_0002" in str(info.value) and "re-attach" in str(info.value)
    assert state(tmp_path)["batches"][0]["batch_id"] == "batch_0002"
    assert not state(tmp_path)["batches"][0]["collected"]


def test_resume_reattaches_to_a_live_batch_and_submits_nothing_new(tmp_path):
    fake = FakeBatchAPI(polls_to_finish=3)
    reqs = requests()

    class Killed(Exception):
        pass

    async def killed_while_polling(_s):
        raise Killed

    cache = ResponseCache(tmp_path / "cache.sqlite3")
    with pytest.raises(Killed):
        run(runner(fake, tmp_path, cache=cache, sleep=killed_while_polling), reqs)
    assert fake.calls["create"] == 1 and state(tmp_path)["batches"][0]["collected"] is False
    r = runner(fake, tmp_path, cache=cache)
    assert r.live_batches == ["batch_0002"]
    out = run(r, reqs)
    assert fake.calls["create"] == 1 and fake.calls["upload"] == 1  # nothing new submitted
    assert r.stats.reattached == 1 and all(x.ok for x in out.values())
    assert {x.batch_id for x in out.values()} == {"batch_0002"}


def test_wrong_structured_answer_gets_a_repair_turn_in_the_next_round(tmp_path):
    fake = FakeBatchAPI(wrong_json=['{"nope": 1}'])
    r = runner(fake, tmp_path)
    reqs = requests(2)
    out = run(r, reqs)
    res = out[reqs[0].key()]
    assert res.ok and res.json == {"answer": res.json["answer"]} and r.stats.repairs == 1
    assert res.usage.prompt_tokens == 22 and r.stats.rounds == 2
    # both turns are cached as online calls would cache them: a replay needs no network
    out2 = run(runner(FakeBatchAPI(), tmp_path / "x", cache=r.cache), reqs)
    assert out2[reqs[0].key()].json == res.json and out2[reqs[0].key()].cached


def test_repairs_exhausted_fail_as_schema_mismatch(tmp_path):
    fake = FakeBatchAPI(wrong_json=['{"nope": 1}'] * 3)
    reqs = requests(1)
    out = run(runner(fake, tmp_path, max_repairs=1), reqs)
    err = out[reqs[0].key()].error
    assert err["reason"] == "schema_mismatch" and "after 1 repair turns" in err["detail"]
    assert not out[reqs[0].key()].pending


def test_batch_cost_is_half_the_online_price(tmp_path):
    price = Price(2.0, 4.0)
    charged = []
    r = runner(
        FakeBatchAPI(), tmp_path, price=batch_price(price), on_charge=lambda u, c: charged.append(c)
    )
    out = run(r, requests(2))
    online = (11 * 2.0 + 7 * 4.0) / 1_000_000
    assert [x.cost_usd for x in out.values()] == [online / 2] * 2 == charged
    assert batch_price(Price(2.0, 4.0, batch_input_per_m=1.5)) == Price(1.5, 2.0)


# -- `dsbuild llm run --batch` -------------------------------------------------------------


@pytest.fixture
def fake_endpoint(monkeypatch):
    return use_fake_endpoint(monkeypatch)


def write_input(path, n=8):
    rows = []
    for i in range(n):
        row = {"id": f"q{i}", "messages": [{"role": "user", "content": f"Q{i}"}]}
        if i % 2 == 0:
            row["response_format"] = RF
        if i == 3:
            row["sample_index"] = 1
            row["temperature"] = 0.7
        rows.append(json.dumps(row))
    rows.insert(5, "{not json")
    path.write_text("\n".join(rows) + "\n")


def llm_run(cli, tmp_path, name, cache, *extra):
    return batch_fake.llm_run(cli, tmp_path, *extra, out=f"{name}.jsonl", cache=cache)


def test_llm_run_batch_output_equals_online_at_half_the_cost(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl")
    code, out, err = llm_run(cli, tmp_path, "online", "cache-online")
    assert code == 0, err
    online_summary = json.loads(out.strip().splitlines()[-1])
    sent_online = fake_endpoint.calls["online"]
    assert sent_online == 8

    code, out, err = llm_run(cli, tmp_path, "batched", "cache-batch", "--batch")
    assert code == 0, err
    batch_summary = json.loads(out.strip().splitlines()[-1])
    assert fake_endpoint.calls["online"] == sent_online  # no online request
    assert fake_endpoint.calls["create"] == 1
    online, batched = rows(tmp_path / "online.jsonl"), rows(tmp_path / "batched.jsonl")
    assert len(batched) == len(online) == 9
    for a, b in zip(online, batched):
        if a["error"] is not None:  # the bad input line
            assert a == b
            continue
        assert b["provenance"].pop("batch_id") == "batch_0002"
        line = b["provenance"].pop("batch_line")  # the custom_id of the line that answered
        assert line == f"{b['provenance']['request_hash']}-{b['provenance']['sample_index']}"
        assert not b["provenance"].pop("cached") and not a["provenance"].pop("cached")
        assert b.pop("cost_usd") * 2 == a.pop("cost_usd") > 0
        assert a == b
    assert batch_summary["cost_usd"] * 2 == online_summary["cost_usd"] > 0
    assert batch_summary["requests_sent"] == 0 and batch_summary["completed"] == 8
    (state_file,) = state_files(tmp_path / "batched.jsonl")  # RUN/batches/<model>.json
    state = json.loads(state_file.read_text())
    assert state["model"] == "openai:m" and state["batches"][0]["batch_id"] == "batch_0002"
    code, _, err = llm_run(cli, tmp_path, "batched", "cache-batch", "--batch")  # resumes
    assert code == 0 and fake_endpoint.calls["create"] == 1, err

    # the batch answers are in the cache: --cache-only replays them without the network
    code, out, err = llm_run(
        cli, tmp_path, "replay", "cache-batch", "--cache-only", "--run-dir", str(tmp_path / "r2")
    )
    assert code == 0, err
    assert fake_endpoint.calls["online"] == sent_online and fake_endpoint.calls["create"] == 1
    replay = rows(tmp_path / "replay.jsonl")
    assert [r["content"] for r in replay] == [r["content"] for r in batched]
