"""Model prices: lookup order, price files and cost arithmetic."""

from __future__ import annotations

import json

import pytest

from dsbuild.errors import ConfigError
from dsbuild.llm.pricing import (
    BUILTIN_PRICES,
    BUILTIN_PRICES_DATE,
    Price,
    PriceTable,
    cost_usd,
    load_price_file,
    split_spec,
)
from dsbuild.llm.types import Usage

ASKED = (
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o3-mini",
    "o4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
)


def test_builtin_table_covers_the_common_models_and_is_dated():
    assert all(name in BUILTIN_PRICES for name in ASKED)
    assert all(
        p.input_per_m > 0 and p.output_per_m >= p.input_per_m
        for name, p in BUILTIN_PRICES.items()
        if name in ASKED
    )
    assert BUILTIN_PRICES_DATE[:4].isdigit()
    assert BUILTIN_PRICES["gpt-4o-mini"] == Price(0.15, 0.60)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("openai:gpt-4o-mini", "gpt-4o-mini"),  # provider prefix dropped
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # dated: longest prefix, not gpt-4o
        ("openai:gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # exact beats prefix
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-5-pro-2025-10-06", "gpt-5-pro"),  # costly variant not priced as gpt-5
        ("GPT-5-Mini", "gpt-5-mini"),  # case-insensitive
    ],
)
def test_price_for_resolves_specs(spec, expected):
    assert PriceTable().price_for(spec) == BUILTIN_PRICES[expected]


def test_local_models_are_free_and_unknown_models_have_no_price():
    table = PriceTable()
    assert table.price_for("local:smollm2") == Price(0.0, 0.0)
    assert table.price_for("local:gpt-4o") == Price(0.0, 0.0)  # the local backend, not OpenAI
    assert table.price_for("gpt-4ox") is None  # a prefix must end at a `-`
    assert table.price_for("mistral:mixtral-8x7b") is None
    assert table.price_for("http://gpu:8000/v1") is None
    assert "gpt-4o" in table and "nope" not in table


def test_overrides_win_and_may_use_wildcards():
    table = PriceTable(
        {"gpt-4o-mini": Price(1, 2), "vllm:*": Price(0, 0), "openai:gpt-4o": Price(3, 4)}
    )
    assert table.price_for("gpt-4o-mini-2024-07-18") == Price(1, 2)
    assert table.price_for("vllm:qwen2.5-7b") == Price(0, 0)
    assert table.price_for("openai:gpt-4o") == Price(3, 4)  # exact spec first
    assert table.price_for("azure:gpt-4o") == BUILTIN_PRICES["gpt-4o"]
    assert PriceTable({"x": Price(1, 1)}, builtin=False).price_for("gpt-4o") is None


def test_split_spec():
    assert split_spec("openai:gpt-4o") == ("openai", "gpt-4o")
    assert split_spec("gpt-4o") == (None, "gpt-4o")
    assert split_spec("http://host:8000/v1") == (None, "http://host:8000/v1")


def test_cost_usd():
    assert cost_usd(Usage(1_000_000, 0), Price(2.5, 10)) == pytest.approx(2.5)
    assert cost_usd(Usage(1000, 500), Price(0.15, 0.60)) == pytest.approx(0.00045)
    assert cost_usd(Usage(), Price(5, 5)) == 0.0


def test_load_price_file_yaml_and_json(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text("gpt-4o-mini: {input: 0.2, output: 0.8}\nmy-model:\n  input: 1\n  output: 0\n")
    assert load_price_file(y) == {"gpt-4o-mini": Price(0.2, 0.8), "my-model": Price(1.0, 0.0)}
    j = tmp_path / "p.json"
    j.write_text(json.dumps({"openai:gpt-5": {"input": 1.0, "output": 9.0}}))
    prices = load_price_file(j)
    assert PriceTable(prices).price_for("openai:gpt-5") == Price(1.0, 9.0)


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("gpt-x: {input: 1}\n", "DSB103", ["gpt-x", "'output'"]),
        ("gpt-x: {input: -1, output: 1}\n", "DSB103", ["gpt-x", "'input'"]),
        ("gpt-x: {input: one, output: 1}\n", "DSB103", ["gpt-x", "'input'"]),
        ("gpt-x: {input: true, output: 1}\n", "DSB103", ["gpt-x", "'input'"]),
        ("gpt-x: {input: 1, output: 1, cached: 0.5}\n", "DSB104", ["gpt-x", "'cached'"]),
        ("gpt-x: 3\n", "DSB103", ["gpt-x"]),
        ("- a\n- b\n", "DSB102", ["mapping"]),
        ("", "DSB102", ["mapping"]),
        ("gpt-x: {input: [1, output: 1}\n", "DSB102", ["not valid"]),
    ],
)
def test_bad_price_files_are_one_line_config_errors(tmp_path, text, code, words):
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_price_file(path)
    message = str(info.value)
    assert info.value.code == code and str(path) in message and "\n" not in message
    assert all(w in message for w in words), message


def test_missing_price_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read") as info:
        load_price_file(tmp_path / "none.yaml")
    assert info.value.code == "DSB101"
