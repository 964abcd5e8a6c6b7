"""The strict inline-tag parser: offsets of the answer, or a reason; never a guess."""

from __future__ import annotations

import pytest

from dsbuild.psiloqa.annotation import AnnotationError, parse_annotation


@pytest.mark.parametrize(
    "annotated, answer, spans",
    [
        ("Paris is big.", "Paris is big.", []),
        ("[HAL]Lyon[/HAL] is big.", "Lyon is big.", [(0, 4)]),
        (
            "It opened in [HAL]1889[/HAL] and [HAL]closed[/HAL].",
            "It opened in 1889 and closed.",
            [(13, 17), (22, 28)],
        ),
        ("[HAL]A[/HAL][HAL]B[/HAL]", "AB", [(0, 1), (1, 2)]),
        ("🎉 [HAL]東京[/HAL]は首都", "🎉 東京は首都", [(2, 4)]),  # code points, not UTF-16
        ("مرحبا [HAL]بالعالم[/HAL]", "مرحبا بالعالم", [(6, 13)]),
        (" lead [HAL]x[/HAL]\n", " lead x\n", [(6, 7)]),
    ],
)
def test_offsets_index_the_answer(annotated, answer, spans):
    assert parse_annotation(annotated, answer) == spans
    for start, end in spans:
        assert answer[start:end]


@pytest.mark.parametrize(
    "annotated, answer, reason",
    [
        ("[HAL]Lyon is big.", "Lyon is big.", "annotation_unbalanced"),
        ("Lyon[/HAL] is big.", "Lyon is big.", "annotation_unbalanced"),
        ("[HAL]Lyon [HAL]is[/HAL] big.[/HAL]", "Lyon is big.", "annotation_nested"),
        ("Lyon [HAL][/HAL]is big.", "Lyon is big.", "annotation_empty_span"),
        ("Lyon[HAL] [/HAL]is big.", "Lyon is big.", "annotation_empty_span"),
        ("Lyon is [HAL]huge[/HAL].", "Lyon is big.", "annotation_text_changed"),
        ("Lyon is big", "Lyon is big.", "annotation_text_changed"),
        ("[hal]Lyon[/hal] is big.", "Lyon is big.", "annotation_text_changed"),  # tags are exact
    ],
)
def test_refusals_have_reasons(annotated, answer, reason):
    with pytest.raises(AnnotationError) as info:
        parse_annotation(annotated, answer)
    assert info.value.reason == reason and info.value.detail


def test_inverse_of_insert_markers():
    from dsbuild.spans import insert_markers

    answer = "Marie Curie won two Nobel prizes, in 1903 and 1911."
    spans = [(0, 11), (37, 41)]
    assert parse_annotation(insert_markers(answer, spans), answer) == spans
