"""The EntityCS text stage's shortcuts (paragraphs found from the links, links matched to
sentences by pointers, token counts only where the filter needs them, the remnant test)
must give what the plain way gives: each is compared here with a plain implementation."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("spacy")

from dsbuild.builders.entitycs import DEFAULTS, sample_paths, sentence_filter
from dsbuild.entitycs.text import REMNANTS as _REMNANTS
from dsbuild.entitycs.text import has_remnant as _has_remnant
from dsbuild.entitycs.text import link_paragraphs as _link_paragraphs
from dsbuild.entitycs.text import link_paragraphs_walk as _link_paragraphs_walk
from dsbuild.entitycs.text import paragraphs as _paragraphs
from dsbuild.entitycs.text import sentence_splitter as _splitter
from dsbuild.entitycs.text import sentences as _sentences
from dsbuild.stages import Reject
from dsbuild.wiki import Link, Page, iter_pages, parse_wikitext


def _plain_sentences(page, text, links, splitter, opts):
    """The text stage's sentence records, the plain way: every paragraph, every link
    tested against every sentence, every sentence counted."""
    li = n = 0
    for para_start, para_end in _paragraphs(text):
        while li < len(links) and links[li].start < para_start:
            li += 1
        para_links = []
        lj = li
        while lj < len(links) and links[lj].end <= para_end:
            para_links.append(links[lj])
            lj += 1
        if not para_links:
            continue
        para = text[para_start:para_end]
        spans = [(link.start - para_start, link.end - para_start) for link in para_links]
        for sent in splitter.split(para, spans):
            inside = [
                (s - sent.start, e - sent.start, link)
                for (s, e), link in zip(spans, para_links)
                if s >= sent.start and e <= sent.end
            ]
            s_text = para[sent.start : sent.end]
            sid = f"{page.id}-{n}"
            n += 1
            reason = sentence_filter(s_text, [(s, e) for s, e, _ in inside], sent.n_tokens, opts)
            if reason:
                yield Reject(sid, "read_wikipedia", reason)
                continue
            yield {
                "id": sid,
                "kind": "sentence",
                "page": page.title,
                "text": s_text,
                "links": [[s, e, link.target] for s, e, link in inside],
            }


def _sample_pages():
    return [
        page
        for page in iter_pages(sample_paths()[0])
        if isinstance(page, Page) and page.redirect is None
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"max_tokens": 12, "min_chars": 5},
        {"max_tokens": 40, "min_links": 0, "max_links": 3},
        {"max_tokens": 1000, "min_chars": 300},
    ],
)
def test_sentence_records_are_those_of_the_plain_way(changes):
    opts = {**DEFAULTS, **changes}
    splitter = _splitter("spacy")
    records = 0
    for page in _sample_pages():
        parsed = parse_wikitext(page.text)
        ours = list(_sentences(page, parsed.text, parsed.links, splitter, opts))
        assert ours == list(_plain_sentences(page, parsed.text, parsed.links, splitter, opts))
        records += len(ours)
    assert records > 300


def test_link_paragraphs_are_those_of_the_walk_on_the_sample():
    paragraphs = 0
    for page in _sample_pages():
        parsed = parse_wikitext(page.text)
        ours = list(_link_paragraphs(parsed.text, parsed.links))
        assert ours == list(_link_paragraphs_walk(parsed.text, parsed.links))
        paragraphs += len(ours)
    assert paragraphs > 100


def test_link_paragraphs_are_those_of_the_walk_on_odd_layouts():
    rnd = random.Random(5)
    pieces = ["word", "x", " ", "\n\n", "\n", "\n\n\n", "  ", "a b", "\n\n \n\n"]
    for _ in range(3000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 25)))
        # sorted, disjoint links anywhere: over blank lines, across paragraphs, empty ones
        cuts = sorted(rnd.sample(range(len(text) + 1), min(len(text) + 1, 2 * rnd.randint(0, 5))))
        links = [Link(s, e, "T", text[s:e]) for s, e in zip(cuts[::2], cuts[1::2])]
        assert list(_link_paragraphs(text, links)) == list(_link_paragraphs_walk(text, links)), (
            text,
            links,
        )


def test_remnant_test_is_any_remnant_in_the_text():
    rnd = random.Random(0)
    alphabet = ["|", "{", "}", "[", "]", "t", "h", "u", "m", "b", "p", "x", "a", " "]
    found = 0
    for _ in range(50000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        assert _has_remnant(text) == any(r in text for r in _REMNANTS), text
        found += _has_remnant(text)
    assert 10000 < found < 40000  # both answers are tested, often
