"""`medrect predict`: one structured answer per record, written as MedRECT records that
`medrect eval` reads; gold never reaches the model; cached, resumable, pending on failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.llm.types import BackendError
from dsbuild.medrect.predict import language_of, prediction_record, read_input
from dsbuild.testing import FakeLLM, installed

TEXT = "1. A 60-year-old man has chest pain.\n2. ECG shows ST elevation.\n3. He is given insulin."
GOLD = [
    {
        "sample_id": "a",
        "sentences": TEXT,
        "error_flag": 1,
        "error_type": "medication_selection",
        "error_sentence_id": 3,
        "error_sentence": "He is given insulin.",
        "corrected_sentence": "He is given aspirin.",
        "corrected_text": "A 60-year-old man has chest pain. ECG shows ST elevation. "
        "He is given aspirin.",
    },
    {
        "sample_id": "b",
        "sentences": "1. 45歳の女性。\n2. 発熱を認める。",
        "error_flag": 0,
        "error_type": None,
        "error_sentence_id": None,
        "error_sentence": None,
        "corrected_sentence": None,
        "corrected_text": None,
    },
]


@pytest.fixture
def gold(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "gold.json"
    path.write_text(json.dumps(GOLD, ensure_ascii=False), encoding="utf-8")
    return path


ITEM = {"id": "a", "sample_id": "a", "sentences": TEXT}


def test_a_flagged_answer_names_its_sentence_and_rebuilds_the_corrected_text():
    rec = prediction_record(
        ITEM,
        {"error_flag": 1, "error_sentence_id": 3, "corrected_sentence": " He is given aspirin. "},
        {},
    )
    assert rec["error_flag"] == 1
    assert rec["error_sentence_id"] == 3
    assert rec["error_sentence"] == "He is given insulin."
    assert rec["corrected_sentence"] == "He is given aspirin."
    assert rec["corrected_text"].endswith("ST elevation. He is given aspirin.")


def test_no_error_means_no_sentence_and_no_correction_whatever_else_the_model_says():
    rec = prediction_record(
        ITEM, {"error_flag": 0, "error_sentence_id": 2, "corrected_sentence": "x"}, {}
    )
    assert (rec["error_flag"], rec["error_sentence_id"], rec["corrected_sentence"]) == (
        0,
        None,
        None,
    )


def test_a_number_outside_the_text_or_zero_is_no_sentence():
    for n in (0, 9):
        rec = prediction_record(
            ITEM, {"error_flag": 1, "error_sentence_id": n, "corrected_sentence": "y"}, {}
        )
        assert rec["error_flag"] == 1 and rec["error_sentence_id"] is None
        assert rec["corrected_text"] is None


def test_an_unusable_answer_is_written_with_a_null_flag():
    rec = prediction_record(ITEM, None, {"error": {"reason": "schema_mismatch"}})
    assert rec["error_flag"] is None and rec["metadata"]["prediction"]["error"]


def test_language_is_japanese_when_the_text_is():
    assert language_of(GOLD[1]["sentences"]) == "ja"
    assert language_of(TEXT) == "en"


def test_read_input_keeps_no_gold_field(gold):
    items = read_input(gold)
    assert [sorted(i) for i in items] == [["id", "sample_id", "sentences"]] * 2


def test_medec_csv_is_read_with_medrect_numbering(shared_fixtures):
    items = read_input(
        shared_fixtures / "medrect" / "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv"
    )
    assert items[0]["sentences"].startswith("1. ")
    assert all(set(i) == {"id", "sample_id", "sentences"} for i in items)


def _answers(fake: FakeLLM) -> None:
    fake.enqueue(
        {"error_flag": 1, "error_sentence_id": 3, "corrected_sentence": "He is given aspirin."},
        {"error_flag": 0, "error_sentence_id": 0, "corrected_sentence": ""},
    )


def test_predict_writes_what_eval_reads_and_never_shows_gold(gold, tmp_path, cli, model_cli):
    fake = FakeLLM()
    _answers(fake)
    out = tmp_path / "pred.json"
    code, stdout, stderr = model_cli(
        fake,
        "medrect",
        "predict",
        str(gold),
        "--out",
        str(out),
        "--concurrency",
        "1",
    )
    assert code == 0, stderr
    prompts = [json.dumps(c["messages"], ensure_ascii=False) for c in fake.calls]
    assert not any("aspirin" in p or "medication_selection" in p for p in prompts)
    schema = fake.calls[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["error_sentence_id"]["enum"] == [0, 1, 2, 3]
    code, stdout, _ = cli("medrect", "eval", str(out), str(gold), "--no-model-metrics", "--json")
    scores = json.loads(stdout)
    assert scores["error_flag_accuracy"] == 1.0
    assert scores["error_sentence_accuracy"] == 1.0
    assert scores["rouge1_composite"] == 1.0
    # the Japanese record was asked in Japanese
    assert any("Japanese" in c["messages"][0]["content"] for c in fake.calls)


def test_a_second_run_resumes_from_the_run_and_sends_nothing(gold, tmp_path, cli):
    fake = FakeLLM()
    _answers(fake)
    out = tmp_path / "pred.json"
    args = ("medrect", "predict", str(gold), "--model", "fake:default", "--out", str(out))
    with installed(fake):
        assert cli(*args, "--concurrency", "1", "--no-progress")[0] == 0
        n = len(fake.calls)
        code, stdout, _ = cli(*args, "--concurrency", "1", "--no-progress", "--json")
        assert code == 0 and len(fake.calls) == n
        assert json.loads(stdout)["resumed"] is True
        code, stdout, _ = cli(*args, "--dry-run", "--json")
    plan = json.loads(stdout)
    assert (plan["records"], plan["requests"], plan["cache_hits"], plan["to_send"]) == (2, 2, 2, 0)
    assert len(fake.calls) == n


def test_dry_run_sends_nothing_and_counts_the_requests(gold, tmp_path, cli):
    fake = FakeLLM()
    with installed(fake):
        code, stdout, _ = cli(
            "medrect",
            "predict",
            str(gold),
            "--model",
            "fake:default",
            "--out",
            str(tmp_path / "p.json"),
            "--dry-run",
            "--json",
        )
    assert code == 0 and fake.calls == []
    assert json.loads(stdout)["to_send"] == 2
    assert not (tmp_path / "p.json").exists()


def test_an_endpoint_failure_leaves_the_record_pending_and_the_next_run_finishes(
    gold, tmp_path, cli
):
    fake = FakeLLM()
    fake.enqueue(
        {"error_flag": 1, "error_sentence_id": 3, "corrected_sentence": "He is given aspirin."},
        BackendError("server_error", "503 try later", transient=True),
    )
    out = tmp_path / "pred.json"
    args = (
        "medrect",
        "predict",
        str(gold),
        "--model",
        "fake:default",
        "--out",
        str(out),
        "--concurrency",
        "1",
        "--max-retries",
        "0",
        "--no-progress",
    )
    with installed(fake):
        code, _, stderr = cli(*args)
        assert code == 4, stderr
        assert not out.exists()
        fake.enqueue({"error_flag": 0, "error_sentence_id": 0, "corrected_sentence": ""})
        code, _, stderr = cli(*args)
    assert code == 0, stderr
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [r["sample_id"] for r in records] == ["a", "b"]
    assert [r["error_flag"] for r in records] == [1, 0]


def test_a_run_directory_is_read_from_its_records(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = [{"id": "r-a", **GOLD[0], "metadata": {}, "provenance": {"x": 1}}]
    (run / "records.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
    )
    assert read_input(run) == [{"id": "a", "sample_id": "a", "sentences": TEXT}]
    from dsbuild.errors import InputError

    with pytest.raises(InputError, match="records.jsonl"):
        read_input(tmp_path)


def test_the_budget_stops_the_run_and_a_larger_one_finishes_it(gold, tmp_path, cli):
    fake = FakeLLM("gpt-4o-mini")  # a name with a known price
    out = tmp_path / "pred.json"
    args = (
        "medrect",
        "predict",
        str(gold),
        "--model",
        "fake:gpt-4o-mini",
        "--out",
        str(out),
        "--concurrency",
        "1",
        "--no-progress",
    )
    with installed(fake, "gpt-4o-mini"):
        code, _, err = cli(*args, "--max-cost", "0.000001")
        assert code == 5, err
        assert fake.calls == [] and not out.exists()
        code, _, err = cli(*args, "--max-cost", "1")
    assert code == 0, err
    assert len(json.loads(out.read_text("utf-8"))) == 2


def test_batch_answers_every_record_through_the_batch_api(gold, tmp_path, cli, monkeypatch):
    pytest.importorskip("httpx2")
    from dsbuild.testing.fake_batch_api import FakeBatchAPI

    def respond(body):
        text = json.dumps(body["messages"], ensure_ascii=False)
        if "insulin" in text:
            return json.dumps(
                {
                    "error_flag": 1,
                    "error_sentence_id": 3,
                    "corrected_sentence": "He is given aspirin.",
                }
            )
        return json.dumps({"error_flag": 0, "error_sentence_id": 0, "corrected_sentence": ""})

    endpoint = FakeBatchAPI(responder=respond)
    endpoint.serve_every_endpoint(monkeypatch)
    out = tmp_path / "pred.json"
    code, _, err = cli(
        "medrect",
        "predict",
        str(gold),
        "--model",
        "openai:m",
        "--base-url",
        "http://test.invalid/v1",
        "--out",
        str(out),
        "--batch",
        "--no-progress",
    )
    assert code == 0, err
    assert endpoint.calls["online"] == 0 and endpoint.calls["create"] >= 1
    records = json.loads(out.read_text("utf-8"))
    assert [(r["error_flag"], r["error_sentence_id"]) for r in records] == [(1, 3), (0, None)]


def test_japanese_corrections_are_shorter_and_get_more_tokens_per_character():
    from dsbuild.medrect.predict import _budget

    numbers = {1: "x" * 100}
    assert _budget(numbers, "en") == (220, 248)
    chars, tokens = _budget(numbers, "ja")
    assert chars == 120 and tokens >= 3 * chars
