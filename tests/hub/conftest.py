"""Small runs of every dataset for the export tests, and an in-process fake Hugging Face Hub.

EntityCS and PsiloQA runs come from the real builders (EntityCS on its embedded samples,
PsiloQA with a routed fake LLM); MedRECT and cultural runs are run-like folders made from
the shipped sample records (their builders are not final yet).
"""

from __future__ import annotations

import base64
import json
import re
from importlib.resources import files
from pathlib import Path

import pytest

from dsbuild.config import Settings
from dsbuild.testing.fake_llm import FakeLLM, installed

PASSAGE = (
    "{title} is a well-known subject of the encyclopedia. It was described in 1850 by a "
    "group of scholars and has been studied ever since in many countries, with over forty "
    "books and hundreds of articles written about its history and meaning."
)


class RoutedFake(FakeLLM):
    """QA pairs per passage, an answer per question, a [HAL] span on the number, no flags."""

    def _deterministic(self, payload):
        system = payload["messages"][0]["content"]
        user = next(m["content"] for m in payload["messages"] if m["role"] == "user")
        if "reading-comprehension" in system:
            title = user.split("\n", 1)[0].removeprefix("Title: ").strip()
            return {
                "pairs": [
                    {
                        "complexity": c,
                        "question": f"When was {title} described ({c})?",
                        "answer": "In 1850.",
                    }
                    for c in ("easy", "medium", "hard")
                ]
            }
        if "general-knowledge" in system:
            return (
                "It was described in 1907 by scholars."
                if "hard" in user
                else "It was described long ago."
            )
        if "check answers against a source" in system:
            if "1907" in user:
                return {"annotated_answer": "It was described in [HAL]1907[/HAL] by scholars."}
            return {"annotated_answer": "It was described long ago."}
        return {
            "incomplete_question": False,
            "subjective_question": False,
            "refusal": False,
            "reason": "fine",
        }


def _write_passages(path: Path) -> Path:
    rows = []
    for lang in ("en", "de"):
        for title in ("Alpha", "Beta", "Gamma", "Delta"):
            rows.append(
                {
                    "id": f"{lang}:{title}",
                    "lang": lang,
                    "title": title,
                    "url": f"https://{lang}.wikipedia.org/wiki/{title}",
                    "text": PASSAGE.format(title=title),
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def psiloqa_run(tmp_path_factory) -> Path:
    from dsbuild.cli.dataset_group import build_dataset

    tmp = tmp_path_factory.mktemp("psiloqa")
    settings = Settings(
        dataset="psiloqa",
        model="fake:default",
        seed=0,
        concurrency=4,
        max_retries=0,
        cache_dir=tmp / "cache",
        # the fake's answers are not in the passages' languages: no gates
        options={"passages": str(_write_passages(tmp / "passages.jsonl")), "gates": False},
    )
    with installed(RoutedFake()):
        result = build_dataset("psiloqa", settings, tmp / "run", progress=False)
    assert result.n_out > 0
    return tmp / "run"


@pytest.fixture(scope="session")
def entitycs_run(tmp_path_factory) -> Path:
    from dsbuild.cli.dataset_group import build_dataset

    tmp = tmp_path_factory.mktemp("entitycs")
    settings = Settings(dataset="entitycs", seed=0, languages=["de", "fr", "ja"])
    build_dataset("entitycs", settings, tmp / "run", progress=False)
    return tmp / "run"


def _run_like(root: Path, dataset: str, records: list[dict], rejects: list[dict]) -> Path:
    run = root / "run"
    run.mkdir(parents=True)
    (run / "records.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    (run / "rejects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejects), "utf-8")
    (run / "config.yaml").write_text(f"dataset: {dataset}\nseed: 0\noptions: {{}}\n", "utf-8")
    (run / "run.json").write_text(
        json.dumps(
            {
                "dsbuild_version": "0.1.0",
                "python": "3.11",
                "builder": {"name": dataset, "version": "1"},
                "fingerprint": "f" * 64,
                "status": "finished",
                "finished_at": "2026-11-26T12:00:00+00:00",
                "stages": [
                    {
                        "name": "only",
                        "n_in": len(records) + len(rejects),
                        "n_out": len(records),
                        "n_rejected": len(rejects),
                    }
                ],
                "tokens": {"prompt": 1200, "completion": 300},
                "cost_usd": 0.0021,
            }
        ),
        "utf-8",
    )
    return run


def _provenance(step: str) -> dict:
    return {
        step: {
            "model_requested": "openai:gpt-4o-mini",
            "model_answered": "gpt-4o-mini-2024-07-18",
            "template_id": f"x/{step}",
            "template_hash": "abc123def4567890",
        }
    }


@pytest.fixture(scope="session")
def medrect_run(tmp_path_factory) -> Path:
    sample = json.loads(files("dsbuild.samples").joinpath("medrect.json").read_text("utf-8"))
    records = []
    for i, rec in enumerate(sample):
        # two variants per source case: they must land in the same split
        for v in range(2):
            records.append(
                {
                    **rec,
                    "sample_id": f"{rec['sample_id']}-v{v}",
                    "metadata": {**(rec.get("metadata") or {}), "source_id": rec["sample_id"]},
                    "provenance": _provenance("inject_error"),
                }
            )
    rejects = [
        {"id": "x1", "stage": "screen", "reason": "ambiguous_error", "detail": ""},
        {"id": "x2", "stage": "screen", "reason": "ambiguous_error", "detail": ""},
    ]
    return _run_like(tmp_path_factory.mktemp("medrect"), "medrect", records, rejects)


@pytest.fixture(scope="session")
def cultural_run(tmp_path_factory) -> Path:
    text = files("dsbuild.samples").joinpath("cultural.jsonl").read_text("utf-8")
    records = []
    for line in text.splitlines():
        rec = json.loads(line)
        for t, tr in enumerate(rec["translations"]):  # the builder's shape: one translation each
            # a second rating round: two more raters per nuance, so agreement is defined
            extra = [
                {"annotator": name, "nuance": i, "score": (i + t + k) % 4}
                for i in range(len(rec["nuances"]))
                for k, name in enumerate(("r-y", "r-z"))
            ]
            tr = {**tr, "ratings": [*tr["ratings"], *extra]}
            records.append(
                {
                    **rec,
                    "id": f"{rec['id']}/{tr['target_lang']}/{tr['system']}",
                    "text_id": rec["id"],
                    "translations": [tr],
                    "provenance": _provenance("segments"),
                }
            )
    rejects = [{"id": "t9", "stage": "align", "reason": "align_count_mismatch", "detail": ""}]
    return _run_like(tmp_path_factory.mktemp("cultural"), "cultural", records, rejects)


# -- fake Hub -------------------------------------------------------------------------------
class FakeHub:
    """Just enough of the Hub API for `HfApi.whoami/repo_exists/create_repo/create_commit`:
    one user (`alice`, member of `alice-lab`) with token `hf_good`."""

    TOKEN = "hf_good"

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.commits: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.files: dict[str, dict[str, bytes]] = {}

    def handler(self, request):
        import httpx2

        path = request.url.path
        self.requests.append((request.method, path))
        if request.headers.get("authorization") != f"Bearer {self.TOKEN}":
            return httpx2.Response(401, json={"error": "Invalid credentials"})
        if path == "/api/whoami-v2":
            return httpx2.Response(
                200, json={"type": "user", "name": "alice", "orgs": [{"name": "alice-lab"}]}
            )
        if path == "/api/repos/create" and request.method == "POST":
            body = json.loads(request.content)
            repo = f"{body['organization']}/{body['name']}"
            url = f"https://huggingface.co/datasets/{repo}"
            if repo in self.repos:
                return httpx2.Response(409, json={"error": "already exists", "url": url})
            self.repos[repo] = body
            return httpx2.Response(200, json={"url": url})
        if path == "/api/validate-yaml":
            return httpx2.Response(200, json={"errors": [], "warnings": []})
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)(?:/revision/main)?", path)
        if m and request.method == "GET":
            if m.group(1) in self.repos:
                return httpx2.Response(
                    200, json={"id": m.group(1), "sha": "0" * 40, "private": False}
                )
            return httpx2.Response(
                404,
                json={"error": "Repository not found"},
                headers={"X-Error-Code": "RepoNotFound"},
            )
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/preupload/main", path)
        if m:
            body = json.loads(request.content)
            return httpx2.Response(
                200,
                json={
                    "files": [
                        {
                            "path": f["path"],
                            "uploadMode": "regular",
                            "shouldIgnore": False,
                            "oid": None,
                        }
                        for f in body["files"]
                    ]
                },
            )
        m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/commit/main", path)
        if m:
            lines = [json.loads(x) for x in request.content.decode().splitlines() if x]
            header = lines[0]["value"]
            added = {
                x["value"]["path"]: base64.b64decode(x["value"]["content"])
                for x in lines[1:]
                if x["key"] == "file"
            }
            self.commits.append({"repo": m.group(1), "summary": header["summary"], "files": added})
            self.files.setdefault(m.group(1), {}).update(added)
            return httpx2.Response(
                200,
                json={
                    "commitUrl": f"https://huggingface.co/datasets/{m.group(1)}/commit/{'1' * 40}",
                    "commitOid": "1" * 40,
                },
            )
        return httpx2.Response(404, json={"error": f"fake hub has no {request.method} {path}"})


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """Route huggingface_hub's shared HTTP client to a FakeHub; no network, and no token
    unless a test sets one (a stored login on this machine is hidden)."""
    import httpx2
    from huggingface_hub import constants, set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    hub = FakeHub()
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    set_client_factory(lambda: httpx2.Client(transport=httpx2.MockTransport(hub.handler)))
    try:
        yield hub
    finally:
        set_client_factory(default_client_factory)
