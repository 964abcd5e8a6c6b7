from __future__ import annotations

import pytest

from dsbuild.errors import ConfigError
from dsbuild.llm.spec import ModelSpec, parse_model_spec
from dsbuild.llm.structured import check_structured


@pytest.mark.parametrize(
    ("spec", "base_url", "key", "expected"),
    [
        (None, None, False, ModelSpec("local", "smollm2")),
        (None, None, True, ModelSpec("openai", "gpt-4o-mini")),
        (None, "http://localhost:8000/v1", False, ModelSpec("openai", None)),
        ("local:smollm2", None, True, ModelSpec("local", "smollm2")),
        ("local:/models/q.gguf", None, False, ModelSpec("local", "/models/q.gguf")),
        ("/models/q.gguf", None, False, ModelSpec("local", "/models/q.gguf")),
        ("openai:gpt-4.1-mini", None, True, ModelSpec("openai", "gpt-4.1-mini")),
        (
            "vllm:Qwen/Qwen2.5-7B-Instruct",
            "http://h/v1",
            False,
            ModelSpec("openai", "Qwen/Qwen2.5-7B-Instruct"),
        ),
        ("ollama:llama3.1:8b", "http://h/v1", False, ModelSpec("openai", "llama3.1:8b")),
        ("llama3.1:8b", "http://h/v1", False, ModelSpec("openai", "llama3.1:8b")),
        ("fake:default", None, False, ModelSpec("fake", "default")),
    ],
)
def test_parse_model_spec(spec, base_url, key, expected):
    assert parse_model_spec(spec, base_url=base_url, api_key=key) == expected


def test_empty_local_spec_is_refused():
    with pytest.raises(ConfigError):
        parse_model_spec("local:")


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.mark.parametrize(
    ("content", "reason", "needle"),
    [
        ('{"n": 3}', None, None),
        ('```json\n{"n": 3}\n```', None, None),
        ("", "invalid_json", "empty"),
        ("{'n': 3}", "invalid_json", "not valid JSON"),
        ('{"n": "three"}', "schema_mismatch", "at n: 'three' is not of type 'integer'"),
        ("{}", "schema_mismatch", "'n' is a required property"),
    ],
)
def test_check_structured(content, reason, needle):
    value, got_reason, message = check_structured(content, SCHEMA)
    assert got_reason == reason
    if needle:
        assert needle in message
    else:
        assert value == {"n": 3}
