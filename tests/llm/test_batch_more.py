"""`--max-cost` and `--dry-run` with `--batch`, and `dsbuild batches status|cancel`,
against the in-process fake of the Batch API (`batch_fake`)."""

from __future__ import annotations

import asyncio
import json

import pytest
from batch_fake import PRICES, FakeBatchAPI, llm_run, rows, use_fake_endpoint

from dsbuild.errors import BudgetExceededError
from dsbuild.llm import batch_api
from dsbuild.llm.batch_api import BatchAPIClient, BatchRunner
from dsbuild.llm.batch_queue import STATE_FOLDER, state_file, state_files
from dsbuild.llm.cache import ResponseCache
from dsbuild.llm.types import ChatRequest

# batch prices of model m (`PRICES`): half the online 2.0 / 4.0 per 1M tokens
MAX_TOKENS = 100


@pytest.fixture
def fake_endpoint(monkeypatch):
    return use_fake_endpoint(monkeypatch)


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of at most 3 lines."""

    class SmallBatches(BatchRunner):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, max_lines=3, **kwargs)

    monkeypatch.setattr(batch_api, "BatchRunner", SmallBatches)


def write_input(path, n=8):
    rows = [
        json.dumps(
            {
                "id": f"q{i}",
                "messages": [{"role": "user", "content": f"Q{i}"}],
                "max_tokens": MAX_TOKENS,
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(rows) + "\n")


def line_estimate(content: str) -> float:
    """What the engine estimates for one input line, at batch prices (1.0 / 2.0)."""
    from dsbuild.llm.tokens import estimate_prompt_tokens

    p = estimate_prompt_tokens([{"role": "user", "content": content}])
    return (p * 1.0 + MAX_TOKENS * 2.0) / 1_000_000


# -- 1. --max-cost with --batch -----------------------------------------------------------


def test_max_cost_stops_before_a_batch_that_does_not_fit_and_resumes(
    cli, tmp_path, fake_endpoint, small_batches
):
    write_input(tmp_path / "in.jsonl", n=8)  # batches of 3, 3, 2 lines
    per_line = line_estimate("Q0")
    budget = 6.5 * per_line  # two batches fit, the third (two more lines) does not
    code, _, err = llm_run(cli, tmp_path, "--batch", "--max-cost", f"{budget:.8f}")
    assert code == 5, err
    assert "DSB501" in err and "--max-cost" in err and "next batch (2 lines" in err
    assert fake_endpoint.calls["create"] == 2 and fake_endpoint.calls["online"] == 0
    assert fake_endpoint.calls["upload"] == 2  # the third batch was never uploaded
    (path,) = state_files(tmp_path / "out.jsonl.run")
    state = json.loads(path.read_text())
    assert [len(b["custom_ids"]) for b in state["batches"]] == [3, 3]
    assert all(b["collected"] for b in state["batches"])  # what was answered stays
    run_json = json.loads((tmp_path / "out.jsonl.run" / "run.json").read_text())
    assert 0 < run_json["cost_usd"] <= budget

    code, out, err = llm_run(cli, tmp_path, "--batch", "--max-cost", "1")
    assert code == 0, err
    assert fake_endpoint.calls["create"] == 3 and fake_endpoint.calls["online"] == 0
    sent = [len(fake_endpoint.lines[b]) for b in fake_endpoint.lines]
    assert sent == [3, 3, 2]  # nothing answered twice
    result = rows(tmp_path / "out.jsonl")
    assert [r["id"] for r in result] == [f"q{i}" for i in range(8)]
    assert all(r["error"] is None and r["content"] for r in result)


def test_max_cost_too_small_for_the_first_batch_sends_nothing(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl", n=4)
    code, _, err = llm_run(cli, tmp_path, "--batch", "--max-cost", "0.0001")
    assert code == 5 and "DSB501" in err and "at batch prices" in err
    assert fake_endpoint.calls["upload"] == 0 and fake_endpoint.calls["online"] == 0
    assert len(err.strip().splitlines()) <= 3


def test_max_cost_that_fits_runs_everything_at_batch_prices(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl", n=4)
    code, out, err = llm_run(cli, tmp_path, "--batch", "--max-cost", "0.01")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["requests_sent"] == 0 and summary["completed"] == 4
    assert summary["cost_usd"] == pytest.approx(4 * (11 * 1.0 + 7 * 2.0) / 1_000_000)


def test_runner_reserves_per_batch_and_releases_after_collecting(tmp_path):
    reserved, released = [], []

    def reserve(reqs):
        if sum(reserved) + len(reqs) > 5:
            raise BudgetExceededError("budget reached", "more", code="DSB501")
        reserved.append(len(reqs))
        return float(len(reqs))

    async def nosleep(_s):
        await asyncio.sleep(0)

    fake = FakeBatchAPI()
    reqs = [
        ChatRequest(model="m", messages=({"role": "user", "content": f"Q{i}"},), id=f"q{i}")
        for i in range(7)
    ]
    r = BatchRunner(
        BatchAPIClient(fake.client()),
        tmp_path / "run",
        cache=ResponseCache(tmp_path / "c.sqlite3"),
        max_lines=2,
        sleep=nosleep,
        reserve=reserve,
        release=released.append,
    )
    with pytest.raises(BudgetExceededError) as info:
        asyncio.run(r.run(reqs))
    assert reserved == [2.0, 2.0] and sorted(released) == [2.0, 2.0]
    answered = info.value.results
    assert len(answered) == 4 and all(x.ok for x in answered.values())
    assert fake.calls["create"] == 2


# -- 2. --dry-run --batch -----------------------------------------------------------------


def test_dry_run_batch_counts_batches_lines_and_batch_cost(
    cli, tmp_path, fake_endpoint, small_batches, monkeypatch
):
    write_input(tmp_path / "in.jsonl", n=8)
    code, out, err = llm_run(cli, tmp_path, "--dry-run")
    assert code == 0, err
    online = json.loads(out)
    assert "batches" not in online
    monkeypatch.setattr(batch_api, "MAX_BATCH_LINES", 3)
    code, out, err = llm_run(cli, tmp_path, "--dry-run", "--batch")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["batch"] is True and plan["batches"] == 3 and plan["batch_lines"] == 8
    assert plan["to_send"] == 8 and plan["cache_hits"] == 0
    assert plan["est_cost_usd"] == pytest.approx(online["est_cost_usd"] / 2, abs=2e-6)
    assert plan["est_cost_usd"] == pytest.approx(8 * line_estimate("Q0"), abs=2e-6)
    assert sum(fake_endpoint.calls.values()) == 0  # nothing sent

    # after answering 8 lines, only new lines would go into batches
    assert llm_run(cli, tmp_path, "--batch")[0] == 0
    write_input(tmp_path / "in.jsonl", n=10)
    code, out, _ = llm_run(cli, tmp_path, "--dry-run", "--batch")
    plan = json.loads(out)
    assert plan["cache_hits"] == 8 and plan["batches"] == 1 and plan["batch_lines"] == 2


def test_dry_run_batch_table(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl", n=4)
    (tmp_path / "prices.yaml").write_text(PRICES)
    code, out, err = cli(
        "llm",
        "run",
        str(tmp_path / "in.jsonl"),
        "--out",
        str(tmp_path / "o.jsonl"),
        "--model",
        "openai:m",
        "--base-url",
        "http://test.invalid/v1",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--prices",
        str(tmp_path / "prices.yaml"),
        "--dry-run",
        "--batch",
    )
    assert code == 0, err
    assert "Batch API" in out and "1 (4 lines)" in out and "at batch prices" in out


@pytest.mark.parametrize("how", ["--no-progress", "--dry-run"])
def test_batch_refuses_a_backend_without_batch_api(cli, tmp_path, how):
    """A run and a dry run alike, before anything is read or sent."""
    from dsbuild.testing import FakeLLM, installed

    write_input(tmp_path / "in.jsonl", n=2)
    with installed(FakeLLM()):
        code, _, err = cli(
            "llm",
            "run",
            str(tmp_path / "in.jsonl"),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--model",
            "fake:default",
            "--cache-dir",
            str(tmp_path / "c"),
            how,
            "--batch",
        )
    assert code == 2 and "--batch needs an OpenAI-compatible endpoint" in err


# -- 3. dsbuild batches status|cancel -------------------------------------------------------


def batches_cmd(cli, what, run, *extra):
    return cli("batches", what, str(run), "--base-url", "http://test.invalid/v1", *extra)


def test_batches_status_shows_each_batch_after_a_retrieve(cli, tmp_path, fake_endpoint):
    write_input(tmp_path / "in.jsonl", n=4)
    assert llm_run(cli, tmp_path, "--batch")[0] == 0
    polls = fake_endpoint.calls["poll"]
    code, out, err = batches_cmd(cli, "status", tmp_path / "out.jsonl.run", "--json")
    assert code == 0, err
    (model,) = json.loads(out)
    assert model["model"] == "openai:m"
    shown = model["batches"]
    assert fake_endpoint.calls["poll"] == polls + 1  # retrieved, not taken from the file
    assert shown == [
        {
            "batch_id": "batch_0002",
            "round": 1,
            "status": "completed",
            "lines": 4,
            "total": 4,
            "completed": 4,
            "failed": 0,
            "collected": True,
        }
    ]
    code, out, err = batches_cmd(cli, "status", tmp_path / "out.jsonl")  # OUT names OUT.run
    assert code == 0, err
    assert "batch_0002" in out and "completed" in out and "4/4 done, 0 failed" in out


def live_batch(tmp_path, fake):
    """A run killed while polling its batch: the batch is recorded, not collected."""

    class Killed(Exception):
        pass

    async def killed_while_polling(_s):
        raise Killed

    reqs = [
        ChatRequest(model="m", messages=({"role": "user", "content": f"Q{i}"},), id=f"q{i}")
        for i in range(3)
    ]
    cache = ResponseCache(tmp_path / "c.sqlite3")
    r = BatchRunner(
        BatchAPIClient(fake.client()),
        state_file(tmp_path / "run", "openai:m"),
        meta={"model": "openai:m"},
        cache=cache,
        sleep=killed_while_polling,
    )
    with pytest.raises(Killed):
        asyncio.run(r.run(reqs))
    return reqs, cache


def test_batches_cancel_cancels_the_live_batches_and_a_rerun_resubmits(
    cli, tmp_path, fake_endpoint
):
    fake_endpoint.polls_to_finish = 10
    reqs, cache = live_batch(tmp_path, fake_endpoint)
    code, out, err = batches_cmd(cli, "status", tmp_path / "run", "--json")
    assert code == 0, err
    ((row,),) = [m["batches"] for m in json.loads(out)]
    assert row["status"] == "in_progress" and not row["collected"] and row["total"] == 3
    code, out, err = batches_cmd(cli, "cancel", tmp_path / "run")
    assert code == 0, err
    assert fake_endpoint.calls["cancel"] == 1
    assert "batch_0002" in out and "cancelled now" in out and "1 batch(es) cancelled" in out
    # the state file is the run's: still recorded, a rerun collects and resubmits
    state = json.loads(state_file(tmp_path / "run", "openai:m").read_text())
    assert state["batches"][0]["collected"] is False

    async def nosleep(_s):
        await asyncio.sleep(0)

    fake_endpoint.polls_to_finish = 1
    r = BatchRunner(
        BatchAPIClient(fake_endpoint.client()),
        state_file(tmp_path / "run", "openai:m"),
        cache=cache,
        sleep=nosleep,
    )
    out = asyncio.run(r.run(reqs))
    assert all(x.ok for x in out.values()) and fake_endpoint.calls["create"] == 2
    # a second cancel leaves the finished batches alone
    code, out, err = batches_cmd(cli, "cancel", tmp_path / "run", "--json")
    assert code == 0, err
    (rows,) = [m["batches"] for m in json.loads(out)]
    assert [x["status"] for x in rows] == ["cancelled", "completed"]
    assert not any(x["cancelled_now"] for x in rows) and fake_endpoint.calls["cancel"] == 1


@pytest.mark.parametrize("what", ["status", "cancel"])
def test_batches_commands_on_a_folder_without_state_are_one_line_errors(
    cli, tmp_path, fake_endpoint, what
):
    code, _, err = batches_cmd(cli, what, tmp_path / "nowhere")
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    code, _, err = batches_cmd(cli, what, tmp_path / "empty")
    assert code == 2 and f"holds no batch state ({STATE_FOLDER}/)" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "bad" / STATE_FOLDER).mkdir(parents=True)
    (tmp_path / "bad" / STATE_FOLDER / "m.json").write_text("{not json")
    code, _, err = batches_cmd(cli, what, tmp_path / "bad")
    assert code == 4 and "DSB401" in err and len(err.strip().splitlines()) == 1
    assert sum(fake_endpoint.calls.values()) == 0
