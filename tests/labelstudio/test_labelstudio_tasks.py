"""Records → tasks and interfaces, without a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dsbuild.entitycs.rounds import strip_entity_tags
from dsbuild.errors import InputError, UsageError
from dsbuild.labelstudio.interfaces import interface_for
from dsbuild.labelstudio.tasks import (
    DATASETS,
    check_of,
    model_version_of,
    sample_keys,
    task_data,
    to_task,
    units_of,
)


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_sample_record_becomes_tasks_whose_variables_the_interface_uses(
    dataset, samples
) -> None:
    interface = interface_for(dataset)
    root = ET.fromstring(interface.label_config)
    variables = {
        el.get("value")[1:].split("[")[0]
        for el in root.iter()
        if (el.get("value") or "").startswith("$")
    }
    variables |= {el.get("on")[1:] for el in root.iter("Repeater")}
    units = units_of(samples(dataset), dataset)
    assert units
    for unit in units:
        task = to_task(unit, dataset)
        assert variables <= set(task["data"]), variables - set(task["data"])
        assert task["data"]["dsbuild_key"] == unit.key
        assert task["data"]["dsbuild_check"] == check_of(task["data"], dataset)


@pytest.mark.parametrize("dataset", DATASETS)
def test_interfaces_carry_instructions_and_their_controls(dataset) -> None:
    interface = interface_for(dataset)
    root = ET.fromstring(interface.label_config)
    names = {el.get("name") for el in root.iter() if el.get("name")}
    expected = {
        "psiloqa": {"hallucination", "answer", "passage", "question", "gold", "comment"},
        "medrect": {"error_flag", "error_sentence", "corrected_sentence", "error_type", "text"},
        "cultural": {
            "seg_score_{{idx}}",
            "seg_src_{{idx}}",
            "seg_tr_{{idx}}",
            "content",
            "style",
            "audience",
            "overall",
            "comment",
        },
        "entitycs": {"verdict_{{idx}}", "ent_{{idx}}", "en", "cs"},
    }[dataset]
    assert expected <= names
    headers = " ".join(el.get("value", "") for el in root.iter("Header"))
    assert "How to annotate" in headers and interface.instructions[0][:30] in headers
    assert interface.instructions_html.startswith("<ol>")


def test_cultural_scale_is_choices_with_zero_and_na() -> None:
    root = ET.fromstring(interface_for("cultural").label_config)
    seg = next(el for el in root.iter("Choices") if el.get("name") == "seg_score_{{idx}}")
    assert [c.get("value") for c in seg] == ["3", "2", "1", "0", "NA"]
    overall = next(el for el in root.iter("Choices") if el.get("name") == "overall")
    assert [c.get("value") for c in overall] == ["3", "2", "1", "0"]
    assert not list(root.iter("Rating"))


def test_unknown_dataset_has_no_interface() -> None:
    with pytest.raises(UsageError, match="no Label Studio interface"):
        interface_for("nope")


def test_keys_per_dataset(samples) -> None:
    cultural = units_of(samples("cultural"), "cultural")
    assert len({u.key for u in cultural}) == len(cultural)
    assert any("|" in u.key for u in cultural)  # several translations: target and system in the key
    entity_units = units_of(samples("entitycs"), "entitycs")
    assert all(u.key.endswith("|" + u.record["language"]) for u in entity_units)
    assert all(
        u.record["language"] != "en" for u in entity_units
    )  # nothing switched, nothing to judge
    medrect = units_of(samples("medrect"), "medrect")
    assert [u.key for u in medrect] == [r["sample_id"] for r in samples("medrect")]


def test_repeated_key_is_refused(samples) -> None:
    records = samples("psiloqa")[:1] * 2
    with pytest.raises(InputError, match="share the key"):
        units_of(records, "psiloqa")


def test_sample_is_stable_and_seeded() -> None:
    keys = [f"k{i}" for i in range(100)]
    a = sample_keys(keys, 10, seed=1)
    assert a == sample_keys(list(reversed(keys)), 10, seed=1)
    assert len(a) == 10 and a != sample_keys(keys, 10, seed=2)
    assert sample_keys(keys, None, 0) == set(keys)


def test_model_version_comes_from_provenance(samples) -> None:
    record = dict(samples("psiloqa")[0])
    assert model_version_of(record, "psiloqa") == record["llm_checkpoint"]
    record["provenance"] = {
        "annotate": {
            "model_answered": "gpt-4o-mini-2024",
            "template_id": "psiloqa.annotate",
            "template_hash": "abcdef0123456789",
        }
    }
    assert model_version_of(record, "psiloqa") == "gpt-4o-mini-2024 psiloqa.annotate@abcdef01"
    unit = units_of([record], "psiloqa")[0]
    assert to_task(unit, "psiloqa")["predictions"][0]["model_version"].startswith(
        "gpt-4o-mini-2024"
    )


def test_check_changes_when_displayed_text_changes(samples) -> None:
    unit = units_of(samples("psiloqa")[:1], "psiloqa")[0]
    data, _ = task_data(unit, "psiloqa")
    edited = {**data, "answer": data["answer"] + " (edited)"}
    assert check_of(edited, "psiloqa") != data["dsbuild_check"]
    assert check_of({**data, "lang": "zz"}, "psiloqa") == data["dsbuild_check"]  # not displayed


def test_medrect_task_offers_numbered_sentences_and_prefills_the_error(samples) -> None:
    record = next(r for r in samples("medrect") if r["error_flag"] == 1)
    task = to_task(units_of([record], "medrect")[0], "medrect")
    values = [c["value"] for c in task["data"]["sentence_choices"]]
    assert values == [str(i) for i in range(1, len(values) + 1)]
    result = {r["from_name"]: r["value"] for r in task["predictions"][0]["result"]}
    assert result["error_flag"] == {"choices": ["error"]}
    assert result["error_sentence"] == {"choices": [str(record["error_sentence_id"])]}
    assert result["corrected_sentence"] == {"text": [record["corrected_sentence"]]}


def test_entity_tags_are_stripped_and_the_switched_entity_highlighted(samples) -> None:
    plain, spans = strip_entity_tags("<en>Marie Curie</en> zog nach <de>Warschau</de>.")
    assert plain == "Marie Curie zog nach Warschau."
    assert [plain[s:e] for s, e in spans] == ["Marie Curie", "Warschau"]
    unit = units_of(samples("entitycs"), "entitycs")[0]
    data, _ = task_data(unit, "entitycs")
    assert "<" + "en>" not in data["cs_text"]
    assert all("<mark>" in e["cs_html"] for e in data["entities"])


def test_cultural_segments_are_highlighted_with_whitespace_kept(samples) -> None:
    unit = units_of(samples("cultural"), "cultural")[0]
    data, result = task_data(unit, "cultural")
    assert result == []  # ratings are human work: no pre-annotation
    nuance = unit.record["nuances"][0]
    assert f"<mark>{nuance['surface']}</mark>" in data["segments"][0]["source_html"]
    assert "white-space: pre-wrap" in data["segments"][0]["source_html"]
    assert len(data["segments"]) == len(unit.record["nuances"])
