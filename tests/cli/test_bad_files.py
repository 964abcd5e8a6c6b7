"""Bad files give one line and exit 3, never DSB100 or a click usage error (issue 15, part 5)."""

from __future__ import annotations

import bz2
import errno
import json
import zipfile
from pathlib import Path

import pytest

MEDRECT = {
    "sample_id": "a",
    "sentences": "1. x",
    "error_flag": 0,
    "error_type": None,
    "error_sentence_id": None,
    "error_sentence": None,
    "corrected_sentence": None,
    "corrected_text": None,
}
MUSHROOM = {
    "id": "1",
    "lang": "EN",
    "model_input": "q",
    "model_output_text": "a",
    "hard_labels": [[0, 1]],
    "soft_labels": [],
}
SHEET = "Text ID,Target locale,Model,Rater ID,Overall\nt1,ja-JP,m,r1,2\n"


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("dsbuild: error DSB3"), err
    return lines[0]


def test_long_csv_line(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DSBUILD_MAX_FIELD_BYTES", "1000")
    path = tmp_path / "r.csv"
    path.write_text(SHEET + "t2,ja-JP,m,r1," + "x" * 3000 + "\n")
    code, _, err = cli("cultural", "analyze", str(path))
    assert code == 3 and "r.csv: line 3 is longer than" in one_line(err)


def test_deep_json(cli, tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text("[" * 5000 + "]" * 5000)
    code, _, err = cli(
        "medrect", "convert", str(path), "--to", "medec-csv", "--out", str(tmp_path / "o.csv")
    )
    assert code == 3 and "deeper than 64 levels" in one_line(err)


@pytest.mark.parametrize("broken", ["junk", "xml"])
def test_junk_xlsx(cli, tmp_path: Path, broken: str) -> None:
    path = tmp_path / "s.xlsx"
    if broken == "junk":
        path.write_bytes(bytes(range(256)) * 8)
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("[Content_Types].xml", "<Types")
            z.writestr("xl/workbook.xml", "<workbook><oops")
    code, _, err = cli("cultural", "analyze", str(path))
    assert code == 3 and "DSB302" in one_line(err) and "s.xlsx" in err


@pytest.mark.parametrize("exc", [PermissionError, NotADirectoryError])
def test_unwritable_out(cli, tmp_path: Path, monkeypatch, exc) -> None:
    source = tmp_path / "m.json"
    source.write_text(json.dumps([MEDRECT]))
    out = tmp_path / "out" / "o.csv"

    def refuse(rows, path, **_):
        raise exc(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("dsbuild.medrect.formats.write_medec", refuse)
    code, _, err = cli("medrect", "convert", str(source), "--to", "medec-csv", "--out", str(out))
    assert code == 3 and f"cannot open {out}" in one_line(err)


def test_out_under_a_file(cli, tmp_path: Path) -> None:
    sheet = tmp_path / "r.csv"
    sheet.write_text(SHEET)
    code, _, err = cli(
        "cultural", "convert", str(sheet), "--to", "wide-csv", "--out", str(sheet / "x.csv")
    )
    assert code == 3 and "r.csv" in one_line(err)


def test_medrect_convert_refuses_mushroom(cli, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps([MUSHROOM] * 3))
    out = tmp_path / "o.csv"
    code, _, err = cli("medrect", "convert", str(path), "--to", "medec-csv", "--out", str(out))
    assert code == 3 and "looks like Mu-SHROOM items (model_input, model_output_text)" in one_line(
        err
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("psiloqa", "stats"),
        ("medrect", "stats"),
        ("check", "hygiene", "--field", "text"),
        ("check", "dedup", "--field", "text"),
    ],
)
def test_unreadable_file_fails_stats_and_checks(cli, tmp_path: Path, args) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"\xff\xfe garbage\nnot json either\n")
    code, _, err = cli(*args, str(path))
    assert code == 3 and "no record of" in one_line(err)


def test_wikidata_empty_and_foreign_and_truncated(tmp_path: Path) -> None:
    from dsbuild.errors import InputError
    from dsbuild.wikidata.dump import DumpStats, iter_entities

    empty = tmp_path / "e.json"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="holds no entities"):
        list(iter_entities(empty))
    foreign = tmp_path / "m.jsonl"
    foreign.write_text(json.dumps(MUSHROOM) + "\n")
    with pytest.raises(InputError, match="not a Wikidata JSON dump"):
        list(iter_entities(foreign))
    lines = (
        b"[\n"
        + b"".join(
            json.dumps({"type": "item", "id": f"Q{n}", "x": "y" * 200}).encode() + b",\n"
            for n in range(1, 6000)
        )
        + b"]\n"
    )
    data = bz2.compress(lines)
    cut = tmp_path / "c.json.bz2"
    cut.write_bytes(data[: len(data) // 2])
    stats = DumpStats()
    list(iter_entities(cut, stats=stats, decompressor="python"))
    assert stats.truncated and "ends early at byte" in stats.problems[0].detail


@pytest.mark.parametrize("where", ["dir", "missing"])
def test_click_path_errors_are_one_line(cli, tmp_path: Path, where: str) -> None:
    path = tmp_path if where == "dir" else tmp_path / "nope.json"
    code, _, err = cli("medrect", "eval", str(path), str(path))
    assert code == 3 and one_line(err)
