"""The in-process Batch API fake (`dsbuild.testing.fake_batch_api`) and the shared setup of
the `--batch` tests."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("httpx2")  # the HTTP library of the installed openai SDK

from dsbuild.testing.fake_batch_api import FakeBatchAPI, answer, completion  # noqa: E402

__all__ = ["FakeBatchAPI", "answer", "completion", "llm_run", "rows", "use_fake_endpoint"]


# -- shared setup of the `dsbuild llm run --batch` tests -----------------------------------

PRICES = "m: {input: 2.0, output: 4.0}\n"


def use_fake_endpoint(monkeypatch, fake: FakeBatchAPI | None = None) -> FakeBatchAPI:
    """Every OpenAI-compatible backend the factory makes talks to one in-process fake."""
    return (fake or FakeBatchAPI()).serve_every_endpoint(monkeypatch)


def llm_run(cli, tmp_path, *extra, out="out.jsonl", cache="cache"):
    """`dsbuild llm run IN.jsonl` against model openai:m of the fake endpoint, at `PRICES`."""
    (tmp_path / "prices.yaml").write_text(PRICES)
    return cli(
        "llm",
        "run",
        str(tmp_path / "in.jsonl"),
        "--out",
        str(tmp_path / out),
        "--model",
        "openai:m",
        "--base-url",
        "http://test.invalid/v1",
        "--cache-dir",
        str(tmp_path / cache),
        "--prices",
        str(tmp_path / "prices.yaml"),
        "--no-progress",
        "--json",
        *extra,
    )


def rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]
