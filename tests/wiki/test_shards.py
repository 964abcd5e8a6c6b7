"""Shards of a Wikipedia dump: read one by one, in order, they give what `iter_pages` gives,
for every format and every shard size, broken pages and cut files included."""

from __future__ import annotations

import bz2
import gzip

import pytest

from dsbuild.wiki import iter_pages
from dsbuild.wiki.seekable import decompression_library
from dsbuild.wiki.shards import DumpShard, iter_shard_pages, plan_shards
from tests.wiki.test_dump import SITEINFO, dump_xml, page_xml, write

PREFIXED = "http://www.mediawiki.org/xml/export-0.11/"


def pages(n=40):
    out = []
    for i in range(n):
        text = f"Page {i} links [[Target {i % 7}]]. " * (1 + i % 5)
        if i % 9 == 3:
            out.append(page_xml(f"Redirect {i}", 1000 + i, f"#REDIRECT [[Page {i - 1}]]"))
        elif i % 11 == 5:
            out.append(page_xml(f"Category:C{i}", 1000 + i, text, ns=14))
        elif i % 13 == 7:  # not well-formed: an xml_syntax reject
            out.append(page_xml(f"Broken {i}", 1000 + i, text).replace("</title>", "</titel>"))
        elif i % 17 == 8:  # a page that never ends: unclosed_page
            out.append(page_xml(f"Unclosed {i}", 1000 + i, text).replace("</page>", ""))
        elif i % 19 == 2:  # no <ns>: its namespace comes from <siteinfo>
            out.append(page_xml(f"Category:Old {i}", 1000 + i, text, with_ns=False))
        else:
            out.append(page_xml(f"Page {i}", 1000 + i, text))
    return out


def expected(path):
    return list(iter_pages(path))


def sharded(path, **kwargs):
    plan = plan_shards(path, **kwargs)
    return plan, [item for shard in plan for item in iter_shard_pages(shard)]


def multistream_dump(tmp_path, xml_pages, per_stream=3, close=True):
    data = bz2.compress(dump_xml([], close=False).encode())
    index = []
    for g in range(0, len(xml_pages), per_stream):
        for k, _ in enumerate(xml_pages[g : g + per_stream]):
            index.append(f"{len(data)}:{g + k}:T\n")
        data += bz2.compress("".join(xml_pages[g : g + per_stream]).encode())
    if close:
        data += bz2.compress(b"</mediawiki>\n")
    dump = write(tmp_path, "m.xml.bz2", data)
    return dump, write(tmp_path, "m-index.txt", "".join(index).encode())


@pytest.mark.parametrize("shard_bytes", [1, 7, 60, 333, 1000, 10**9])
def test_plain_xml_shards_read_as_the_whole_file(tmp_path, shard_bytes):
    path = write(tmp_path, "d.xml", dump_xml(pages()).encode())
    whole = expected(path)
    assert any(r.reason == "unclosed_page" for r in whole if not hasattr(r, "text"))
    plan, items = sharded(path, shard_bytes=shard_bytes, work_dir=tmp_path / "w")
    assert items == whole
    if shard_bytes < 1000:
        assert len(plan) > 5  # cuts land inside pages, tags and the header


@pytest.mark.parametrize(
    "variant", ["no_end", "cut_in_page", "prefixed", "no_pages", "tail_after_last_page"]
)
@pytest.mark.parametrize("shard_bytes", [1, 50, 400])
def test_plain_xml_edge_cases(tmp_path, variant, shard_bytes):
    xml = dump_xml(pages(12))
    if variant == "no_end":
        xml = xml.replace("</mediawiki>\n", "")
    elif variant == "cut_in_page":
        xml = xml[: xml.rfind("</page>") - 30]
    elif variant == "prefixed":
        xml = xml.replace(f'xmlns="{PREFIXED}"', f'xmlns:mw="{PREFIXED}"')
        for tag in ("page", "title", "ns", "id", "revision", "text", "redirect"):
            xml = xml.replace(f"<{tag}", f"<mw:{tag}").replace(f"</{tag}>", f"</mw:{tag}>")
    elif variant == "no_pages":
        xml = dump_xml([])
    elif variant == "tail_after_last_page":
        xml = xml.replace("</mediawiki>", "  " * 300 + "</mediawiki>")
    path = write(tmp_path, "d.xml", xml.encode())
    _, items = sharded(path, shard_bytes=shard_bytes / 4, work_dir=tmp_path / "w")
    assert items == expected(path)


def test_multistream_shards_are_runs_of_streams(tmp_path):
    xml_pages = pages()
    dump, index = multistream_dump(tmp_path, xml_pages)
    whole = expected(dump)
    for shard_bytes in (1, 200, 700, 10**9):
        plan, items = sharded(dump, index=index, shard_bytes=shard_bytes)
        assert items == whole, shard_bytes
        assert all(s.kind == "multistream" for s in plan)
    plan, _ = sharded(dump, index=index, shard_bytes=1)
    assert len(plan) == 1 + len(range(0, len(xml_pages), 3))  # header, then one per stream
    assert plan[0].start == 0 and plan[-1].end is None and plan[-1].last


def test_multistream_missing_footer_is_reported_once_by_the_last_shard(tmp_path):
    dump, index = multistream_dump(tmp_path, pages(9), close=False)
    whole = expected(dump)
    assert [r.reason for r in whole if not hasattr(r, "text")][-1] == "truncated"
    _, items = sharded(dump, index=index, shard_bytes=1)
    assert items == whole


@pytest.mark.parametrize("kind", ["bz2", "gz"])
def test_single_stream_compressed_dumps_are_cut_by_decompressed_offsets(tmp_path, kind):
    if decompression_library(kind) is None:
        pytest.skip(f"no library to index {kind} (pip install 'dsbuild[shards]')")
    xml = dump_xml(pages(60)).encode()
    data = bz2.compress(xml) if kind == "bz2" else gzip.compress(xml)
    path = write(tmp_path, f"d.xml.{kind}", data)
    whole = expected(path)
    plan, items = sharded(path, shard_bytes=100, work_dir=tmp_path / "w")
    assert len(plan) > 10 and {s.kind for s in plan} == {"range"}
    assert items == whole
    # the index is kept: planning again reuses it
    index_files = sorted(p.name for p in (tmp_path / "w").iterdir())
    mtimes = [p.stat().st_mtime_ns for p in sorted((tmp_path / "w").iterdir())]
    plan_shards(path, shard_bytes=100, work_dir=tmp_path / "w")
    assert [p.stat().st_mtime_ns for p in sorted((tmp_path / "w").iterdir())] == mtimes
    assert len(index_files) == 2


def test_compressed_dump_without_an_index_is_one_whole_shard(tmp_path, monkeypatch):
    from dsbuild.wiki import seekable

    monkeypatch.setattr(seekable, "decompression_library", lambda kind: None)
    xml = dump_xml(pages(10)).encode()
    path = write(tmp_path, "d.xml.gz", gzip.compress(xml))
    plan, items = sharded(path, shard_bytes=10, work_dir=tmp_path / "w")
    assert [s.kind for s in plan] == ["whole"]
    assert items == expected(path)


def test_a_cut_compressed_file_is_one_whole_shard_reporting_the_cut(tmp_path):
    xml = dump_xml(pages(30)).encode()
    data = bz2.compress(xml)
    path = write(tmp_path, "d.xml.bz2", data[: len(data) // 2])
    plan, items = sharded(path, shard_bytes=10, work_dir=tmp_path / "w")
    assert [s.kind for s in plan] == ["whole"]
    assert items == expected(path)
    assert items[-1].reason == "truncated"


def test_header_namespaces_reach_every_shard(tmp_path):
    xml = dump_xml([page_xml(f"Category:X{i}", i, "t", with_ns=False) for i in range(20)])
    assert SITEINFO.strip() in xml
    path = write(tmp_path, "d.xml", xml.encode())
    _, items = sharded(path, shard_bytes=20, work_dir=tmp_path / "w")
    assert items == [] == expected(path)  # all in namespace 14, by the siteinfo's name


def test_shard_keys_name_their_ranges():
    shard = DumpShard("d", "range", 3, 100, None, True)
    assert shard.key == "00003-100-eof"
