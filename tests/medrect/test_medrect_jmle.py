from __future__ import annotations

import json

import pytest

from dsbuild.errors import InputError
from dsbuild.medrect.jmle import (
    SourceQuestion,
    load_embedded_vignettes,
    load_questions,
    needs_figure,
    numeric_choices,
    question_from_item,
)

CHOICES = {
    "a": "アモキシシリン",
    "b": "アシクロビル",
    "c": "オセルタミビル",
    "d": "ミノサイクリン",
    "e": "プレドニゾロン",
}


def _item(**changes):
    item = {
        "id": "120A1",
        "question": "28歳の女性。発熱と咽頭痛がある。適切な治療薬はどれか。",
        "choices": dict(CHOICES),
        "answer": ["a"],
    }
    item.update(changes)
    return item


def _reason(item):
    got = question_from_item(item, default_id="x")
    return got.reason if not isinstance(got, SourceQuestion) else None


def test_usable_jmle_item():
    got = question_from_item(_item(case_classification={"type": "definite_case"}), default_id="x")
    assert isinstance(got, SourceQuestion)
    assert (got.id, got.lang, got.answer) == ("120A1", "ja", "a")
    assert got.meta == {"case_classification": {"type": "definite_case"}}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"question": " "}, "missing_question"),
        ({"choices": {"a": "x"}}, "missing_choices"),
        ({"choices": {**CHOICES, "c": ""}}, "missing_choices"),
        ({"answer": []}, "missing_answer"),
        ({"answer": ["a", "c"]}, "multiple_answers"),
        ({"answer": ["f"]}, "answer_not_a_choice"),
        ({"choices": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}}, "numeric_choices"),
        (
            {"choices": {"a": "0.5 mg", "b": "1 mg", "c": "2 mg", "d": "5 mg", "e": "10 mg"}},
            "numeric_choices",
        ),
        ({"question": "胸部エックス線写真(別冊No. 3)を別に示す。診断はどれか。"}, "needs_figure"),
        (
            {"question": "皮膚の写真(A)と病理組織H-E染色標本(B)を示す。診断はどれか。"},
            "needs_figure",
        ),
        ({"question": "A rash is shown in the image. What is the diagnosis?"}, "needs_figure"),
    ],
)
def test_skip_reasons(changes, reason):
    assert _reason(_item(**changes)) == reason


def test_written_findings_are_not_figures():
    assert (
        needs_figure("胸部エックス線写真で右下肺野に浸潤影を認める。12誘導心電図で異常を認めない。")
        is None
    )
    assert needs_figure("表在リンパ節を触知しない。表情は乏しい。") is None
    assert not numeric_choices(
        {"a": "1型糖尿病", "b": "2型糖尿病", "c": "MODY", "d": "妊娠糖尿病", "e": "膵性糖尿病"}
    )


def test_medqa_jsonl_and_duplicates(tmp_path):
    lines = [
        {
            "question": "A 30-year-old man has fever. Which drug?",
            "answer": "Amoxicillin",
            "options": {"A": "Amoxicillin", "B": "Aspirin", "C": "Insulin", "D": "Heparin"},
            "meta_info": "step1",
            "answer_idx": "A",
        },
        {"question": "Which test?", "answer": "ECG", "options": {"A": "ECG", "B": "CT"}},
    ]
    path = tmp_path / "medqa.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([_item(), _item()], ensure_ascii=False), encoding="utf-8")
    result = load_questions([path, dup])
    assert [q.id for q in result.questions] == ["medqa-1", "medqa-2", "120A1"]
    assert [q.answer for q in result.questions] == ["a", "a", "a"]
    assert result.questions[0].lang == "en" and result.questions[0].meta == {"meta_info": "step1"}
    assert result.skipped_by_reason() == {"duplicate_id": 1}


def test_bad_files(tmp_path):
    with pytest.raises(InputError):
        load_questions(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InputError, match="item 1"):
        load_questions(bad)


def test_embedded_vignettes_are_all_usable():
    result = load_embedded_vignettes()
    assert result.summary()["usable_by_lang"] == {"en": 6, "ja": 6}
    assert not result.skipped
    for q in result.questions:
        assert sorted(q.choices) == ["a", "b", "c", "d", "e"] and q.answer in q.choices


@pytest.mark.fixtures
def test_real_jmle_pool(shared_fixtures):
    result = load_questions(shared_fixtures / "medrect" / "jmle-2018-2025-source-questions.json")
    summary = result.summary()
    assert summary["total"] == 1183
    assert summary["usable"] == 933
    assert summary["skipped_by_reason"] == {
        "missing_choices": 2,
        "multiple_answers": 148,
        "numeric_choices": 39,
        "needs_figure": 61,
    }
