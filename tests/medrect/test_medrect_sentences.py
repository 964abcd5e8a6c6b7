from __future__ import annotations

import pytest

from dsbuild.medrect.sentences import (
    corrected_text,
    join_sentences,
    number_sentences,
    parse_sentences,
    renumber,
    replace_sentence,
    verify_record,
)

MEDEC = (
    "0 A woman has fever. \r\n1 Her blood pressure is\r\n2 120/70 mm\r\nHg today.\r\n\r\n"
    "3 She is given aspirin."
)
MEDRECT = (
    "1. A woman has fever.\n2. Her blood pressure is\n3. 120/70 mm\nHg today.\n"
    "4. She is given aspirin."
)


def test_renumber_medec_to_medrect_strips_and_keeps_continuations():
    assert renumber(MEDEC, "medec", "medrect") == MEDRECT


def test_renumber_back_uses_crlf_and_zero_base():
    assert renumber(MEDRECT, "medrect", "medec") == (
        "0 A woman has fever.\r\n1 Her blood pressure is\r\n2 120/70 mm\r\nHg today.\r\n"
        "3 She is given aspirin."
    )


def test_parse_both_styles_agree():
    medec, problems = parse_sentences(MEDEC, "medec")
    medrect, _ = parse_sentences(MEDRECT, "medrect")
    assert problems == []
    assert [medec[n].strip() for n in sorted(medec)] == [medrect[n] for n in sorted(medrect)]
    assert sorted(medrect) == [1, 2, 3, 4]


def test_number_sentences():
    assert number_sentences(["A.", " B. "]) == "1. A.\n2. B."
    assert number_sentences(["A.", "B."], "medec") == "0 A.\r\n1 B."


def test_replace_sentence_takes_its_continuation_lines():
    assert replace_sentence(MEDRECT, 3, "120/70 mm Hg.") == (
        "1. A woman has fever.\n2. Her blood pressure is\n3. 120/70 mm Hg.\n"
        "4. She is given aspirin."
    )
    assert replace_sentence(MEDEC, 3, "She is given heparin.", "medec").endswith(
        "3 She is given heparin."
    )
    with pytest.raises(KeyError):
        replace_sentence(MEDRECT, 9, "x")


def test_corrected_text_and_cjk_joining():
    assert corrected_text(MEDRECT, 4, "She is given heparin.") == (
        "A woman has fever. Her blood pressure is 120/70 mm Hg today. She is given heparin."
    )
    assert join_sentences(["発熱がある。", "CRPは3.0 mg/dL。", "抗菌薬を投与した。"]) == (
        "発熱がある。CRPは3.0 mg/dL。抗菌薬を投与した。"
    )


def _error_record(**changes):
    record = {
        "sample_id": "t-1",
        "sentences": "1. A boy has strep throat.\n2. He is given ciprofloxacin.",
        "error_flag": 1,
        "error_type": "medication_selection",
        "error_sentence_id": 2,
        "error_sentence": "He is given ciprofloxacin.",
        "corrected_sentence": "He is given amoxicillin.",
        "corrected_text": "A boy has strep throat. He is given amoxicillin.",
    }
    record.update(changes)
    return record


def _codes(record):
    return [code for code, _ in verify_record(record)]


def test_verify_sound_records():
    assert verify_record(_error_record()) == []
    clean = {
        "sentences": "1. A.\n2. B.",
        "error_flag": 0,
        "error_type": None,
        "error_sentence_id": None,
        "error_sentence": None,
        "corrected_sentence": None,
        "corrected_text": None,
    }
    assert verify_record(clean) == []
    # layout is not content: a line break inside the corrected text is fine
    assert (
        verify_record(
            _error_record(corrected_text="A boy has strep\nthroat. He is given amoxicillin.")
        )
        == []
    )


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"error_sentence_id": 5}, "error_sentence_id_out_of_range"),
        ({"error_sentence": "He is given penicillin."}, "error_sentence_mismatch"),
        ({"corrected_sentence": "He is given ciprofloxacin."}, "correction_unchanged"),
        (
            {"corrected_text": "A boy has strep throat. He is given penicillin."},
            "corrected_text_mismatch",
        ),
        ({"error_type": None}, "error_field_missing"),
        ({"error_type": "spelling"}, "error_type_unknown"),
        ({"error_flag": 0}, "clean_has_error_fields"),
        ({"error_flag": 2}, "error_flag_invalid"),
        (
            {"sentences": "1. A boy has strep throat.\n3. He is given ciprofloxacin."},
            "numbering_gap",
        ),
        ({"sentences": ""}, "no_sentences"),
    ],
)
def test_verify_finds_each_defect(changes, code):
    assert code in _codes(_error_record(**changes))
