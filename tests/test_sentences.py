from __future__ import annotations

import pytest

pytest.importorskip("spacy")

from dsbuild.sentences import Sentence, merge_across_links, split_sentences  # noqa: E402


def test_spacy_rule_based_split_with_token_counts():
    text = "  The Danube is long. It flows east!  Does it end in the sea? Yes.  "
    sents = split_sentences(text)
    assert [text[s.start:s.end] for s in sents] == [
        "The Danube is long.", "It flows east!", "Does it end in the sea?", "Yes."]
    assert [s.n_tokens for s in sents][:2] == [5, 4]


def test_boundary_inside_a_link_is_merged_not_cut():
    text = "He studied at Washington Univ. in St. Louis for years. Then he left."
    i = text.index("Washington")
    j = text.index(" for years")
    plain = split_sentences(text)
    assert len(plain) >= 3  # the splitter cuts after "Univ." or "St."
    merged = split_sentences(text, [(i, j)])
    assert text[merged[0].start:merged[0].end] == "He studied at Washington Univ. in St. Louis for years."
    assert text[merged[-1].start:merged[-1].end] == "Then he left."


def test_merge_keeps_sentences_around_links_that_do_not_cross():
    sents = [Sentence(0, 10, 3), Sentence(11, 20, 3), Sentence(21, 30, 3)]
    assert merge_across_links(sents, [(2, 5), (12, 19)]) == sents
    assert merge_across_links(sents, [(8, 13)]) == [Sentence(0, 20, 6), Sentence(21, 30, 3)]
    assert merge_across_links(sents, [(8, 25)]) == [Sentence(0, 30, 9)]


def test_unknown_stanza_model_is_a_clear_error():
    stanza = pytest.importorskip("stanza")  # noqa: F841
    from dsbuild.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        split_sentences("A text.", engine="stanza", lang="xx-none")
    assert "stanza.download" in info.value.one_line()


def test_array_rule_gives_the_same_sentences_as_spacys_sentencizer():
    import random

    from dsbuild.sentences import _spacy_pipeline, _spacy_rule_spans, _trim

    nlp = _spacy_pipeline("en")
    rnd = random.Random(0)
    words = ["a", "b.", "C", "!", "?", "...", "(x)", '"q"', "3.5", "e.g.", "。", "\n", "  ", "'s", "--", "…"]
    texts = ["He left at 3 p.m. (It rained.) \"Fine,\" she said!? Then... nothing. 中文句子。另一个！ End"]
    texts += [" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 30))) for _ in range(300)]
    for text in texts:
        reference = [_trim(text, Sentence(s.start_char, s.end_char, sum(not t.is_space for t in s)))
                     for s in nlp(text).sents if s.text.strip()]
        ours = [_trim(text, s) for s in _spacy_rule_spans(nlp, text) if text[s.start:s.end].strip()]
        assert ours == reference, text
