from __future__ import annotations

import pytest

from dsbuild.errors import ConfigError
from dsbuild.gates.dedup import Deduplicator, exact_key, normalize_text, shingles

BASE = "Which river flows through the old town of Tübingen in southern Germany?"


def test_normalisation_folds_case_width_punctuation_and_space():
    assert normalize_text("  Ｈello,  WORLD!! «Straße» ﬁ ") == "hello world strasse fi"
    assert exact_key("Hello, world") == exact_key("hello   WORLD!")


def test_exact_duplicate_rejected_with_first_id():
    d = Deduplicator()
    assert d.check("a", BASE).keep
    verdict = d.check("b", BASE.upper().replace(" ", "  ") + "!!")
    assert verdict.reason == "duplicate_exact" and verdict.duplicate_of == "a"


def test_near_duplicate_rejected_with_first_id_and_similarity():
    d = Deduplicator()
    d.check("a", BASE)
    verdict = d.check("b", BASE.replace("southern", "south"))
    assert verdict.reason == "near_duplicate" and verdict.duplicate_of == "a"
    assert verdict.score >= 0.8 and "Jaccard" in verdict.detail


def test_different_texts_are_kept_and_first_occurrence_wins():
    d = Deduplicator()
    assert d.check("a", BASE).keep
    assert d.check("b", "Who wrote the first grammar of the Finnish language?").keep
    assert d.check("c", BASE).duplicate_of == "a"
    assert d.check("d", BASE).duplicate_of == "a"  # rejected texts are not remembered
    assert len(d) == 2


def test_threshold_is_configurable():
    edited = BASE.replace("old town of Tübingen", "city of Stuttgart")
    strict, loose = Deduplicator(threshold=0.9), Deduplicator(threshold=0.4)
    for d in (strict, loose):
        d.check("a", BASE)
    assert strict.check("b", edited).keep
    assert loose.check("b", edited).reason == "near_duplicate"


def test_exact_only_mode_ignores_near_duplicates():
    d = Deduplicator(near=False)
    d.check("a", BASE)
    assert d.check("b", BASE.replace("southern", "south")).keep
    assert d.check("c", BASE).reason == "duplicate_exact"


def test_reference_texts_are_duplicates_but_not_judged():
    d = Deduplicator()
    d.add_references([("q1", BASE), ("q2", "Wie heißt die Hauptstadt von Finnland?")])
    assert d.check("x", BASE.lower()).duplicate_of == "ref:q1"
    assert d.check("y", "Wie heisst die Hauptstadt von Finnland").reason in (
        "duplicate_exact",
        "near_duplicate",
    )


def test_chinese_without_spaces_is_compared_by_characters():
    d = Deduplicator()
    d.check("a", "北京是中华人民共和国的首都，也是全国的政治和文化中心。")
    assert (
        d.check("b", "北京是中华人民共和国的首都，也是全国的政治与文化中心。").reason
        == "near_duplicate"
    )


def test_datasketch_backend_agrees_on_the_same_cases():
    pytest.importorskip("datasketch")
    d = Deduplicator(backend="datasketch")
    d.check("a", BASE)
    assert d.check("b", BASE.replace("southern", "south")).reason == "near_duplicate"
    assert d.check("c", "Who wrote the first grammar of the Finnish language?").keep


def test_bad_settings_are_config_errors():
    for kwargs in ({"threshold": 0}, {"num_perm": 100, "bands": 16}, {"backend": "nope"}):
        with pytest.raises(ConfigError, match="DSB103"):
            Deduplicator(**kwargs)


def test_shingles_of_short_text():
    assert shingles("abc") == ["abc"] and shingles("") == []
    assert shingles("abcdef", 5) == ["abcde", "bcdef"]
