from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from dsbuild.errors import InputError
from dsbuild.spans import (
    check_spans,
    ensure_spans,
    from_utf16_offset,
    insert_markers,
    spans_from_utf16,
    spans_to_utf16,
    strip_markers,
    surface,
    to_utf16_offset,
    utf16_len,
)


def codes(problems):
    return [(p.index, p.code) for p in problems]


class TestCheckSpans:
    def test_valid_spans_have_no_problems(self):
        assert check_spans("hello world", [(0, 5), (6, 11)]) == []

    def test_end_equal_to_length_is_in_range(self):
        assert check_spans("abc", [(1, 3)]) == []

    def test_out_of_range_end(self):
        assert codes(check_spans("abc", [(1, 4)])) == [(0, "span_out_of_range")]

    def test_negative_start_is_out_of_range(self):
        assert codes(check_spans("abc", [(-1, 2)])) == [(0, "span_out_of_range")]

    def test_inverted(self):
        assert codes(check_spans("abcdef", [(4, 2)])) == [(0, "span_inverted")]

    def test_empty_rejected_by_default_and_allowed_on_request(self):
        assert codes(check_spans("abc", [(1, 1)])) == [(0, "span_empty")]
        assert check_spans("abc", [(1, 1)], allow_empty=True) == []

    def test_unsorted(self):
        assert codes(check_spans("abcdefgh", [(4, 6), (0, 2)])) == [(1, "span_unsorted")]
        assert check_spans("abcdefgh", [(4, 6), (0, 2)], sorted_required=False) == []

    def test_overlap_reported_on_the_later_span(self):
        assert codes(check_spans("abcdefgh", [(0, 4), (3, 6)])) == [(1, "span_overlap")]
        assert check_spans("abcdefgh", [(0, 4), (3, 6)], non_overlapping=False) == []

    def test_adjacent_spans_do_not_overlap(self):
        assert check_spans("abcdefgh", [(0, 4), (4, 6)]) == []

    def test_overlap_detected_when_unsorted_allowed(self):
        problems = check_spans("abcdefgh", [(3, 6), (0, 4)], sorted_required=False)
        assert codes(problems) == [(1, "span_overlap")]

    def test_span_nested_in_a_long_one_overlaps(self):
        problems = check_spans("x" * 30, [(0, 20), (5, 8), (12, 25)])
        assert codes(problems) == [(1, "span_overlap"), (2, "span_overlap")]

    def test_empty_span_touching_another_is_not_an_overlap(self):
        assert check_spans("x" * 90, [(69, 69), (69, 84)], allow_empty=True) == []

    def test_surface_mismatch(self):
        problems = check_spans("Paris is big", [(0, 5)], surfaces=["Pari"])
        assert codes(problems) == [(0, "surface_mismatch")]
        assert "'Paris'" in problems[0].message

    def test_surface_matches_on_code_points(self):
        text = "😀 東京 is"
        assert check_spans(text, [(2, 4)], surfaces=["東京"]) == []

    def test_several_problems_are_all_reported(self):
        problems = check_spans("abc", [(0, 9), (2, 2), (1, 2)])
        assert codes(problems) == [
            (0, "span_out_of_range"),
            (1, "span_empty"),
            (2, "span_unsorted"),
        ]

    def test_problem_converts_to_pydantic_error(self):
        [problem] = check_spans("abc", [(0, 9)])
        err = problem.to_error()
        assert isinstance(err, PydanticCustomError)
        assert err.type == "span_out_of_range"

    def test_ensure_spans_raises_first_problem(self):
        with pytest.raises(PydanticCustomError) as info:
            ensure_spans("abc", [(0, 1), (0, 9)])
        assert info.value.type == "span_out_of_range"
        ensure_spans("abc", [(0, 1)])


class TestUtf16:
    @pytest.mark.parametrize(
        ("text", "cp", "u16"),
        [
            ("hello", 5, 5),
            ("😀abc", 1, 2),  # emoji is a surrogate pair in UTF-16
            ("😀abc", 2, 3),
            ("a👍🏽b", 3, 5),  # emoji + skin-tone modifier: two astral code points
            ("東京タワー", 3, 3),  # BMP CJK: one unit per code point
            ("𠮷野家", 1, 2),  # astral CJK ideograph (U+20BB7)
            ("שלום עולם", 4, 4),  # RTL Hebrew, logical order
            ("مرحبا 😀 بالعالم", 8, 9),  # RTL Arabic with an emoji
            ("   leading spaces", 3, 3),
            ("", 0, 0),
        ],
    )
    def test_round_trip(self, text, cp, u16):
        assert to_utf16_offset(text, cp) == u16
        assert from_utf16_offset(text, u16) == cp

    def test_utf16_len_matches_browser_length(self):
        text = "😀 東京 𠮷"
        assert utf16_len(text) == len(text.encode("utf-16-le")) // 2 == 8

    def test_every_offset_round_trips(self):
        text = "  Ça va? 😀👨‍👩‍👧 東京 𠮷 مرحبا"
        for i in range(len(text) + 1):
            assert from_utf16_offset(text, to_utf16_offset(text, i)) == i

    def test_span_surface_survives_conversion(self):
        text = "🎉 Uhuru Peak in 坦桑尼亚"
        start = text.index("坦")
        span = (start, start + 4)
        ((u_start, u_end),) = spans_to_utf16(text, [span])
        encoded = text.encode("utf-16-le")
        assert encoded[u_start * 2 : u_end * 2].decode("utf-16-le") == "坦桑尼亚"
        assert spans_from_utf16(text, [(u_start, u_end)]) == [span]

    def test_offset_inside_surrogate_pair_is_rejected(self):
        with pytest.raises(InputError) as info:
            from_utf16_offset("😀abc", 1)
        assert "surrogate" in str(info.value)

    @pytest.mark.parametrize("bad", [-1, 99])
    def test_out_of_range_offsets_are_rejected(self, bad):
        with pytest.raises(InputError):
            from_utf16_offset("abc", bad)
        with pytest.raises(InputError):
            to_utf16_offset("abc", bad)


class TestMarkers:
    def test_strip_markers_returns_plain_text_and_spans(self):
        text, spans = strip_markers("It is [HAL]6,100 m[/HAL] high in [HAL]Kenya[/HAL].")
        assert text == "It is 6,100 m high in Kenya."
        assert [surface(text, s) for s in spans] == ["6,100 m", "Kenya"]

    def test_insert_markers_is_the_inverse(self):
        marked = "В [HAL]1200 м[/HAL] глубиной, 😀 [HAL]второе[/HAL]."
        text, spans = strip_markers(marked)
        assert insert_markers(text, spans) == marked

    @pytest.mark.parametrize(
        "marked",
        ["a [HAL]b", "a [/HAL]b", "[HAL]a [HAL]b[/HAL][/HAL]", "a[/HAL][HAL]b"],
    )
    def test_unbalanced_markers_raise(self, marked):
        with pytest.raises(InputError):
            strip_markers(marked)
