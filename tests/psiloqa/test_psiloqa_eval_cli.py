from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dsbuild.cli import main
from dsbuild.cli.app import app
from dsbuild.errors import InputError

GOLD = [
    {
        "id": "a",
        "lang": "EN",
        "model_input": "q",
        "model_output_text": "hello world",
        "model_id": "m",
        "soft_labels": [{"start": 6, "end": 11, "prob": 1.0}],
        "hard_labels": [[6, 11]],
    },
    {
        "id": "b",
        "lang": "EN",
        "model_input": "q",
        "model_output_text": "fine",
        "model_id": "m",
        "soft_labels": [],
        "hard_labels": [],
    },
    {
        "id": "c",
        "lang": "ZH",
        "model_input": "q",
        "model_output_text": "你好世界",
        "model_id": "m",
        "soft_labels": [{"start": 2, "end": 4, "prob": 0.75}],
        "hard_labels": [[2, 4]],
    },
]


def _row(rid, lang, text, labels):
    return {
        "id": rid,
        "lang": lang,
        "wiki_title": "",
        "wiki_url": "",
        "llm_checkpoint": "m",
        "wiki_passage": "",
        "question": "q",
        "golden_answer": "",
        "llm_answer": text,
        "annotated_span": None,
        "complexity": None,
        "labels": labels,
    }


def _write(path, records, jsonl=True):
    if jsonl:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    else:
        path.write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    return str(path)


def test_eval_psiloqa_rows_against_mushroom_gold_json(tmp_path):
    gold = _write(tmp_path / "gold.jsonl", GOLD)
    # a PsiloQA JSON list: "a" exact, "b" a false alarm, "c" half of the span
    pred = _write(
        tmp_path / "pred.json",
        [
            _row("a", "en", "hello world", [[6, 11]]),
            _row("b", "en", "fine", [[0, 2]]),
            _row("c", "zh", "你好世界", [[3, 4]]),
        ],
        jsonl=False,
    )
    result = CliRunner().invoke(app, ["psiloqa", "eval", pred, gold, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    # b: IoU 0 (pred {0,1}, gold empty); Cor 0 (gold constant, pred not); AP undefined
    # c: IoU 1/2; pred [0,0,0,1] vs gold [0,0,.75,.75]: phi = (1*2-0*1)/sqrt(1*3*2*2) = 2/sqrt(12)
    #    AP: at 1.0 {3}: P=1, R=.5; at 0: all 4, P=.5 -> .5 + .25 = .75
    assert out["per_language"]["en"] == {"iou": 0.5, "cor": 0.5, "ap": 1.0, "n": 2, "n_ap": 1}
    zh = out["per_language"]["zh"]
    assert zh["iou"] == 0.5 and zh["cor"] == pytest.approx(2 / 12**0.5) and zh["ap"] == 0.75
    assert out["overall"]["n"] == 3 and out["overall"]["iou"] == pytest.approx(1.5 / 3)
    assert out["missing"] == 0 and out["extra"] == 0


def test_eval_table(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    gold = _write(tmp_path / "gold.jsonl", GOLD)
    result = CliRunner().invoke(app, ["psiloqa", "eval", gold, gold])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("overall" in line and "3" in line and "1.0000" in line for line in lines)
    assert any(line.split("│")[1:2] == [" zh       "] for line in lines)
    for column in ("IoU", "Cor", "AP"):
        assert column in result.output


def test_missing_ids_fail_with_exit_3_unless_allowed(tmp_path, capsys):
    gold = _write(tmp_path / "gold.jsonl", GOLD)
    pred = _write(tmp_path / "pred.jsonl", GOLD[:1])
    result = CliRunner().invoke(app, ["psiloqa", "eval", pred, gold])
    assert isinstance(result.exception, InputError) and "'b', 'c'" in str(result.exception)
    assert main(["psiloqa", "eval", pred, gold]) == 3
    assert "error DSB303: 2 gold id(s) have no prediction: 'b', 'c'" in capsys.readouterr().err
    result = CliRunner().invoke(app, ["psiloqa", "eval", pred, gold, "--allow-missing", "--json"])
    out = json.loads(result.output)
    assert out["missing"] == 2
    # b (empty/empty) scores 1, c (empty vs gold) scores 0
    assert out["overall"]["iou"] == pytest.approx(2 / 3)


def test_convert_both_ways(tmp_path):
    gold = _write(tmp_path / "gold.jsonl", GOLD)
    rows, back = tmp_path / "rows.jsonl", tmp_path / "back.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["psiloqa", "convert", gold, "--to", "psiloqa", "--out", str(rows)])
    assert result.exit_code == 0 and "converted 3 mushroom record(s)" in result.output
    first = json.loads(rows.read_text("utf-8").splitlines()[0])
    assert (
        first["llm_answer"] == "hello world" and first["annotated_span"] == "hello [HAL]world[/HAL]"
    )
    assert "你好世界" in rows.read_text("utf-8")
    result = runner.invoke(
        app, ["psiloqa", "convert", str(rows), "--to", "mushroom", "--out", str(back), "--json"]
    )
    assert json.loads(result.output) == {
        "in": str(rows),
        "from": "psiloqa",
        "to": "mushroom",
        "out": str(back),
        "records": 3,
    }
    assert [json.loads(line) for line in back.read_text("utf-8").splitlines()] == GOLD


def test_help_lists_the_verbs():
    result = CliRunner().invoke(app, ["psiloqa", "--help"])
    assert "eval" in result.output and "convert" in result.output


@pytest.mark.fixtures
def test_eval_fixture_gold_against_itself(shared_fixtures, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_bytes(
        b"".join(
            p.read_bytes() for p in sorted((shared_fixtures / "mushroom").glob("*-val.*.jsonl"))
        )
    )
    result = CliRunner().invoke(app, ["psiloqa", "eval", str(gold), str(gold), "--json"])
    out = json.loads(result.output)
    assert out["overall"] == {"iou": 1.0, "cor": 1.0, "ap": 1.0, "n": 499, "n_ap": 478}
    assert sorted(out["per_language"]) == [
        "ar",
        "de",
        "en",
        "es",
        "fi",
        "fr",
        "hi",
        "it",
        "sv",
        "zh",
    ]
