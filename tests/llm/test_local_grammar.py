"""The local model's JSON grammar: strings cannot hold raw control characters (JSON forbids
them, llama.cpp's stock grammar allows them)."""

from __future__ import annotations

import json

import pytest

SCHEMA = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]})


def test_strings_exclude_control_characters():
    pytest.importorskip("llama_cpp")
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from dsbuild.llm.backends.local import _grammar, json_schema_gbnf

    stock = json_schema_to_gbnf(SCHEMA)
    ours = json_schema_gbnf(SCHEMA, json_schema_to_gbnf)
    char = next(line for line in ours.splitlines() if line.startswith("char ::="))
    assert "\\x00-\\x1f" in char and char != next(
        line for line in stock.splitlines() if line.startswith("char ::=")
    )
    assert (
        _grammar(SCHEMA)._grammar == ours
    )  # the grammar llama.cpp gets is ours, not the stock one


def test_a_changed_converter_is_refused_loudly():
    from dsbuild.llm.backends.local import json_schema_gbnf
    from dsbuild.llm.types import BackendError

    with pytest.raises(BackendError):
        json_schema_gbnf(SCHEMA, lambda s: 'root ::= "{}"\nchar ::= [^"] | "x"\n')
