"""`dsbuild llm run` end to end with the fake model: order, resume, cache, budget, dry run."""

from __future__ import annotations

import json

from dsbuild.llm.types import BackendError
from dsbuild.testing import FakeLLM, installed

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def write_requests(path, n=12, bad_line_at=None):
    lines = []
    for i in range(n):
        if i == bad_line_at:
            lines.append("{not json")
            continue
        req = {
            "id": f"q{i}",
            "messages": [{"role": "user", "content": f"Question {i}?"}],
            "temperature": 0,
            "max_tokens": 32,
        }
        if i % 3 == 0:
            req["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "a", "schema": SCHEMA},
            }
        lines.append(json.dumps(req))
    path.write_text("\n".join(lines) + "\n")


def results(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def llm_run(cli, tmp_path, *extra):
    return cli(
        "llm",
        "run",
        str(tmp_path / "in.jsonl"),
        "--out",
        str(tmp_path / "out.jsonl"),
        "--model",
        "fake:default",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
        "--json",
        *extra,
    )


def test_one_result_per_line_in_input_order_with_errors_inline(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", bad_line_at=5)
    fake = FakeLLM(latency_s=0.002)
    with installed(fake):
        code, out, err = llm_run(cli, tmp_path, "--concurrency", "4")
    assert code == 0, err
    rows = results(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [f"q{i}" if i != 5 else "line-6" for i in range(12)]
    assert rows[5]["error"]["reason"] == "bad_input" and rows[5]["content"] is None
    assert rows[0]["json"] == {"answer": rows[0]["json"]["answer"]} and rows[1]["json"] is None
    assert rows[1]["provenance"]["model_requested"] == "fake-model"
    assert all(r["error"] is None for i, r in enumerate(rows) if i != 5)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["requests_sent"] == 11 and summary["errors"] == {"bad_input": 1}


def test_rerun_resumes_and_cache_only_replays_without_sending(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl")
    fake = FakeLLM()
    with installed(fake):
        assert llm_run(cli, tmp_path)[0] == 0
        first = (tmp_path / "out.jsonl").read_bytes()
        calls = len(fake.calls)
        code, out, _ = llm_run(cli, tmp_path)  # same run directory: everything is done
        assert code == 0 and len(fake.calls) == calls
        (tmp_path / "out.jsonl").unlink()
        code, out, _ = llm_run(cli, tmp_path, "--run-dir", str(tmp_path / "replay"), "--cache-only")
    assert code == 0 and len(fake.calls) == calls
    assert json.loads(out.strip().splitlines()[-1])["cache_hits"] == 12

    def answers(rows):
        return [(r["id"], r["content"], r["json"], r["provenance"]["request_hash"]) for r in rows]

    replayed = results(tmp_path / "out.jsonl")
    assert answers(replayed) == answers([json.loads(x) for x in first.decode().splitlines()])
    assert all(r["provenance"]["cached"] for r in replayed)


def test_cache_only_miss_fails_clearly(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", n=3)
    code, _, err = llm_run(cli, tmp_path, "--cache-only")
    assert code == 2 and "DSB107" in err and len(err.strip().splitlines()) == 1


def test_transient_failures_retried_then_reported_per_line(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("dsbuild.llm.limits.backoff_delay", lambda *a, **k: 0.0)
    monkeypatch.setattr("dsbuild.llm.engine.backoff_delay", lambda *a, **k: 0.0)
    (tmp_path / "in.jsonl").write_text(
        "".join(
            json.dumps({"id": f"q{i}", "messages": [{"role": "user", "content": f"Q{i}"}]}) + "\n"
            for i in range(2)
        )
    )
    fake = FakeLLM().enqueue(
        BackendError("rate_limited", "429", transient=True, retry_after=0),
        "answer to the first",
        *[BackendError("server_error", "HTTP 500", transient=True)] * 3,
    )
    with installed(fake):
        code, out, err = llm_run(cli, tmp_path, "--concurrency", "1", "--max-retries", "2")
    rows = results(tmp_path / "out.jsonl")
    # A 5xx after its retries is the endpoint's failure, not the line's: the line is written
    # with its error, but it is pending (exit 4) and the next run retries it.
    assert code == 4 and "DSB402" in err and "run the same command again" in err
    ok = [r for r in rows if r["error"] is None]
    failed = [r for r in rows if r["error"] is not None]
    assert [r["content"] for r in ok] == ["answer to the first"]
    assert failed[0]["error"]["reason"] == "server_error" and failed[0]["content"] is None
    assert "3 attempts" in failed[0]["error"]["detail"]
    summary = json.loads(out.strip().splitlines()[-1])
    # the failing line: a 429 and a 500 retried, the next 500 ended it (3 attempts at most)
    assert summary["retries"]["rate_limited"] == 1 and sum(summary["retries"].values()) == 2
    assert len(fake.calls) == 4 and summary["requests_sent"] == 4
    with installed(fake):  # the endpoint is back: only the failed line is sent again
        code, out, err = llm_run(cli, tmp_path)
    assert code == 0, err
    resent = [c["messages"][0]["content"] for c in fake.calls[4:]]
    assert resent and set(resent) == {"Q0"}  # (the fake's last queued 500, then an answer)
    assert [r["error"] for r in results(tmp_path / "out.jsonl")] == [None, None]


def test_max_cost_stops_with_exit_5_and_resumes_with_a_larger_budget(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", n=30)
    prices = tmp_path / "prices.yaml"
    prices.write_text("fake-model: {input: 10000.0, output: 10000.0}\n")
    fake = FakeLLM()
    with installed(fake):
        code, _, err = llm_run(
            cli, tmp_path, "--max-cost", "1.0", "--prices", str(prices), "--concurrency", "4"
        )
        assert code == 5 and "DSB501" in err and "--max-cost" in err
        run_json = json.loads((tmp_path / "out.jsonl.run" / "run.json").read_text())
        assert 0 < run_json["cost_usd"] <= 1.0
        sent_first = len(fake.calls)
        code, _, err = llm_run(cli, tmp_path, "--max-cost", "100", "--prices", str(prices))
    assert code == 0, err
    assert len(fake.calls) == 30 and sent_first < 30  # nothing answered twice
    assert len(results(tmp_path / "out.jsonl")) == 30


def test_max_cost_needs_a_price(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", n=2)
    code, _, err = llm_run(cli, tmp_path, "--max-cost", "1")
    assert code == 2 and "--prices" in err


def test_dry_run_counts_cache_hits_and_sends_nothing(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", n=10)
    prices = tmp_path / "prices.yaml"
    prices.write_text("fake-model: {input: 1.0, output: 2.0}\n")
    fake = FakeLLM()
    with installed(fake):
        code, out, _ = llm_run(cli, tmp_path, "--dry-run", "--prices", str(prices))
        plan = json.loads(out)
        assert code == 0 and plan["to_send"] == 10 and plan["cache_hits"] == 0 and not fake.calls
        assert plan["est_cost_usd"] > 0
        llm_run(cli, tmp_path)
        code, out, _ = llm_run(cli, tmp_path, "--dry-run", "--prices", str(prices))
    assert json.loads(out)["cache_hits"] == 10 and json.loads(out)["to_send"] == 0


def test_changed_input_is_refused_without_new_or_overwrite(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", n=3)
    assert llm_run(cli, tmp_path)[0] == 0
    write_requests(tmp_path / "in.jsonl", n=4)
    code, _, err = llm_run(cli, tmp_path)
    assert code == 2 and "DSB201" in err and "input_sha256" in err
    assert llm_run(cli, tmp_path, "--overwrite")[0] == 0
    assert len(results(tmp_path / "out.jsonl")) == 4
