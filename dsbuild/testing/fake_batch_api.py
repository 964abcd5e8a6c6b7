"""`FakeBatchAPI`: an in-process fake of the OpenAI Batch API (files, batches, their endings)
and of chat completions, for the openai SDK's `http_client` (an `httpx2.MockTransport`, the
HTTP library of the installed openai SDK): the real client code path, no network.

    fake = FakeBatchAPI(endings=[("expired", 2)])
    client = fake.client()        # an openai.AsyncOpenAI talking to it
    http = fake.http_client()     # or only its transport, for dsbuild's own backends
"""

from __future__ import annotations

import json
import re
from collections import Counter

__all__ = ["FakeBatchAPI", "answer", "completion"]


def _httpx():
    import httpx2

    return httpx2


USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def answer(body: dict) -> str:
    """A deterministic answer to a chat body: JSON when a schema is asked for."""
    last = body["messages"][-1]["content"]
    if body.get("response_format"):
        return json.dumps({"answer": f"about {last}"})
    return f"answer to {last}"


def completion(body: dict, content: str | None = None) -> dict:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "served-" + body["model"],
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content or answer(body)},
            }
        ],
        "usage": USAGE,
    }


class FakeBatchAPI:
    """Batches end as `endings` says, in creation order (default `completed`):
    `("completed", n_errors)`, `("expired", n_unfinished)`, `("cancelled", n)`, `("failed",)`.
    A batch is `in_progress` for `polls_to_finish` polls; the first `poll_500s` polls of
    all get HTTP 500. `wrong_json`: answer contents to give (in order) for structured lines
    instead of the right one. `responder(body)`: the answer to a chat body, online and in
    batches alike (default `answer`): a string, a JSON value, or an exception for an HTTP
    400 refusal."""

    def __init__(self, endings=(), polls_to_finish=1, poll_500s=0, wrong_json=(), responder=None):
        self.responder = responder
        self.endings = list(endings)
        self.polls_to_finish, self.poll_500s = polls_to_finish, poll_500s
        self.wrong_json = list(wrong_json)
        self.files: dict[str, str] = {}
        self.batches: dict[str, dict] = {}
        self.lines: dict[str, list[dict]] = {}
        self.calls = Counter()
        self.online_bodies: list[dict] = []
        self._n = 0

    def client(self):
        import openai

        httpx = _httpx()
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return openai.AsyncOpenAI(
            base_url="http://test.invalid/v1", api_key="sk-test", max_retries=0, http_client=http
        )

    def serve_every_endpoint(self, monkeypatch) -> FakeBatchAPI:
        """Make every OpenAI-compatible backend dsbuild's factory builds from now on (until
        the test ends: `monkeypatch` is pytest's) talk to this fake."""
        import dsbuild.llm.factory as factory

        make = factory.make_backend
        monkeypatch.setattr(
            factory,
            "make_backend",
            lambda spec, settings, http_client=None: make(
                spec, settings, http_client=self.http_client()
            ),
        )
        return self

    def http_client(self):
        httpx = _httpx()
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def _id(self, prefix):
        self._n += 1
        return f"{prefix}_{self._n:04d}"

    def handle(self, request):
        httpx = _httpx()
        path, method = request.url.path, request.method
        if path == "/v1/chat/completions":
            body = json.loads(request.content)
            self.calls["online"] += 1
            self.online_bodies.append(body)
            content = self._content(body)
            if isinstance(content, Exception):
                return httpx.Response(400, json={"error": {"message": str(content)}})
            return httpx.Response(200, json=completion(body, content))
        if path == "/v1/files" and method == "POST":
            self.calls["upload"] += 1
            fid = self._id("file")
            self.files[fid] = _multipart_file(request)
            return httpx.Response(
                200,
                json={
                    "id": fid,
                    "object": "file",
                    "bytes": len(self.files[fid]),
                    "created_at": 0,
                    "filename": "batch.jsonl",
                    "purpose": "batch",
                },
            )
        m = re.fullmatch(r"/v1/files/([^/]+)/content", path)
        if m:
            return httpx.Response(200, content=self.files[m.group(1)].encode())
        if path == "/v1/batches" and method == "POST":
            self.calls["create"] += 1
            body = json.loads(request.content)
            bid = self._id("batch")
            lines = [json.loads(x) for x in self.files[body["input_file_id"]].splitlines()]
            self.lines[bid] = lines
            ending = self.endings.pop(0) if self.endings else ("completed", 0)
            self.batches[bid] = {
                "id": bid,
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": body["completion_window"],
                "status": "validating",
                "created_at": 0,
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                "_ending": ending,
                "_polls": 0,
            }
            return httpx.Response(200, json=self._public(bid))
        if path == "/v1/batches" and method == "GET":
            self.calls["list"] += 1
            data = [self._public(b) for b in reversed(list(self.batches))]
            return httpx.Response(200, json={"object": "list", "data": data, "has_more": False})
        m = re.fullmatch(r"/v1/batches/([^/]+)", path)
        if m and method == "GET":
            self.calls["poll"] += 1
            if self.calls["poll"] <= self.poll_500s:
                return httpx.Response(500, json={"error": {"message": "boom"}})
            self._advance(m.group(1))
            return httpx.Response(200, json=self._public(m.group(1)))
        m = re.fullmatch(r"/v1/batches/([^/]+)/cancel", path)
        if m:
            self.calls["cancel"] += 1
            self.batches[m.group(1)]["_ending"] = ("cancelled", 10**9)
            return httpx.Response(200, json=self._public(m.group(1)))
        return httpx.Response(404, json={"error": {"message": f"no route {path}"}})

    def _content(self, body):
        if self.responder is None:
            return None  # `completion` answers
        content = self.responder(body)
        if isinstance(content, (str, Exception)):
            return content
        return json.dumps(content, ensure_ascii=False)

    def _public(self, bid):
        return {k: v for k, v in self.batches[bid].items() if not k.startswith("_")}

    def _advance(self, bid):
        b = self.batches[bid]
        if b["status"] not in ("validating", "in_progress"):
            return
        b["_polls"] += 1
        lines = self.lines[bid]
        if b["_polls"] < self.polls_to_finish:
            b["status"] = "in_progress"
            b["request_counts"]["completed"] = len(lines) // 2
            return
        kind, *arg = b["_ending"]
        if kind == "failed":
            b["status"] = "failed"
            b["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_request", "message": "bad model name", "line": 2}],
            }
            return
        n_bad = arg[0] if arg else 0
        out, err = [], []
        for i, line in enumerate(lines):
            cid = line["custom_id"]
            if i >= len(lines) - n_bad:
                code = {"completed": None, "expired": "batch_expired"}.get(kind, "batch_cancelled")
                if code is None:
                    err.append(
                        {
                            "id": f"r{i}",
                            "custom_id": cid,
                            "response": {
                                "status_code": 500,
                                "request_id": "x",
                                "body": {"error": {"message": "server had an error"}},
                            },
                            "error": None,
                        }
                    )
                else:
                    err.append(
                        {
                            "id": f"r{i}",
                            "custom_id": cid,
                            "response": None,
                            "error": {"code": code, "message": "not executed"},
                        }
                    )
                continue
            body = line["body"]
            content = self._content(body)
            if isinstance(content, Exception):
                err.append(
                    {
                        "id": f"r{i}",
                        "custom_id": cid,
                        "response": {
                            "status_code": 400,
                            "request_id": "x",
                            "body": {"error": {"message": str(content)}},
                        },
                        "error": None,
                    }
                )
                continue
            if body.get("response_format") and self.wrong_json:
                content = self.wrong_json.pop(0)
            out.append(
                {
                    "id": f"r{i}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 200,
                        "request_id": "x",
                        "body": completion(body, content),
                    },
                    "error": None,
                }
            )
        out.reverse()  # output order is not input order: lines are matched by custom_id
        b["output_file_id"] = self._file(out)
        b["error_file_id"] = self._file(err)
        b["status"] = kind
        b["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}

    def _file(self, rows):
        if not rows:
            return None
        fid = self._id("file")
        self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows)
        return fid


def _multipart_file(request) -> str:
    ctype = request.headers["content-type"]
    boundary = ctype.split("boundary=")[1].strip('"').encode()
    body = request.read()
    for part in body.split(b"--" + boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return data[: -2 if data.endswith(b"\r\n") else None].decode()
    raise AssertionError("no file in the upload")
