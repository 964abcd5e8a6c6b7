"""Failures of the world through the CLI, against a real HTTP endpoint on 127.0.0.1.

An endpoint that is down leaves records pending (exit 4, nothing rejected) and the same
command, once the server is up, completes them and sends requests for those only; an
endpoint that answers every request with the same error stops the run after a few
requests; `llm run` without --model asks the server which model it serves.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dsbuild.testing.fake_llm import example_for_schema

VALIDATION = {
    "error": {
        "message": "1 validation error for ChatCompletionRequest: "
        "messages.0.role: Input should be 'system' or 'user'",
        "type": "BadRequestError",
    }
}


class StubServer:
    """A small OpenAI-compatible server: lists one model, answers chat completions (JSON
    shaped by the request's schema), counts requests, and can fail on purpose:
    `fail_with = (status, body)` fails every request, `fail_after = n` fails (503, the
    request's number in the message) every request after the first n answered."""

    def __init__(self, port: int = 0) -> None:
        self.chat_requests = 0
        self.answered = 0
        self.prompts: list[str] = []
        self.fail_with: tuple[int, dict] | None = None
        self.fail_after: int | None = None
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": "served-model", "object": "model", "owned_by": "stub"}],
                        },
                    )
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    stub.chat_requests += 1
                    n = stub.chat_requests
                    failing = stub.fail_with
                    if (
                        failing is None
                        and stub.fail_after is not None
                        and stub.answered >= stub.fail_after
                    ):
                        failing = (503, {"error": {"message": f"overloaded (request {n})"}})
                    if failing is None:
                        stub.answered += 1
                        stub.prompts.append(str(body["messages"][-1]["content"]))
                if failing is not None:
                    self._send(*failing)
                    return
                rf = body.get("response_format") or {}
                schema = (rf.get("json_schema") or {}).get("schema")
                content = (
                    json.dumps(example_for_schema(schema, f"s{n}"))
                    if schema
                    else f"answer to {body['messages'][-1]['content']}"
                )
                self._send(
                    200,
                    {
                        "id": f"c{n}",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content},
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                    },
                )

        return Handler


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening on it (for now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def servers():
    started: list[StubServer] = []

    def start(port: int = 0) -> StubServer:
        server = StubServer(port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def no_wait(monkeypatch):
    """Retries without their backoff sleeps, so the tests stay fast."""
    monkeypatch.setattr("dsbuild.llm.engine.backoff_delay", lambda *a, **k: 0.0)
    monkeypatch.setenv("DSBUILD_HTTP_CLIENT", "httpx")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def write_requests(path, n: int) -> None:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "messages": [{"role": "user", "content": f"Question {i}?"}],
                    "max_tokens": 16,
                }
            )
            + "\n"
            for i in range(n)
        )
    )


def llm_run(cli, tmp_path, url: str, *extra: str):
    return cli(
        "llm",
        "run",
        str(tmp_path / "in.jsonl"),
        "--out",
        str(tmp_path / "out.jsonl"),
        "--base-url",
        url,
        "--cache-dir",
        str(tmp_path / "cache"),
        "--no-progress",
        "--json",
        "--max-retries",
        "1",
        *extra,
    )


def rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_llm_run_endpoint_down_then_up(cli, tmp_path, servers):
    write_requests(tmp_path / "in.jsonl", 30)
    port = free_port()
    code, out, err = llm_run(cli, tmp_path, f"http://127.0.0.1:{port}/v1", "--model", "m")
    assert code == 4, err
    line = err.strip().splitlines()[-1]
    assert "DSB403" in line and f"127.0.0.1:{port}" in line and "model m" in line
    assert "connection" in line and "run the same command again" in line
    server = servers(port)  # the endpoint comes up on the same port
    code, out, err = llm_run(cli, tmp_path, server.url, "--model", "m")
    assert code == 0, err
    result = rows(tmp_path / "out.jsonl")
    assert [r["id"] for r in result] == [f"q{i}" for i in range(30)]
    assert all(r["error"] is None and r["content"] for r in result)
    assert server.chat_requests == 30
    code, out, err = llm_run(cli, tmp_path, server.url, "--model", "m")  # all done: none sent
    assert code == 0 and server.chat_requests == 30


def test_llm_run_outage_in_the_middle_leaves_lines_pending_and_the_rerun_retries_them(
    cli, tmp_path, servers
):
    write_requests(tmp_path / "in.jsonl", 30)
    server = servers()
    server.fail_after = 12  # then every request gets a 503 (an outage, shorter than 10 s)
    code, out, err = llm_run(cli, tmp_path, server.url, "--model", "m", "--concurrency", "2")
    assert code == 4 and "DSB402" in err and "18 of 30 records pending" in err, err
    first = rows(tmp_path / "out.jsonl")
    assert len(first) == 30  # every line written, in input order
    failed = [r["id"] for r in first if r["error"]]
    assert len(failed) == 18 and all(
        r["error"]["reason"] == "server_error" for r in first if r["error"]
    )
    run_json = json.loads((tmp_path / "out.jsonl.run" / "run.json").read_text())
    assert run_json["status"] == "incomplete" and run_json["stages"][-1]["n_pending"] == 18
    server.fail_after = None
    sent = server.chat_requests
    server.prompts.clear()
    code, out, err = llm_run(cli, tmp_path, server.url, "--model", "m", "--concurrency", "2")
    assert code == 0, err
    assert server.chat_requests - sent == 18  # exactly the pending lines
    assert sorted(server.prompts) == sorted(f"Question {i[1:]}?" for i in failed)
    second = rows(tmp_path / "out.jsonl")
    assert [r["id"] for r in second] == [f"q{i}" for i in range(30)]
    assert all(r["error"] is None for r in second)
    kept = [r for r in first if not r["error"]]
    assert all(r in second for r in kept)  # lines already written did not change
    assert json.loads((tmp_path / "out.jsonl.run" / "run.json").read_text())["status"] == "finished"


def test_systematic_validation_error_stops_after_a_few_requests(cli, tmp_path, servers):
    write_requests(tmp_path / "in.jsonl", 200)
    server = servers()
    server.fail_with = (500, VALIDATION)
    code, out, err = llm_run(
        cli, tmp_path, server.url, "--model", "m", "--concurrency", "4", "--max-retries", "6"
    )
    line = err.strip().splitlines()[-1]
    assert code == 4 and "DSB403" in line, err
    assert server.url in line and "model m" in line and "Input should be 'system' or 'user'" in line
    assert server.chat_requests <= 12  # not 200 x 7 attempts
    server.fail_with = None
    code, out, err = llm_run(cli, tmp_path, server.url, "--model", "m", "--concurrency", "4")
    assert code == 0, err
    assert all(r["error"] is None for r in rows(tmp_path / "out.jsonl"))


def test_systematic_bad_request_stops_too(cli, tmp_path, servers):
    write_requests(tmp_path / "in.jsonl", 100)
    server = servers()
    server.fail_with = (400, {"error": {"message": "response_format is not supported"}})
    code, out, err = llm_run(cli, tmp_path, server.url, "--model", "m", "--concurrency", "4")
    assert code == 4 and "DSB403" in err and "response_format is not supported" in err
    assert server.chat_requests <= 8


def test_llm_run_without_model_uses_the_first_model_the_server_lists(cli, tmp_path, servers):
    write_requests(tmp_path / "in.jsonl", 5)
    server = servers()
    code, out, err = llm_run(cli, tmp_path, server.url)
    assert code == 0, err
    result = rows(tmp_path / "out.jsonl")
    assert all(r["error"] is None for r in result)
    assert {r["provenance"]["model_requested"] for r in result} == {"served-model"}


def test_credentials_in_the_base_url_are_not_shown(cli, tmp_path):
    write_requests(tmp_path / "in.jsonl", 8)
    port = free_port()
    code, out, err = llm_run(
        cli, tmp_path, f"http://alice:s3cret@127.0.0.1:{port}/v1?api-key=k3y", "--model", "m"
    )
    assert code == 4 and "DSB403" in err
    assert "s3cret" not in err and "k3y" not in err and "127.0.0.1" in err


def test_build_endpoint_down_then_up_completes_every_record(cli, tmp_path, servers, stand_in):
    """A dataset build: down, exit 4, nothing rejected; up, the same command finishes."""
    from dsbuild.stages import Builder, map_stage, source_stage

    async def ask(record, ctx):
        engine = ctx.llm.get()
        result = await engine.complete(
            engine.request(
                [{"role": "user", "content": record["text"]}], sampling={"max_tokens": 8}
            )
        )
        if not result.ok:
            return result.rejection("ask")
        return {**record, "answer": result.content}

    def source(ctx):
        for i in range(12):
            yield {"id": f"r{i}", "text": f"passage {i}"}

    builder = Builder("stub", "1", (source_stage("src", source), map_stage("qa", ask, 4)))
    stand_in("psiloqa", builder, models=[None])
    run = tmp_path / "run"
    port = free_port()

    def build(url):
        return cli(
            "psiloqa",
            "build",
            "-o",
            str(run),
            "--base-url",
            url,
            "--model",
            "m",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
        )

    code, out, err = build(f"http://127.0.0.1:{port}/v1")
    assert code == 4 and "DSB403" in err, err
    run_json = json.loads((run / "run.json").read_text())
    assert run_json["status"] == "incomplete" and run_json["totals"]["n_rejected"] == 0
    assert not (run / "stages" / "02-qa" / "done.json").exists()
    server = servers(port)
    code, out, err = build(server.url)
    assert code == 0, err
    records = rows(run / "records.jsonl")
    assert len(records) == 12 and all(r["answer"] for r in records)
    assert (run / "rejects.jsonl").read_text() == ""
    assert server.chat_requests == 12
