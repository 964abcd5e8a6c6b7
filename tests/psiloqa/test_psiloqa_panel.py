"""Panel annotation in the PsiloQA build (`--annotators m1,m2,m3`): each annotator's spans
are kept, soft labels are their share, labels the majority, and the run reports the
panel's agreement as `psiloqa agreement` computes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.config import Settings
from dsbuild.testing.fake_llm import FakeLLM, installed

ANSWER = "The Danube is 2850 km long and ends in 1900."
TAGGED = {
    "a": "The Danube is [HAL]2850 km[/HAL] long and ends in [HAL]1900[/HAL].",
    "b": "The Danube is [HAL]2850 km[/HAL] long and ends in 1900.",
    "c": "The Danube is 2850 km long and ends in 1900 (not a copy).",
}


class Writer(FakeLLM):
    """Writes one question, answers it, and judges it fine."""

    def _deterministic(self, payload):
        system = payload["messages"][0]["content"]
        if "reading-comprehension" in system:
            return {"pairs": [{"complexity": "easy", "question": "How long?", "answer": "x"}]}
        if "general-knowledge" in system:
            return ANSWER
        return {
            "incomplete_question": False,
            "subjective_question": False,
            "refusal": False,
            "reason": "fine",
        }


class Annotator(FakeLLM):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name_ = name

    def _deterministic(self, payload):
        return {"annotated_answer": TAGGED[self.name_]}


def _settings(tmp_path: Path, **options) -> Settings:
    passages = tmp_path / "passages.jsonl"
    passages.write_text(
        json.dumps({"id": "en:D", "lang": "en", "title": "Danube", "url": "", "text": "x " * 150})
        + "\n",
        encoding="utf-8",
    )
    return Settings(
        dataset="psiloqa",
        model="fake:default",
        cache_dir=tmp_path / "cache",
        max_retries=0,
        options={
            "passages": str(passages),
            "complexities": ["easy"],
            "gates": False,
            **options,
        },
    )


def _build(tmp_path: Path, settings: Settings):
    from dsbuild.cli.dataset_group import build_dataset

    with (
        installed(Writer()),
        installed(Annotator("a"), "a"),
        installed(Annotator("b"), "b"),
        installed(Annotator("c"), "c"),
    ):
        return build_dataset("psiloqa", settings, tmp_path / "run", progress=False)


def test_the_panel_keeps_each_annotators_spans_and_derives_soft_and_hard_labels(tmp_path):
    _build(tmp_path, _settings(tmp_path, annotators="fake:a,fake:b,fake:c"))
    (row,) = [json.loads(x) for x in open(tmp_path / "run" / "records.jsonl", encoding="utf-8")]
    assert row["annotations"] == {"fake:a": [[14, 21], [39, 43]], "fake:b": [[14, 21]]}
    assert row["labels"] == [[14, 21]]  # both usable annotators; 1900 only one of two
    assert ANSWER[14:21] == "2850 km"
    assert row["annotated_span"] == "The Danube is [HAL]2850 km[/HAL] long and ends in 1900."
    assert row["provenance"]["annotate[fake:c]"]["error"]["reason"] == "annotation_text_changed"
    (item,) = [
        json.loads(x)
        for x in open(tmp_path / "run" / "export" / "mushroom.jsonl", encoding="utf-8")
    ]
    assert item["soft_labels"] == [
        {"start": 14, "end": 21, "prob": 1.0},
        {"start": 39, "end": 43, "prob": 0.5},
    ]
    assert item["hard_labels"] == [[14, 21]]
    report = json.loads((tmp_path / "run" / "export" / "panel-agreement.json").read_text("utf-8"))
    (pair,) = report["pairs"]
    assert (pair["a"], pair["b"]) == ("fake:a", "fake:b")
    assert pair["iou"] == pytest.approx(7 / 11)
    assert report["alpha"]["sources"] == 2


def test_a_single_annotator_writes_no_annotations_and_no_panel_report(tmp_path):
    _build(tmp_path, _settings(tmp_path, annotator_model="fake:a"))
    (row,) = [json.loads(x) for x in open(tmp_path / "run" / "records.jsonl", encoding="utf-8")]
    assert "annotations" not in row and row["labels"] == [[14, 21], [39, 43]]
    assert not (tmp_path / "run" / "export" / "panel-agreement.json").exists()


def test_a_panel_and_an_annotator_model_together_are_refused(tmp_path):
    from dsbuild.errors import DsbuildError

    with pytest.raises(DsbuildError, match="not both"):
        _build(tmp_path, _settings(tmp_path, annotators="fake:a,fake:b", annotator_model="fake:c"))
