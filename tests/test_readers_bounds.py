"""Readers stay bounded: long lines and fields, deep JSON (issue 15, part 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.errors import InputError
from dsbuild.readers import check_text_bounds, json_too_deep, loads_json, read_records


@pytest.fixture(autouse=True)
def small_cap(monkeypatch):
    monkeypatch.setenv("DSBUILD_MAX_FIELD_BYTES", "1000")


def test_jsonl_long_line_is_a_problem_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{"b": "' + "x" * 5000 + '"}\n{"c": 2}\n')
    items = list(read_records(path))
    assert [i.record for i in items] == [{"a": 1}, None, {"c": 2}]
    assert items[1].problem.code == "too_long" and "line 2" in items[1].problem.message


def test_jsonl_deep_line_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": ' + "[" * 300 + "]" * 300 + '}\n{"c": 2}\n')
    items = list(read_records(path))
    assert items[0].problem.code == "too_deep" and items[1].record == {"c": 2}


def test_json_list_deep_item(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"a": 1},\n{"b": ' + "[" * 300 + "]" * 300 + "}]")
    items = list(read_records(path))
    assert items[-1].problem.code == "too_deep" and "line 2" in items[-1].problem.message


def test_csv_long_record_raises_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('a,b\n1,2\n3,"' + "y\n" * 1000 + '"\n')
    with pytest.raises(InputError) as err:
        list(read_records(path))
    assert err.value.code == "DSB303" and "a.csv: the record starting on line 3" in str(err.value)


def test_check_text_bounds(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n" + "1,2\n" * 100 + "3," + "z" * 3000 + "\n")
    with pytest.raises(InputError, match="line 102"):
        check_text_bounds(path)
    path.write_text("a,b\n" + '1,"2\n3"\n' * 100)
    check_text_bounds(path)


def test_depth_helpers() -> None:
    assert json_too_deep('{"x": "' + "[" * 100 + '"}') is None  # brackets in strings do not count
    assert json_too_deep("[" * 64 + "]" * 64) is None
    assert json_too_deep("[" * 65 + "]" * 65) == 64
    with pytest.raises(InputError, match="deeper than 64 levels"):
        loads_json("\n" + "[" * 65 + "]" * 65, "f.json")
    assert loads_json('{"a": [1]}', "x") == {"a": [1]}
    with pytest.raises(json.JSONDecodeError):
        loads_json("{", "x")
