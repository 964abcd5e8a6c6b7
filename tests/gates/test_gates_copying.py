from __future__ import annotations

from dsbuild.gates.copying import AnswerRepeatsQuestion, CopiedFromPassage

PASSAGE = (
    "Tampere is a city in the Pirkanmaa region, located in the western part of Finland. "
    "It is the most populous inland centre in the Nordic countries."
)


def test_answer_that_repeats_the_question_is_rejected():
    gate = AnswerRepeatsQuestion()
    record = {"question": "Where is Tampere located?"}
    assert gate.check("where is Tampere located", record=record).reason == "answer_repeats_question"
    assert (
        gate.check("Where is Tampere located? Hmm.", record=record).reason
        == "answer_repeats_question"
    )


def test_real_answer_is_kept():
    record = {"question": "Where is Tampere located?"}
    assert AnswerRepeatsQuestion().check("In western Finland, in Pirkanmaa.", record=record).keep


def test_missing_question_abstains():
    assert AnswerRepeatsQuestion().check("Paris", record={}).status == "abstained"


def test_question_lifted_from_the_passage_is_rejected():
    gate = CopiedFromPassage()
    record = {"wiki_passage": PASSAGE}
    verdict = gate.check(
        "It is the most populous inland centre in the Nordic countries?", record=record
    )
    assert verdict.reason == "copied_from_passage" and "whole" in verdict.detail
    long_copy = (
        "Which city, located in the western part of Finland. It is the most populous "
        "inland centre, is meant?"
    )
    assert gate.check(long_copy, record=record).reason == "copied_from_passage"


def test_question_in_own_words_is_kept():
    record = {"wiki_passage": PASSAGE}
    assert (
        CopiedFromPassage()
        .check("Which Finnish inland city has the most people?", record=record)
        .keep
    )


def test_passage_field_is_configurable():
    gate = CopiedFromPassage("source.text")
    record = {"source": {"text": PASSAGE}}
    assert (
        gate.check("located in the western part of Finland", record=record).reason
        == "copied_from_passage"
    )
