"""Span offsets across the Label Studio boundary: Label Studio stores a Text region's
`start`/`end` in code points (measured in a real browser, test_labelstudio_browser.py), so
every span of multilingual strings crosses as it is, its surface checked, both ways."""

from __future__ import annotations

import pytest

from dsbuild.errors import InputError
from dsbuild.labelstudio.results import parse_result
from dsbuild.labelstudio.tasks import span_from_ls, span_to_ls, to_task, units_of

MULTILINGUAL = {
    "emoji": "Fire 🔥 and a family 👨‍👩‍👧 emoji, flags 🇯🇵, skin tone 👍🏽.",
    "cjk": "東京タワーは𠮷野家の近くにあり、高さは333メートルです。",
    "arabic": "برج خليفة هو أطول مبنى في العالم، ويقع في دبي.",
    "hindi": "क़ुतुब मीनार दिल्ली में है। यह १२वीं शताब्दी में बनी थी।",
    "combining": "e\u0301te\u0301 — Ame\u0301lie, n\u0303, Z\u0361a\u0362l\u0334g\u0335o",
    "spaces": "   leading and trailing spaces   ",
    "newlines": "\nfirst line\r\n\tsecond line\n\nthird 😀\n",
    "mixed": " 𝒜lpha 東京 دبي क़ 🔥\n",
}


@pytest.mark.parametrize("name", sorted(MULTILINGUAL))
def test_every_span_round_trips_with_zero_mismatches(name: str) -> None:
    text = MULTILINGUAL[name]
    mismatches = 0
    spans = 0
    for start in range(len(text) + 1):
        for end in range(start, len(text) + 1):
            spans += 1
            ls_start, ls_end = span_to_ls(text, start, end)
            surface = text[start:end]
            if text[ls_start:ls_end] != surface:  # what Label Studio shows
                mismatches += 1
            if span_from_ls(text, ls_start, ls_end, surface) != (start, end):
                mismatches += 1
    assert spans > 100
    assert mismatches == 0


def test_an_astral_character_is_one_offset_as_label_studio_stores_it() -> None:
    text = "a🔥b"
    assert span_to_ls(text, 2, 3) == (2, 3)
    assert span_from_ls(text, 2, 3, "b") == (2, 3)
    # a UTF-16 offset (what a browser's selection counts) would miss the surface: refused
    with pytest.raises(InputError, match="covers 'c', but Label Studio says 'b'"):
        span_from_ls(text + "c", 3, 4, "b")


def test_spans_outside_the_text_are_refused_both_ways() -> None:
    with pytest.raises(InputError, match=r"span \[2, 5\) is not within the text \(3 characters\)"):
        span_from_ls("a🔥b", 2, 5)
    with pytest.raises(InputError, match="fix the record's span offsets"):
        span_to_ls("a🔥b", 1, 4)
    with pytest.raises(InputError, match="ends before it starts"):
        span_from_ls("a🔥b", 2, 1)


def test_surface_mismatch_names_the_span() -> None:
    with pytest.raises(InputError, match="Label Studio says 'xyz'"):
        span_from_ls("abcdef", 0, 3, "xyz", where="task 7")


def _psiloqa_record(rid: str, answer: str, labels: list[list[int]]) -> dict:
    return {
        "id": rid,
        "lang": "xx",
        "wiki_title": "T",
        "wiki_url": "https://example.org",
        "llm_checkpoint": "m",
        "wiki_passage": "  passage\nwith  spaces ",
        "question": "q?",
        "golden_answer": "g",
        "llm_answer": answer,
        "labels": labels,
    }


def test_pre_annotations_and_results_round_trip_through_task_payloads() -> None:
    """Record spans → task prediction (code points) → an annotation with those values →
    spans."""
    records = []
    for name, text in MULTILINGUAL.items():
        stripped = text.strip()
        start = text.index(stripped[:1]) if stripped else 0
        end = start + max(1, len(stripped) // 2)
        records.append(_psiloqa_record(name, text, [[start, end], [len(text) - 1, len(text)]]))
    mismatches = 0
    for unit in units_of(records, "psiloqa"):
        task = to_task(unit, "psiloqa")
        result = task["predictions"][0]["result"]
        for item in result:
            value = item["value"]
            assert task["data"]["answer"][value["start"] : value["end"]] == value["text"]
        values = parse_result("psiloqa", unit, result)
        if values["spans"] != sorted(unit.record["labels"]):
            mismatches += 1
    assert mismatches == 0
