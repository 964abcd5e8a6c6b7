"""The run fingerprint: canonical, stable, blind to settings that do not change output."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dsbuild.errors import ConfigError
from dsbuild.runs import fingerprint as fp
from dsbuild.runs.fingerprint import (
    EXCLUDED_KEYS,
    canonical_config,
    canonical_json,
    compute_fingerprint,
    diff_keys,
    fingerprint_payload,
)

PARTS = {"name": "toy", "version": "1", "stages": [{"name": "s", "kind": "source", "version": "1"}]}
CONFIG = {"n": 300, "seed": 0, "languages": ["de", "ja"], "llm": {"model": "local:smollm2"}}


def test_golden_value():
    # Pinned: if this changes, every existing run dir stops resuming. Bump
    # FINGERPRINT_VERSION deliberately and update the text and value.
    text = (
        '{"builder":{"name":"toy","stages":[{"kind":"source","name":"s","version":"1"}],'
        '"version":"1"},"config":{"languages":["de","ja"],"llm":{"model":"local:smollm2"},'
        '"n":300,"seed":0},"fingerprint_version":1}'
    )
    assert canonical_json(fingerprint_payload(PARTS, CONFIG)) == text
    assert compute_fingerprint(PARTS, CONFIG) == hashlib.sha256(text.encode()).hexdigest()
    assert compute_fingerprint(PARTS, CONFIG) == (
        "d2878973036c335fee02d406cb9dabe38e85c96ddc37d66d45b92fe6d307b8ac"
    )


def test_key_order_and_container_types_do_not_matter():
    reordered = {"llm": {"model": "local:smollm2"}, "languages": ("de", "ja"), "seed": 0, "n": 300}
    assert compute_fingerprint(PARTS, reordered) == compute_fingerprint(PARTS, CONFIG)


def test_the_excluded_table_is_explicit():
    assert set(EXCLUDED_KEYS) == {
        "run_dir",
        "concurrency",
        "timeout_s",
        "max_retries",
        "cache_dir",
        "cache_only",
        "progress",
        "log_level",
        "api_key",
        "label_studio_url",
        "label_studio_api_key",
        "hf_token",
        "dry_run",
        "max_cost",
        "workers",
        "engine",
        "ray_address",
        "out",
    }
    assert all(reason for reason in EXCLUDED_KEYS.values())


@pytest.mark.parametrize("key", sorted(EXCLUDED_KEYS))
def test_excluded_keys_do_not_change_the_fingerprint(key):
    base = compute_fingerprint(PARTS, CONFIG)
    assert compute_fingerprint(PARTS, {**CONFIG, key: "anything"}) == base
    nested = {**CONFIG, "llm": {**CONFIG["llm"], key: 42}}
    assert compute_fingerprint(PARTS, nested) == base


@pytest.mark.parametrize(
    "change",
    [
        {"n": 301},
        {"seed": 1},
        {"languages": ["ja", "de"]},
        {"llm": {"model": "openai:gpt-4o"}},
        {"new_key": None},
    ],
)
def test_output_settings_change_the_fingerprint(change):
    assert compute_fingerprint(PARTS, {**CONFIG, **change}) != compute_fingerprint(PARTS, CONFIG)


@pytest.mark.parametrize(
    "parts",
    [
        {**PARTS, "name": "other"},
        {**PARTS, "version": "2"},
        {**PARTS, "stages": [{"name": "s", "kind": "source", "version": "2"}]},
        {**PARTS, "stages": [{"name": "t", "kind": "source", "version": "1"}]},
        {**PARTS, "stages": PARTS["stages"] + [{"name": "m", "kind": "map", "version": "1"}]},
    ],
)
def test_builder_and_stage_versions_change_the_fingerprint(parts):
    assert compute_fingerprint(parts, CONFIG) != compute_fingerprint(PARTS, CONFIG)


def test_fingerprint_version_is_hashed(monkeypatch):
    before = compute_fingerprint(PARTS, CONFIG)
    assert fingerprint_payload(PARTS, CONFIG)["fingerprint_version"] == fp.FINGERPRINT_VERSION
    monkeypatch.setattr(fp, "FINGERPRINT_VERSION", fp.FINGERPRINT_VERSION + 1)
    assert compute_fingerprint(PARTS, CONFIG) != before


def test_canonical_json_is_compact_sorted_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": "日本"}) == '{"a":"日本","b":1}'


def test_canonical_config_drops_excluded_and_converts_paths():
    got = canonical_config({"wikipedia": Path("/x/y"), "api_key": "sk-...", "tags": {"b", "a"}})
    assert got == {"wikipedia": "/x/y", "tags": ["a", "b"]}


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": float("nan")}, {1: "int key"}])
def test_non_json_config_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        compute_fingerprint(PARTS, bad)


def test_diff_keys_names_dotted_keys():
    old = {"n": 1, "llm": {"model": "a", "temperature": 0.0}, "langs": ["de"], "gone": 1}
    new = {"n": 1, "llm": {"model": "b", "temperature": 0.0}, "langs": ["de", "ja"], "added": 2}
    assert diff_keys(old, new) == ["added", "gone", "langs", "llm.model"]
    assert diff_keys(old, old) == []
