"""Locating segment surfaces in texts: exact, normalised, repeated, emoji, CJK; merging."""

from __future__ import annotations

import pytest

from dsbuild.cultural.locate import (
    Candidate,
    find_all,
    locate,
    merge_segments,
    normalize,
)


def span(text: str, surface: str, **kw):
    m = locate(text, surface, **kw)
    return None if m is None else (m.start, m.end, m.how, text[m.start : m.end])


def test_exact_match_gives_code_point_offsets():
    text = "Order by Thursday, no strings attached."
    assert span(text, "no strings attached") == (19, 38, "exact", "no strings attached")


def test_offsets_count_code_points_after_emoji_and_cjk():
    text = "🎉🎁 Happy Valentine's Day! 東京で お花見🌸 を楽しもう"
    s, e, how, found = span(text, "Valentine's Day")
    assert (s, e, how) == (9, 24, "exact") and found == "Valentine's Day"
    s, e, _, found = span(text, "お花見")
    assert found == "お花見" and text[s - 1] == " " and text[e] == "🌸"
    assert span(text, "🌸")[:2] == (e, e + 1)
    # inside CJK (no spaces between words) a match needs no word boundary
    assert span(text, "楽しもう")[3] == "楽しもう" and span(text, "花")[3] == "花"


def test_curly_quotes_case_and_whitespace_map_back_to_the_original_text():
    text = "He said \u201cit\u2019s RAINING cats and\n   dogs\u201d \u2014 really."
    s, e, how, found = span(text, "it's raining cats and dogs")
    assert how == "normalized" and found == "it\u2019s RAINING cats and\n   dogs"
    assert text[s - 1] == "\u201c" and text[e] == "\u201d"
    assert span(text, "\"it's")[3] == "\u201cit\u2019s"
    assert span(text, "- really")[3] == "\u2014 really"


def test_surface_is_stripped_and_exact_beats_normalized():
    text = "Brie mine! brie MINE!"
    assert span(text, "  brie MINE ") == (11, 20, "exact", "brie MINE")
    assert [m.how for m in find_all(text, "BRIE MINE")] == ["normalized", "normalized"]


def test_repeated_surface_lands_on_the_next_free_occurrence():
    text = "Ho ho ho! Merry Christmas. Merry Christmas to all."
    first = locate(text, "Merry Christmas")
    second = locate(text, "Merry Christmas", taken=[(first.start, first.end)])
    assert (first.start, second.start) == (10, 27)
    # when every occurrence is taken, the first is returned (merging drops the overlap)
    both = [(first.start, first.end), (second.start, second.end)]
    assert locate(text, "Merry Christmas", taken=both).start == 10
    assert [m.start for m in find_all(text, "ho")] == [3, 6]  # "Ho" only after normalising
    assert [m.start for m in find_all(text, "Ho")] == [0]


def test_whole_words_first_then_any_occurrence():
    text = "What a punchline: the pun is intended."
    assert span(text, "pun")[0] == 22
    assert [m.start for m in find_all(text, "pun")] == [22]
    assert span("punchline", "pun") == (0, 3, "exact", "pun")  # no whole-word match: any


def test_casefold_expansion_never_cuts_a_character():
    text = "Die Straße ist lang"
    assert span(text, "STRASSE")[3] == "Straße"
    assert span(text, "strass") is None or span(text, "strass")[3] != "Stra"
    # NFKD: a precomposed surface finds decomposed text and the other way round
    decomposed = "un cafe\u0301 cre\u0300me"
    assert span(decomposed, "café")[3] == "cafe\u0301"
    assert span("un café", "cafe\u0301")[3] == "café"
    assert span("un café", "cafe") is None


def test_zero_width_and_soft_hyphen_are_ignored():
    text = "in\u00ad-tents and in\u200btents"
    assert span(text, "in-tents")[3] == "in\u00ad-tents"
    assert span(text, "intents")[3] == "in\u200btents"


def test_not_found_and_empty_surface():
    assert locate("a text", "missing") is None
    assert locate("a text", "   ") is None
    assert find_all("", "x") == []


def test_normalize_index_maps_every_character():
    n = normalize("A\u00df  \u201cb")
    assert n.text == 'ass "b'
    assert n.index == (0, 1, 1, 2, 4, 5)
    assert n.first == (True, True, False, True, True, True)
    assert n.to_original(1, 3) == (1, 2) and n.to_original(2, 3) is None


def C(start, end, origin, category="idiom"):
    return Candidate(start, end, category, origin)


def test_merge_prefers_given_then_lexicon_then_llm_and_is_deterministic():
    cands = [
        C(0, 10, "llm"),
        C(5, 12, "lexicon"),
        C(11, 20, "given"),
        C(30, 35, "llm"),
        C(30, 35, "llm"),
        C(21, 29, "lexicon"),
        C(22, 25, "given"),
    ]
    kept, dropped = merge_segments(cands)
    assert [(c.start, c.end, c.origin) for c in kept] == [
        (0, 10, "llm"),
        (11, 20, "given"),
        (22, 25, "given"),
        (30, 35, "llm"),
    ]
    assert sorted((c.start, c.origin) for c in dropped) == [
        (5, "lexicon"),
        (21, "lexicon"),
        (30, "llm"),
    ]
    again, _ = merge_segments(list(reversed(cands)))
    assert again == kept


def test_merge_same_origin_prefers_earlier_then_longer():
    kept, dropped = merge_segments([C(5, 9, "llm"), C(3, 6, "llm"), C(3, 8, "llm")])
    assert [(c.start, c.end) for c in kept] == [(3, 8)]
    assert len(dropped) == 2


@pytest.mark.parametrize(
    "text,surface",
    [
        ("¡Feliz Día de Muertos! 💀", "Día de Muertos"),
        ("С Новым годом, Алматы!", "новым годом"),
        ("שנה טובה ומתוקה", "טובה"),
        ("  leading spaces then idiom", "then idiom"),
    ],
)
def test_any_script_round_trips(text, surface):
    m = locate(text, surface)
    assert m is not None and normalize(text[m.start : m.end]).text == normalize(surface).text
