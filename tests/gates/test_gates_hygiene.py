from __future__ import annotations

import pytest

from dsbuild.errors import ConfigError
from dsbuild.gates.hygiene import HygieneGate, find_markup, finish_reasons


def test_clean_text_is_kept_unchanged():
    verdict = HygieneGate().check("A perfectly ordinary sentence.")
    assert verdict.status == "kept" and verdict.text is None and verdict.repairs == ()


def test_mojibake_is_repaired_and_recorded():
    verdict = HygieneGate().check("CafÃ© in MÃ¼nchen")
    assert verdict.keep and verdict.text == "Café in München" and verdict.repairs == ("mojibake",)


def test_control_characters_are_removed_and_recorded():
    verdict = HygieneGate().check("line\x00one\x1b and\ttab\nnewline")
    assert verdict.text == "lineone and\ttab\nnewline" and "control_chars" in verdict.repairs


def test_nfc_normalisation_is_recorded():
    verdict = HygieneGate().check("e\u0301te\u0301")
    assert verdict.text == "\u00e9t\u00e9" and verdict.repairs == ("nfc",)


def test_repair_can_be_switched_off():
    assert HygieneGate(repair=False).check("e\u0301te\u0301").text is None


def test_missing_field():
    assert HygieneGate().check(None).reason == "missing_field"


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\x00\x01"])
def test_empty_field(text):
    assert HygieneGate().check(text).reason == "empty_field"


def test_too_short_and_too_long():
    gate = HygieneGate(min_chars=5, max_chars=10)
    assert gate.check("abc").reason == "too_short"
    assert gate.check("x" * 11).reason == "too_long"
    assert gate.check("  abcdefgh  ").keep


def test_truncated_generation_from_provenance_or_record():
    gate = HygieneGate()
    record = {
        "provenance": {"qa": {"finish_reason": "stop"}, "answer": {"finish_reason": "length"}}
    }
    verdict = gate.check("an answer that stops in the", record=record)
    assert verdict.reason == "truncated_generation" and "answer" in verdict.detail
    assert gate.check("fine", record={"finish_reason": "length"}).reason == "truncated_generation"
    # only the named steps count when `steps` is given
    assert HygieneGate(steps=["qa"]).check("fine", record=record).keep
    assert finish_reasons(record) == {"qa": "stop", "answer": "length"}


@pytest.mark.parametrize(
    "text,kind",
    [
        ("Paris is <b>big</b>", "html"),
        ("x &amp; y", "html"),
        ("```json\n{}\n```", "fence"),
        ("Paris [HAL]was founded[/HAL] in 1900", "bracket_tag"),
        ("ASSISTANT: Paris", "role_prefix"),
    ],
)
def test_leftover_markup(text, kind):
    verdict = HygieneGate().check(text)
    assert verdict.reason == "leftover_markup" and verdict.detail.startswith(kind)


def test_expected_markup_can_be_allowed():
    gate = HygieneGate(markup=["html", "fence", "role_prefix"])
    assert gate.check("Paris [HAL]was founded[/HAL] in 1900").keep
    assert find_markup("3 < 4 and 5 > 2, AT&T") is None


def test_unrepaired_mojibake_is_rejected():
    assert HygieneGate(repair=False).check("CafÃ© in MÃ¼nchen").reason == "mojibake"


def test_unknown_markup_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="DSB103"):
        HygieneGate(markup=["latex"])
