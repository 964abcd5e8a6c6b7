from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dsbuild.cli.app import app

ROWS = [
    {"id": "a", "lang": "de", "text": "Die Stadt liegt am Ufer des Flusses und ist sehr alt."},
    {"id": "b", "lang": "de", "text": "The city lies on the bank of the river and is very old."},
    {"id": "c", "lang": "fr", "text": "Paris"},
    {"id": "d", "lang": "de", "text": "die stadt liegt am ufer des flusses und ist sehr alt"},
    {
        "id": "e",
        "lang": "fr",
        "text": "CafÃ© <b>près</b> de la gare du Nord, ouvert tous les jours",
    },
]


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS) + "{not json\n",
        encoding="utf-8",
    )
    return path


def _json(args):
    result = CliRunner().invoke(app, ["check", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_check_langid_json(jsonl):
    data = _json(["langid", str(jsonl), "--field", "text", "--lang-field", "lang"])
    assert {k: data[k] for k in ("total", "kept", "rejected", "by_reason")} == {
        "total": 5,
        "kept": 4,
        "rejected": 1,
        "by_reason": {"wrong_language": 1},
    }
    assert data["per_language"]["de"] == {"n": 3, "agree": 2, "kept": 2, "rejected": 1}
    assert data["per_language"]["fr"]["n"] == 2 and data["abstained"] == 1
    assert data["unreadable"] == 1
    by_id = {r.get("id"): r for r in data["records"]}
    assert by_id["b"]["reason"] == "wrong_language" and by_id["b"]["detected"] == "en"


def test_check_langid_with_one_language_and_threshold(jsonl):
    data = _json(
        [
            "langid",
            str(jsonl),
            "--field",
            "text",
            "--lang",
            "de",
            "--threshold",
            "de=0.99",
            "--min-chars",
            "1",
        ]
    )
    assert data["rejected"] >= 2


def test_check_langid_needs_a_language(jsonl):
    result = CliRunner().invoke(app, ["check", "langid", str(jsonl), "--field", "text"])
    assert result.exit_code == 2 and "--lang-field" in result.output


def test_check_dedup_json_and_reference(jsonl, tmp_path):
    data = _json(["dedup", str(jsonl), "--field", "text"])
    assert data["by_reason"] == {"duplicate_exact": 1}
    assert [r["duplicate_of"] for r in data["records"] if r["status"] == "rejected"] == ["a"]
    ref = tmp_path / "ref.csv"
    ref.write_text("id,question\nr1,The city lies on the bank of the river and is very old\n")
    data = _json(
        [
            "dedup",
            str(jsonl),
            "--field",
            "text",
            "--reference",
            str(ref),
            "--reference-field",
            "question",
        ]
    )
    assert data["rejected"] == 2
    assert {r.get("duplicate_of") for r in data["records"]} >= {"ref:r1", "a"}


def test_check_hygiene_json_and_table(jsonl):
    data = _json(["hygiene", str(jsonl), "--field", "text"])
    assert data["by_reason"] == {"leftover_markup": 1}
    data = _json(["hygiene", str(jsonl), "--field", "text", "--allow-markup", "html"])
    assert data["rejected"] == 0 and data["repairs"] == {"mojibake": 1}
    result = CliRunner().invoke(
        app, ["check", "hygiene", str(jsonl), "--field", "text", "--allow-markup", "html"]
    )
    assert result.exit_code == 0 and "Totals" in result.output and "mojibake" in result.output


def test_check_reads_parquet(tmp_path):
    pl = pytest.importorskip("polars")
    path = tmp_path / "rows.parquet"
    pl.DataFrame(ROWS).write_parquet(path)
    data = _json(["dedup", str(path), "--field", "text", "--lang-field", "lang"])
    assert data["total"] == 5 and data["per_language"]["de"]["rejected"] == 1


def test_missing_field_is_a_usage_error(jsonl, capsys):
    from dsbuild.cli import main

    code = main(["check", "dedup", str(jsonl), "--field", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "DSB103" in err and "'nope'" in err


@pytest.mark.fixtures
def test_check_langid_on_mushroom(shared_fixtures):
    path = shared_fixtures / "mushroom" / "mushroom.fi-val.v2.extra.jsonl"
    data = _json(["langid", str(path), "--field", "model_input", "--lang-field", "lang"])
    assert data["total"] == 50 and data["per_language"]["FI"]["agree"] == 50
