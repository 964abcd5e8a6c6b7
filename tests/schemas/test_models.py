from __future__ import annotations

import copy
import json
import subprocess
import sys
from importlib import resources

import pytest
from pydantic import BaseModel, ValidationError

from dsbuild.schemas import (
    DATASET_FORMATS,
    FORMATS,
    CulturalRecord,
    EntityCSRecord,
    JMLEQuestion,
    MEDECRecord,
    MedRECTRecord,
    MushroomRecord,
    PsiloQARecord,
    detect_format,
)
from dsbuild.validation import field_path


def sample(name: str) -> list[dict]:
    text = resources.files("dsbuild.samples").joinpath(name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def errors(model: type[BaseModel], record: dict) -> set[tuple[str | None, str]]:
    """(field path, reason code) of every error; empty when the record is valid."""
    try:
        model.model_validate(record)
    except ValidationError as exc:
        return {(field_path(e["loc"]), e["type"]) for e in exc.errors()}
    return set()


def warnings_of(model: type[BaseModel], record: dict) -> list[tuple[str | None, str]]:
    """(field path, warning code) of every release-quirk warning of a valid record."""
    from dsbuild.quirks import collecting, found

    context = collecting()
    model.model_validate(record, context=context)
    return [(fld, code) for fld, code, _ in found(context)]


class TestRegistry:
    def test_every_dataset_format_is_registered_under_its_dataset(self):
        for dataset, names in DATASET_FORMATS.items():
            for name in names:
                assert FORMATS[name].dataset == dataset
        assert {n for names in DATASET_FORMATS.values() for n in names} == set(FORMATS)

    def test_required_dataset_formats(self):
        assert DATASET_FORMATS["psiloqa"] == ["psiloqa", "mushroom"]
        assert DATASET_FORMATS["entitycs"] == ["entitycs"]
        assert DATASET_FORMATS["medrect"][:2] == ["medrect", "medec"]
        assert DATASET_FORMATS["cultural"] == ["cultural"]

    @pytest.mark.parametrize(
        ("file", "fmt"),
        [
            ("psiloqa.jsonl", "psiloqa"),
            ("entitycs.jsonl", "entitycs"),
            ("medrect.json", "medrect"),
            ("cultural.jsonl", "cultural"),
        ],
    )
    def test_detect_format_on_samples(self, file, fmt):
        records = sample(file)
        assert len(records) >= 4
        for record in records:
            assert detect_format(record, DATASET_FORMATS[FORMATS[fmt].dataset]) == fmt
            assert detect_format(record) == fmt

    def test_detect_format_other_formats(self):
        assert (
            detect_format(
                {"id": 1, "model_input": "q", "model_output_text": "a"}, ["psiloqa", "mushroom"]
            )
            == "mushroom"
        )
        assert (
            detect_format(
                {"Text ID": "x", "Sentences": "0 a", "Error Flag": "0"}, ["medrect", "medec"]
            )
            == "medec"
        )
        assert (
            detect_format(
                {"id": "1", "question": "q", "choices": {}, "answer": []},
                ["medrect", "medec", "jmle"],
            )
            == "jmle"
        )

    def test_detect_format_none_when_nothing_fits(self):
        assert detect_format({"foo": 1}, list(FORMATS)) is None
        assert (
            detect_format({"llm_answer": "a", "question": "q", "labels": []}, ["entitycs"]) is None
        )

    def test_partial_matches_on_request(self):
        record = {"llm_answer": "a", "question": "q"}
        assert detect_format(record, list(FORMATS)) is None
        assert detect_format(record, list(FORMATS), min_share=0.5) == "psiloqa"

    def test_the_psiloqa_detector_does_not_claim_jmle_rows(self):
        assert (
            detect_format({"question": "q", "choices": {}, "answer": ["a"]}, list(FORMATS))
            == "jmle"
        )

    def test_import_is_cheap(self):
        code = "import sys, dsbuild.schemas; print('polars' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "False"

    def test_every_model_keeps_unknown_fields(self):
        for name in ("psiloqa.jsonl", "entitycs.jsonl", "cultural.jsonl"):
            record = dict(sample(name)[0], provenance={"request_hash": "abc"})
            model = FORMATS[detect_format(record)].model
            assert model.model_validate(record).provenance == {"request_hash": "abc"}


@pytest.fixture
def psiloqa_row() -> dict:
    return copy.deepcopy(sample("psiloqa.jsonl")[0])


class TestPsiloQA:
    def test_samples_are_valid(self):
        rows = sample("psiloqa.jsonl")
        assert len(rows) >= 6
        assert len({r["lang"] for r in rows}) >= 3
        for row in rows:
            assert errors(PsiloQARecord, row) == set()

    def test_sample_labels_cover_their_hallucinations(self, psiloqa_row):
        answer = psiloqa_row["llm_answer"]
        assert [answer[s:e] for s, e in psiloqa_row["labels"]] == ["about 6,100 metres", "Kenya"]

    def test_label_out_of_range(self, psiloqa_row):
        psiloqa_row["labels"][1] = [64, 500]
        psiloqa_row["annotated_span"] = None
        assert errors(PsiloQARecord, psiloqa_row) == {("labels[1]", "span_out_of_range")}

    def test_overlapping_labels(self, psiloqa_row):
        psiloqa_row.update(labels=[[17, 35], [30, 40]], annotated_span=None)
        assert errors(PsiloQARecord, psiloqa_row) == {("labels[1]", "span_overlap")}

    def test_unsorted_labels(self, psiloqa_row):
        psiloqa_row.update(labels=[[64, 69], [17, 35]], annotated_span=None)
        assert errors(PsiloQARecord, psiloqa_row) == {("labels[1]", "span_unsorted")}

    def test_empty_label(self, psiloqa_row):
        psiloqa_row.update(labels=[[17, 17]], annotated_span=None)
        assert errors(PsiloQARecord, psiloqa_row) == {("labels[0]", "span_empty")}

    def test_labels_must_agree_with_annotated_span(self, psiloqa_row):
        psiloqa_row["labels"] = [[17, 35]]
        assert errors(PsiloQARecord, psiloqa_row) == {("labels", "labels_mismatch")}

    def test_annotated_span_must_be_the_answer(self, psiloqa_row):
        psiloqa_row["annotated_span"] = psiloqa_row["annotated_span"].replace("Uhuru", "Kibo")
        assert errors(PsiloQARecord, psiloqa_row) == {("annotated_span", "annotated_span_mismatch")}

    def test_unbalanced_hal_markers(self, psiloqa_row):
        psiloqa_row["annotated_span"] = psiloqa_row["annotated_span"].replace("[/HAL].", ".", 1)
        assert errors(PsiloQARecord, psiloqa_row) == {("annotated_span", "hal_markers_unbalanced")}

    def test_no_labels_and_no_annotated_span_is_fine(self, psiloqa_row):
        psiloqa_row.update(labels=[], annotated_span=None, complexity=None, id=17)
        assert errors(PsiloQARecord, psiloqa_row) == set()

    def test_structural_errors(self, psiloqa_row):
        del psiloqa_row["question"]
        psiloqa_row["complexity"] = "extreme"
        psiloqa_row["labels"] = [[1, 2, 3]]
        assert errors(PsiloQARecord, psiloqa_row) == {
            ("question", "missing"),
            ("complexity", "literal_error"),
            ("labels[0]", "too_long"),
        }


def mushroom_row() -> dict:
    text = "Petra won a silver medal in 2008."
    return {
        "id": "val-xx-1",
        "lang": "EN",
        "model_input": "What did Petra win?",
        "model_output_text": text,
        "model_id": "some/model",
        "soft_labels": [
            {"start": 0, "end": 5, "prob": 0.2},
            {"start": 12, "end": 18, "prob": 0.9},
            {"start": 28, "end": 32, "prob": 0.6},
        ],
        "hard_labels": [[12, 18], [28, 32]],
        "annotations": {"a1": [[12, 18], [28, 32]], "a2": [[12, 12], [12, 18]], "a3": []},
    }


class TestMushroom:
    def test_valid(self):
        assert errors(MushroomRecord, mushroom_row()) == set()

    def test_hard_label_order_and_overlap_do_not_matter(self):
        row = mushroom_row()
        row["hard_labels"] = [[28, 32], [12, 16], [14, 18]]
        assert errors(MushroomRecord, row) == set()

    def test_unsorted_soft_labels_are_fine_but_overlap_is_not(self):
        row = mushroom_row()
        row["soft_labels"].reverse()
        assert errors(MushroomRecord, row) == set()
        row["soft_labels"].append({"start": 10, "end": 14, "prob": 0.1})
        assert errors(MushroomRecord, row) == {("soft_labels[3]", "span_overlap")}

    def test_prob_range(self):
        row = mushroom_row()
        row["soft_labels"][0]["prob"] = 1.5
        assert errors(MushroomRecord, row) == {("soft_labels[0].prob", "less_than_equal")}

    def test_hard_label_out_of_range(self):
        row = mushroom_row()
        row["hard_labels"][1] = [28, 99]
        assert errors(MushroomRecord, row) == {("hard_labels[1]", "span_out_of_range")}

    def test_hard_labels_must_be_the_majority_of_soft_labels(self):
        row = mushroom_row()
        row["hard_labels"] = [[12, 18]]
        assert errors(MushroomRecord, row) == {("hard_labels", "hard_soft_mismatch")}

    def test_annotator_span_out_of_range(self):
        row = mushroom_row()
        row["annotations"]["a2"].append([30, 34])
        assert errors(MushroomRecord, row) == {("annotations.a2[2]", "span_out_of_range")}

    def test_labels_are_required(self):
        row = mushroom_row()
        del row["soft_labels"]
        assert errors(MushroomRecord, row) == {("soft_labels", "missing")}


@pytest.fixture
def entity_row() -> dict:
    return copy.deepcopy(sample("entitycs.jsonl")[0])


class TestEntityCS:
    def test_samples_are_valid(self):
        rows = sample("entitycs.jsonl")
        assert len({r["language"] for r in rows}) >= 3 and "en" in {r["language"] for r in rows}
        for row in rows:
            assert errors(EntityCSRecord, row) == set()

    def test_sample_offsets_index_the_text_inside_tags(self):
        row = next(r for r in sample("entitycs.jsonl") if r["language"] == "ru")
        e = row["entities"][1]
        assert row["cs_sentence"][e["cs_start"] : e["cs_end"]] == "Варшава"
        assert row["cs_sentence"][e["cs_start"] - 4 : e["cs_start"]] == "<ru>"
        assert row["en_sentence"][e["en_start"] : e["en_end"]] == "Warsaw"

    def test_offsets_must_point_inside_the_tags(self, entity_row):
        entity_row["entities"][1]["cs_start"] += 1
        assert errors(EntityCSRecord, entity_row) == {("entities[1].cs_start", "span_misaligned")}
        entity_row["entities"][1]["cs_start"] -= 1
        entity_row["entities"][0]["en_end"] = 500
        assert errors(EntityCSRecord, entity_row) == {("entities[0].en_start", "span_misaligned")}

    def test_one_entity_per_tagged_entity(self, entity_row):
        entity_row["entities"].pop()
        assert errors(EntityCSRecord, entity_row) == {("entities", "entity_count_mismatch")}

    def test_entity_language_must_match_its_tag(self, entity_row):
        row = next(r for r in sample("entitycs.jsonl") if r["language"] == "de")
        row["entities"][0]["language"] = "fr"
        assert errors(EntityCSRecord, row) == {("entities[0].language", "language_mismatch")}

    def test_context_outside_entities_must_match(self):
        row = next(r for r in sample("entitycs.jsonl") if r["language"] == "de")
        row["cs_sentence"] = row["cs_sentence"].replace("was born", "is born")
        assert errors(EntityCSRecord, row) == {("cs_sentence", "context_mismatch")}

    def test_bad_qid(self, entity_row):
        entity_row["entities"][0]["qid"] = "X7186"
        assert errors(EntityCSRecord, entity_row) == {
            ("entities[0].qid", "string_pattern_mismatch")
        }

    def test_a_sentence_without_entities_is_invalid(self):
        row = {
            "id": "x",
            "language": "de",
            "en_sentence": "No tags here.",
            "cs_sentence": "No tags here.",
            "entities": [],
        }
        assert errors(EntityCSRecord, row) == {("en_sentence", "no_entities")}


def marker_row(**changes) -> dict:
    row = {
        "id": 19,
        "language": "de",
        "en_sentence": (
            "<en>Marie Curie</en> was born in <en>Warsaw</en>, then a <b>city</b> of Russia."
        ),
        "cs_sentence": (
            "<en>Marie Curie</en> was born in <de>Warschau</de>, then a <b>city</b> of Russia."
        ),
    }
    row.update(changes)
    return row


class TestEntityCSMarkers:
    def test_valid_marker_form(self):
        assert errors(EntityCSRecord, marker_row()) == set()

    def test_e_markers_are_accepted(self):
        row = marker_row(
            cs_sentence="<e>Marie Curie</e> was born in <e>Warschau</e>, "
            "then a <b>city</b> of Russia."
        )
        assert errors(EntityCSRecord, row) == set()

    def test_unclosed_marker(self):
        row = marker_row(
            en_sentence="<en>Marie Curie was born in <en>Warsaw</en>, then a <b>city</b> of Russia."
        )
        assert errors(EntityCSRecord, row) == {("en_sentence", "markers_unbalanced")}

    def test_mismatched_closing_tag(self):
        row = marker_row(
            cs_sentence="<en>Marie Curie</en> was born in <de>Warschau</en>, "
            "then a <b>city</b> of Russia."
        )
        assert errors(EntityCSRecord, row) == {("cs_sentence", "markers_unbalanced")}

    def test_entity_counts_differ(self):
        row = marker_row(
            cs_sentence="Marie Curie was born in <de>Warschau</de>, then a <b>city</b> of Russia."
        )
        assert errors(EntityCSRecord, row) == {("cs_sentence", "entity_count_mismatch")}

    def test_text_between_entities_differs(self):
        row = marker_row(
            cs_sentence="<en>Marie Curie</en> wurde in <de>Warschau</de>, "
            "then a <b>city</b> of Russia."
        )
        assert errors(EntityCSRecord, row) == {("cs_sentence", "context_mismatch")}


def medrect_item(**changes) -> dict:
    item = {
        "sample_id": "t-1",
        "sentences": (
            "1. A man has chest pain.\n2. His ECG shows ST elevation\nin leads II, III and aVF.\n"
            "3. He is sent home."
        ),
        "error_flag": 1,
        "error_type": "monitoring_management",
        "error_sentence_id": 3,
        "error_sentence": "He is sent home.",
        "corrected_sentence": "He is taken for coronary angiography.",
        "corrected_text": (
            "A man has chest pain. His ECG shows ST elevation in leads II, III and aVF. "
            "He is taken for coronary angiography."
        ),
    }
    item.update(changes)
    return item


class TestMedRECT:
    def test_samples_are_valid_with_and_without_errors(self):
        items = sample("medrect.json")
        assert {i["error_flag"] for i in items} == {0, 1}
        for item in items:
            assert errors(MedRECTRecord, item) == set()

    def test_valid_with_a_continuation_line(self):
        assert errors(MedRECTRecord, medrect_item()) == set()

    def test_error_sentence_compared_without_layout(self):
        item = medrect_item(
            error_sentence_id=2,
            error_sentence="His ECG shows ST elevation in leads II,\r\nIII and aVF.",
            corrected_sentence="His ECG is normal.",
            corrected_text="His ECG is normal.",
        )
        assert errors(MedRECTRecord, item) == set()

    def test_numbering_gap(self):
        item = medrect_item(sentences="1. A man has chest pain.\n3. He is sent home.")
        assert errors(MedRECTRecord, item) == {("sentences", "numbering_gap")}

    def test_unnumbered_first_line(self):
        item = medrect_item(
            sentences="A man has chest pain.\n1. His ECG.\n2. More.\n3. He is sent home."
        )
        assert errors(MedRECTRecord, item) == {("sentences", "sentence_unnumbered")}

    def test_missing_error_type(self):
        assert errors(MedRECTRecord, medrect_item(error_type=None)) == {
            ("error_type", "error_field_missing")
        }

    def test_type_outside_the_scheme_is_a_warning_not_an_error(self):
        # It was an error (error_type_unknown); a release may use its own names (issue 14).
        item = medrect_item(error_type="surgery")
        assert errors(MedRECTRecord, item) == set()
        assert warnings_of(MedRECTRecord, item) == [("error_type", "error_type_outside_scheme")]

    def test_sentence_id_out_of_range(self):
        item = medrect_item(error_sentence_id=7)
        assert errors(MedRECTRecord, item) == {
            ("error_sentence_id", "error_sentence_id_out_of_range")
        }

    def test_error_sentence_must_be_the_numbered_sentence(self):
        item = medrect_item(error_sentence_id=1)
        assert errors(MedRECTRecord, item) == {("error_sentence", "error_sentence_mismatch")}

    def test_correction_must_change_something(self):
        item = medrect_item(
            corrected_sentence="He is sent  home.", corrected_text="A man. He is sent home."
        )
        assert errors(MedRECTRecord, item) == {("corrected_sentence", "correction_unchanged")}

    def test_corrected_text_must_hold_the_correction(self):
        item = medrect_item(corrected_text="A man has chest pain. He is sent home.")
        assert errors(MedRECTRecord, item) == {("corrected_text", "corrected_text_mismatch")}

    def test_clean_item_has_no_error_fields(self):
        item = medrect_item(
            error_flag=0,
            error_sentence_id=None,
            error_sentence=None,
            corrected_sentence=None,
            corrected_text=None,
        )
        assert errors(MedRECTRecord, item) == {("error_type", "clean_has_error_fields")}

    def test_flag_must_be_0_or_1(self):
        assert errors(MedRECTRecord, medrect_item(error_flag=2)) == {
            ("error_flag", "literal_error")
        }


def medec_row(**changes) -> dict:
    row = {
        "Text ID": "ms-val-1",
        "Text": "A woman has a cough. She is given amoxicillin.",
        "Sentences": "0 A woman has a cough.\r\n1 She is given amoxicillin.",
        "Error Flag": "1",
        "Error Type": "pharmacotherapy",
        "Error Sentence ID": "1",
        "Error Sentence": "She is given\r\namoxicillin.",
        "Corrected Sentence": "She is given supportive care.",
        "Corrected Text": "A woman has a cough. She is given supportive care.",
    }
    row.update(changes)
    return row


class TestMEDEC:
    def test_csv_strings_are_coerced(self):
        assert errors(MEDECRecord, medec_row()) == set()
        record = MEDECRecord.model_validate(medec_row())
        assert (record.error_flag, record.error_sentence_id) == (1, 1)

    def test_clean_row_with_na(self):
        row = medec_row(
            **{
                "Error Flag": "0",
                "Error Type": "NA",
                "Error Sentence ID": "-1",
                "Error Sentence": "NA",
                "Corrected Sentence": "NA",
                "Corrected Text": "NA",
            }
        )
        assert errors(MEDECRecord, row) == set()
        row["Error Sentence ID"] = "1"
        assert errors(MEDECRecord, row) == {("Error Sentence ID", "clean_has_error_fields")}

    def test_error_row_needs_a_sentence_id(self):
        assert errors(MEDECRecord, medec_row(**{"Error Sentence ID": "-1"})) == {
            ("Error Sentence ID", "error_field_missing")
        }

    def test_error_types_ignore_case(self):
        assert errors(MEDECRecord, medec_row(**{"Error Type": "CausalOrganism"})) == set()
        assert errors(MEDECRecord, medec_row(**{"Error Type": "surgery"})) == set()
        assert warnings_of(MEDECRecord, medec_row(**{"Error Type": "surgery"})) == [
            ("Error Type", "error_type_outside_scheme")
        ]

    def test_numbering_starts_at_zero(self):
        row = medec_row(Sentences="1 A woman has a cough.\r\n2 She is given amoxicillin.")
        assert ("Sentences", "numbering_gap") in errors(MEDECRecord, row)

    def test_bad_flag_text(self):
        assert errors(MEDECRecord, medec_row(**{"Error Flag": "yes"})) == {
            ("Error Flag", "literal_error")
        }


class TestJMLE:
    def question(self, **changes) -> dict:
        q = {
            "id": "119A16",
            "question": "Which finding?",
            "choices": {"a": "x", "b": "y", "c": "z"},
            "answer": ["b"],
            "case_classification": {"type": "definite_case", "confidence": "high", "score": 10},
        }
        q.update(changes)
        return q

    def test_valid(self):
        assert errors(JMLEQuestion, self.question()) == set()

    def test_empty_choice(self):
        assert errors(JMLEQuestion, self.question(choices={"a": "x", "b": " "})) == {
            ("choices.b", "choice_empty")
        }

    def test_answer_not_a_choice(self):
        assert errors(JMLEQuestion, self.question(answer=["b", "f"])) == {
            ("answer[1]", "answer_not_a_choice")
        }

    def test_choice_letters_in_order(self):
        assert errors(JMLEQuestion, self.question(choices={"a": "x", "c": "y"}, answer=["a"])) == {
            ("choices", "choice_letters")
        }

    def test_id_pattern(self):
        assert errors(JMLEQuestion, self.question(id="A16")) == {("id", "string_pattern_mismatch")}


@pytest.fixture
def segment() -> dict:
    return copy.deepcopy(sample("cultural.jsonl")[1])


class TestCultural:
    def test_samples_are_valid(self):
        rows = sample("cultural.jsonl")
        assert len(rows) == 4
        for row in rows:
            assert errors(CulturalRecord, row) == set()

    def test_nuance_surface_mismatch(self, segment):
        segment["nuances"][1]["surface"] = "そば"
        assert errors(CulturalRecord, segment) == {("nuances[1]", "surface_mismatch")}

    def test_nuances_sorted_and_disjoint(self, segment):
        segment["nuances"].reverse()
        assert ("nuances[1]", "span_unsorted") in errors(CulturalRecord, segment)

    def test_unknown_category(self, segment):
        segment["nuances"][0]["category"] = "proverb"
        assert errors(CulturalRecord, segment) == {("nuances[0].category", "literal_error")}

    def test_score_range(self, segment):
        segment["translations"][0]["ratings"][0]["score"] = 4
        assert errors(CulturalRecord, segment) == {
            ("translations[0].ratings[0].score", "literal_error")
        }

    def test_na_means_not_translated_so_only_segments_take_it(self, segment):
        segment["translations"][0]["ratings"][1]["score"] = "NA"
        assert errors(CulturalRecord, segment) == set()
        segment["translations"][0]["ratings"][0]["score"] = "NA"
        assert errors(CulturalRecord, segment) == {
            ("translations[0].ratings[0].score", "na_on_full_text")
        }

    def test_full_text_criteria_and_rater_metadata(self, segment):
        rating = segment["translations"][1]["ratings"][1]
        assert (rating["content"], rating["style"], rating["audience"]) == (2, 3, 2)
        assert (
            CulturalRecord.model_validate(segment).translations[1].ratings[1].rater_meta["locale"]
            == "en-GB"
        )
        rating["style"] = 4
        assert errors(CulturalRecord, segment) == {
            ("translations[1].ratings[1].style", "less_than_equal")
        }
        rating["style"] = 3
        segment["translations"][0]["ratings"][1]["content"] = 1
        assert errors(CulturalRecord, segment) == {
            ("translations[0].ratings[1].content", "criterion_on_segment")
        }

    def test_rating_of_a_missing_nuance(self, segment):
        segment["translations"][0]["ratings"][1]["nuance"] = 3
        assert errors(CulturalRecord, segment) == {
            ("translations[0].ratings[1].nuance", "nuance_index_out_of_range")
        }

    def test_duplicate_rating(self, segment):
        ratings = segment["translations"][1]["ratings"]
        ratings.append(dict(ratings[0]))
        assert errors(CulturalRecord, segment) == {
            ("translations[1].ratings[2]", "duplicate_rating")
        }

    def test_duplicate_translation_and_same_language(self, segment):
        segment["translations"].append(dict(segment["translations"][0], ratings=[]))
        segment["translations"][1]["target_lang"] = "ja"
        assert errors(CulturalRecord, segment) == {
            ("translations[1].target_lang", "same_language"),
            ("translations[2]", "duplicate_translation"),
        }

    def test_a_segment_needs_a_nuance(self, segment):
        segment["nuances"] = []
        assert errors(CulturalRecord, segment) == {("nuances", "too_short")}
