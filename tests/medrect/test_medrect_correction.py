from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dsbuild.cli.app import app
from dsbuild.metrics.correction import (
    EvalItem,
    evaluate,
    lcs_length,
    rouge_l,
    rouge_n,
    tokenize,
)


def test_tokenize_scripts():
    assert tokenize("Culture grows E. coli, 3.0 mg!") == [
        "culture",
        "grows",
        "e",
        "coli",
        "3.0",
        "mg",
    ]
    assert tokenize("ＣＲＰは陰性。") == ["crp", "は", "陰", "性"]


def test_rouge_by_hand():
    pred, ref = ["the", "cat", "sat", "on", "the", "mat"], ["the", "cat", "is", "on", "the", "mat"]
    # unigrams: overlap the,cat,on,the,mat = 5 of 6 each side -> F = 5/6
    assert rouge_n(pred, ref, 1) == pytest.approx(5 / 6)
    # bigrams: (the cat), (on the), (the mat) = 3 of 5 each side -> F = 3/5
    assert rouge_n(pred, ref, 2) == pytest.approx(3 / 5)
    # LCS the cat on the mat = 5 -> F = 5/6
    assert lcs_length(pred, ref) == 5
    assert rouge_l(pred, ref) == pytest.approx(5 / 6)
    # unequal lengths: P = 2/2, R = 2/4 -> F = 2/3
    assert rouge_n(["a", "b"], ["a", "b", "c", "d"], 1) == pytest.approx(2 / 3)
    assert rouge_n(["x"], ["x"], 2) == 1.0 and rouge_n(["x"], ["y"], 2) == 0.0
    # Japanese by character: 抗菌薬 vs 抗真菌薬 -> overlap 抗,菌,薬 = 3; P = 3/3, R = 3/4 -> F = 6/7
    assert rouge_n(tokenize("抗菌薬"), tokenize("抗真菌薬"), 1) == pytest.approx(6 / 7)


def test_evaluate_by_hand():
    gold = {
        "1": EvalItem(1, 3, "the cat is on the mat"),
        "2": EvalItem(1, 2, "aspirin is given"),
        "3": EvalItem(0, None, None),
        "4": EvalItem(0, None, None),
        "5": EvalItem(1, 1, "x y"),
    }
    pred = {
        "1": EvalItem(1, 3, "the cat sat on the mat"),  # right flag and sentence, R1 5/6
        "2": EvalItem(0, None, None),  # missed error -> FN, correction 0
        "3": EvalItem(1, 2, "something"),  # false alarm -> FP, correction 0
        "4": EvalItem(0, None, None),  # right, both NA -> 1
        # "5" missing -> counts wrong everywhere
    }
    result = evaluate(pred, gold, model_metrics=False)
    s = result["scores"]
    assert s["error_flag_accuracy"] == pytest.approx(2 / 5)
    assert (s["error_flag_precision"], s["error_flag_recall"]) == (
        pytest.approx(1 / 2),
        pytest.approx(1 / 3),
    )
    assert s["error_flag_f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))
    assert s["error_sentence_accuracy"] == pytest.approx(2 / 5)  # items 1 and 4
    assert s["error_sentence_accuracy_on_errors"] == pytest.approx(1 / 3)
    assert s["rouge1_subset"] == pytest.approx(5 / 6)  # one pair
    assert s["rouge1_composite"] == pytest.approx((5 / 6 + 1) / 5)
    assert s["aggregate_composite"] == pytest.approx((5 / 6 + 1) / 5)
    assert s["bertscore_subset"] is None and set(result["skipped"]) == {"bertscore", "bleurt"}
    assert result["aggregate_components"] == ["rouge1"]
    assert result["counts"]["missing_predictions"] == 1


def test_perfect_against_itself():
    gold = {"a": EvalItem(1, 2, "抗菌薬を投与した。"), "b": EvalItem(0, None, None)}
    s = evaluate(gold, gold, model_metrics=False)["scores"]
    scored = {k: v for k, v in s.items() if v is not None}
    assert set(s) - set(scored) == {
        f"{m}_{v}" for m in ("bertscore", "bleurt") for v in ("subset", "composite")
    }
    assert len(scored) == 14 and set(scored.values()) == {1.0}  # flags, sentences, ROUGE, aggregate


def _write(path, records):
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")


def _record(i, flag):
    return {
        "sample_id": f"r{i}",
        "sentences": "1. A boy has strep throat.\n2. He is given ciprofloxacin.",
        "error_flag": flag,
        "error_type": "medication_selection" if flag else None,
        "error_sentence_id": 2 if flag else None,
        "error_sentence": "He is given ciprofloxacin." if flag else None,
        "corrected_sentence": "He is given amoxicillin." if flag else None,
        "corrected_text": "A boy has strep throat. He is given amoxicillin." if flag else None,
    }


def test_cli_eval_and_convert(tmp_path):
    gold = tmp_path / "gold.json"
    _write(gold, [_record(0, 1), _record(1, 0)])
    pred = tmp_path / "pred.json"
    _write(
        pred, [{**_record(0, 1), "corrected_sentence": "He is given penicillin."}, _record(1, 0)]
    )
    runner = CliRunner()
    out = runner.invoke(app, ["medrect", "eval", str(pred), str(gold), "--json"])
    assert out.exit_code == 0, out.output
    scores = json.loads(out.output)
    assert scores["error_flag_f1"] == 1.0
    # he,is,given match 3 of 4 -> R1 = 3/4; composite (3/4 + 1 both-NA) / 2
    assert scores["rouge1_subset"] == pytest.approx(3 / 4)
    assert scores["aggregate_composite"] == pytest.approx(7 / 8)
    assert "bertscore" in scores["skipped"]
    table = runner.invoke(app, ["medrect", "eval", str(gold), str(gold)])
    assert table.exit_code == 0 and "skipped" in table.output
    csv_out = tmp_path / "gold.csv"
    conv = runner.invoke(
        app, ["medrect", "convert", str(gold), "--to", "medec-csv", "--out", str(csv_out)]
    )
    assert conv.exit_code == 0, conv.output
    from dsbuild.medrect.formats import read_medec

    assert [(r["Text ID"], r["Error Sentence ID"]) for r in read_medec(csv_out)] == [
        ("r0", "1"),
        ("r1", "-1"),
    ]
    # MEDEC CSV predictions against MedRECT JSON gold: ids and numbering line up
    again = runner.invoke(app, ["medrect", "eval", str(csv_out), str(gold), "--json"])
    assert json.loads(again.output)["error_sentence_accuracy"] == 1.0


def test_cli_eval_no_common_ids(tmp_path):
    gold, pred = tmp_path / "g.json", tmp_path / "p.json"
    _write(gold, [_record(0, 1)])
    _write(pred, [{**_record(0, 1), "sample_id": "zzz"}])
    from dsbuild.cli import main
    from dsbuild.errors import InputError

    out = CliRunner().invoke(app, ["medrect", "eval", str(pred), str(gold)])
    assert isinstance(out.exception, InputError) and out.exception.code == "DSB303"
    assert main(["medrect", "eval", str(pred), str(gold)]) == 3
