"""The embedded model as the floor: `psiloqa detect`, `medrect predict` and `cultural rate`
run offline on `local:smollm2` and give files the eval commands read (slow: real inference)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache"))


def test_detect_on_the_local_model(tmp_path, cli):
    gold = tmp_path / "gold.jsonl"
    item = {
        "id": "1",
        "lang": "EN",
        "model_input": "Where is the Eiffel Tower?",
        "model_output_text": "The Eiffel Tower is in Rome, built in 1889.",
        "hard_labels": [[23, 27]],
    }
    gold.write_text(json.dumps(item) + "\n", "utf-8")
    out = tmp_path / "p.jsonl"
    code, _, err = cli(
        "psiloqa",
        "detect",
        str(gold),
        "--out",
        str(out),
        "--no-progress",
        "--model",
        "local:smollm2",
    )
    assert code == 0, err
    (pred,) = map(json.loads, out.read_text("utf-8").splitlines())
    assert pred["prediction"]["provenance"][0]["structured_mode"] == "grammar"
    assert all(0 <= s < e <= len(item["model_output_text"]) for s, e in pred["hard_labels"])
    code, _, err = cli("psiloqa", "leaderboard", str(out), "--gold", str(gold), "--json")
    assert code == 0, err


def test_predict_on_the_local_model(tmp_path, cli):
    gold = tmp_path / "gold.json"
    gold.write_text(
        json.dumps(
            [
                {
                    "sample_id": "a",
                    "sentences": "1. A man has chest pain.\n2. ECG shows ST elevation.\n"
                    "3. He gets insulin.",
                    "error_flag": 1,
                    "error_type": None,
                    "error_sentence_id": 3,
                    "error_sentence": "He gets insulin.",
                    "corrected_sentence": "He gets aspirin.",
                    "corrected_text": None,
                }
            ]
        ),
        "utf-8",
    )
    out = tmp_path / "p.json"
    code, _, err = cli(
        "medrect",
        "predict",
        str(gold),
        "--out",
        str(out),
        "--no-progress",
        "--model",
        "local:smollm2",
    )
    assert code == 0, err
    (pred,) = json.loads(out.read_text("utf-8"))
    assert pred["error_flag"] in (0, 1)
    assert pred["error_sentence_id"] in (None, 1, 2, 3)
    code, _, err = cli("medrect", "eval", str(out), str(gold), "--no-model-metrics", "--json")
    assert code == 0, err
