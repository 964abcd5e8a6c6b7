from __future__ import annotations

import pytest

from dsbuild.codeswitch import (
    XLMR_LANGUAGES,
    EntityLink,
    candidate_languages,
    choose_languages,
    english_row,
    switch,
)

TEXT = "The Danube flows into the Black Sea near Tulcea."
LINKS = [
    EntityLink(4, 10, "Danube", "Q1653"),
    EntityLink(26, 35, "Black Sea", "Q166"),
    EntityLink(41, 47, "Tulcea", None),
]
LABELS = {
    "Q1653": {"de": "Donau", "ja": "ドナウ川", "ar": "الدانوب", "ru": "Дунай"},
    "Q166": {"de": "Schwarzes Meer", "ja": "黒海", "ar": "البحر الأسود"},
}


def check_offsets(row):
    for ent in row["entities"]:
        inner = row["cs_sentence"][ent["cs_start"] : ent["cs_end"]]
        lang = ent["language"]
        assert row["cs_sentence"][ent["cs_start"] - len(lang) - 2 : ent["cs_start"]] == f"<{lang}>"
        assert row["cs_sentence"][ent["cs_end"] : ent["cs_end"] + len(lang) + 3] == f"</{lang}>"
        assert row["en_sentence"][ent["en_start"] - 4 : ent["en_start"]] == "<en>"
        if lang != "en":
            assert inner == LABELS[ent["qid"]][lang]
    return True


def test_candidates_need_every_entity_with_a_qid_labelled():
    assert candidate_languages(LINKS, LABELS, ["de", "ja", "ru", "ar", "fr"]) == ["de", "ja", "ar"]
    assert candidate_languages([EntityLink(0, 3, "X", None)], LABELS, ["de"]) == []


def test_switch_tags_labels_and_offsets_with_non_latin_scripts():
    for lang in ("de", "ja", "ar"):
        row = switch("s1", TEXT, LINKS, LABELS, lang)
        assert check_offsets(row)
        assert row["en_sentence"] == (
            "The <en>Danube</en> flows into the <en>Black Sea</en> near <en>Tulcea</en>."
        )
    row = switch("s1", TEXT, LINKS, LABELS, "ja")
    assert (
        row["cs_sentence"]
        == "The <ja>ドナウ川</ja> flows into the <ja>黒海</ja> near <en>Tulcea</en>."
    )
    assert [e["language"] for e in row["entities"]] == ["ja", "ja", "en"]
    assert row["id"] == "s1-ja" and row["sentence_id"] == "s1"


def test_english_row_offsets_are_the_anchors():
    row = english_row("s1", TEXT, LINKS)
    assert [row["en_sentence"][e["en_start"] : e["en_end"]] for e in row["entities"]] == [
        "Danube",
        "Black Sea",
        "Tulcea",
    ]
    assert row["language"] == "en" and row["cs_sentence"] == row["en_sentence"]


def test_language_choice_depends_only_on_seed_and_sentence_id():
    cands = list(XLMR_LANGUAGES[:20])
    a = choose_languages(cands, 5, seed=1, sentence_id="42-3")
    assert a == choose_languages(list(cands), 5, seed=1, sentence_id="42-3")
    assert len(a) == 5 and a == [c for c in cands if c in a]
    assert any(choose_languages(cands, 5, seed=1, sentence_id=f"x{i}") != a for i in range(5))
    assert any(
        choose_languages(cands, 5, seed=2, sentence_id=f"x{i}")
        != choose_languages(cands, 5, seed=1, sentence_id=f"x{i}")
        for i in range(5)
    )
    assert choose_languages(["de", "fr"], 5, seed=0, sentence_id="s") == ["de", "fr"]


def test_fraction_switches_a_seeded_subset():
    rows = [switch(f"s{i}", TEXT, LINKS, LABELS, "de", fraction=0.5, seed=3) for i in range(200)]
    switched = sum(e["language"] == "de" for r in rows for e in r["entities"])
    assert 120 < switched < 280  # about half of the 400 entities with a QID
    assert all(check_offsets(r) for r in rows)
    again = [switch(f"s{i}", TEXT, LINKS, LABELS, "de", fraction=0.5, seed=3) for i in range(200)]
    assert rows == again


def test_93_distinct_target_languages_without_english():
    assert len(set(XLMR_LANGUAGES)) == 93 and "en" not in XLMR_LANGUAGES


@pytest.mark.parametrize("text", ["🌊 The Danube flows into the Black Sea near Tulcea."])
def test_offsets_count_code_points(text):
    shift = 2
    links = [
        EntityLink(s + shift, e + shift, t, q)
        for s, e, t, q in ((link.start, link.end, link.title, link.qid) for link in LINKS)
    ]
    row = switch("s", text, links, LABELS, "de")
    assert (
        row["cs_sentence"][row["entities"][0]["cs_start"] : row["entities"][0]["cs_end"]] == "Donau"
    )


def test_rows_from_a_shared_english_tagging_are_the_same():
    from dsbuild.codeswitch import english_tagged

    english = english_tagged(TEXT, LINKS)
    assert english_row("s1", TEXT, LINKS, english=english) == english_row("s1", TEXT, LINKS)
    for lang in ("de", "ja"):
        for fraction in (1.0, 0.5):
            shared = switch("s1", TEXT, LINKS, LABELS, lang, fraction=fraction, english=english)
            assert shared == switch("s1", TEXT, LINKS, LABELS, lang, fraction=fraction)
