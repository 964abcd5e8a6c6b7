"""Leaderboards: seeded bootstrap intervals, ranking, baselines that score as the eval
commands score them, per-language tables, JSON and a PNG chart."""

from __future__ import annotations

import json

import pytest

from dsbuild.metrics.leaderboard import (
    Entry,
    Metric,
    bootstrap_interval,
    leaderboard,
    mean_of,
)

MEAN = (Metric("x", "x", mean_of("x")),)


def _entry(name: str, values: list[float], kind: str = "prediction") -> Entry:
    return Entry(name, kind, {str(i): {"x": v} for i, v in enumerate(values)})


def test_percentile_interval_of_known_values():
    assert bootstrap_interval([float(v) for v in range(101)]) == pytest.approx((2.5, 97.5))
    assert bootstrap_interval([None, 1.0]) == (1.0, 1.0)
    assert bootstrap_interval([None]) == (None, None)


def test_intervals_are_seeded_and_hold_the_value():
    values = [0, 1, 1, 0, 1, 1, 1, 0, 1, 0] * 3
    groups = {str(i): "all" for i in range(len(values))}
    a = leaderboard([_entry("a", values)], MEAN, groups, n_boot=300, seed=1)
    b = leaderboard([_entry("a", values)], MEAN, groups, n_boot=300, seed=1)
    c = leaderboard([_entry("a", values)], MEAN, groups, n_boot=300, seed=2)
    score = a["groups"]["all"]["rows"][0]["scores"]["x"]
    assert a == b and a != c
    assert score["value"] == pytest.approx(0.6)
    assert score["lo"] < score["value"] < score["hi"]
    assert 0.35 < score["lo"] and score["hi"] < 0.85


def test_a_constant_system_has_a_zero_width_interval():
    board = leaderboard([_entry("c", [1.0] * 20)], MEAN, {str(i): "g" for i in range(20)})
    s = board["groups"]["all"]["rows"][0]["scores"]["x"]
    assert s["lo"] == s["hi"] == s["value"] == 1.0


def test_rows_are_ranked_and_groups_are_split():
    groups = {"0": "de", "1": "de", "2": "fi", "3": "fi"}
    board = leaderboard(
        [_entry("low", [0, 0, 1, 0]), _entry("high", [1, 1, 1, 0], "baseline")],
        MEAN,
        groups,
        n_boot=50,
    )
    assert [r["name"] for r in board["groups"]["all"]["rows"]] == ["high", "low"]
    assert [r["rank"] for r in board["groups"]["all"]["rows"]] == [1, 2]
    assert set(board["groups"]) == {"all", "de", "fi"}
    de = {r["name"]: r["scores"]["x"]["value"] for r in board["groups"]["de"]["rows"]}
    assert de == {"high": 1.0, "low": 0.0}


def test_an_unknown_metric_to_rank_by_is_refused():
    from dsbuild.errors import UsageError

    with pytest.raises(UsageError, match="nope"):
        leaderboard([_entry("a", [1])], MEAN, {"0": "g"}, rank_by="nope")


# ---------------------------------------------------------------- MedRECT


def test_medrect_baselines_score_as_medrect_eval(shared_fixtures, tmp_path):
    from dsbuild.medrect.formats import read_medrect
    from dsbuild.medrect.leaderboard import baselines, board
    from dsbuild.metrics.correction import evaluate, items_from_records

    gold_path = shared_fixtures / "medrect" / "medrect-en-accepted.json"
    records = read_medrect(gold_path)
    gold = items_from_records(records)
    result = board([], gold_path, n_boot=0)
    rows = {r["name"]: r["scores"] for r in result["groups"]["all"]["rows"]}
    for name, pred in baselines({str(r["sample_id"]): r for r in records}).items():
        expected = evaluate(pred, gold, model_metrics=False)["scores"]
        for metric in (
            "error_flag_accuracy",
            "error_flag_f1",
            "error_sentence_accuracy",
            "rouge1_composite",
        ):
            assert rows[name][metric]["value"] == pytest.approx(expected[metric]), (name, metric)
    assert rows["always no error"]["error_flag_accuracy"]["value"] == pytest.approx(215 / 458)


def test_medrect_scores_only_the_ids_every_prediction_has(shared_fixtures, tmp_path, cli):
    gold = shared_fixtures / "medrect" / "medrect-ja-excerpt40.json"
    records = json.loads(gold.read_text("utf-8"))
    pred = tmp_path / "some.json"
    pred.write_text(json.dumps(records[:10], ensure_ascii=False), "utf-8")  # gold as prediction
    chart = tmp_path / "board.png"
    code, out, err = cli(
        "medrect",
        "leaderboard",
        str(pred),
        "--gold",
        str(gold),
        "--json",
        "--bootstrap",
        "100",
        "--chart",
        str(chart),
        "--no-floor",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["items"] == 10 and result["gold_records"] == 40
    top = result["groups"]["all"]["rows"][0]
    assert top["name"] == "some" and top["scores"]["error_sentence_accuracy"]["value"] == 1.0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = cli(
        "medrect",
        "leaderboard",
        str(pred),
        "--gold",
        str(gold),
        "--json",
        "--allow-missing",
        "--no-floor",
    )
    assert json.loads(out)["items"] == 40


# ---------------------------------------------------------------- Mu-SHROOM


def test_psiloqa_baselines_score_as_psiloqa_eval_per_language(shared_fixtures, cli):
    from dsbuild.metrics.spans import evaluate
    from dsbuild.psiloqa.detect import read_items
    from dsbuild.psiloqa.leaderboard import baselines

    files = sorted((shared_fixtures / "mushroom").glob("*-val.v2.extra.jsonl"))
    code, out, err = cli(
        "psiloqa",
        "leaderboard",
        *[x for f in files for x in ("--gold", str(f))],
        "--json",
        "--no-floor",
        "--bootstrap",
        "50",
    )
    assert code == 0, err
    result = json.loads(out)
    assert set(result["groups"]) == {
        "all",
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
    }
    gold = read_items(files)
    for name, pred in baselines({str(g["id"]): g for g in gold}).items():
        expected = evaluate(list(pred.values()), gold)
        for lang, s in expected.per_language().items():
            row = next(r for r in result["groups"][lang]["rows"] if r["name"] == name)
            assert row["scores"]["iou"]["value"] == pytest.approx(s["iou"])
            assert row["scores"]["cor"]["value"] == pytest.approx(s["cor"])


def test_psiloqa_leaderboard_ranks_a_perfect_prediction_first(tmp_path, cli):
    gold = tmp_path / "gold.jsonl"
    items = [
        {"id": "1", "lang": "EN", "model_output_text": "abc def", "hard_labels": [[4, 7]]},
        {"id": "2", "lang": "EN", "model_output_text": "ghi", "hard_labels": []},
    ]
    gold.write_text("".join(json.dumps(i) + "\n" for i in items), "utf-8")
    code, out, err = cli(
        "psiloqa", "leaderboard", str(gold), "--gold", str(gold), "--json", "--no-floor"
    )
    assert code == 0, err
    rows = json.loads(out)["groups"]["all"]["rows"]
    assert [r["name"] for r in rows][0] == "gold"
    assert {r["name"]: r["scores"]["iou"]["value"] for r in rows} == {
        "gold": 1.0,
        "no spans": 0.5,
        "whole answer": pytest.approx((3 / 7 + 0) / 2),
    }
    code, out, _ = cli("psiloqa", "leaderboard", str(gold), "--gold", str(gold), "--no-floor")
    assert code == 0 and "whole answer" in out and "baseline" in out


def test_the_embedded_model_is_marked_as_the_floor(tmp_path, cli):
    from dsbuild.metrics.leaderboard import FLOOR, kind_of

    assert kind_of("local:smollm2") == FLOOR
    assert kind_of("local:smollm2, openai:gpt-4o") == "prediction"
    assert kind_of("") == "prediction"
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"id": "1", "lang": "EN", "model_output_text": "ab", "hard_labels": []}) + "\n",
        "utf-8",
    )
    pred = tmp_path / "smol.jsonl"
    pred.write_text(
        json.dumps(
            {
                "id": "1",
                "model_output_text": "ab",
                "hard_labels": [],
                "prediction": {"models": "local:smollm2"},
            }
        )
        + "\n",
        "utf-8",
    )
    code, out, err = cli("psiloqa", "leaderboard", str(pred), "--gold", str(gold), "--json")
    assert code == 0, err
    kinds = {r["name"]: r["kind"] for r in json.loads(out)["groups"]["all"]["rows"]}
    assert kinds == {"smol": FLOOR, "no spans": "baseline", "whole answer": "baseline"}
