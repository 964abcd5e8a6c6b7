"""MedRECT-ja as released: Japanese error types, names outside the scheme, stray separator
lines after the last sentence; validate's warnings, --strict, --labels and the lossless
MedRECT JSON -> MEDEC CSV -> MedRECT JSON round trip (issue 14)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from dsbuild.medrect.formats import convert_file, read_medrect, relabel
from dsbuild.medrect.sentences import STYLES, renumber
from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES, MEDRECT_JA_TYPES, parse_numbered_sentences
from dsbuild.validation import validate_path

SENTENCES = (
    "1. 68歳の男性が来院した。\n2. 血圧は120/80 mmHgである。\n3. 鉄欠乏性貧血と診断した。  \n\n***"
)


MEDRECT_LINE = STYLES["medrect"][0]


def ja_record(**changes) -> dict:
    record = {
        "sample_id": "118A1_b_model",
        "sentences": SENTENCES,
        "error_flag": 1,
        "error_type": "診断エラー",
        "error_sentence_id": 3,
        "error_sentence": "鉄欠乏性貧血と診断した。",
        "corrected_sentence": "再生不良性貧血と診断した。",
        "corrected_text": "68歳の男性が来院した。血圧は120/80 mmHgである。"
        "再生不良性貧血と診断した。",
        "metadata": {"jmle_question_id": "118A1", "choice": "b"},
        "source_model": "model",
    }
    record.update(changes)
    return record


def write(tmp_path, records, name="ja.json"):
    path = tmp_path / name
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_the_eight_japanese_names_map_onto_the_scheme():
    assert sorted(MEDRECT_JA_TYPES.values()) == sorted(MEDRECT_ERROR_TYPES)


def test_separator_after_the_last_sentence_is_no_part_of_it():
    sentences, problems = parse_numbered_sentences(SENTENCES, MEDRECT_LINE, 1)
    assert sentences[3] == "鉄欠乏性貧血と診断した。  "
    assert [code for code, _ in problems] == ["trailing_separator"]
    # A separator between sentences is still a continuation line, and blank lines at the end
    # are plain layout, not a quirk.
    _, problems = parse_numbered_sentences("1. A.\n---\n2. B.\n\n", MEDRECT_LINE, 1)
    assert problems == []


def test_validate_counts_valid_warned_and_invalid(tmp_path):
    records = [
        ja_record(),  # Japanese type + trailing separator: valid, warned
        ja_record(
            sample_id="a2", sentences=SENTENCES.removesuffix("  \n\n***")
        ),  # clean quirk-free
        ja_record(
            sample_id="a3",
            error_type="検査所見エラー",
            sentences=SENTENCES.removesuffix("  \n\n***"),
        ),
        ja_record(sample_id="a4", error_sentence_id=9),  # wrong: no sentence 9
    ]
    path = write(tmp_path, records)
    report = validate_path(path, "medrect")
    assert (report.valid, report.warned, report.invalid) == (3, 2, 1)
    assert report.warnings_by_reason == Counter(
        {"trailing_separator": 2, "error_type_outside_scheme": 1}
    )
    assert report.by_reason == Counter({"error_sentence_id_out_of_range": 1})
    strict = validate_path(path, "medrect", strict=True)
    assert (strict.valid, strict.warned, strict.invalid) == (1, 0, 3)


def test_validate_cli_exit_codes(tmp_path, cli):
    path = write(
        tmp_path, [ja_record(), ja_record(sample_id="b2", error_type="病理組織解釈エラー")]
    )
    code, out, _ = cli("medrect", "validate", str(path))
    assert code == 0, out
    assert "warning" in out and "error_type_outside_scheme" in out
    code, _, err = cli("medrect", "validate", "--strict", str(path))
    assert code == 3 and "DSB303" in err
    code, out, _ = cli("medrect", "validate", "--json", str(path))
    data = json.loads(out)
    assert (data[0]["valid"], data[0]["warned"], data[0]["invalid"]) == (2, 2, 0)


def test_error_sentence_quoting_one_sentence_of_a_numbered_line_is_a_warning(tmp_path):
    two = "1. 68歳の男性が来院した。\n2. 心電図正常。尿潜血検査を施行したい。"
    partial = ja_record(
        sentences=two,
        error_sentence_id=2,
        error_sentence="尿潜血検査を施行したい",
        corrected_sentence="尿中アルブミン検査を施行したい。",
        corrected_text="68歳の男性が来院した。心電図正常。尿中アルブミン検査を施行したい。",
    )
    elsewhere = partial | {"sample_id": "e2", "error_sentence": "胸部X線で異常なし。"}
    report = validate_path(write(tmp_path, [partial, elsewhere]), "medrect")
    assert (report.valid, report.warned, report.invalid) == (1, 1, 1)
    assert report.warnings_by_reason == Counter({"error_sentence_partial": 1})
    assert report.by_reason == Counter({"error_sentence_mismatch": 1})


def test_relabel_both_ways_keeps_names_outside_the_scheme():
    assert relabel(ja_record(), "en")["error_type"] == "diagnosis"
    assert (
        relabel(ja_record(error_type="薬剤用法・用量エラー"), "en")["error_type"]
        == "medication_dosage"
    )
    assert (
        relabel(ja_record(error_type="medication_dosage"), "ja")["error_type"]
        == "薬剤用法・用量エラー"
    )
    assert relabel(ja_record(error_type="検査所見エラー"), "en")["error_type"] == "検査所見エラー"
    assert relabel(ja_record(), None) == ja_record()
    assert relabel(ja_record(error_flag=0, error_type=None), "en")["error_type"] is None


def test_convert_labels_and_strict(tmp_path, cli):
    src = write(tmp_path, [ja_record(), ja_record(sample_id="c2", error_type="検査所見エラー")])
    out = tmp_path / "en.json"
    summary = convert_file(src, "medrect-json", out, labels="en")
    assert [r["error_type"] for r in read_medrect(out)] == ["diagnosis", "検査所見エラー"]
    assert summary.report.warnings_by_reason["error_type_outside_scheme"] == 1
    back = tmp_path / "ja.json"
    convert_file(out, "medrect-json", back, labels="ja")
    assert [r["error_type"] for r in read_medrect(back)] == ["診断エラー", "検査所見エラー"]
    code, _, err = cli(
        "medrect",
        "convert",
        str(src),
        "--to",
        "medec-csv",
        "--out",
        str(tmp_path / "x.csv"),
        "--strict",
    )
    assert code == 3 and not (tmp_path / "x.csv").exists()
    assert "error_type_outside_scheme" in err


def round_trip(tmp_path, src, keep_extra=True):
    csv_path, back = tmp_path / "rt.csv", tmp_path / "rt.json"
    convert_file(src, "medec-csv", csv_path, keep_extra=keep_extra)
    convert_file(csv_path, "medrect-json", back)
    return read_medrect(src), read_medrect(back)


def test_round_trip_keeps_every_field_with_separators(tmp_path):
    records = [
        ja_record(),
        ja_record(
            sample_id="d2",
            sentences="1. A.\n2. B.\n---",
            error_flag=0,
            error_type=None,
            error_sentence_id=None,
            error_sentence=None,
            corrected_sentence=None,
            corrected_text=None,
        ),
    ]
    before, after = round_trip(tmp_path, write(tmp_path, records))
    assert after == before
    # Without --keep-extra, MEDEC cannot hold MedRECT's metadata, but the sentences, with
    # their separator block, come back exactly (they came back as "...。\n***" before).
    before, after = round_trip(tmp_path, write(tmp_path, records), keep_extra=False)
    assert [r["sentences"] for r in after] == [r["sentences"] for r in before]
    assert renumber(SENTENCES, "medrect", "medec") == (
        "0 68歳の男性が来院した。\r\n1 血圧は120/80 mmHgである。\r\n"
        "2 鉄欠乏性貧血と診断した。  \r\n\r\n***"
    )


def test_real_medrect_ja_excerpt(shared_fixtures, tmp_path):
    path = shared_fixtures / "medrect" / "medrect-ja-excerpt40.json"
    report = validate_path(path, "medrect")
    assert report.total == 40
    # Every record reads: the Japanese types are the scheme's, 検査所見エラー is kept with a
    # warning, the record ending in `***` is warned about.
    assert report.invalid == 0, report.problems[:3]
    # Checked by hand: 119F63_b writes 検査所見エラー; 118C39_b ends in `***`; 119A57_a and
    # 119D42_a quote one sentence of a numbered line that holds two or three.
    assert report.warnings_by_reason == Counter(
        {"error_sentence_partial": 2, "error_type_outside_scheme": 1, "trailing_separator": 1}
    )
    before, after = round_trip(tmp_path, path)
    assert after == before
    before, after = round_trip(tmp_path, path, keep_extra=False)
    core = (
        "sample_id",
        "sentences",
        "error_flag",
        "error_type",
        "error_sentence_id",
        "error_sentence",
        "corrected_sentence",
        "corrected_text",
    )
    assert [[r[k] for k in core] for r in after] == [[r[k] for k in core] for r in before]
    en = tmp_path / "en.json"
    convert_file(path, "medrect-json", en, labels="en")
    types = Counter(r["error_type"] for r in read_medrect(en))
    assert not set(types) & set(MEDRECT_JA_TYPES)


@pytest.mark.parametrize("name", ["medrect-en-accepted.json", "medrect-en-rejected.json"])
def test_real_medrect_en_round_trip_unchanged(shared_fixtures, tmp_path, name):
    before, after = round_trip(tmp_path, shared_fixtures / "medrect" / name)
    assert after == before
