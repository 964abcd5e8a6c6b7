from __future__ import annotations

import json

import pytest

from dsbuild.errors import InputError
from dsbuild.span_labels import (
    char_probs,
    chars_of,
    hard_from_soft,
    normalize_spans,
    soft_from_annotations,
    soft_from_hard,
    spans_of,
)
from dsbuild.spans import insert_markers, strip_markers


def _mushroom_items(shared_fixtures):
    items = []
    for path in sorted((shared_fixtures / "mushroom").glob("mushroom.*-val.v2.extra.jsonl")):
        items += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    assert len(items) == 499
    return items


class TestSpanSets:
    def test_empty_span_marks_nothing(self):
        assert chars_of([[69, 69]]) == set()
        assert normalize_spans([[69, 69]]) == []

    def test_overlapping_touching_unsorted_spans_merge(self):
        assert normalize_spans([[5, 8], [0, 2], [1, 3], [3, 4], [8, 8]]) == [[0, 4], [5, 8]]

    def test_spans_of_runs(self):
        assert spans_of({7, 1, 2, 3, 9, 8}) == [[1, 4], [7, 10]]
        assert spans_of([]) == []


class TestSoftFromAnnotations:
    def test_three_annotators_by_hand(self):
        # a marks 0-3; b marks 2-5 with an overlapping inner span (counts once); c marks nothing
        ann = {"a": [[0, 4]], "b": [[2, 6], [3, 5]], "c": [[5, 5]]}
        soft = soft_from_annotations(ann, n=10)
        assert soft == [
            {"start": 0, "end": 2, "prob": 1 / 3},
            {"start": 2, "end": 4, "prob": 2 / 3},
            {"start": 4, "end": 6, "prob": 1 / 3},
        ]
        assert hard_from_soft(soft) == [[2, 4]]

    def test_unmarked_characters_are_left_out_and_sorted(self):
        soft = soft_from_annotations({"x": [[6, 8], [0, 1]], "y": [[6, 8]]})
        assert soft == [{"start": 0, "end": 1, "prob": 0.5}, {"start": 6, "end": 8, "prob": 1.0}]

    def test_list_of_annotators_and_no_annotators(self):
        assert soft_from_annotations([[[0, 2]], []]) == [{"start": 0, "end": 2, "prob": 0.5}]
        assert soft_from_annotations({}) == []
        assert soft_from_annotations({"a": [], "b": [[3, 3]]}) == []

    def test_span_past_the_text_is_an_error_naming_the_annotator(self):
        with pytest.raises(InputError, match="annotator late.*\\[301, 373\\).*372"):
            soft_from_annotations({"late": [[301, 373]]}, n=372)


class TestSoftAndHard:
    def test_hard_is_strictly_above_half_and_adjacent_spans_merge(self):
        soft = [
            {"start": 0, "end": 2, "prob": 0.6},
            {"start": 2, "end": 4, "prob": 0.9},
            {"start": 4, "end": 6, "prob": 0.5},
            {"start": 7, "end": 9, "prob": 0.51},
        ]
        assert hard_from_soft(soft) == [[0, 4], [7, 9]]

    def test_char_probs_later_span_wins_and_range_checked(self):
        soft = [{"start": 0, "end": 4, "prob": 0.2}, (2, 3, 0.9)]
        assert char_probs(soft, 5) == [0.2, 0.2, 0.9, 0.2, 0.0]
        with pytest.raises(InputError, match="\\[3, 6\\).*5 characters"):
            char_probs([{"start": 3, "end": 6, "prob": 1.0}], 5)

    def test_soft_from_hard(self):
        assert soft_from_hard([[3, 5], [0, 1], [4, 6]]) == [
            {"start": 0, "end": 1, "prob": 1.0},
            {"start": 3, "end": 6, "prob": 1.0},
        ]
        assert hard_from_soft([]) == []


class TestInsertMarkers:
    def test_emoji_and_cjk_round_trip(self):
        text = "猫🐱は2019年に生まれた😀"
        spans = [(1, 2), (3, 8)]
        marked = insert_markers(text, spans)
        assert marked == "猫[HAL]🐱[/HAL]は[HAL]2019年[/HAL]に生まれた😀"
        assert strip_markers(marked) == (text, spans)

    def test_no_spans_and_whole_text(self):
        assert insert_markers("abc", []) == "abc"
        assert insert_markers("abc", [(0, 3)]) == "[HAL]abc[/HAL]"


@pytest.mark.fixtures
def test_hard_labels_are_the_majority_of_the_soft_labels_on_all_499(shared_fixtures):
    for item in _mushroom_items(shared_fixtures):
        assert chars_of(hard_from_soft(item["soft_labels"])) == chars_of(item["hard_labels"]), item[
            "id"
        ]
        # the official hard labels are already sorted and merged, so the lists agree too
        assert hard_from_soft(item["soft_labels"]) == item["hard_labels"], item["id"]


@pytest.mark.fixtures
def test_soft_labels_from_the_shipped_annotations_match_only_83_items(shared_fixtures):
    """The files' soft labels were not computed from the `annotations` they ship (see report):
    recomputing reproduces 83 of 499 items exactly, character by character."""
    same = 0
    for item in _mushroom_items(shared_fixtures):
        n = len(item["model_output_text"])
        ann = {a: [[s, min(e, n)] for s, e in spans] for a, spans in item["annotations"].items()}
        mine = char_probs(soft_from_annotations(ann, n), n)
        theirs = char_probs(item["soft_labels"], n)
        same += all(abs(x - y) < 1e-6 for x, y in zip(mine, theirs))
    assert same == 83


@pytest.mark.fixtures
def test_val_en_2_shows_trimmed_edges_and_a_smaller_denominator(shared_fixtures):
    item = next(i for i in _mushroom_items(shared_fixtures) if i["id"] == "val-en-2")
    text = item["model_output_text"]
    # an annotator selected "Elysiphale " with its trailing space; the file's soft span stops
    # before it
    assert any([4, 15] in spans for spans in item["annotations"].values())
    assert (
        text[4:15] == "Elysiphale " and {"start": 4, "prob": 0.2, "end": 14} in item["soft_labels"]
    )
    # 11 annotators are listed (one marked nothing), but 0.2 = 2/10, not 2/11
    assert len(item["annotations"]) == 11
    assert sum(1 for s in item["annotations"].values() if not s) == 1
