from __future__ import annotations

import pytest

pytest.importorskip("spacy")

from dsbuild.sentences import Sentence, merge_across_links, split_sentences  # noqa: E402


def test_spacy_rule_based_split_with_token_counts():
    text = "  The Danube is long. It flows east!  Does it end in the sea? Yes.  "
    sents = split_sentences(text)
    assert [text[s.start : s.end] for s in sents] == [
        "The Danube is long.",
        "It flows east!",
        "Does it end in the sea?",
        "Yes.",
    ]
    assert [s.n_tokens for s in sents][:2] == [5, 4]


def test_boundary_inside_a_link_is_merged_not_cut():
    text = "He studied at Washington Univ. in St. Louis for years. Then he left."
    i = text.index("Washington")
    j = text.index(" for years")
    plain = split_sentences(text)
    assert len(plain) >= 3  # the splitter cuts after "Univ." or "St."
    merged = split_sentences(text, [(i, j)])
    assert (
        text[merged[0].start : merged[0].end]
        == "He studied at Washington Univ. in St. Louis for years."
    )
    assert text[merged[-1].start : merged[-1].end] == "Then he left."


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
    words = [
        "a",
        "b.",
        "C",
        "!",
        "?",
        "...",
        "(x)",
        '"q"',
        "3.5",
        "e.g.",
        "。",
        "\n",
        "  ",
        "'s",
        "--",
        "…",
    ]
    texts = [
        'He left at 3 p.m. (It rained.) "Fine," she said!? Then... nothing. 中文句子。另一个！ End'
    ]
    texts += [" ".join(rnd.choice(words) for _ in range(rnd.randint(1, 30))) for _ in range(300)]
    for text in texts:
        reference = [
            _trim(text, Sentence(s.start_char, s.end_char, sum(not t.is_space for t in s)))
            for s in nlp(text).sents
            if s.text.strip()
        ]
        ours = [
            _trim(text, s) for s in _spacy_rule_spans(nlp, text) if text[s.start : s.end].strip()
        ]
        assert ours == reference, text


# The chunk-wise path (`_ChunkRule`) must give exactly what tokenizing the whole paragraph
# gives: spans, token counts, and the sentences after merging across links.

_TRICKY = [
    "a",
    "The",
    "river",
    "Danube",
    "b.",
    "C",
    "!",
    "?",
    "...",
    "…",
    "(x)",
    '"q"',
    "'s",
    "--",
    "e.g.",
    "i.e.",
    "U.S.",
    "Dr.",
    "No.",
    "St.",
    "Mr.",
    "a.m.",
    "5p.m.",
    "10a.m.",
    "3.5",
    "1,000",
    "10km",
    "1990s",
    "(born",
    "1950)",
    "end.Next",
    "end.",
    "?!",
    "!!",
    "!?",
    "‼",
    "“Hi”",
    "‘quoted’",
    "'",
    "''",
    '"',
    "(",
    ")",
    "[1]",
    ":",
    ";",
    ",",
    "-",
    "—",
    "–",
    ":)",
    ":-(",
    "(:",
    ":D",
    ":p",
    "8)",
    "<3",
    "O.O",
    "._.",
    "^_^",
    "(-:",
    "x:)",
    ":')",
    "can't",
    "cannot",
    "gonna",
    "Im",
    "dont",
    "Shell",
    "it's",
    "n't",
    "o'clock",
    "y'all",
    "http://example.com/a.b",
    "www.example.org.",
    "user@example.com",
    "C++",
    "#tag",
    "$5",
    "中文句子。",
    "另一个！",
    "日本語です。",
    "ｶﾀｶﾅ｡",
    "Здравствуйте.",
    "नमस्ते।",
    "مرحبا؟",
    "Բարեւ։",
    "𑁇",
    "𝪈",
    "😀",
    "a.",
    "m",
    ".",
    "'",
    "s",
    "d",
    "O",
    "D",
    "(",
    "))",
    ":(",
]
_PLAIN = [
    "the",
    "river",
    "flows",
    "into",
    "Black",
    "Sea",
    "in",
    "1990",
    "it",
    "was",
    "named",
    "after",
    "Vienna",
    "and",
    "Budapest",
    "of",
    "is",
    "a",
    "city",
    "people",
    "live",
]
_SPACES = [" "] * 40 + ["  ", "\n", "\t", "\xa0", "\u2009", "\u3000", " \n "]


def _reference(nlp, text):
    from dsbuild.sentences import _spacy_rule_spans, _trim

    return [_trim(text, s) for s in _spacy_rule_spans(nlp, text) if text[s.start : s.end].strip()]


def _random_texts(n: int, seed: int = 1) -> list[str]:
    import random

    rnd = random.Random(seed)
    texts = []
    for _ in range(n):
        words = [
            rnd.choice(_TRICKY) if rnd.random() < 0.5 else rnd.choice(_PLAIN)
            for _ in range(rnd.randint(1, 40))
        ]
        if rnd.random() < 0.5:  # as parse_wikitext writes paragraphs: single spaces
            texts.append(" ".join(words))
            continue
        glue = [rnd.choice(_SPACES) if rnd.random() < 0.9 else "" for _ in words]
        text = "".join(w + g for w, g in zip(words, glue))
        texts.append(text.strip() if rnd.random() < 0.8 else text)
    return texts


def test_chunk_rule_gives_the_whole_paragraph_spans_on_varied_text():
    from dsbuild.sentences import SentenceSplitter

    splitter = SentenceSplitter("en")
    assert splitter._fast is not None
    fast = 0
    for text in _random_texts(3000):
        ours = splitter.spans(text)
        assert ours == _reference(splitter._nlp, text), text
        fast += splitter._fast.spans(text) is not None
    assert fast > 900  # the chunk-wise path was the one that answered, often


def test_chunk_rule_on_hand_picked_cases():
    from dsbuild.sentences import SentenceSplitter

    splitter = SentenceSplitter("en")
    cases = [
        'He left at 3 p.m. (It rained.) "Fine," she said!? Then... nothing. 中文句子。另一个！ End',
        "It ended.Next it began. \"Quoted.\" (Bracketed.) 'Single.' The end",
        "The U.S. Army, e.g. in 1990, moved. Dr. Smith went to St. Louis. Yes!",
        "Smiles :) and frowns :( are emoticons : ) and . D or . O are not. OK",
        "The band's song ' s and ' d and it' s odd . Next . . . one",
        "Numbers 3.5, 1,000 and 10km. 5p.m. is late. 10a.m. is early.",
        "A" * 300 + ". Next sentence with a www.example.org. link. End.",
        "!",
        ".",
        "...",
        "a",
        "。",
        "？！",
        "'",
        "Word",
        "Word.",
        ". Word",
        "𑁇 𑁇. 𝪈 x",
        " ".join(["word"] * 200) + ". " + " ".join(["token,"] * 150),
    ]
    for text in cases:
        assert splitter.spans(text) == _reference(splitter._nlp, text), text
        assert splitter._fast.spans(text) in (None, _reference(splitter._nlp, text)), text


def test_chunk_rule_with_links_gives_the_same_merged_sentences():
    import random

    from dsbuild.sentences import SentenceSplitter, merge_across_links

    splitter = SentenceSplitter("en")
    rnd = random.Random(7)
    for text in _random_texts(1000, seed=3):
        if not text:
            continue
        links = sorted(
            {tuple(sorted(rnd.sample(range(len(text) + 1), 2))) for _ in range(rnd.randint(0, 4))}
            if len(text) > 1
            else []
        )
        assert splitter.split(text, links) == merge_across_links(
            _reference(splitter._nlp, text), links
        ), text


def test_other_spaces_are_exactly_what_isspace_accepts_but_space():
    import sys

    from dsbuild.sentences import _OTHER_SPACES

    assert _OTHER_SPACES == "".join(
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c != " "
    )


def test_chunk_rule_on_the_embedded_wikipedia_sample():
    from dsbuild.builders.entitycs import sample_paths
    from dsbuild.sentences import SentenceSplitter
    from dsbuild.wiki import Page, iter_pages, parse_wikitext

    splitter = SentenceSplitter("en")
    checked = 0
    for page in iter_pages(sample_paths()[0]):
        if isinstance(page, Page) and page.redirect is None:
            for para in parse_wikitext(page.text).text.split("\n\n"):
                assert splitter.spans(para) == _reference(splitter._nlp, para), para
                checked += 1
    assert checked > 200


@pytest.mark.fixtures
def test_chunk_rule_on_real_wikipedia_pages(shared_fixtures):
    from dsbuild.sentences import SentenceSplitter
    from dsbuild.wiki import Page, iter_pages, parse_wikitext

    splitter = SentenceSplitter("en")
    checked = 0
    for dump in sorted((shared_fixtures / "wikipedia").glob("*.xml.bz2")):
        for page in iter_pages(dump):
            if isinstance(page, Page) and page.redirect is None:
                for para in parse_wikitext(page.text).text.split("\n\n"):
                    assert splitter.spans(para) == _reference(splitter._nlp, para), para
                    checked += 1
    assert checked > 500


def test_uncounted_split_counts_on_demand_what_the_counted_split_says():
    import random

    from dsbuild.sentences import SentenceSplitter

    splitter = SentenceSplitter("en")
    rnd = random.Random(11)
    uncounted = 0
    for text in _random_texts(1500, seed=5):
        links = sorted(
            {tuple(sorted(rnd.sample(range(len(text) + 1), 2))) for _ in range(rnd.randint(0, 3))}
            if len(text) > 1
            else []
        )
        counted = splitter.split(text, links)
        lazy = splitter.split(text, links, count=False)
        assert [(s.start, s.end) for s in lazy] == [(s.start, s.end) for s in counted]
        assert [splitter.count_tokens(text, s) for s in lazy] == [s.n_tokens for s in counted]
        uncounted += sum(s.n_tokens < 0 for s in lazy)
    assert uncounted > 500


def test_chunk_rule_with_tiny_caches_gives_the_same_spans(monkeypatch):
    from dsbuild import sentences

    monkeypatch.setattr(sentences, "_CACHE_SIZE", 8)  # caches emptied again and again
    splitter = sentences.SentenceSplitter("en")
    rule = sentences._ChunkRule(splitter._nlp)
    for text in _random_texts(800, seed=9):
        ours = rule.spans(text)
        if ours is not None:
            assert ours == _reference(splitter._nlp, text), text
        lazy = rule.spans(text, count=False)
        if lazy is not None:
            assert [s.n_tokens for s in ours] == [rule.count(text, s.start, s.end) for s in lazy]
    assert len(rule._kinds) <= 8 + 40 and len(rule._counts) <= 8 + 40
