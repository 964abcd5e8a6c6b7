"""Mu-SHROOM files as released: the labelled test set stores `model_output_tokens` and
`model_output_logits` as strings holding Python lists. Read with a warning; validate, eval
and convert give the same results as on clean lists (issue 14)."""

from __future__ import annotations

import json
import math

import pytest

from dsbuild.psiloqa.mushroom import convert_file, read_labelled
from dsbuild.quirks import Warnings
from dsbuild.schemas._common import list_from_string
from dsbuild.validation import validate_path

TOKENS = ["K", "asp", "'", '"', "▁es", "<0x0A>"]
LOGITS = [16.01, 19.12, -3.5, 0.0, 1e-05, 2.0]


def item(i: int, *, as_strings: bool) -> dict:
    text = "Kaspíisk es una ciutat."
    record = {
        "id": f"tst-ca-{i}",
        "lang": "CA",
        "model_input": "On és Kaspíisk?",
        "model_output_text": text,
        "model_id": "m",
        "soft_labels": [{"start": 0, "prob": 1.0, "end": 8}],
        "hard_labels": [[0, 8]],
        "model_output_tokens": TOKENS,
        "model_output_logits": LOGITS,
    }
    if as_strings:  # as Python's str(list) writes them, which is what the release holds
        record["model_output_tokens"] = str(TOKENS)
        record["model_output_logits"] = str(LOGITS)
    return record


def write(path, records):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (str(TOKENS), TOKENS),
        (str(LOGITS), LOGITS),
        (json.dumps(TOKENS), TOKENS),
        ("[]", []),
        ("  [1, -2, [3, 'x'], None, True]  ", [1, -2, [3, "x"], None, True]),
    ],
)
def test_list_from_string(text, value):
    assert list_from_string(text) == value


def test_list_from_string_reads_nan_and_inf():
    value = list_from_string("[1.5, nan, -inf, inf]")
    assert value[0] == 1.5 and math.isnan(value[1]) and value[2:] == [-math.inf, math.inf]


@pytest.mark.parametrize(
    "text", ["not a list", "[1, foo]", "[__import__('os')]", "[1, 2", "{'a': 1}", "[1+2]"]
)
def test_list_from_string_refuses_anything_but_literals(text):
    assert list_from_string(text) is None


def test_validate_warns_and_strict_refuses(tmp_path, cli):
    path = write(tmp_path / "ca.jsonl", [item(1, as_strings=True), item(2, as_strings=False)])
    report = validate_path(path, "psiloqa")
    assert (report.valid, report.warned, report.invalid) == (2, 1, 0)
    assert dict(report.warnings_by_reason) == {"list_as_string": 2}
    assert {w.field for w in report.warnings} == {"model_output_tokens", "model_output_logits"}
    strict = validate_path(path, "psiloqa", strict=True)
    assert (strict.valid, strict.invalid) == (1, 1)
    assert cli("psiloqa", "validate", str(path))[0] == 0
    assert cli("psiloqa", "validate", "--strict", str(path))[0] == 3


def test_a_string_that_is_no_list_is_still_an_error(tmp_path):
    bad = item(1, as_strings=False) | {"model_output_logits": "sixteen"}
    report = validate_path(write(tmp_path / "bad.jsonl", [bad]), "psiloqa")
    assert report.invalid == 1 and report.by_reason["list_type"] == 1


def test_read_convert_and_eval_equal_clean_lists(tmp_path, cli):
    quirky = write(tmp_path / "quirky.jsonl", [item(i, as_strings=True) for i in range(3)])
    clean = write(tmp_path / "clean.jsonl", [item(i, as_strings=False) for i in range(3)])
    warnings = Warnings()
    assert read_labelled(quirky, warnings) == read_labelled(clean)
    assert (warnings.records, warnings.by_reason["list_as_string"]) == (3, 6)
    for src in (quirky, clean):
        convert_file(src, "psiloqa", tmp_path / f"{src.stem}.rows.jsonl")
    assert (tmp_path / "quirky.rows.jsonl").read_bytes() == (
        tmp_path / "clean.rows.jsonl"
    ).read_bytes()
    scores = [
        json.loads(cli("psiloqa", "eval", str(p), str(clean), "--json")[1]) for p in (quirky, clean)
    ]
    assert scores[0] == scores[1]
    code, _, err = cli("psiloqa", "eval", str(quirky), str(clean), "--json")
    assert code == 0 and "list_as_string x6" in err
    code, _, _ = cli(
        "psiloqa",
        "convert",
        str(quirky),
        "--to",
        "psiloqa",
        "--out",
        str(tmp_path / "x.jsonl"),
        "--strict",
    )
    assert code == 3 and not (tmp_path / "x.jsonl").exists()


def test_real_catalan_test_excerpt(shared_fixtures, tmp_path):
    path = shared_fixtures / "mushroom" / "mushroom.ca-tst.v1.excerpt5.jsonl"
    report = validate_path(path, "psiloqa")
    assert (report.valid, report.warned, report.invalid) == (5, 5, 0)
    assert dict(report.warnings_by_reason) == {"list_as_string": 10}
    _, records = read_labelled(path)
    for record in records:
        assert isinstance(record["model_output_tokens"], list)
        assert len(record["model_output_tokens"]) == len(record["model_output_logits"])
    convert_file(path, "psiloqa", tmp_path / "rows.jsonl")
    convert_file(tmp_path / "rows.jsonl", "mushroom", tmp_path / "back.jsonl")
    assert [json.loads(x) for x in (tmp_path / "back.jsonl").read_text().splitlines()] == records
