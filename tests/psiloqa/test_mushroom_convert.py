from __future__ import annotations

import json

import pytest

from dsbuild.errors import InputError, UsageError
from dsbuild.psiloqa.mushroom import (
    convert_file,
    mushroom_to_row,
    read_labelled,
    row_to_mushroom,
    write_jsonl,
)
from dsbuild.schemas import MushroomRecord, PsiloQARecord
from dsbuild.span_labels import chars_of, hard_from_soft

ITEM = {
    "id": "val-xx-1",
    "lang": "EN",
    "model_input": "Where was Petra born?",
    "model_output_text": "Petra 🐱 was born in Zürich in 1970.",
    "model_id": "some/model",
    "soft_labels": [
        {"start": 20, "prob": 1.0, "end": 26},
        {"start": 26, "prob": 0.25, "end": 30},
        {"start": 30, "prob": 0.75, "end": 34},
    ],
    "hard_labels": [[20, 26], [30, 34]],
    "model_output_logits": [-1.5, -2.25],
    "model_output_tokens": ["Pet", "ra"],
    "wikipedia_url": "https://en.wikipedia.org/wiki/Petra_M%C3%BCller",
    "annotations": {
        "a1": [[20, 26], [30, 34], [9, 9]],
        "a2": [[20, 34]],
        "a3": [[20, 26], [30, 34]],
        "a4": [[20, 26], [33, 33]],
    },
}


def test_item_to_row_maps_the_fields():
    row = mushroom_to_row(ITEM)
    assert row["lang"] == "en"
    assert row["question"] == ITEM["model_input"] and row["llm_answer"] == ITEM["model_output_text"]
    assert row["llm_checkpoint"] == "some/model"
    assert row["labels"] == [[20, 26], [30, 34]]
    assert row["annotated_span"] == "Petra 🐱 was born in [HAL]Zürich[/HAL] in [HAL]1970[/HAL]."
    assert row["wiki_url"] == ITEM["wikipedia_url"] and row["wiki_title"] == "Petra Müller"
    assert row["wiki_passage"] == "" and row["golden_answer"] == "" and row["complexity"] is None
    assert row["mushroom"]["soft_labels"] == ITEM["soft_labels"]
    assert row["mushroom"]["annotations"] == ITEM["annotations"] and row["mushroom"]["lang"] == "EN"
    PsiloQARecord.model_validate(row)


def test_item_round_trip_is_identical():
    assert row_to_mushroom(mushroom_to_row(ITEM)) == ITEM


def test_no_url_gives_empty_wiki_fields_and_unsorted_hard_labels_are_normalised():
    item = {**ITEM, "hard_labels": [[30, 34], [20, 23], [22, 26]]}
    del item["wikipedia_url"]
    row = mushroom_to_row(item)
    assert row["wiki_title"] == "" and row["wiki_url"] == ""
    assert row["labels"] == [[20, 26], [30, 34]]
    # the original list is given back as long as it still marks the labelled characters
    assert row_to_mushroom(row)["hard_labels"] == [[30, 34], [20, 23], [22, 26]]


def test_bare_row_gets_probability_one_soft_labels():
    row = {k: v for k, v in mushroom_to_row(ITEM).items() if k != "mushroom"}
    item = row_to_mushroom(row)
    assert item["lang"] == "EN" and item["wikipedia_url"] == ITEM["wikipedia_url"]
    assert item["hard_labels"] == [[20, 26], [30, 34]]
    assert item["soft_labels"] == [
        {"start": 20, "end": 26, "prob": 1.0},
        {"start": 30, "end": 34, "prob": 1.0},
    ]
    MushroomRecord.model_validate(item)


def test_row_annotations_give_soft_labels():
    row = {k: v for k, v in mushroom_to_row(ITEM).items() if k != "mushroom"}
    row["annotations"] = ITEM["annotations"]
    item = row_to_mushroom(row)
    # 20-25: all 4 annotators; 26-29: a2 only (1/4); 30-33: a1, a2, a3 (3/4)
    assert item["soft_labels"] == [
        {"start": 20, "end": 26, "prob": 1.0},
        {"start": 26, "end": 30, "prob": 0.25},
        {"start": 30, "end": 34, "prob": 0.75},
    ]
    assert chars_of(item["hard_labels"]) == chars_of(hard_from_soft(item["soft_labels"]))


def test_bad_annotation_span_names_the_row():
    row = {k: v for k, v in mushroom_to_row(ITEM).items() if k != "mushroom"}
    row["annotations"] = {"late": [[30, 99]]}
    with pytest.raises(InputError, match="row 'val-xx-1': annotator late: span \\[30, 99\\)"):
        row_to_mushroom(row)


def test_edited_labels_never_bring_back_stale_soft_labels():
    row = mushroom_to_row(ITEM)
    row["labels"] = [[0, 5]]  # a reviewer relabelled the row
    item = row_to_mushroom(row)
    assert item["hard_labels"] == [[0, 5]]
    assert item["soft_labels"] == [{"start": 0, "end": 5, "prob": 1.0}]


def test_psiloqa_row_round_trip_keeps_row_only_fields():
    row = {
        "id": 7,
        "lang": "zh",
        "wiki_title": "长城",
        "wiki_url": "https://zh.wikipedia.org/wiki/长城",
        "llm_checkpoint": "qwen",
        "wiki_passage": "长城是……",
        "question": "长城有多长？",
        "golden_answer": "两万多公里",
        "llm_answer": "长城长约一万公里。",
        "annotated_span": None,
        "complexity": "hard",
        "labels": [[3, 7]],
        "source": "unit-test",
    }
    PsiloQARecord.model_validate(row)
    item = row_to_mushroom(row)
    assert item["lang"] == "ZH" and item["hard_labels"] == [[3, 7]]
    assert item["psiloqa"] == {
        "wiki_passage": "长城是……",
        "golden_answer": "两万多公里",
        "annotated_span": None,
        "complexity": "hard",
        "source": "unit-test",
    }
    back = mushroom_to_row(item)
    assert {k: v for k, v in back.items() if k != "mushroom"} == row
    assert "psiloqa" not in row_to_mushroom(row, keep_row_fields=False)


def test_files_detect_format_and_convert(tmp_path):
    src = tmp_path / "items.jsonl"
    write_jsonl(src, [ITEM])
    assert "Zürich" in src.read_text("utf-8")  # written unescaped
    assert convert_file(src, "psiloqa", tmp_path / "rows.jsonl") == ("mushroom", 1)
    assert convert_file(tmp_path / "rows.jsonl", "mushroom", tmp_path / "back.jsonl") == (
        "psiloqa",
        1,
    )
    assert read_labelled(tmp_path / "back.jsonl") == ("mushroom", [ITEM])
    with pytest.raises(UsageError, match="already in mushroom"):
        convert_file(src, "mushroom", tmp_path / "x.jsonl")


def test_mixed_unknown_and_empty_files_are_errors(tmp_path):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(ITEM) + "\n" + json.dumps(mushroom_to_row(ITEM)) + "\n", "utf-8")
    with pytest.raises(InputError, match="mixed.jsonl:2: a psiloqa record in a file of mushroom"):
        read_labelled(mixed)
    other = tmp_path / "other.jsonl"
    other.write_text('{"id": 1, "text": "x"}\n', "utf-8")
    with pytest.raises(InputError, match="other.jsonl:1: .*neither Mu-SHROOM"):
        read_labelled(other)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", "utf-8")
    with pytest.raises(InputError) as exc:
        read_labelled(empty)
    assert exc.value.code == "DSB304"


@pytest.mark.fixtures
def test_round_trip_on_all_499_validation_items(shared_fixtures):
    n = 0
    for path in sorted((shared_fixtures / "mushroom").glob("*-val.*.jsonl")):
        fmt, items = read_labelled(path)
        assert fmt == "mushroom"
        for item in items:
            row = mushroom_to_row(item)
            PsiloQARecord.model_validate(row)
            back = row_to_mushroom(row)
            assert back == item
            assert back["hard_labels"] == item["hard_labels"]
            assert chars_of(back["hard_labels"]) == chars_of(hard_from_soft(back["soft_labels"]))
            # without the kept Mu-SHROOM fields, the hard labels still come back as the same
            # characters
            bare = row_to_mushroom({k: v for k, v in row.items() if k != "mushroom"})
            assert chars_of(bare["hard_labels"]) == chars_of(item["hard_labels"])
            assert bare["hard_labels"] == item["hard_labels"]
            n += 1
    assert n == 499
