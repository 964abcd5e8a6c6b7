"""Reading annotation results, reconciling annotators, and round agreement (no server)."""

from __future__ import annotations

import pytest

from dsbuild.errors import InputError
from dsbuild.labelstudio.agreement import round_agreement
from dsbuild.labelstudio.reconcile import (
    majority_vote,
    median_rating,
    reconcile_spans,
    reconcile_unit,
)
from dsbuild.labelstudio.results import annotator_of, parse_result
from dsbuild.labelstudio.tasks import units_of
from dsbuild.schemas import CulturalRecord, PsiloQARecord


def test_span_reconciliation() -> None:
    out = reconcile_spans({"a": [[0, 4]], "b": [[2, 6]], "c": [[3, 4], [8, 9]]})
    assert out["union"] == [[0, 6], [8, 9]]
    assert out["intersection"] == [[3, 4]]
    assert out["majority"] == [[2, 4]]  # characters 2-3 marked by 2 of 3
    probs = {(s["start"], s["end"]): s["prob"] for s in out["soft"]}
    assert probs[(3, 4)] == 1.0 and probs[(0, 2)] == pytest.approx(1 / 3)


def test_majority_and_median() -> None:
    assert majority_vote([1, 1, 2]) == (1, False)
    assert majority_vote([1, 2]) == (None, False)  # a tie is for adjudication
    assert majority_vote([3, 3, None]) == (3, True)
    assert median_rating([0, 3, 3, 2]) == 2  # lower middle stays on the scale
    assert median_rating(["NA", "NA", 1]) == "NA"
    assert median_rating(["NA", 1, 3]) == 1
    assert median_rating([]) is None


def test_annotator_identity_from_snapshot_or_id() -> None:
    assert annotator_of({"completed_by": {"id": 3, "email": "a@x.org"}}) == ("a@x.org", 3)
    assert annotator_of({"completed_by": 3}) == ("user-3", 3)


def _span(text: str, s: int, e: int) -> dict:
    """A span region as Label Studio stores it (code points)."""
    return {
        "from_name": "hallucination",
        "to_name": "answer",
        "type": "labels",
        "value": {
            "start": s,
            "end": e,
            "text": text[s:e],
            "labels": ["Hallucination"],
        },
    }


def test_psiloqa_unit_round(samples) -> None:
    record = samples("psiloqa")[0]
    unit = units_of([record], "psiloqa")[0]
    text = record["llm_answer"]
    values = {
        "a": parse_result("psiloqa", unit, [_span(text, 17, 35), _span(text, 64, 69)]),
        "b": parse_result("psiloqa", unit, [_span(text, 23, 35)]),
    }
    out, disagreements = reconcile_unit("psiloqa", unit, values, {"task": 1}, method="majority")
    PsiloQARecord.model_validate(out)
    assert out["labels"] == [[23, 35]] and out["model_labels"] == record["labels"]
    assert out["annotations"] == {"a": [[17, 35], [64, 69]], "b": [[23, 35]]}
    assert out["annotated_span"].count("[HAL]") == 1
    assert disagreements[0]["field"] == "labels" and "Kenya" in disagreements[0]["surfaces"]
    union, _ = reconcile_unit("psiloqa", unit, values, {}, method="union")
    assert union["labels"] == [[17, 35], [64, 69]]
    stats = round_agreement("psiloqa", [(len(text), values)])["fields"]["labels (characters)"]
    assert stats["characters"] == len(text) and 0 < stats["alpha_nominal"] < 1


def test_psiloqa_surface_mismatch_is_an_input_error(samples) -> None:
    record = samples("psiloqa")[0]
    unit = units_of([record], "psiloqa")[0]
    bad = _span(record["llm_answer"], 0, 5)
    bad["value"]["text"] = "other"
    with pytest.raises(InputError, match="task 9"):
        parse_result("psiloqa", unit, [bad], where="task 9")


def _choice(name: str, value: str, to: str = "x") -> dict:
    return {"from_name": name, "to_name": to, "type": "choices", "value": {"choices": [value]}}


def test_cultural_unit_round_appends_schema_ratings(samples) -> None:
    record = samples("cultural")[0]
    unit = units_of([record], "cultural")[1]
    a = parse_result(
        "cultural",
        unit,
        [
            _choice("seg_score_0", "NA"),
            _choice("overall", "2"),
            _choice("content", "3"),
            _choice("style", "1"),
            _choice("audience", "2"),
            {"from_name": "comment", "type": "textarea", "value": {"text": ["lost"]}},
        ],
    )
    b = parse_result("cultural", unit, [_choice("seg_score_0", "1"), _choice("overall", "2")])
    assert a["segments"] == {0: "NA"} and a["comment"] == "lost"
    out, disagreements = reconcile_unit("cultural", unit, {"a@x": a, "b@x": b}, {"task": 5})
    CulturalRecord.model_validate(out)
    tr = out["translations"][1]
    mine = [r for r in tr["ratings"] if r["annotator"] in ("a@x", "b@x")]
    assert {(r["annotator"], r["nuance"], r["score"]) for r in mine} == {
        ("a@x", 0, "NA"),
        ("b@x", 0, 1),
        ("a@x", None, 2),
        ("b@x", None, 2),
    }
    assert tr["annotation_result"]["full_text"]["overall"]["majority"] == 2
    assert tr["annotation"]["task"] == 5
    assert [d["field"] for d in disagreements] == ["segment 0"]
    agreement = round_agreement("cultural", [(1, {"a@x": a, "b@x": b})])
    assert agreement["fields"]["overall"]["units"] == 1


def test_cultural_score_for_a_missing_segment_is_refused(samples) -> None:
    unit = units_of(samples("cultural")[:1], "cultural")[0]
    with pytest.raises(InputError, match="segment 5"):
        parse_result("cultural", unit, [_choice("seg_score_5", "2")])


def test_medrect_unit_round(samples) -> None:
    record = next(r for r in samples("medrect") if r["error_flag"] == 1)
    unit = units_of([record], "medrect")[0]
    yes = [
        _choice("error_flag", "error"),
        _choice("error_sentence", "4"),
        _choice("error_type", "diagnosis"),
        {"from_name": "corrected_sentence", "type": "textarea", "value": {"text": ["fixed."]}},
    ]
    a = parse_result("medrect", unit, yes)
    b = parse_result(
        "medrect", unit, [_choice("error_flag", "no_error"), _choice("error_sentence", "2")]
    )
    assert a["error_sentence_id"] == 4 and b["error_sentence_id"] is None  # hidden answer dropped
    out, disagreements = reconcile_unit("medrect", unit, {"a": a, "b": b}, {})
    assert out["annotation_result"]["error_flag"]["majority"] is None  # 1 vs 1
    assert out["annotation_result"]["error_sentence_id"]["majority"] == 4
    assert out["annotation_result"]["corrected_sentences"] == {"a": "fixed."}
    assert [d["field"] for d in disagreements] == ["error_flag"]
    assert out["sentences"] == record["sentences"]  # the item itself is untouched


def test_entitycs_unit_round(samples) -> None:
    unit = units_of(samples("entitycs"), "entitycs")[0]
    first = unit.extra["entities"][0]
    a = parse_result("entitycs", unit, [_choice("verdict_0", "correct")])
    b = parse_result("entitycs", unit, [_choice("verdict_0", "wrong_inflection")])
    out, disagreements = reconcile_unit("entitycs", unit, {"a": a, "b": b}, {})
    verdict = out["annotation_result"]["entities"][0]
    assert verdict["index"] == first and verdict["votes"] == {
        "a": "correct",
        "b": "wrong_inflection",
    }
    assert len(disagreements) == 1
    stats = round_agreement("entitycs", [(unit.extra["entities"], {"a": a, "b": b})])
    assert stats["fields"]["verdict"]["units"] == 1
