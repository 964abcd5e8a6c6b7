"""Wikitext → plain text with links: offsets, removed markup, the EntityCS quirks fixed."""

from __future__ import annotations

import random
import re

import pytest

from dsbuild.wiki import (
    Link,
    ParsedPage,
    iter_pages,
    link_kind,
    normalize_title,
    parse_wikitext,
    pipe_trick,
    redirect_target,
)

SENTINELS = re.compile("[\ufdd0-\ufdef]")


def check(parsed: ParsedPage) -> None:
    """Every link's offsets give its anchor; no internal marker leaks into the text."""
    assert not SENTINELS.search(parsed.text)
    last_end = 0
    for link in parsed.links:
        assert 0 <= link.start < link.end <= len(parsed.text)
        assert parsed.text[link.start : link.end] == link.anchor, link
        assert link.anchor == link.anchor.strip() and link.anchor
        assert link.start >= last_end
        last_end = link.end


def links(text: str, **kwargs) -> list[tuple[str, str]]:
    parsed = parse_wikitext(text, **kwargs)
    check(parsed)
    return [(link.anchor, link.target) for link in parsed.links]


def plain(text: str) -> str:
    parsed = parse_wikitext(text)
    check(parsed)
    return parsed.text


class TestLinks:
    def test_target_and_anchor_forms(self):
        assert links("[[Paris|the capital]] and [[london]] and [[New_York  City]].") == [
            ("the capital", "Paris"),
            ("london", "London"),
            ("New_York City", "New York City"),  # whitespace collapses everywhere
        ]

    def test_offsets_are_exact(self):
        parsed = parse_wikitext("A [[Foo|foo bar]] b [[Baz]].")
        assert parsed.text == "A foo bar b Baz."
        assert parsed.links == [Link(2, 9, "Foo", "foo bar"), Link(12, 15, "Baz", "Baz")]

    def test_offsets_with_emoji_cjk_rtl_and_leading_space(self):
        text = " 😀🎉 [[東京都|東京]]に住む。 [[القاهرة]] هي 👩‍👩‍👧 [[Zürich|Zürich]]'s 𠀋 end"
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "😀🎉 東京に住む。 القاهرة هي 👩‍👩‍👧 Zürich's 𠀋 end"
        assert [(lk.start, lk.end) for lk in parsed.links] == [(3, 5), (10, 17), (27, 33)]
        assert [lk.target for lk in parsed.links] == ["東京都", "القاهرة", "Zürich"]

    def test_link_trail_joins_letters(self):
        assert links("Two [[bus]]es and [[Paris]]'s [[cat]]s9 [[dog]]-like") == [
            ("buses", "Bus"),
            ("Paris", "Paris"),
            ("cats", "Cat"),
            ("dog", "Dog"),
        ]

    def test_link_trail_is_configurable(self):
        assert links("[[Straße]]nbahn [[Zug]]äöü", trail="[a-zäöüß]+") == [
            ("Straßenbahn", "Straße"),
            ("Zugäöü", "Zug"),
        ]
        assert links("[[東京]]都", trail=None) == [("東京", "東京")]
        assert links("[[bus]]es", trail=None) == [("bus", "Bus")]

    def test_nowiki_breaks_a_link_trail(self):
        assert links("[[bus]]<nowiki/>es") == [("bus", "Bus")]
        assert plain("[[bus]]<nowiki/>es") == "buses"

    def test_pipe_trick(self):
        assert links(
            "[[Seattle, Washington|]] [[Yours, Mine and Ours (1968 film)|]] [[Pipe (computing)|]]"
        ) == [
            ("Seattle", "Seattle, Washington"),
            ("Yours, Mine and Ours", "Yours, Mine and Ours (1968 film)"),
            ("Pipe", "Pipe (computing)"),
        ]
        assert pipe_trick("Wikipedia:Manual of Style") == "Manual of Style"

    def test_fragments(self):
        assert links("[[Foo#History|its history]] and [[#Section|below]]") == [
            ("its history", "Foo"),
        ]
        assert plain("[[#Section|below]] x") == "below x"

    def test_unbalanced_link_does_not_swallow_the_rest(self):
        text = "A [[Broken] link, then [[Good]] and [[Also good|fine]]. [[Unclosed and [[Last]]."
        assert links(text) == [("Good", "Good"), ("fine", "Also good"), ("Last", "Last")]
        assert "Broken" in plain(text)

    def test_stray_closing_brackets(self):
        assert links("x]] [[A]] ]] [[B]]") == [("A", "A"), ("B", "B")]

    def test_links_spanning_markup(self):
        parsed = parse_wikitext(
            "'''[[Foo|''Bar'' &amp; <span class=x>baz</span>]]''' and "
            "[[Qux|Q&nbsp;X]] [[Zed|<b>bold</b> z]]<ref>[[Hidden]]</ref>."
        )
        check(parsed)
        assert [(lk.anchor, lk.target) for lk in parsed.links] == [
            ("Bar & baz", "Foo"),
            ("Q X", "Qux"),
            ("bold z", "Zed"),
        ]
        assert parsed.text == "Bar & baz and Q X bold z."

    def test_namespaces_and_interwiki(self):
        text = (
            "See [[Category:Things]][[de:Ding]][[fr:Chose]] [[:Category:Things|things]], "
            "[[wikt:thing|thing]], [[:fr:Chose|chose]], [[Wikipedia:About|about]], "
            "[[Help:Contents]] and [[:Thing]] and [[Star Wars: Episode I]]."
        )
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == (
            "See things, thing, chose, about, Help:Contents and Thing and Star Wars: Episode I."
        )
        assert [(lk.anchor, lk.target) for lk in parsed.links] == [
            ("Thing", "Thing"),
            ("Star Wars: Episode I", "Star Wars: Episode I"),
        ]

    def test_files_with_nested_links_are_dropped(self):
        text = (
            "[[File:Map.png|thumb|upright=1.2|A map of [[Europe]] showing [[France|the "
            "French]] [[Image:x.svg|10px]] border.]]Text with [[Link]]. "
            "[[image:small.jpg]] [[Datei:Karte.png|mini|[[Berlin]]]] end"
        )
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "Text with Link. end"
        assert [lk.target for lk in parsed.links] == ["Link"]

    def test_unclosed_file_link_is_dropped_to_the_end_of_its_line(self):
        parsed = parse_wikitext("[[File:A.jpg|thumb|caption [[X]]\nNext [[Y]] line.")
        check(parsed)
        assert parsed.text == "Next Y line."
        assert [lk.target for lk in parsed.links] == ["Y"]

    def test_sentinel_characters_in_input_are_removed(self):
        parsed = parse_wikitext("a\ufdd0b [[C]]\ufdd1 d")
        check(parsed)
        assert parsed.links == [Link(3, 4, "C", "C")]

    def test_character_references_to_sentinels_are_dropped(self):
        parsed = parse_wikitext("[[A]] &#xFDD0;&#64977; [[B|b&#xfdd1;]] c")
        check(parsed)
        assert parsed.text == "A b c"
        assert [(lk.anchor, lk.target) for lk in parsed.links] == [("A", "A"), ("b", "B")]

    def test_titles(self):
        assert normalize_title("foo_bar#History") == "Foo bar"
        assert normalize_title("  é  toile ") == "É toile"
        assert normalize_title("#Only") is None
        assert normalize_title("AT&amp;T") == "AT&T"
        assert normalize_title("ßtraße") == "ßtraße"  # "ß".upper() is two letters: kept
        assert normalize_title(":Foo") == "Foo"
        assert normalize_title("Foo%20bar\u00a0baz") == "Foo bar baz"

    def test_link_kinds(self):
        kinds = {
            t: link_kind(t)
            for t in [
                "de:Foo",
                "zh-yue:Foo",
                "Star Wars: Episode I",
                "wikt:x",
                ":Category:X",
                "FILE :x",
                "Help:x",
                "Datei:x.png",
                "Re: Foo",
                "Paris",
            ]
        }
        assert kinds == {
            "de:Foo": "language",
            "zh-yue:Foo": "language",
            "Star Wars: Episode I": None,
            "wikt:x": "interwiki",
            ":Category:X": "category",
            "FILE :x": "file",
            "Help:x": "namespace",
            "Datei:x.png": "file",
            "Re: Foo": None,
            "Paris": None,
        }

    def test_redirect_target(self):
        assert redirect_target("#REDIRECT [[foo_bar#Sec|x]]") == "Foo bar"
        assert redirect_target("  #redirect:[[Baz]]") == "Baz"
        assert redirect_target("#REDIRECT [[#Sec]]", "Self") == "Self"
        assert redirect_target("See #REDIRECT [[X]]") is None


class TestRemoval:
    def test_nested_templates(self):
        text = "A{{Infobox|name={{nowrap|X [[Y]]}}|a={{{1|}}}\n| b = {{c|{{d}}}}}} B [[Z]]."
        assert plain(text) == "A B Z."
        assert links(text) == [("Z", "Z")]

    def test_unclosed_template_drops_only_its_paragraph(self):
        text = "First {{broken [[X]] template\nstill broken.\n\nSecond [[Y]] para ok."
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "First\n\nSecond Y para ok."
        assert [lk.target for lk in parsed.links] == ["Y"]

    def test_nested_tables(self):
        text = (
            'Before [[A]].\n{| class="wikitable" style="x"\n|-\n! H1 !! H2\n|-\n| [[B]] || '
            "c\n|-\n|\n{|\n| inner [[C]]\n|}\n|}\nAfter [[D]].\n:{|\n|x\n|}\nEnd."
        )
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "Before A.\n\nAfter D.\n\nEnd."
        assert [lk.target for lk in parsed.links] == ["A", "D"]

    def test_unclosed_table_drops_only_its_paragraph(self):
        text = "A [[X]].\n{| class=x\n| [[Y]]\n|-\n| z\n\nB [[Z]]."
        assert links(text) == [("X", "X"), ("Z", "Z")]
        assert plain(text) == "A X.\n\nB Z."

    def test_table_inside_template_and_template_closing_after_pipe(self):
        text = "A {{box|\n{|\n|x\n|}\n|}} B {{Infobox\n| a = 1\n|}} C"
        assert plain(text) == "A B C"

    def test_refs(self):
        text = (
            'Fact.<ref name="a">{{cite|[[Src]]}} [[Src2]]</ref> More<ref name=b/> '
            'text<ref name="c" /> and [[E]]<REF group=n>x</REF>.\n<references/>\n'
            "<references>\n<ref name=z>q</ref>\n</references>"
        )
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "Fact. More text and E."
        assert [lk.target for lk in parsed.links] == ["E"]

    def test_comments_and_opaque_tags(self):
        text = (
            "A<!-- [[Hidden]] {{x -->B <math>\\frac{{a}}{b}</math> C "
            "<gallery>\nFile:x.jpg|[[G]]\n</gallery> <nowiki>[[Not a link]] {{x}}</nowiki> "
            "<syntaxhighlight lang=c>{{</syntaxhighlight> D<!-- unterminated [[Z]]"
        )
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "AB C [[Not a link]] {{x}} D"
        assert parsed.links == []

    def test_formatting_tags_keep_their_text(self):
        assert (
            plain(
                '<b>bold</b> <small>s</small> x<sup>2</sup> <span style="a">y</span>'
                " a<br/>b <Foo> 3 < 4"
            )
            == "bold s x2 y a\n\nb <Foo> 3 < 4"
        )

    def test_bold_italic(self):
        assert plain("'''Bold''' ''it'' '''''both''''' l''''x'''' it's") == (
            "Bold it both l'x' it's"
        )

    def test_external_links(self):
        assert plain(
            "See [https://example.org the site] and [http://x.org] or "
            "https://bare.example now [//proto.rel rel]."
        ) == ("See the site and or https://bare.example now rel.")

    def test_entities(self):
        assert plain("5&nbsp;km &ndash; &lt;tag&gt; &#91;1&#93; AT&T") == "5 km – <tag> [1] AT&T"

    def test_parentheses_left_empty(self):
        assert plain("Achilles ({{IPA|x}}) or ( {{lang|grc|y}} ) ({{b}}; born 1950) f() x.") == (
            "Achilles or (born 1950) f() x."
        )

    def test_magic_words_and_rules(self):
        assert plain("__NOTOC__ A\n----\nB __TOC__") == "A\n\nB"


class TestParagraphs:
    def test_headings_are_dropped_and_separate_paragraphs(self):
        text = "Intro line one\nline two.\n== History ==\nOld [[Times]].\n===Sub===\n\nNew."
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text == "Intro line one line two.\n\nOld Times.\n\nNew."

    def test_list_items_are_paragraphs(self):
        text = "Intro:\n* one [[A]]\n*# two\n# three\n; term : def\n: indented\nAfter."
        parsed = parse_wikitext(text)
        check(parsed)
        assert parsed.text.split("\n\n") == [
            "Intro:",
            "one A",
            "two",
            "three",
            "term : def",
            "indented",
            "After.",
        ]

    def test_table_remnant_lines_are_dropped(self):
        assert plain("Text.\n|-\n| cell || cell\n! h !! h\n!Kung people.") == (
            "Text.\n\n!Kung people."
        )

    def test_empty_input(self):
        assert parse_wikitext("") == ParsedPage("", [])
        assert parse_wikitext("{{only template}}\n[[Category:X]]") == ParsedPage("", [])


PIECES = [
    "[[A]]",
    "[[b|B b]]",
    "[[c]]s",
    "[[D|]]",
    "[[E (x)|]]",
    "{{t|[[F]]}}",
    "{{",
    "}}",
    "[[",
    "]]",
    "[[G]",
    "[",
    "]",
    "'''",
    "''",
    "<ref>[[H]]</ref>",
    "<ref name=x/>",
    "<!--",
    "-->",
    "\n",
    "\n\n",
    "\n== H ==\n",
    "\n* ",
    "\n{|\n| [[I]]\n|}\n",
    "{|",
    "|}",
    "&amp;",
    "&nbsp;",
    " ",
    "  ",
    "x",
    "yz ",
    "😀",
    "東京",
    "שלום",
    "[[File:f.jpg|thumb|[[J]] cap]]",
    "[[Category:K]]",
    "[http://e.org lab]",
    "<b>",
    "</b>",
    "<nowiki>[[N]]</nowiki>",
    "|",
    "[[:L|l]]",
    "[[wikt:m|m]]",
    "[[#frag|f]]",
    "\ufdd0",
    "\ufdd1",
    "{{{1}}}",
    "<br>",
    "#",
    "&#xfdd0;",
    "\ufdd3",
    "[[O|'' '']]",
    "\t",
    "\xa0",
    " (",
    ")",
    ";",
    "<math>{{</math>",
]


@pytest.mark.parametrize("seed", range(300))
def test_random_wikitext_keeps_offsets_exact(seed):
    rng = random.Random(seed)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 60)))
    parsed = parse_wikitext(text)
    check(parsed)
    assert "\n\n\n" not in parsed.text
    assert parsed.text == parsed.text.strip()


@pytest.mark.fixtures
class TestRealDumps:
    def test_gensim_tables_leave_no_remnants(self, shared_fixtures):
        path = shared_fixtures / "wikipedia" / "enwiki-table-markup-gensim.xml.bz2"
        pages = [p for p in iter_pages(path) if not hasattr(p, "reason")]
        assert len(pages) == 5
        total_links = 0
        for page in pages:
            parsed = parse_wikitext(page.text)
            check(parsed)
            total_links += len(parsed.links)
            for remnant in ("|-", "{|", "|}", "||", "style=", "{{", "}}", "[[", "]]", "<ref"):
                assert remnant not in parsed.text, (page.title, remnant)
            assert len(parsed.text) > 800
        assert total_links > 300

    def test_tiny70_articles(self, shared_fixtures):
        path = shared_fixtures / "wikipedia" / "enwiki-20250201-tiny70.xml.bz2"
        pages = [p for p in iter_pages(path) if not hasattr(p, "reason")]
        articles = [p for p in pages if p.redirect is None]
        assert len(articles) == 6
        for page in articles:
            parsed = parse_wikitext(page.text)
            check(parsed)
            for remnant in ("{{", "}}", "[[", "]]", "<ref", "{|", "'''"):
                assert remnant not in parsed.text, (page.title, remnant)
        anarchism = parse_wikitext(next(p.text for p in articles if p.title == "Anarchism"))
        assert anarchism.text.startswith("Anarchism is a political philosophy and movement")
        first = anarchism.links[0]
        assert (first.anchor, first.target) == ("political philosophy", "Political philosophy")
        assert len(anarchism.links) > 400  # 472 in its text, 13 of them categories


def test_an_external_link_never_swallows_a_wikilink_sentinel():
    """`[http://x[[Foo bar]]]`: the URL must not eat the link's opening marker, which left a
    stray U+FDD1 and gave the next link the wrong target."""
    page = parse_wikitext("[http://x[[Foo bar]]] and [[Baz]] z")
    assert "\ufdd1" not in page.text and "\ufdd0" not in page.text
    assert [(page.text[link.start : link.end], link.target) for link in page.links] == [
        ("Foo bar", "Foo bar"),
        ("Baz", "Baz"),
    ]
    page = parse_wikitext("See [http://x.org the [[Foo]] site] and [[Baz]].")
    assert page.text == "See the Foo site and Baz."
    assert [link.target for link in page.links] == ["Foo", "Baz"]
