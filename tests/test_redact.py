"""Credentials inside URLs never reach a file (issue 15)."""

from __future__ import annotations

import pytest

from dsbuild.config import Settings
from dsbuild.redact import redact, redact_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:key123@host:8000/v1", "http://user:***@host:8000/v1"),
        ("https://sk-abc@api.example.com/v1", "https://***@api.example.com/v1"),
        (
            "vllm:Qwen/Qwen2.5-7B@http://me:pw@gpu1:8000/v1",
            "vllm:Qwen/Qwen2.5-7B@http://me:***@gpu1:8000/v1",
        ),
        ("http://host/v1?api_key=abc&x=1", "http://host/v1?api_key=***&x=1"),
        ("http://host/v1?x=1&token=abc", "http://host/v1?x=1&token=***"),
        ("http://host:8000/v1", "http://host:8000/v1"),
        ("local:smollm2", "local:smollm2"),
        ("a user@example.com mail", "a user@example.com mail"),
    ],
)
def test_redact_text(text, expected):
    assert redact_text(text) == expected


def test_redact_walks_nested_data():
    data = {"a": ["http://u:p@h/v1", 3], "b": {"c": "ok"}}
    assert redact(data) == {"a": ["http://u:***@h/v1", 3], "b": {"c": "ok"}}


def test_settings_written_to_a_run_hold_no_credentials():
    settings = Settings(
        base_url="http://user:s3cret@host/v1",
        model="vllm:m@http://me:pw2@gpu:8000/v1",
        label_studio_url="http://admin:pw3@ls:8080",
        options={"models": "vllm:m@http://x:pw4@h/v1"},
    )
    for data in (settings.public_dict(), settings.display_dict()):
        text = repr(data)
        assert not any(secret in text for secret in ("s3cret", "pw2", "pw3", "pw4"))
        assert data["base_url"] == "http://user:***@host/v1"


def test_model_labels_in_records_hide_credentials_and_still_reach_the_endpoint():
    from dsbuild.llm.pool import ModelPool

    pool = ModelPool(Settings(model="local:smollm2"))
    spec = "vllm:m@http://me:s3cret@gpu1:8000/v1"
    pool.check([spec])
    label = pool.spec_label(spec)
    assert label == "vllm:m@http://me:***@gpu1:8000/v1"
    assert pool._raw(label) == spec  # the engine is made from the real spec
