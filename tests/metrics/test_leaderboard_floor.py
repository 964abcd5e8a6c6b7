"""The floor row of the leaderboards: without a PRED file by the embedded model, the board
runs the dataset's detect/predict task itself (here with a fake model, `--floor-model`),
once: its figures are those of a file that task writes, a later board asks nothing, a
given file by the embedded model is the floor, `--no-floor` leaves it out, and items left
pending are scored as missing and counted in the row's note."""

from __future__ import annotations

import json

import pytest

from dsbuild.llm.structured import COPY_OF
from dsbuild.llm.types import BackendError
from dsbuild.metrics.leaderboard import FLOOR
from dsbuild.testing import FakeLLM, installed

MUSHROOM = [
    {
        "id": "m1",
        "lang": "EN",
        "model_input": "Where is the Eiffel Tower?",
        "model_output_text": "Rome has the Eiffel Tower since 1889.",
        "hard_labels": [[0, 4]],
        "soft_labels": [{"start": 0, "end": 4, "prob": 1.0}],
    },
    {
        "id": "m2",
        "lang": "DE",
        "model_input": "Was ist Berlin?",
        "model_output_text": "Berlin ist die Hauptstadt.",
        "hard_labels": [],
        "soft_labels": [],
    },
    {
        "id": "m3",
        "lang": "EN",
        "model_input": "Who wrote Faust?",
        "model_output_text": "Faust was written by Schiller.",
        "hard_labels": [[21, 29]],
        "soft_labels": [{"start": 21, "end": 29, "prob": 1.0}],
    },
]

MEDRECT = [
    {
        "sample_id": f"r{n}",
        "sentences": f"1. A man of {40 + n} has chest pain.\n2. ECG shows ST elevation.\n"
        f"3. He is given {drug}.",
        "error_flag": flag,
        "error_type": None,
        "error_sentence_id": 3 if flag else None,
        "error_sentence": f"He is given {drug}." if flag else None,
        "corrected_sentence": "He is given aspirin." if flag else None,
        "corrected_text": None,
    }
    for n, (drug, flag) in enumerate([("insulin", 1), ("aspirin", 0), ("heparin", 0)])
]


class FirstWordMarker(FakeLLM):
    """A detector that marks the first word of every answer (by the request's copy)."""

    def _deterministic(self, payload):
        schema = payload["response_format"]["json_schema"]["schema"]
        text = schema["properties"]["annotated_answer"][COPY_OF]["text"]
        first = text.split(" ")[0]
        return {"annotated_answer": f"[HAL]{first}[/HAL]{text[len(first) :]}"}


class LastSentenceFlagger(FakeLLM):
    """A corrector that flags every text's last sentence (by the request's number enum)."""

    def _deterministic(self, payload):
        schema = payload["response_format"]["json_schema"]["schema"]
        last = max(schema["properties"]["error_sentence_id"]["enum"])
        return {"error_flag": 1, "error_sentence_id": last, "corrected_sentence": "He rests."}


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache-1"))
    mushroom = tmp_path / "gold.jsonl"
    mushroom.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in MUSHROOM))
    medrect = tmp_path / "gold.json"
    medrect.write_text(json.dumps(MEDRECT))
    return {"psiloqa": mushroom, "medrect": medrect}


CASES = {
    "psiloqa": (FirstWordMarker, "detect", "det.jsonl", "iou"),
    "medrect": (LastSentenceFlagger, "predict", "pred.json", "error_sentence_accuracy"),
}


def _board(cli, fake, dataset: str, *args: str) -> tuple[int, str, str]:
    """`dsbuild DATASET leaderboard ARGS...` with `fake` as the floor model."""
    with installed(fake, "floor"):
        return cli(dataset, "leaderboard", *args, "--floor-model", "fake:floor", "--no-progress")


def _rows(board: dict) -> dict[str, dict]:
    return {r["name"]: r for r in board["groups"]["all"]["rows"]}


@pytest.mark.parametrize("dataset", ["psiloqa", "medrect"])
def test_the_board_runs_the_floor_once_and_scores_it_as_the_task_file(
    dataset, files, tmp_path, cli, monkeypatch
):
    fake_cls, verb, out_name, metric = CASES[dataset]
    fake = fake_cls()
    gold, pred = files[dataset], tmp_path / out_name
    board = (dataset, "leaderboard", str(pred), "--gold", str(gold), "--json")
    floor = ("--floor-model", "fake:floor", "--floor-dir", str(tmp_path / "floors"))
    with installed(fake, "floor"):
        args = (dataset, verb, str(gold), "--model", "fake:floor", "--out", str(pred))
        code, _, err = cli(*args, "--no-progress")
        assert code == 0, err
        made_file = len(fake.calls)
        # another LLM cache: only the floor's own run can spare the model's time below
        monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache-2"))
        code, out, err = cli(*board, *floor)
        assert code == 0, err
        assert len(fake.calls) == 2 * made_file == 2 * len(MUSHROOM)
        assert "--no-floor" in err and "fake:floor" in err  # what runs, and how to skip it
        first = json.loads(out)
        monkeypatch.setenv("DSBUILD_CACHE_DIR", str(tmp_path / "cache-3"))
        code, out, err = cli(*board, *floor)
        assert code == 0, err
        assert len(fake.calls) == 2 * made_file  # the run is complete: nothing asked
        assert "--no-floor" not in err
    again = json.loads(out)
    rows = _rows(first)
    assert rows["fake:floor"]["kind"] == FLOOR and rows["fake:floor"]["note"] == ""
    assert rows[pred.stem]["kind"] == "prediction"  # a fake's file is no floor
    assert rows["fake:floor"]["scores"] == rows[pred.stem]["scores"]
    assert 0 < rows["fake:floor"]["scores"][metric]["value"] < 1
    assert first["floor"]["ran"] is True and again["floor"]["ran"] is False
    assert first["floor"]["run_dir"] == again["floor"]["run_dir"]
    assert first["floor"]["run_dir"].startswith(str(tmp_path / "floors"))
    assert again["groups"] == first["groups"]
    for lang, group in first["groups"].items():  # per language too
        by_name = _rows({"groups": {"all": group}})
        assert by_name["fake:floor"]["scores"] == by_name[pred.stem]["scores"], lang


@pytest.mark.parametrize("dataset", ["psiloqa", "medrect"])
def test_no_floor_leaves_it_out(dataset, files, cli):
    fake = CASES[dataset][0]()
    code, out, err = _board(
        cli, fake, dataset, "--gold", str(files[dataset]), "--json", "--no-floor"
    )
    assert code == 0, err
    board = json.loads(out)
    assert fake.calls == [] and board["floor"] is None
    assert {r["kind"] for r in board["groups"]["all"]["rows"]} == {"baseline"}


def test_a_file_by_the_embedded_model_is_the_floor_and_nothing_runs(files, tmp_path, cli):
    pred = tmp_path / "smol.jsonl"
    pred.write_text(
        "".join(
            json.dumps({**i, "hard_labels": [], "soft_labels": [], "prediction": {"models": m}})
            + "\n"
            for i, m in zip(MUSHROOM, ["local:smollm2"] * len(MUSHROOM))
        )
    )
    fake = FirstWordMarker()
    code, out, err = _board(
        cli, fake, "psiloqa", str(pred), "--gold", str(files["psiloqa"]), "--json"
    )
    assert code == 0, err
    board = json.loads(out)
    assert fake.calls == []
    assert board["floor"] == {"source": "file", "name": "smol", "model": "local:smollm2"}
    kinds = {r["name"]: r["kind"] for r in board["groups"]["all"]["rows"]}
    assert kinds == {"smol": FLOOR, "no spans": "baseline", "whole answer": "baseline"}


def test_the_floor_runs_on_the_scored_items_only(files, tmp_path, cli):
    """A PRED file covering two of three gold items: the floor answers those two."""
    pred = tmp_path / "two.jsonl"
    pred.write_text("".join(json.dumps(i) + "\n" for i in MUSHROOM[:2]))
    fake = FirstWordMarker()
    code, out, err = _board(
        cli, fake, "psiloqa", str(pred), "--gold", str(files["psiloqa"]), "--json"
    )
    assert code == 0, err
    board = json.loads(out)
    assert len(fake.calls) == 2 and board["items"] == 2 and board["floor"]["items"] == 2


class Flaky(LastSentenceFlagger):
    """Times out on the insulin text while `down`; breaks its schema on the aspirin one."""

    down = True

    def _deterministic(self, payload):
        text = json.dumps(payload["messages"])
        if "insulin" in text and self.down:
            return BackendError("timeout", "no answer in 900s", transient=False)
        if "aspirin" in text:
            return {"error_flag": 1}  # no number, no correction (nor after repair turns)
        return super()._deterministic(payload)


def test_pending_and_unusable_floor_answers_score_as_wrong_and_are_counted(files, cli):
    fake = Flaky()
    board = (
        "medrect",
        "leaderboard",
        "--gold",
        str(files["medrect"]),
        "--json",
        "--floor-model",
        "fake:floor",
        "--no-progress",
    )
    with installed(fake, "floor"):
        code, out, err = cli(*board)
        assert code == 0, err
        first = json.loads(out)
        n = len(fake.calls)
        fake.down = False
        code, out, err = cli(*board)  # the next board asks for the pending record again
        assert code == 0, err
        assert len(fake.calls) == n + 1
    floor = _rows(first)["fake:floor"]
    assert floor["note"] == "1 unusable and 1 pending of 3, scored as wrong"
    assert (first["floor"]["pending"], first["floor"]["unusable"]) == (1, 1)
    # r2 (no error) flagged by the fake: every record is wrong on the flag
    assert floor["scores"]["error_flag_accuracy"]["value"] == 0.0
    again = json.loads(out)
    assert (again["floor"]["pending"], again["floor"]["ran"]) == (0, True)
    assert _rows(again)["fake:floor"]["note"] == "1 unusable of 3, scored as wrong"
    assert _rows(again)["fake:floor"]["scores"]["error_flag_accuracy"]["value"] == 1 / 3


def test_the_table_and_chart_show_the_floor_row(files, tmp_path, cli):
    chart = tmp_path / "board.png"
    code, out, err = _board(
        cli, FirstWordMarker(), "psiloqa", "--gold", str(files["psiloqa"]), "--chart", str(chart)
    )
    assert code == 0, err
    assert "fake:floor" in out and FLOOR in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_test_double_is_refused_as_the_floor_outside_tests(files, cli, monkeypatch):
    monkeypatch.delenv("DSBUILD_TESTING")
    code, _, err = cli(
        "psiloqa", "leaderboard", "--gold", str(files["psiloqa"]), "--floor-model", "fake:x"
    )
    assert code == 2 and "test double" in err
