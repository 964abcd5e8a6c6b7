from __future__ import annotations

import json
from functools import partial

from dsbuild.gates.hygiene import HygieneGate
from dsbuild.gates.langid import LangIdGate, ScriptGate
from dsbuild.gates.report import gate_summary
from dsbuild.gates.stage import dedup_stage, entitycs_labels, gate_stage, set_field
from dsbuild.runs.runner import run_builder
from dsbuild.stages import Builder, StageContext, source_stage

ROWS = [
    {
        "id": "1",
        "lang": "de",
        "question": "Wie viele Einwohner hat die Stadt Tübingen heute ungefähr?",
    },
    {"id": "2", "lang": "de", "question": "How many people live in the town of Tübingen today?"},
    {
        "id": "3",
        "lang": "de",
        "question": "Wie viele Einwohner hat die Stadt Tübingen heute ungefähr?!",
    },
    {
        "id": "4",
        "lang": "fi",
        "question": "Kuinka monta asukasta Tampereella on nykyään suunnilleen?",
    },
    {"id": "5", "lang": "fi", "question": "CafÃ© Tampere?"},
    {"id": "6", "lang": "xx", "question": "Some words in a language no detector knows about."},
]


def _builder(*stages) -> Builder:
    return Builder("gates-test", "1", (source_stage("rows", lambda ctx: iter(ROWS)), *stages))


def _records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def _rejects(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "rejects.jsonl").read_text().splitlines()]


def test_gate_stages_in_a_real_run(tmp_path):
    builder = _builder(
        gate_stage("hygiene_q", HygieneGate(), field="question", lang_field="lang"),
        gate_stage("langid_q", LangIdGate(), field="question", lang_field="lang"),
        dedup_stage("dedup_q", field="question"),
    )
    result = run_builder(builder, tmp_path / "run", {"dataset": "t", "seed": 0})
    kept = {r["id"]: r for r in _records(tmp_path / "run")}
    reasons = {r["id"]: (r["stage"], r["reason"]) for r in _rejects(tmp_path / "run")}
    assert reasons == {"2": ("langid_q", "wrong_language"), "3": ("dedup_q", "duplicate_exact")}
    # repaired, and the repair recorded; short text abstained; unknown language unchecked
    assert kept["5"]["question"] == "Café Tampere?"
    assert kept["5"]["provenance"]["gates"]["hygiene_q"] == {
        "repairs": [{"field": "question", "kind": "mojibake"}]
    }
    assert kept["5"]["provenance"]["gates"]["langid_q"] == {"abstained": ["question"]}
    assert kept["6"]["provenance"]["gates"]["langid_q"] == {"unchecked": ["question"]}
    assert "provenance" not in kept["1"]
    assert result.stages[-1].rejects_by_reason == {"duplicate_exact": 1}

    summary = gate_summary(tmp_path / "run")
    assert set(summary) == {"hygiene_q", "langid_q", "dedup_q"}
    lq = summary["langid_q"]
    assert (lq["total"], lq["kept"], lq["rejected"]) == (6, 5, 1)
    assert lq["per_language"]["de"]["by_reason"] == {"wrong_language": 1}
    assert lq["per_language"]["fi"]["abstained"] == 1
    assert lq["per_language"]["xx"]["unchecked"] == 1
    assert summary["hygiene_q"]["repairs"] == {"mojibake": 1}
    assert summary["dedup_q"]["per_language"]["de"]["by_reason"] == {"duplicate_exact": 1}


def test_gates_switch_off_and_override_through_options(tmp_path):
    builder = _builder(
        gate_stage("langid_q", partial(LangIdGate), field="question", lang_field="lang"),
        dedup_stage("dedup_q", field="question"),
    )
    off = {"dataset": "t", "options": {"gates": False}}
    run_builder(builder, tmp_path / "off", off)
    assert len(_records(tmp_path / "off")) == len(ROWS)
    one_off = {"dataset": "t", "options": {"gate.dedup_q": False}}
    run_builder(builder, tmp_path / "one", one_off)
    assert [r["reason"] for r in _rejects(tmp_path / "one")] == ["wrong_language"]
    # a mapping overrides the factory's parameters: a high bar for abstaining
    override = {"dataset": "t", "options": {"gate.langid_q": {"min_chars": 1000}}}
    run_builder(builder, tmp_path / "ovr", override)
    assert [r["reason"] for r in _rejects(tmp_path / "ovr")] == ["duplicate_exact"]


def test_gate_class_is_a_factory_built_on_first_use():
    stage = gate_stage("langid_q", LangIdGate, field="question", lang_field="lang")
    ctx = StageContext(config={}, options={"gate.langid_q": {"min_chars": 1000}})
    out = stage.fn(ROWS[1], ctx)  # abstains: the override raised the minimum
    assert out["provenance"]["gates"]["langid_q"] == {"abstained": ["question"]}
    assert stage.fn(ROWS[1], StageContext(config={})).reason == "wrong_language"


def test_stage_counts_per_language():
    stage = gate_stage("langid_q", LangIdGate(), field="question", lang_field="lang")
    ctx = StageContext(config={})
    for row in ROWS:
        stage.fn(row, ctx)
    counts = stage.fn.counts.to_dict()
    assert counts["de"]["rejected:wrong_language"] == 1 and counts["de"]["agree"] == 2
    assert counts["xx"]["unchecked"] == 1
    assert stage.fn.counts.totals()["n"] == 6


def test_dedup_stage_against_a_reference_file(tmp_path):
    ref = tmp_path / "published.jsonl"
    ref.write_text(json.dumps({"id": "p7", "q": ROWS[3]["question"].upper()}) + "\n")
    builder = _builder(
        dedup_stage("dedup_q", field="question", reference=str(ref), reference_field="q")
    )
    run_builder(builder, tmp_path / "run", {"dataset": "t"})
    rejects = {r["id"]: r for r in _rejects(tmp_path / "run")}
    assert rejects["4"]["reason"] == "duplicate_exact" and "ref:p7" in rejects["4"]["detail"]


def test_entitycs_label_script_stage():
    row = {
        "id": "s1-ja",
        "language": "ja",
        "cs_sentence": "<ja>東京</ja> and <ja>Osaka</ja>",
        "entities": [
            {"language": "ja", "cs_start": 4, "cs_end": 6},
            {"language": "ja", "cs_start": 20, "cs_end": 25},
        ],
    }
    assert entitycs_labels(row) == [("東京", "ja"), ("Osaka", "ja")]
    stage = gate_stage("label_script", ScriptGate(), texts=entitycs_labels)
    verdict = stage.fn(row, StageContext(config={}))
    assert verdict.reason == "implausible_script" and "[ja]" in verdict.detail


def test_set_field_copies_nested_containers():
    record = {"id": "1", "translations": [{"text": "a"}, {"text": "b"}]}
    out = set_field(record, "translations.1.text", "B")
    assert out["translations"][1]["text"] == "B" and record["translations"][1]["text"] == "b"
    assert set_field({"id": "1"}, "provenance.gates", {"x": 1}) == {
        "id": "1",
        "provenance": {"gates": {"x": 1}},
    }
