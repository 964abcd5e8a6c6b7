from __future__ import annotations

import json

import pytest

from dsbuild.errors import ConfigError, InputError
from dsbuild.medrect.formats import (
    EXTRA_COLUMN,
    convert_file,
    detect_file_format,
    medec_row_to_medrect,
    medrect_to_medec_row,
    read_medec,
    read_medrect,
)
from dsbuild.schemas import MEDECRecord, MedRECTRecord

# A small MEDEC file written for this test: CR LF rows, LF inside cells, quoted cells with
# commas, literal NA, and no final newline (the MEDEC release's layout).
HEADER = (
    "Text ID,Text,Sentences,Error Flag,Error Type,Error Sentence ID,Error Sentence,"
    "Corrected Sentence,Corrected Text"
)
ROWS = [
    (
        'ex-0,"A man, 60, has chest pain. He is given aspirin and clopidogrel.",'
        '"0 A man, 60, has chest pain.\n'
        '1 He is given aspirin and clopidogrel.",0,NA,-1,NA,NA,NA'
    ),
    (
        "ex-1,A girl has strep throat. Ciprofloxacin is given.,"
        '"0 A girl has strep throat. \n1 Ciprofloxacin is '
        'given.",1,pharmacotherapy,1,Ciprofloxacin is given.,Amoxicillin is given.,'
        "A girl has strep throat. "
        "Amoxicillin is given."
    ),
    (
        "ex-2,A culture grows E. coli. The cause is Candida.,"
        '"0 A culture grows E. coli.\n1 The cause is Candida.",'
        "1,causalOrganism,1,The cause is Candida.,The cause is Escherichia coli.,"
        "A culture grows E. coli. The cause is Escherichia coli."
    ),
]
MEDEC_TEXT = "\r\n".join([HEADER, *ROWS])


@pytest.fixture
def medec_file(tmp_path):
    path = tmp_path / "small.csv"
    path.write_bytes(MEDEC_TEXT.encode("utf-8"))
    return path


def test_detect(medec_file, tmp_path):
    assert detect_file_format(medec_file) == "medec-csv"
    other = tmp_path / "x.json"
    other.write_text("[]", encoding="utf-8")
    assert detect_file_format(other) == "medrect-json"
    bad = tmp_path / "x.txt"
    bad.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        detect_file_format(bad)
    assert info.value.code == "DSB302"


def test_row_to_medrect_maps_ids_types_and_na(medec_file):
    rows = read_medec(medec_file)
    clean, wrong_drug, organism = (medec_row_to_medrect(r, i) for i, r in enumerate(rows))
    assert (
        clean["sentences"]
        == "1. A man, 60, has chest pain.\n2. He is given aspirin and clopidogrel."
    )
    assert clean["error_sentence_id"] is None and clean["corrected_text"] is None
    assert wrong_drug["error_sentence_id"] == 2
    assert wrong_drug["error_type"] == "medication_selection"
    assert wrong_drug["metadata"]["raw_sentences"].startswith("0 A girl has strep throat. \n")
    assert organism["error_type"] == "diagnosis"
    assert organism["metadata"]["medec_cells"] == {
        "Error Type": {"derived": "diagnosis", "cell": "causalOrganism"}
    }
    for record in (clean, wrong_drug, organism):
        MedRECTRecord.model_validate(record)


def test_medec_round_trip_is_byte_identical(medec_file, tmp_path):
    convert_file(medec_file, "medrect-json", tmp_path / "a.json")
    summary = convert_file(tmp_path / "a.json", "medec-csv", tmp_path / "b.csv")
    assert (summary.records, summary.errors) == (3, 2)
    assert (tmp_path / "b.csv").read_bytes() == medec_file.read_bytes()


def test_needless_quotes_round_trip_cell_by_cell(tmp_path):
    # Python's csv writer quotes only where needed, so a file quoting every cell comes back
    # with the same cells but fewer quotes: byte identity holds for minimally quoted files.
    src = tmp_path / "quoted.csv"
    lines = [
        ",".join(f'"{c}"' for c in HEADER.split(",")),
        '"q-0","A.","0 A.","0","NA","-1","NA","NA","NA"',
    ]
    src.write_bytes("\r\n".join(lines).encode("utf-8"))
    convert_file(src, "medrect-json", tmp_path / "q.json")
    convert_file(tmp_path / "q.json", "medec-csv", tmp_path / "q.csv")
    assert read_medec(tmp_path / "q.csv") == read_medec(src)
    assert (tmp_path / "q.csv").read_bytes() != src.read_bytes()


def test_edited_record_does_not_get_stale_cells(medec_file):
    record = medec_row_to_medrect(read_medec(medec_file)[2], 2)
    record["error_type"] = "medication_selection"  # edited after conversion
    record["sentences"] = record["sentences"].replace("Candida", "Aspergillus")
    row = medrect_to_medec_row(record)
    assert row["Error Type"] == "pharmacotherapy"
    assert row["Sentences"] == "0 A culture grows E. coli.\r\n1 The cause is Aspergillus."
    assert row["Text"] == "A culture grows E. coli. The cause is Aspergillus."


def test_medrect_to_medec_without_metadata_is_valid_medec():
    record = {
        "sample_id": "ja-1",
        "sentences": "1. 発熱と咽頭痛がある。\n2. シプロフロキサシンを投与した。",
        "error_flag": 1,
        "error_type": "medication_selection",
        "error_sentence_id": 2,
        "error_sentence": "シプロフロキサシンを投与した。",
        "corrected_sentence": "アモキシシリンを投与した。",
        "corrected_text": "発熱と咽頭痛がある。アモキシシリンを投与した。",
        "screening_results": {"is_valid": True},
    }
    row = medrect_to_medec_row(record)
    assert row["Text"] == "発熱と咽頭痛がある。シプロフロキサシンを投与した。"
    assert row["Sentences"] == "0 発熱と咽頭痛がある。\r\n1 シプロフロキサシンを投与した。"
    assert (row["Error Sentence ID"], row["Error Type"]) == ("1", "pharmacotherapy")
    MEDECRecord.model_validate(row)
    assert EXTRA_COLUMN not in row
    with_extra = medrect_to_medec_row(record, keep_extra=True)
    back = medec_row_to_medrect(with_extra, 0)
    assert back == record


def test_keep_extra_json_round_trip(tmp_path):
    records = [
        {
            "sample_id": "s1",
            "sentences": "1. A.\n2. B.",
            "error_flag": 0,
            "error_type": None,
            "error_sentence_id": None,
            "error_sentence": None,
            "corrected_sentence": None,
            "corrected_text": None,
            "metadata": {"source": "x"},
            "screening_results": None,
        },
    ]
    src = tmp_path / "in.json"
    src.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")
    convert_file(src, "medec-csv", tmp_path / "mid.csv", keep_extra=True)
    convert_file(tmp_path / "mid.csv", "medrect-json", tmp_path / "out.json")
    assert (tmp_path / "out.json").read_bytes() == src.read_bytes()
    convert_file(src, "medec-csv", tmp_path / "plain.csv")
    assert read_medrect(src) != [
        medec_row_to_medrect(r, 0) for r in read_medec(tmp_path / "plain.csv")
    ]


def test_convert_errors(medec_file, tmp_path):
    with pytest.raises(ConfigError):
        convert_file(medec_file, "xml", tmp_path / "x")
    with pytest.raises(ConfigError):
        convert_file(medec_file, "medec-csv", medec_file)
    with pytest.raises(InputError) as info:
        convert_file(tmp_path / "missing.csv", "medrect-json", tmp_path / "x.json")
    assert info.value.code == "DSB301"
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\r\nx,t,0 a,2,NA,-1,NA,NA,NA", encoding="utf-8")
    with pytest.raises(InputError, match="Error Flag"):
        convert_file(bad, "medrect-json", tmp_path / "x.json")


MEDEC_VAL = "medrect/MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv"


@pytest.mark.fixtures
def test_real_medec_round_trip_byte_identical(shared_fixtures, tmp_path):
    src = shared_fixtures / MEDEC_VAL
    first = convert_file(src, "medrect-json", tmp_path / "val.json")
    convert_file(tmp_path / "val.json", "medec-csv", tmp_path / "val.csv")
    assert (first.records, first.errors) == (574, 319)
    assert (tmp_path / "val.csv").read_bytes() == src.read_bytes()
    for record in read_medrect(tmp_path / "val.json"):
        MedRECTRecord.model_validate(record)


@pytest.mark.fixtures
@pytest.mark.parametrize("name", ["medrect-en-accepted.json", "medrect-en-rejected.json"])
def test_real_medrect_round_trips(shared_fixtures, tmp_path, name):
    src = shared_fixtures / "medrect" / name
    convert_file(src, "medec-csv", tmp_path / "x.csv", keep_extra=True)
    convert_file(tmp_path / "x.csv", "medrect-json", tmp_path / "x.json")
    assert (tmp_path / "x.json").read_bytes() == src.read_bytes()
    # without the extra column the MEDEC cells still come from MedRECT's own metadata
    convert_file(src, "medec-csv", tmp_path / "plain.csv")
    originals = read_medrect(src)
    rows = read_medec(tmp_path / "plain.csv")
    assert [r["Sentences"] for r in rows] == [o["metadata"]["raw_sentences"] for o in originals]
    assert [r["Text"] for r in rows] == [o["metadata"]["original_text"] for o in originals]
