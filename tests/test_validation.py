from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from dsbuild.errors import ConfigError, InputError, InvalidRecordsError
from dsbuild.validation import field_path, validate_path

SAMPLES = {
    "psiloqa": ("psiloqa.jsonl", "psiloqa"),
    "entitycs": ("entitycs.jsonl", "entitycs"),
    "medrect": ("medrect.json", "medrect"),
    "cultural": ("cultural.jsonl", "cultural"),
}


def sample_path(name: str) -> Path:
    return Path(str(resources.files("dsbuild.samples").joinpath(name)))


def sample_rows(name: str) -> list[dict]:
    return [
        json.loads(line)
        for line in sample_path(name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text(
        "".join(
            (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("dataset", sorted(SAMPLES))
def test_samples_are_all_valid(dataset):
    file, fmt = SAMPLES[dataset]
    report = validate_path(sample_path(file), dataset)
    assert report.problems == []
    assert (report.format, report.invalid) == (fmt, 0)
    assert report.valid >= 4
    assert report.ok


def test_samples_folder_validates_without_a_dataset(tmp_path):
    import shutil

    for name in ("psiloqa.jsonl", "entitycs.jsonl", "medrect.json", "cultural.jsonl"):
        shutil.copy(sample_path(name), tmp_path / name)
    report = validate_path(tmp_path)
    assert report.ok
    assert sorted(v for v in report.formats.values()) == [
        "cultural",
        "entitycs",
        "medrect",
        "psiloqa",
    ]
    assert report.format is None


def test_field_path():
    assert field_path(("labels", 2)) == "labels[2]"
    assert field_path(("entities", 0, "qid")) == "entities[0].qid"
    assert field_path(("annotations", "ann_1", 3)) == "annotations.ann_1[3]"
    assert field_path(()) is None


class TestProblems:
    def test_bad_record_gives_locator_id_field_and_reason(self, tmp_path):
        rows = sample_rows("psiloqa.jsonl")
        rows[1]["labels"] = [[0, 999]]
        rows[1]["annotated_span"] = None
        path = write_jsonl(tmp_path / "p.jsonl", rows)
        report = validate_path(path, "psiloqa")
        assert (report.valid, report.invalid) == (len(rows) - 1, 1)
        [problem] = report.problems
        assert problem.locator == f"{path}:2"
        assert problem.record_id == rows[1]["id"]
        assert (problem.field, problem.reason) == ("labels[0]", "span_out_of_range")
        assert "outside the text" in problem.message

    def test_a_record_with_several_problems_counts_once(self, tmp_path):
        rows = sample_rows("psiloqa.jsonl")
        rows[0].update(labels=[[5, 2], [40, 30]], complexity="extreme", annotated_span=None)
        del rows[0]["question"]
        report = validate_path(write_jsonl(tmp_path / "p.jsonl", rows), "psiloqa")
        assert report.invalid == 1
        assert report.by_reason == Counter({"literal_error": 1, "missing": 1})
        assert {p.field for p in report.problems} == {"complexity", "question"}

    def test_cross_field_checks_run_once_the_structure_is_valid(self, tmp_path):
        rows = sample_rows("psiloqa.jsonl")
        rows[0].update(labels=[[5, 2], [40, 30]], annotated_span=None)
        report = validate_path(write_jsonl(tmp_path / "p.jsonl", rows), "psiloqa")
        assert report.invalid == 1
        assert report.by_reason == Counter({"span_inverted": 2})
        assert [p.field for p in report.problems] == ["labels[0]", "labels[1]"]

    def test_read_problems_are_invalid_records(self, tmp_path):
        rows = sample_rows("entitycs.jsonl")
        path = write_jsonl(tmp_path / "e.jsonl", [rows[0], "{broken", "[1, 2]", rows[1]])
        report = validate_path(path, "entitycs")
        assert (report.valid, report.invalid) == (2, 2)
        assert [(p.locator.rsplit(":", 1)[1], p.reason) for p in report.problems] == [
            ("2", "json_syntax"),
            ("3", "not_an_object"),
        ]

    def test_duplicate_ids(self, tmp_path):
        rows = sample_rows("cultural.jsonl")
        path = write_jsonl(tmp_path / "c.jsonl", [*rows, rows[2]])
        report = validate_path(path, "cultural")
        assert report.by_reason == Counter({"duplicate_id": 1})
        assert report.problems[0].locator == f"{path}:5"
        assert f"{path}:3" in report.problems[0].message

    def test_entitycs_ids_may_repeat_across_languages(self, tmp_path):
        rows = sample_rows("entitycs.jsonl")
        assert len({r["sentence_id"] for r in rows}) < len(rows)
        public = [dict(r, id=r["sentence_id"]) for r in rows]  # the release reuses ids per language
        assert validate_path(write_jsonl(tmp_path / "e.jsonl", public), "entitycs").ok
        twice = write_jsonl(tmp_path / "e2.jsonl", [*public, public[0]])
        assert validate_path(twice, "entitycs").by_reason == Counter({"duplicate_id": 1})

    def test_raise_for_invalid_and_to_dict(self, tmp_path):
        rows = sample_rows("cultural.jsonl")
        rows[0]["nuances"][0]["category"] = "proverb"
        report = validate_path(write_jsonl(tmp_path / "c.jsonl", rows), "cultural")
        data = json.loads(json.dumps(report.to_dict()))
        assert data["invalid"] == 1 and data["by_reason"] == {"literal_error": 1}
        assert data["problems"][0]["field"] == "nuances[0].category"
        with pytest.raises(InvalidRecordsError) as info:
            report.raise_for_invalid()
        assert info.value.code == "DSB303"
        validate_path(sample_path("cultural.jsonl"), "cultural").raise_for_invalid()


class TestFormats:
    def test_detects_mushroom_under_psiloqa(self, tmp_path):
        row = {
            "id": "x",
            "lang": "EN",
            "model_input": "q",
            "model_output_text": "An answer.",
            "model_id": "m",
            "soft_labels": [{"start": 3, "end": 9, "prob": 0.7}],
            "hard_labels": [[3, 9]],
        }
        report = validate_path(write_jsonl(tmp_path / "m.jsonl", [row]), "psiloqa")
        assert (report.format, report.valid) == ("mushroom", 1)

    def test_forced_format_validates_against_it(self, tmp_path):
        path = write_jsonl(tmp_path / "p.jsonl", sample_rows("psiloqa.jsonl")[:2])
        report = validate_path(path, "psiloqa", fmt="mushroom")
        assert report.format == "mushroom"
        assert report.invalid == 2
        assert report.by_reason["missing"] > 0

    def test_medec_csv_is_detected(self, tmp_path):
        path = tmp_path / "m.csv"
        path.write_bytes(
            b"Text ID,Text,Sentences,Error Flag,Error Type,Error Sentence ID,Error Sentence,"
            b"Corrected Sentence,Corrected Text\r\n"
            b'ms-1,A. B.,"0 A.\r\n1 B.",0,NA,-1,NA,NA,NA\r\n'
            b'ms-2,A. B.,"0 A.\r\n1 B.",1,diagnosis,1,B.,C.,A. C.\r\n'
            b'ms-3,A. B.,"0 A.\r\n1 B.",1,diagnosis,5,B.,C.,A. C.\r\n'
        )
        report = validate_path(path, "medrect")
        assert (report.format, report.valid, report.invalid) == ("medec", 2, 1)
        assert [(p.locator, p.record_id, p.field, p.reason) for p in report.problems] == [
            (f"{path}:row 3", "ms-3", "Error Sentence ID", "error_sentence_id_out_of_range")
        ]

    def test_parquet_file(self, tmp_path):
        pl = pytest.importorskip("polars")
        rows = sample_rows("entitycs.jsonl")
        path = tmp_path / "e.parquet"
        pl.DataFrame(rows).write_parquet(path)
        report = validate_path(path, "entitycs")
        assert (report.format, report.valid, report.invalid) == ("entitycs", len(rows), 0)

    def test_unknown_dataset_and_format(self):
        path = sample_path("psiloqa.jsonl")
        for kwargs in (
            {"dataset": "nope"},
            {"dataset": "psiloqa", "fmt": "nope"},
            {"dataset": "psiloqa", "fmt": "medec"},
        ):
            with pytest.raises(ConfigError) as info:
                validate_path(path, **kwargs)
            assert info.value.code == "DSB105"

    def test_a_format_is_still_detected_when_a_key_is_missing_everywhere(self, tmp_path):
        rows = sample_rows("psiloqa.jsonl")
        for row in rows:
            del row["labels"]
        report = validate_path(write_jsonl(tmp_path / "p.jsonl", rows), "psiloqa")
        assert report.format == "psiloqa"
        assert report.by_reason == Counter({"missing": len(rows)})

    def test_undetectable_format(self, tmp_path):
        path = write_jsonl(tmp_path / "x.jsonl", [{"foo": 1}])
        with pytest.raises(InputError) as info:
            validate_path(path, "psiloqa")
        assert info.value.code == "DSB302"
        assert "--format" in str(info.value) or "format explicitly" in str(info.value)

    def test_file_of_only_broken_lines_reports_them(self, tmp_path):
        path = write_jsonl(tmp_path / "x.jsonl", ["{oops", "{still"])
        report = validate_path(path, "psiloqa")
        assert (report.format, report.valid, report.invalid) == (None, 0, 2)

    def test_missing_and_empty_inputs(self, tmp_path):
        with pytest.raises(InputError) as info:
            validate_path(tmp_path / "nope.jsonl", "psiloqa")
        assert info.value.code == "DSB301"
        (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
        with pytest.raises(InputError) as info:
            validate_path(tmp_path / "empty.jsonl", "psiloqa")
        assert info.value.code == "DSB304"

    def test_validation_writes_nothing(self, tmp_path):
        path = write_jsonl(tmp_path / "p.jsonl", sample_rows("psiloqa.jsonl"))
        validate_path(tmp_path, "psiloqa")
        assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.slow
def test_many_records(tmp_path):
    rows = sample_rows("psiloqa.jsonl")
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(100_000):
            row = dict(rows[i % len(rows)], id=f"r{i}")
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    report = validate_path(path, "psiloqa")
    assert (report.valid, report.invalid) == (100_000, 0)


# The real public files: each invalid record below was checked by hand against the file.
MEDRECT_DIR = "medrect"
REAL_DEFECTS = {
    # val-en-34: annotator_1fbf607dd218221a marked [301, 373) on a 372-character output.
    "mushroom/mushroom.en-val.v2.extra.jsonl": (
        49,
        {("val-en-34", "annotations.annotator_1fbf607dd218221a[5]", "span_out_of_range")},
    ),
    # ms-test-568 and ms-test-582: error_flag 1 but error_type null (MedRECT's reassignment
    # gave none).
    "medrect/medrect-en-accepted.json": (
        456,
        {
            ("ms-test-568", "error_type", "error_field_missing"),
            ("ms-test-582", "error_type", "error_field_missing"),
        },
    ),
    # ms-test-263 and ms-test-444: error_type null as above; ms-test-529: MEDEC's source merged
    # "30 Glucose negative 31 Protein" on one line, so the numbering jumps from 31 to 33.
    "medrect/medrect-en-rejected.json": (
        136,
        {
            ("ms-test-263", "error_type", "error_field_missing"),
            ("ms-test-444", "error_type", "error_field_missing"),
            ("ms-test-529", "sentences", "numbering_gap"),
        },
    ),
    "medrect/MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv": (574, set()),
    # 113D25 and 113E46: the five options are a table inside the question text; choices a-e
    # are empty.
    "medrect/jmle-2018-2025-source-questions.json": (
        1181,
        {("113D25", f"choices.{c}", "choice_empty") for c in "abcde"}
        | {("113E46", f"choices.{c}", "choice_empty") for c in "abcde"},
    ),
}
EXPECTED_FORMAT = {
    "mushroom": "mushroom",
    "medrect-en": "medrect",
    "MEDEC": "medec",
    "jmle": "jmle",
}


@pytest.mark.fixtures
@pytest.mark.parametrize("lang", ["ar", "de", "en", "es", "fi", "fr", "hi", "it", "sv", "zh"])
def test_real_mushroom_files(shared_fixtures, lang):
    rel = f"mushroom/mushroom.{lang}-val.v2.extra.jsonl"
    report = validate_path(shared_fixtures / rel, "psiloqa")
    assert report.format == "mushroom"
    valid, defects = REAL_DEFECTS.get(rel, (49 if lang == "sv" else 50, set()))
    assert report.valid == valid
    assert report.invalid == len({d[0] for d in defects})
    assert {(p.record_id, p.field, p.reason) for p in report.problems} == defects


@pytest.mark.fixtures
@pytest.mark.parametrize("rel", [k for k in REAL_DEFECTS if k.startswith("medrect/")])
def test_real_medrect_files(shared_fixtures, rel):
    report = validate_path(shared_fixtures / rel, "medrect")
    valid, defects = REAL_DEFECTS[rel]
    assert report.format == next(v for k, v in EXPECTED_FORMAT.items() if k in rel)
    assert report.valid == valid
    assert report.invalid == len({d[0] for d in defects})
    assert {(p.record_id, p.field, p.reason) for p in report.problems} == defects


@pytest.mark.fixtures
def test_real_mushroom_folder_in_one_go(shared_fixtures):
    report = validate_path(shared_fixtures / "mushroom", "psiloqa")
    # 499 validation items (one real defect) and the 5 Catalan test items, whose token and
    # logit lists are strings: read with a warning each (issue 14).
    assert (report.format, report.valid, report.warned, report.invalid) == ("mushroom", 503, 5, 1)
    assert report.by_reason == Counter({"span_out_of_range": 1})
    assert report.warnings_by_reason == Counter({"list_as_string": 10})
