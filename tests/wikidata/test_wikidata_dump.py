"""The Wikidata dump streamer: framing, compression, damaged files, the byte prefilter."""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
from pathlib import Path

import pytest

from dsbuild.errors import InputError
from dsbuild.wikidata.dump import (
    DumpReader,
    DumpStats,
    enwiki_title_of_line,
    iter_entities,
    open_dump,
)

FIXTURE = Path("wikidata") / "wikidata-dump-head50-2017.json"


def entity(n: int, title: str | None = None, *, labels: dict | None = None) -> dict:
    """A small item in the dump's shape (key order as in real dumps)."""
    labels = labels if labels is not None else {"en": f"Thing {n}", "de": f"Ding {n}"}
    sitelinks = {"dewiki": {"site": "dewiki", "title": f"Ding {n}", "badges": []}}
    if title is not None:
        sitelinks["enwiki"] = {"site": "enwiki", "title": title, "badges": []}
    return {
        "type": "item",
        "id": f"Q{n}",
        "labels": {k: {"language": k, "value": v} for k, v in labels.items()},
        "descriptions": {},
        "aliases": {},
        "claims": {"P31": [{"mainsnak": {"snaktype": "value", "property": "P31"}}]},
        "sitelinks": sitelinks,
    }


def dump_bytes(entities: list[dict], *, close: bool = True, ascii: bool = True) -> bytes:
    lines = [json.dumps(e, ensure_ascii=ascii, separators=(",", ":")).encode() for e in entities]
    text = b"[\n" + b",\n".join(lines) + b"\n"
    return text + b"]\n" if close else text


def write(path: Path, data: bytes, kind: str = "plain") -> Path:
    if kind == "bz2":
        data = bz2.compress(data)
    elif kind == "gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


ENTITIES = [entity(n, f"Title {n}") for n in range(1, 8)]


def _library(kind: str, decompressor: str) -> None:
    """Skip a test of the in-process libraries' reader when the library is not installed."""
    if decompressor == "auto" or decompressor.startswith("threads"):
        pytest.importorskip("rapidgzip" if kind == "gz" else "indexed_bzip2")


@pytest.mark.parametrize("kind", ["plain", "gz", "bz2"])
@pytest.mark.parametrize("decompressor", ["python", "external", "auto", "threads:2"])
def test_reads_every_compression(tmp_path: Path, kind: str, decompressor: str) -> None:
    if (
        decompressor == "external"
        and kind != "plain"
        and not shutil.which({"gz": "gzip", "bz2": "bzip2"}[kind])
    ):
        pytest.skip("no command-line decompressor")
    _library(kind, decompressor)
    # The name says nothing: the compression is sniffed from the bytes.
    path = write(tmp_path / "dump.data", dump_bytes(ENTITIES), kind)
    stats = DumpStats()
    got = list(iter_entities(path, stats=stats, decompressor=decompressor))
    assert got == ENTITIES
    assert stats.closed and not stats.truncated and stats.malformed == 0
    assert stats.entities == 7 and stats.lines == 9 and not stats.problems


def test_missing_closing_bracket_is_reported_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path / "d.json", dump_bytes(ENTITIES, close=False))
    seen = []
    stats = DumpStats()
    got = list(iter_entities(path, stats=stats, on_problem=seen.append))
    assert got == ENTITIES
    assert not stats.closed and not stats.truncated
    assert [p.kind for p in seen] == ["missing_end"]


def test_head_n_cut_keeps_trailing_comma_lines(tmp_path: Path) -> None:
    # `head -n` of a dump: every entity line still ends in ",", no "]".
    data = b"[\n" + b"".join(json.dumps(e).encode() + b",\n" for e in ENTITIES)
    stats = DumpStats()
    assert list(iter_entities(write(tmp_path / "d.json", data), stats=stats)) == ENTITIES
    assert stats.malformed == 0 and not stats.truncated and not stats.closed


@pytest.mark.parametrize("with_prefilter", [False, True])
def test_truncated_last_line(tmp_path: Path, with_prefilter: bool) -> None:
    data = dump_bytes(ENTITIES, close=False)
    data = data[: data.rindex(b"\n", 0, len(data) - 1) + 40]  # cut inside the last entity
    seen = []
    stats = DumpStats()
    # A prefilter that rejects the cut line: the cut must still be noticed.
    pre = (lambda raw: b'"Q7"' not in raw) if with_prefilter else None
    got = list(
        iter_entities(
            write(tmp_path / "d.json", data), stats=stats, on_problem=seen.append, prefilter=pre
        )
    )
    assert got == ENTITIES[:6]
    assert stats.truncated and stats.malformed == 0
    assert [p.kind for p in seen] == ["truncated", "missing_end"]


def test_malformed_line_is_counted_and_skipped(tmp_path: Path) -> None:
    lines = dump_bytes(ENTITIES).split(b"\n")
    lines[3] = b'{"type":"item","id":"Q3",,,},'
    stats = DumpStats()
    got = list(iter_entities(write(tmp_path / "d.json", b"\n".join(lines)), stats=stats))
    assert [e["id"] for e in got] == ["Q1", "Q2", "Q4", "Q5", "Q6", "Q7"]
    assert stats.malformed == 1 and not stats.truncated and stats.closed
    assert stats.problems[0].kind == "malformed" and stats.problems[0].line == 4


BIG = [entity(n, f"Title {n}") for n in range(1, 12000)]  # bz2: several 900 KB blocks


@pytest.mark.parametrize("kind", ["gz", "bz2"])
@pytest.mark.parametrize("decompressor", ["python", "external", "auto", "threads:2"])
@pytest.mark.parametrize("keep", [0.5, 0.001])
def test_cut_compressed_file_ends_cleanly(
    tmp_path: Path, kind: str, decompressor: str, keep: float
) -> None:
    if decompressor == "external" and not shutil.which({"gz": "gzip", "bz2": "bzip2"}[kind]):
        pytest.skip("no command-line decompressor")
    _library(kind, decompressor)
    data = {"gz": gzip.compress, "bz2": bz2.compress}[kind](dump_bytes(BIG))
    path = tmp_path / f"d.json.{kind}"
    path.write_bytes(data[: int(len(data) * keep)])  # 0.001: cut inside the first block
    stats = DumpStats()
    got = list(iter_entities(path, stats=stats, decompressor=decompressor))
    assert got == BIG[: len(got)]
    if decompressor != "external":  # `bzip2 -dc` keeps less of a cut block than Python
        assert got == list(iter_entities(path, decompressor="python"))
    assert (0 < len(got) < len(BIG)) if keep == 0.5 else not got
    assert stats.truncated and not stats.closed
    assert [p.kind for p in stats.problems][:1] == ["truncated"]


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_auto_reads_with_the_library_when_installed(tmp_path: Path, kind: str) -> None:
    from dsbuild.wikidata import dump

    _library(kind, "auto")
    path = write(tmp_path / "d.json", dump_bytes(ENTITIES), kind)
    if dump._external_tool(kind, "auto") is not None:
        pytest.skip("a parallel command-line tool is on PATH: auto uses it")
    with open_dump(path) as (stream, position):
        assert isinstance(stream.raw, dump._LibraryReader)  # type: ignore[attr-defined]
        assert stream.read() == dump_bytes(ENTITIES)
        assert position() == path.stat().st_size


@pytest.mark.parametrize("kind", ["gz", "bz2"])
def test_a_failing_library_reader_hands_over_where_it_stopped(tmp_path: Path, kind: str) -> None:
    from dsbuild.wikidata.dump import _LibraryReader

    data = dump_bytes(BIG)
    path = write(tmp_path / "d.json", data, kind)

    class Failing:  # the library's reader: a little data, then an error
        def __init__(self) -> None:
            self.given = 0

        def readinto(self, buffer) -> int:
            if self.given >= 300_000:
                raise ValueError("decoding failed")
            n = min(len(buffer), 100_000)
            buffer[:n] = data[self.given : self.given + n]
            self.given += n
            return n

        def tell_compressed(self) -> int:
            return 0

        def close(self) -> None:
            pass

    reader = _LibraryReader(path, kind, Failing)
    got = bytearray()
    chunk = bytearray(65_536)
    while n := reader.readinto(chunk):
        got += chunk[:n]
    reader.close()
    assert bytes(got) == data


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        list(iter_entities(tmp_path / "nope.json.bz2"))
    assert err.value.code == "DSB301"


def test_not_a_dump_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "pages.xml.bz2", b"<mediawiki>\n<page>\n</page>\n", "bz2")
    with pytest.raises(InputError, match="not a Wikidata JSON dump") as err:
        list(iter_entities(path))
    assert err.value.code == "DSB302"


@pytest.mark.parametrize("kind", ["gz", "bz2"])
@pytest.mark.parametrize("decompressor", ["python", "auto"])
def test_damaged_compressed_data_is_an_input_error(
    tmp_path: Path, kind: str, decompressor: str
) -> None:
    _library(kind, decompressor)
    data = {"gz": gzip.compress, "bz2": bz2.compress}[kind](dump_bytes(BIG))
    data = bytearray(data)
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    with pytest.raises(InputError) as err:
        list(iter_entities(write(tmp_path / "d.bz2", bytes(data)), decompressor=decompressor))
    assert err.value.code == "DSB302"


def test_prefilter_sees_raw_bytes_before_parsing(tmp_path: Path) -> None:
    lines = dump_bytes(ENTITIES).split(b"\n")
    lines[2] = b"this is not json but the prefilter drops it,"
    seen: list[bytes] = []

    def pre(raw: bytes) -> bool:
        seen.append(raw)
        return b"not json" not in raw and b'"Q5"' not in raw

    stats = DumpStats()
    got = list(
        iter_entities(write(tmp_path / "d.json", b"\n".join(lines)), prefilter=pre, stats=stats)
    )
    assert [e["id"] for e in got] == ["Q1", "Q3", "Q4", "Q6", "Q7"]
    assert stats.malformed == 0 and stats.skipped == 2  # the bad line was never parsed
    assert all(raw.endswith(b"\n") for raw in seen)  # raw line, newline included
    assert seen[0].endswith(b",\n")


def test_open_dump_reports_position_on_disk(tmp_path: Path) -> None:
    path = write(tmp_path / "d.bz2", dump_bytes(ENTITIES), "bz2")
    with open_dump(path, decompressor="python") as (stream, position):
        assert stream.read().startswith(b"[\n{")
        assert position() == path.stat().st_size


class Recorder:
    def __init__(self) -> None:
        self.total = None
        self.done = 0

    def task(self, description, total=None, done=0):
        from contextlib import contextmanager

        @contextmanager
        def cm():
            self.total = total
            yield self

        return cm()

    def advance(self, n: int = 1) -> None:
        self.done += n


def test_progress_counts_bytes_on_disk(tmp_path: Path) -> None:
    path = write(tmp_path / "d.gz", dump_bytes(ENTITIES * 300), "gz")
    rec = Recorder()
    list(DumpReader(path, progress=rec, decompressor="python").entities())
    assert rec.total == path.stat().st_size == rec.done


# --- enwiki_title_of_line -------------------------------------------------------------------

TITLES = [
    "Scotland",
    "São Paulo (state)",
    'The "Quoted" Title',
    "AC/DC",
    "Back\\slash",
    "Emoji 😀 page",
    "東京",
    'Tricky "enwiki":{"site":"enwiki","title":"Fake"}',
]


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("ascii", [True, False])
def test_enwiki_title_matches_a_full_parse(title: str, ascii: bool) -> None:
    line = json.dumps(entity(1, title), ensure_ascii=ascii, separators=(",", ":")).encode()
    if "/" in title:
        line = line.replace(b"AC/DC", b"AC\\/DC")  # PHP escapes slashes
    assert json.loads(line)["sitelinks"]["enwiki"]["title"] == title
    assert enwiki_title_of_line(line + b",\n") == title


def test_enwiki_title_absent_or_only_mentioned() -> None:
    no_enwiki = entity(2)
    no_enwiki["claims"]["P143"] = [{"datavalue": {"value": '"enwiki"', "site": "enwiki"}}]
    no_enwiki["labels"]["fr"] = {"language": "fr", "value": '"enwiki":{"title":"Fake"}'}
    line = json.dumps(no_enwiki, separators=(",", ":")).encode()
    assert b'"enwiki"' in line and enwiki_title_of_line(line) is None
    assert enwiki_title_of_line(b"") is None


def test_enwiki_title_with_spaces_and_other_key_order() -> None:
    e = entity(3, "Spaced Out")
    e["sitelinks"]["enwiki"] = {"badges": ["Q17437796"], "title": "Spaced Out", "site": "enwiki"}
    assert enwiki_title_of_line(json.dumps(e, indent=1).encode()) == "Spaced Out"
    assert enwiki_title_of_line(json.dumps(e).encode()) == "Spaced Out"


def test_prefilter_on_needed_titles_with_escapes(tmp_path: Path) -> None:
    ents = [entity(1, "Poznań"), entity(2, "Posen"), entity(3, 'Say "hi"'), entity(4)]
    path = write(tmp_path / "d.json", dump_bytes(ents, ascii=True))
    assert b"Pozna\\u0144" in path.read_bytes()
    needed = {"Poznań", 'Say "hi"'}
    got = list(iter_entities(path, prefilter=lambda raw: enwiki_title_of_line(raw) in needed))
    assert [e["id"] for e in got] == ["Q1", "Q3"]


# --- the real dump excerpt ------------------------------------------------------------------


@pytest.mark.fixtures
def test_real_dump_head(shared_fixtures: Path) -> None:
    path = shared_fixtures / FIXTURE
    stats = DumpStats()
    got = list(iter_entities(path, stats=stats))
    assert len(got) == 49 and stats.lines == 50
    assert not stats.closed and not stats.truncated and stats.malformed == 0
    by_id = {e["id"]: e for e in got}
    assert {"Q22", "Q31", "Q1", "Q23", "Q142"} <= by_id.keys()
    assert by_id["Q142"]["labels"]["de"]["value"] == "Frankreich"
    assert by_id["Q23"]["sitelinks"]["enwiki"]["title"] == "George Washington"
    # The byte-level title equals the parsed one on every real line (incl. \u escapes).
    with open(path, "rb") as f:
        titles = [enwiki_title_of_line(raw) for raw in f if raw.startswith(b"{")]
    assert titles == [e["sitelinks"]["enwiki"]["title"] for e in got]
    assert "São Paulo (state)" in titles and "Poznań" in titles


@pytest.mark.fixtures
def test_real_dump_head_bz2_matches_plain(shared_fixtures: Path, tmp_path: Path) -> None:
    data = (shared_fixtures / FIXTURE).read_bytes()
    packed = write(tmp_path / "head.json.bz2", data, "bz2")
    plain = [e["id"] for e in iter_entities(shared_fixtures / FIXTURE)]
    assert [e["id"] for e in iter_entities(packed)] == plain
