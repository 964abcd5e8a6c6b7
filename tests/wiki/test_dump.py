"""Streaming MediaWiki XML dumps: formats, broken and truncated input, redirects, memory."""

from __future__ import annotations

import bz2
import gzip
import io
import random
import tracemalloc
from xml.sax.saxutils import escape, quoteattr

import pytest

from dsbuild.errors import InputError, UsageError
from dsbuild.wiki import (
    Page,
    PageReject,
    iter_pages,
    iter_redirects,
    multistream_ranges,
    open_dump,
    redirect_map,
)
from dsbuild.wiki import dump as dump_module

NS11 = "http://www.mediawiki.org/xml/export-0.11/"
SITEINFO = """  <siteinfo>
    <sitename>Wikipedia</sitename>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="14" case="first-letter">Category</namespace>
      <namespace key="100" case="first-letter">Portal</namespace>
    </namespaces>
  </siteinfo>
"""


def page_xml(title, page_id, text, *, ns=0, redirect=None, prefix="", with_ns=True):
    p = prefix
    parts = [f"  <{p}page>\n    <{p}title>{escape(title)}</{p}title>\n"]
    if with_ns:
        parts.append(f"    <{p}ns>{ns}</{p}ns>\n")
    parts.append(f"    <{p}id>{page_id}</{p}id>\n")
    if redirect is not None:
        parts.append(f"    <{p}redirect title={quoteattr(redirect)} />\n")
    parts.append(
        f"    <{p}revision>\n      <{p}id>9{page_id}</{p}id>\n"
        f'      <{p}text bytes="{len(text)}" xml:space="preserve">{escape(text)}</{p}text>\n'
        f"    </{p}revision>\n  </{p}page>\n"
    )
    return "".join(parts)


def dump_xml(pages, *, siteinfo=True, close=True):
    head = f'<mediawiki xmlns="{NS11}" version="0.11" xml:lang="en">\n'
    return (
        head + (SITEINFO if siteinfo else "") + "".join(pages) + ("</mediawiki>\n" if close else "")
    )


PAGES = [
    page_xml("Alpha", 1, "'''Alpha''' is [[Beta|the second]] & <b>more</b>."),
    page_xml("Beta", 2, "Beta text 😀 東京 שלום."),
    page_xml("Gamma", 3, "#REDIRECT [[Alpha]]", redirect="Alpha"),
    page_xml("Category:Things", 4, "Category page.", ns=14),
    page_xml("Delta", 5, "Last [[page]]."),
]


def read(path_or_stream, **kwargs):
    return list(iter_pages(path_or_stream, **kwargs))


def titles(items):
    return [item.title for item in items if isinstance(item, Page)]


def rejects(items):
    return [item for item in items if isinstance(item, PageReject)]


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


class TestFormats:
    @pytest.mark.parametrize("kind", ["xml", "bz2", "gz", "multistream", "wrong-suffix"])
    def test_every_format_gives_the_same_pages(self, tmp_path, kind):
        raw = dump_xml(PAGES).encode()
        if kind == "xml":
            path = write(tmp_path, "d.xml", raw)
        elif kind == "bz2":
            path = write(tmp_path, "d.xml.bz2", bz2.compress(raw))
        elif kind == "gz":
            path = write(tmp_path, "d.xml.gz", gzip.compress(raw))
        elif kind == "multistream":  # header, pages in groups, footer: one bz2 stream each
            head = dump_xml([], close=False).encode()
            streams = [
                head,
                "".join(PAGES[:2]).encode(),
                "".join(PAGES[2:]).encode(),
                b"</mediawiki>\n",
            ]
            path = write(
                tmp_path, "d-multistream.xml.bz2", b"".join(bz2.compress(s) for s in streams)
            )
        else:
            path = write(tmp_path, "d.txt", bz2.compress(raw))
        items = read(path)
        assert titles(items) == ["Alpha", "Beta", "Gamma", "Delta"]
        assert rejects(items) == []
        alpha = items[0]
        assert alpha == Page(
            "1", "Alpha", 0, None, "'''Alpha''' is [[Beta|the second]] & <b>more</b>."
        )
        assert items[1].text == "Beta text 😀 東京 שלום."

    def test_open_stream_is_accepted(self):
        raw = dump_xml(PAGES).encode()
        assert titles(read(io.BytesIO(raw))) == ["Alpha", "Beta", "Gamma", "Delta"]

    def test_tiny_reads_split_tags_anywhere(self, monkeypatch):
        raw = dump_xml(PAGES).encode()
        monkeypatch.setattr(dump_module, "_BLOCK", 3)
        assert titles(read(io.BytesIO(raw))) == ["Alpha", "Beta", "Gamma", "Delta"]

        class Dribble(io.RawIOBase):
            def __init__(self, data):
                self.data, self.pos, self.rng = data, 0, random.Random(1)

            def read(self, n=-1):
                size = self.rng.randint(1, 9)
                chunk = self.data[self.pos : self.pos + size]
                self.pos += len(chunk)
                return chunk

        monkeypatch.setattr(dump_module, "_BLOCK", 1 << 20)
        items = read(Dribble(raw))
        assert titles(items) == ["Alpha", "Beta", "Gamma", "Delta"] and not rejects(items)

    def test_missing_empty_and_unknown_files(self, tmp_path):
        with pytest.raises(InputError) as missing:
            iter_pages(tmp_path / "nope.xml.bz2")  # raises at the call, before any next()
        assert missing.value.code == "DSB301"
        with pytest.raises(InputError) as empty:
            read(write(tmp_path, "empty.xml", b""))
        assert empty.value.code == "DSB304"
        with pytest.raises(InputError) as unknown:
            open_dump(write(tmp_path, "x.xml", b"PK\x03\x04 a zip file"))
        assert unknown.value.code == "DSB302"

    def test_missing_siteinfo_and_any_export_version(self):
        old = (
            '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.3/" version="0.3">\n'
            + page_xml("Old", 7, "Old text.", with_ns=False)
            + page_xml("Category:Old", 8, "cat", with_ns=False)
            + "</mediawiki>"
        )
        items = read(io.BytesIO(old.encode()), namespaces=None)
        assert [(p.title, p.ns) for p in items] == [("Old", 0), ("Category:Old", 14)]

    def test_prefixed_namespace_tags_match_by_local_name(self):
        raw = (
            f'<mw:mediawiki xmlns:mw="{NS11}" version="0.11">\n'
            + page_xml("Prefixed", 11, "Text [[A]].", prefix="mw:")
            + "</mw:mediawiki>"
        )
        items = read(io.BytesIO(raw.encode()))
        assert items == [Page("11", "Prefixed", 0, None, "Text [[A]].")]

    def test_several_documents_concatenated(self):
        raw = dump_xml(PAGES[:2]) + dump_xml(PAGES[4:], siteinfo=False)
        assert titles(read(io.BytesIO(raw.encode()))) == ["Alpha", "Beta", "Delta"]


def multistream(tmp_path, groups):
    """A multistream dump (header stream, one stream per group of pages, footer stream)
    and its index, as Wikimedia publishes them."""
    data = bz2.compress(dump_xml([], close=False).encode())
    index = []
    for group in groups:
        for page in group:
            title = page.split("<title>")[1].split("</title>")[0]
            page_id = page.split("<id>")[1].split("</id>")[0]
            index.append(f"{len(data)}:{page_id}:{title}\n")
        data += bz2.compress("".join(group).encode())
    data += bz2.compress(b"</mediawiki>\n")
    dump = write(tmp_path, "wiki-multistream.xml.bz2", data)
    return dump, write(
        tmp_path, "wiki-multistream-index.txt.bz2", bz2.compress("".join(index).encode())
    )


class TestShards:
    GROUPS = [
        [page_xml(f"P{g}{i}", 10 * g + i, f"Text {g} {i}.") for i in range(3)] for g in range(1, 6)
    ]

    def test_ranges_cover_every_page_once(self, tmp_path):
        dump, index = multistream(tmp_path, self.GROUPS)
        assert multistream_ranges(index, 1) == [(0, None)]
        expected = [f"P{g}{i}" for g in range(1, 6) for i in range(3)]
        for shards in (2, 3, 5, 9):
            ranges = multistream_ranges(index, shards)
            assert len(ranges) == min(shards, 5)
            assert ranges[0][0] == 0 and ranges[-1][1] is None
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            items = [
                item for start, end in ranges for item in iter_pages(dump, start=start, end=end)
            ]
            assert titles(items) == expected and not rejects(items), shards

    def test_a_range_not_at_stream_starts_ends_truncated(self, tmp_path):
        dump, index = multistream(tmp_path, self.GROUPS)
        start, end = multistream_ranges(index, 5)[1]
        items = list(iter_pages(dump, start=start, end=end - 10))
        assert [r.reason for r in rejects(items)] == ["truncated"]

    def test_ranges_need_bz2(self, tmp_path):
        path = write(tmp_path, "d.xml", dump_xml(PAGES).encode())
        with pytest.raises(UsageError):
            iter_pages(path, start=10)


class TestNamespacesAndRedirects:
    def test_namespace_filter(self):
        raw = io.BytesIO(dump_xml(PAGES).encode())
        assert titles(read(raw, namespaces=(14,))) == ["Category:Things"]
        raw.seek(0)
        assert len(read(raw, namespaces=None)) == 5

    def test_redirects_from_tag_and_from_text(self):
        pages = PAGES + [
            page_xml("Epsilon", 6, "#redirect: [[delta_page#History|x]]\n{{R from move}}"),
            page_xml("Zeta", 7, "#REDIRECT [[Epsilon]]"),
            page_xml("Eta", 8, "Not a #REDIRECT [[Alpha]]"),
        ]
        raw = dump_xml(pages).encode()
        items = read(io.BytesIO(raw))
        by_title = {p.title: p for p in items}
        assert by_title["Gamma"].redirect == "Alpha"
        assert by_title["Epsilon"].redirect == "Delta page"
        assert by_title["Eta"].redirect is None
        documents = [p.title for p in items if p.redirect is None]
        assert documents == ["Alpha", "Beta", "Delta", "Eta"]
        assert list(iter_redirects(io.BytesIO(raw))) == [
            ("Gamma", "Alpha"),
            ("Epsilon", "Delta page"),
            ("Zeta", "Epsilon"),
        ]
        assert redirect_map(io.BytesIO(raw)) == {
            "Gamma": "Alpha",
            "Epsilon": "Delta page",
            "Zeta": "Delta page",
        }

    def test_redirect_cycles_end(self):
        raw = dump_xml(
            [
                page_xml("A", 1, "#REDIRECT [[B]]", redirect="B"),
                page_xml("B", 2, "#REDIRECT [[A]]", redirect="A"),
            ]
        ).encode()
        assert redirect_map(io.BytesIO(raw)) == {"A": "A", "B": "B"}


class TestBrokenInput:
    def test_malformed_pages_are_rejected_and_reading_goes_on(self):
        broken = [
            PAGES[0],
            "  <page>\n    <title>Bad &amp; XML</title>\n    <ns>0</ns>\n    <id>20</id>\n"
            "    <revision><text>a <b unclosed</text></revision>\n  </page>\n",
            "  <page>\n    <ns>0</ns>\n    <id>21</id>\n    <revision><text>no title</text>"
            "</revision>\n  </page>\n",
            "  <page>\n    <title>No text</title>\n    <ns>0</ns>\n    <id>22</id>\n"
            "    <revision><id>1</id></revision>\n  </page>\n",
            "  <page>\n    <title>Deleted</title>\n    <ns>0</ns>\n    <id>23</id>\n"
            '    <revision><text deleted="deleted" /></revision>\n  </page>\n',
            "  <page>\n    <title>Unclosed</title>\n    <ns>0</ns>\n    <id>24</id>\n"
            "    <revision><text>cut here",
            "  <page>\n    <title>No id</title>\n    <ns>0</ns>\n"
            "    <revision><text>x</text></revision>\n  </page>\n",
            "  <page>\n    <title>Bad ns</title>\n    <ns>zero</ns>\n    <id>25</id>\n"
            "    <revision><text>x</text></revision>\n  </page>\n",
            PAGES[1],
        ]
        items = read(io.BytesIO(dump_xml(broken).encode()))
        assert titles(items) == ["Alpha", "Beta"]
        got = [(r.page_id, r.title, r.reason) for r in rejects(items)]
        assert got == [
            ("20", "Bad & XML", "xml_syntax"),
            ("21", None, "no_title"),
            ("22", "No text", "no_text"),
            ("23", "Deleted", "no_text"),
            ("24", "Unclosed", "unclosed_page"),
            (None, "No id", "no_id"),
            ("25", "Bad ns", "bad_ns"),
        ]
        assert all(r.detail for r in rejects(items))

    def test_truncated_plain_xml_inside_a_page(self):
        raw = dump_xml(PAGES).encode()
        cut = raw[: raw.index(b"Last [[page")]
        items = read(io.BytesIO(cut))
        assert titles(items) == ["Alpha", "Beta", "Gamma"]
        assert items[-1] == PageReject("5", "Delta", "truncated", "the file ends inside a <page>")

    def test_truncated_between_pages(self):
        raw = dump_xml(PAGES[:2], close=False).encode()
        items = read(io.BytesIO(raw))
        assert titles(items) == ["Alpha", "Beta"]
        assert [(r.reason, r.title) for r in rejects(items)] == [("truncated", None)]

    @pytest.mark.parametrize("compress", [bz2.compress, gzip.compress])
    def test_truncated_compressed_file_ends_with_one_reject(self, tmp_path, compress):
        rng = random.Random(0)
        words = ["alpha", "beta", "[[gamma]]", "delta", "{{x}}", "epsilon", "zeta", "eta"]
        pages = [
            page_xml(f"P{i}", i, " ".join(rng.choice(words) for _ in range(3000)))
            for i in range(1, 120)
        ]
        raw = dump_xml(pages).encode()
        if compress is bz2.compress:
            data = bz2.compress(raw, compresslevel=1)  # 100 kB blocks: a cut keeps some
        else:
            data = compress(raw)
        path = write(tmp_path, "cut.xml.bz2", data[: len(data) * 2 // 3])
        items = read(path)
        good = titles(items)
        assert 10 < len(good) < 119
        assert good == [f"P{i}" for i in range(1, len(good) + 1)]
        assert [r.reason for r in rejects(items)] == ["truncated"]
        assert isinstance(items[-1], PageReject)
        assert "compressed stream ended early" in items[-1].detail

    def test_corrupt_bz2_does_not_raise(self, tmp_path):
        raw = dump_xml(PAGES * 50).encode()
        data = bytearray(bz2.compress(raw))
        for i in range(len(data) // 2, len(data) // 2 + 40):
            data[i] ^= 0x55
        items = read(write(tmp_path, "bad.xml.bz2", bytes(data)))
        assert [r.reason for r in rejects(items)][-1:] in (["unreadable"], ["truncated"])

    def test_oversized_page_is_skipped(self, monkeypatch):
        monkeypatch.setattr(dump_module, "MAX_PAGE_BYTES", 5000)
        monkeypatch.setattr(dump_module, "_BLOCK", 1024)
        pages = [PAGES[0], page_xml("Huge", 30, "x" * 20000), PAGES[1]]
        items = read(io.BytesIO(dump_xml(pages).encode()))
        assert titles(items) == ["Alpha", "Beta"]
        assert [(r.title, r.reason) for r in rejects(items)] == [("Huge", "too_large")]


class Generated(io.RawIOBase):
    """A decompressed dump produced piece by piece, never whole in memory."""

    def __init__(self, parts):
        self.parts = iter(parts)
        self.buffer = b""

    def read(self, n=-1):
        for part in self.parts:
            self.buffer += part
            if len(self.buffer) >= n:
                break
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


def traced_peak(items):
    tracemalloc.start()
    try:
        kept = [(type(item).__name__, item.title) for item in items]
        return kept, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded(monkeypatch):
    """16 MB of pages streamed from a generator: the reader never holds much of it."""
    monkeypatch.setattr(dump_module, "_BLOCK", 64 * 1024)
    page = page_xml("Page", 1, "Some [[text]] here. " * 200).encode()
    count = 16_000_000 // len(page)
    parts = (
        part for part in [dump_xml([], close=False).encode()] + [page] * count + [b"</mediawiki>"]
    )
    kept, peak = traced_peak(iter_pages(Generated(parts)))
    assert kept == [("Page", "Page")] * count
    assert peak < 3_000_000 + count * 100  # the list of results this test keeps


def test_oversized_page_is_not_held(monkeypatch):
    monkeypatch.setattr(dump_module, "MAX_PAGE_BYTES", 1_000_000)
    monkeypatch.setattr(dump_module, "_BLOCK", 64 * 1024)
    line = b"x" * 1000 + b"\n"
    parts = (
        part
        for part in (
            [
                dump_xml([], close=False).encode(),
                b"<page><title>Huge</title><ns>0</ns><id>1</id><revision><text>",
            ]
            + [line] * 16_000
            + [b"</text></revision></page>", PAGES[0].encode(), b"</mediawiki>"]
        )
    )
    kept, peak = traced_peak(iter_pages(Generated(parts)))
    assert kept == [("PageReject", "Huge"), ("Page", "Alpha")]
    assert peak < 3_000_000


@pytest.mark.fixtures
class TestRealDumps:
    def test_tiny70_has_no_siteinfo_70_pages_64_redirects(self, shared_fixtures):
        path = shared_fixtures / "wikipedia" / "enwiki-20250201-tiny70.xml.bz2"
        assert b"<siteinfo" not in bz2.decompress(path.read_bytes())
        items = read(path)
        assert rejects(items) == []
        assert len(items) == 70
        assert sum(p.redirect is not None for p in items) == 64
        assert items[0].title == "AccessibleComputing"
        assert items[0].redirect == "Computer accessibility"
        assert {p.title for p in items if p.redirect is None} == {
            "Anarchism",
            "Albedo",
            "A",
            "Alabama",
            "Achilles",
            "Abraham Lincoln",
        }
        assert dict(iter_redirects(path))["AfghanistanHistory"] == "History of Afghanistan"

    def test_gensim_export_010(self, shared_fixtures):
        path = shared_fixtures / "wikipedia" / "enwiki-table-markup-gensim.xml.bz2"
        items = read(path)
        assert [(p.title, p.redirect) for p in items][:2] == [
            ("Constructive vote of no confidence", None),
            ("List of Prison Break characters", None),
        ]
        assert len(items) == 5 and all(isinstance(p, Page) and p.ns == 0 for p in items)

    def test_real_files_concatenated_are_a_multistream_dump(self, shared_fixtures, tmp_path):
        folder = shared_fixtures / "wikipedia"
        data = (folder / "enwiki-20250201-tiny70.xml.bz2").read_bytes() + (
            folder / "enwiki-table-markup-gensim.xml.bz2"
        ).read_bytes()
        items = read(write(tmp_path, "both.xml.bz2", data))
        assert len(items) == 75 and not rejects(items)
        first = len((folder / "enwiki-20250201-tiny70.xml.bz2").read_bytes())
        index = write(tmp_path, "index.txt", f"0:10:A\n{first}:217916:B\n".encode())
        ranges = multistream_ranges(index, 2)
        assert ranges == [(0, first), (first, None)]
        shards = [read(tmp_path / "both.xml.bz2", start=a, end=b) for a, b in ranges]
        assert [len(s) for s in shards] == [70, 5] and not rejects(shards[0] + shards[1])
