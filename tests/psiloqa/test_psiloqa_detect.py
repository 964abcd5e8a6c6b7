"""`psiloqa detect`: tagged copies become offsets; samples and models become soft labels
(share per character) and hard labels (> 0.5); the output is what eval and leaderboard read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.psiloqa.detect import prediction_item, read_items, soft_and_hard
from dsbuild.testing import FakeLLM, installed

ANSWER = "Paris is the capital of Spain since 1066."
ITEMS = [
    {
        "id": "x1",
        "lang": "EN",
        "model_input": "What is Paris?",
        "model_output_text": ANSWER,
        "hard_labels": [[24, 29], [36, 40]],
        "soft_labels": [
            {"start": 24, "end": 29, "prob": 1.0},
            {"start": 36, "end": 40, "prob": 0.6},
        ],
    },
    {
        "id": "x2",
        "lang": "DE",
        "model_input": "Was ist Berlin?",
        "model_output_text": "Berlin ist die Hauptstadt 🇩🇪 Deutschlands.",
        "hard_labels": [],
        "soft_labels": [],
    },
]


@pytest.fixture
def gold(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in ITEMS), "utf-8")
    return path


def test_soft_labels_are_the_share_of_samples_and_hard_labels_the_majority():
    samples = [[[0, 5]], [[0, 5], [24, 29]], [[24, 29]]]
    soft, hard = soft_and_hard(samples, len(ANSWER))
    assert soft == [
        {"start": 0, "end": 5, "prob": pytest.approx(2 / 3)},
        {"start": 24, "end": 29, "prob": pytest.approx(2 / 3)},
    ]
    assert hard == [[0, 5], [24, 29]]
    soft, hard = soft_and_hard([[[0, 5]], []], len(ANSWER))
    assert soft == [{"start": 0, "end": 5, "prob": 0.5}] and hard == []  # 0.5 is not > 0.5


def test_no_usable_sample_predicts_nothing():
    assert soft_and_hard([], 10) == ([], [])
    item = prediction_item(ITEMS[0], {"m#0": None}, [{"model": "m"}])
    assert item["hard_labels"] == [] and item["prediction"]["failed"] == ["m#0"]


def test_a_failed_sample_does_not_count_in_the_share():
    item = prediction_item(ITEMS[0], {"m#0": [[24, 29]], "m#1": None}, [{"model": "m"}])
    assert item["soft_labels"] == [{"start": 24, "end": 29, "prob": 1.0}]
    assert item["hard_labels"] == [[24, 29]]


def test_read_items_converts_psiloqa_rows_and_keeps_their_passage(tmp_path):
    row = {
        "id": "r1",
        "lang": "de",
        "wiki_title": "T",
        "wiki_url": "",
        "llm_checkpoint": "m",
        "wiki_passage": "Ein Text.",
        "question": "Q?",
        "golden_answer": "A",
        "llm_answer": "B",
        "annotated_span": "B",
        "complexity": "easy",
        "labels": [],
    }
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n", "utf-8")
    (item,) = read_items([path])
    assert item["model_output_text"] == "B" and item["psiloqa"]["wiki_passage"] == "Ein Text."


def test_read_items_refuses_an_id_given_twice(gold):
    from dsbuild.errors import InputError

    with pytest.raises(InputError, match="x1"):
        read_items([gold, gold])


def test_read_items_reads_the_release_files(shared_fixtures):
    items = read_items([shared_fixtures / "mushroom"])
    langs = {i["lang"].lower() for i in items}
    assert {"en", "de", "zh", "ar", "hi"} <= langs and len(items) == 504


def _tagged(fake: FakeLLM, *copies: str) -> None:
    fake.enqueue(*({"annotated_answer": c} for c in copies))


def test_detect_with_samples_writes_soft_labels_eval_scores(gold, tmp_path, cli, model_cli):
    fake = FakeLLM()
    berlin = ITEMS[1]["model_output_text"]
    _tagged(
        fake,
        "Paris is the capital of [HAL]Spain[/HAL] since [HAL]1066[/HAL].",
        "Paris is the capital of [HAL]Spain[/HAL] since 1066.",
        # a broken copy gets the engine's repair turns (2), which do not mend it
        *["Paris is the capital of Spain since 1066 (broken copy)."] * 3,
        berlin,
        berlin.replace("🇩🇪", "[HAL]🇩🇪[/HAL]"),
        berlin,
    )
    out = tmp_path / "pred.jsonl"
    code, _, stderr = model_cli(
        fake,
        "psiloqa",
        "detect",
        str(gold),
        "--samples",
        "3",
        "--out",
        str(out),
        "--concurrency",
        "1",
    )
    assert code == 0, stderr
    temps = {c["temperature"] for c in fake.calls}
    assert temps == {0.7} and len({c["seed"] for c in fake.calls}) == 3
    items = {i["id"]: i for i in map(json.loads, out.read_text("utf-8").splitlines())}
    x1 = items["x1"]
    assert x1["soft_labels"] == [
        {"start": 24, "end": 29, "prob": 1.0},
        {"start": 36, "end": 40, "prob": 0.5},
    ]
    assert x1["hard_labels"] == [[24, 29]]
    assert x1["prediction"]["failed"] == ["fake:default#2"]
    error = x1["prediction"]["provenance"][2]["error"]
    assert error["reason"] == "annotation_text_changed" and "repair" in error["detail"]
    assert ANSWER[24:29] == "Spain"
    x2 = items["x2"]
    start = berlin.index("🇩🇪")
    assert x2["soft_labels"] == [{"start": start, "end": start + 2, "prob": pytest.approx(1 / 3)}]
    assert x2["hard_labels"] == []
    code, stdout, _ = cli("psiloqa", "eval", str(out), str(gold), "--json")
    scores = json.loads(stdout)
    assert scores["per_language"]["en"]["iou"] == pytest.approx(5 / 9)
    assert scores["per_language"]["de"]["iou"] == 1.0


def test_several_models_share_the_soft_labels(gold, tmp_path, cli):
    a, b = FakeLLM("a"), FakeLLM("b")
    _tagged(
        a, "Paris is the capital of [HAL]Spain[/HAL] since 1066.", ITEMS[1]["model_output_text"]
    )
    _tagged(
        b, "Paris is the capital of Spain since [HAL]1066[/HAL].", ITEMS[1]["model_output_text"]
    )
    out = tmp_path / "pred.jsonl"
    with installed(a, "a"), installed(b, "b"):
        code, _, stderr = cli(
            "psiloqa",
            "detect",
            str(gold),
            "--model",
            "fake:a",
            "--model",
            "fake:b",
            "--out",
            str(out),
            "--concurrency",
            "1",
            "--no-progress",
        )
    assert code == 0, stderr
    assert all(c["temperature"] == 0.0 for c in a.calls + b.calls)
    x1 = json.loads(out.read_text("utf-8").splitlines()[0])
    assert x1["soft_labels"] == [
        {"start": 24, "end": 29, "prob": 0.5},
        {"start": 36, "end": 40, "prob": 0.5},
    ]
    assert sorted(x1["prediction"]["annotations"]) == ["fake:a#0", "fake:b#0"]


def test_the_context_is_shown_only_with_the_flag(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache"))
    row = {
        "id": "r1",
        "lang": "de",
        "wiki_title": "T",
        "wiki_url": "",
        "llm_checkpoint": "m",
        "wiki_passage": "PASSAGE-TEXT",
        "question": "Q?",
        "golden_answer": "GOLDEN",
        "llm_answer": "B c",
        "annotated_span": "B c",
        "complexity": "easy",
        "labels": [],
    }
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n", "utf-8")
    for flag, shown in (("--with-context", True), (None, False)):
        fake = FakeLLM()
        _tagged(fake, "B c")
        with installed(fake):
            args = [
                "psiloqa",
                "detect",
                str(path),
                "--model",
                "fake:default",
                "--out",
                str(tmp_path / f"{shown}.jsonl"),
                "--no-progress",
            ]
            assert cli(*args, *([flag] if flag else []))[0] == 0
        text = json.dumps(fake.calls[0]["messages"])
        assert ("PASSAGE-TEXT" in text) is shown
        written = json.loads((tmp_path / f"{shown}.jsonl").read_text("utf-8"))
        assert written["prediction"]["provenance"][0]["passage_shown"] is shown
        assert "GOLDEN" not in text


def test_dry_run_counts_one_request_per_model_and_sample(gold, tmp_path, cli):
    fake = FakeLLM()
    with installed(fake), installed(FakeLLM("b"), "b"):
        code, out, err = cli(
            "psiloqa",
            "detect",
            str(gold),
            "--model",
            "fake:default",
            "--model",
            "fake:b",
            "--samples",
            "2",
            "--out",
            str(tmp_path / "p.jsonl"),
            "--dry-run",
            "--json",
        )
    assert code == 0, err
    plan = json.loads(out)
    assert (plan["records"], plan["requests"], plan["to_send"]) == (2, 8, 8)
    assert fake.calls == [] and not (tmp_path / "p.jsonl").exists()


def test_per_language_and_lang_pick_the_items(gold, tmp_path, cli):
    fake = FakeLLM()
    with installed(fake):
        code, out, err = cli(
            "psiloqa",
            "detect",
            str(gold),
            "--model",
            "fake:default",
            "--lang",
            "de",
            "--out",
            str(tmp_path / "p.jsonl"),
            "--dry-run",
            "--json",
        )
    assert code == 0, err
    assert json.loads(out)["records"] == 1


def test_unbalanced_tags_get_a_repair_turn_that_says_what_is_wrong(gold, tmp_path, model_cli):
    """An unclosed tag is not accepted and then dropped: the engine's check refuses it and
    the repair turn names the problem; the mended answer is the one that counts."""
    fake = FakeLLM()
    _tagged(
        fake,
        "Paris is the capital of [HAL]Spain since 1066.",  # never closed
        "Paris is the capital of [HAL]Spain[/HAL] since 1066.",
        "Berlin[/HAL] ist die Hauptstadt 🇩🇪 Deutschlands.",  # closes nothing
        *["Berlin ist die Hauptstadt [HAL] [/HAL]🇩🇪 Deutschlands."] * 2,  # around a space
    )
    out = tmp_path / "pred.jsonl"
    code, _, err = model_cli(
        fake,
        "psiloqa",
        "detect",
        str(gold),
        "--out",
        str(out),
        "--concurrency",
        "1",
    )
    assert code == 0, err
    assert len(fake.calls) == 5  # x1: 1 + 1 repair; x2: 1 + 2 repairs
    repair = fake.calls[1]["messages"][-1]["content"]
    assert "never closed" in repair and "[/HAL]" in repair
    assert fake.calls[1]["messages"][-2]["content"].endswith('since 1066."}')
    items = {i["id"]: i for i in map(json.loads, out.read_text("utf-8").splitlines())}
    assert items["x1"]["hard_labels"] == [[24, 29]] and items["x1"]["prediction"]["failed"] == []
    x2 = items["x2"]
    assert x2["hard_labels"] == [] and x2["prediction"]["failed"] == ["fake:default#0"]
    assert x2["prediction"]["provenance"][0]["error"]["reason"] == "annotation_empty_span"
