"""`copy_of`: a string schema that only a tagged copy of a text satisfies, enforced by the
local model's grammar and stripped for remote endpoints."""

from __future__ import annotations

import json
import re

import pytest

from dsbuild.llm.structured import COPY_OF, copy_of, expand_copy, without_copy

TEXT = 'Paris is "big".\nIt (1.5) has a\\b [sic] {x} | y? * + ^$ 東京 🎉'
MARKS = ("[HAL]", "[/HAL]")


def _schema(text: str = TEXT) -> dict:
    return {"type": "object", "properties": {"a": copy_of(text, MARKS)}, "required": ["a"]}


def _pattern(text: str = TEXT) -> str:
    return expand_copy(_schema(text))["properties"]["a"]["pattern"]


def _raw(value: str) -> str:
    """How the value appears inside the JSON a grammar emits (the pattern's alphabet)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


@pytest.mark.parametrize(
    "tagged",
    [
        TEXT,
        "[HAL]Paris[/HAL]" + TEXT[5:],
        TEXT.replace("(1.5)", "[HAL](1.5)[/HAL]"),
        TEXT.replace("東京", "[HAL]東京[/HAL]"),
    ],
)
def test_pattern_accepts_tagged_copies(tagged):
    assert re.fullmatch(_pattern(), _raw(tagged))


@pytest.mark.parametrize(
    "other",
    [
        TEXT[:-1],
        TEXT + " ",
        TEXT.replace("big", "large"),
        TEXT.replace("Paris", "Pa[HAL]ris"),
        TEXT.replace("\n", " "),
        "[X]" + TEXT,
    ],
)
def test_pattern_refuses_anything_else(other):
    assert not re.fullmatch(_pattern(), _raw(other))


def test_remote_endpoints_get_a_plain_string():
    plain = without_copy(_schema())
    assert plain["properties"]["a"] == {"type": "string"}
    assert COPY_OF not in json.dumps(plain)


def test_local_backend_grammar_compiles_the_pattern():
    pytest.importorskip("llama_cpp")
    from dsbuild.llm.backends.local import chat_kwargs

    kwargs = chat_kwargs(
        {
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "t", "schema": _schema()},
            },
        }
    )
    gbnf = kwargs[
        "grammar"
    ]._grammar  # the copy-of pattern became the rule of `a`: the text, marks between
    rule = next(line for line in gbnf.splitlines() if line.startswith("a ::= "))
    assert rule.startswith('a ::= "\\"" ("[HAL]" | "[/HAL]")? "Pari" "s" ("[HAL]" | "[/HAL]")? " "')
    assert '"東" "京" ("[HAL]" | "[/HAL]")? " "' in rule and rule.endswith('"\\"" space')


def test_openai_backend_strips_the_extension():
    from dsbuild.llm.backends.openai_compat import _plain_schema

    payload = {
        "model": "m",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "t", "schema": _schema()},
        },
    }
    sent = _plain_schema(payload)
    assert COPY_OF not in json.dumps(sent) and COPY_OF in json.dumps(payload)
    assert _plain_schema({"model": "m"}) == {"model": "m"}


def test_the_local_backend_expands_grammar_patterns_only_so_copy_requests_keep_their_keys():
    """The local model's `prepare_response_format` turns grammar patterns into `pattern`s but
    leaves copy constraints for the grammar builder: a request with a copy constraint has
    the same payload (and cache key) as before grammar patterns existed."""
    from dsbuild.llm.structured import GRAMMAR_PATTERN, expand_grammar_patterns, grammar_pattern

    schema = {
        "type": "object",
        "properties": {"a": copy_of("Paris", ["[HAL]"]), "b": grammar_pattern("^x$")},
    }
    out = expand_grammar_patterns(schema)
    assert out["properties"]["a"] == schema["properties"]["a"]
    assert out["properties"]["b"] == {"type": "string", "pattern": "^x$"}
    assert GRAMMAR_PATTERN not in json.dumps(out)
