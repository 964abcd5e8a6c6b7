"""The label store built in parallel parts: the same rows, redirects, counters and problems
as one pass, for plain, bz2 and gz dumps, broken lines and cut files included."""

from __future__ import annotations

import bz2
import gzip
import json

import pytest

from dsbuild.errors import InputError
from dsbuild.wiki.seekable import decompression_library
from dsbuild.wikidata.parallel import build_label_store_parallel
from dsbuild.wikidata.shards import LinePart, plan_parts
from dsbuild.wikidata.store import build_label_store
from tests.wikidata.test_wikidata_store import item

TITLES = [f"Title {i}" for i in range(0, 400, 3)]


def dump_bytes(variant: str = "ok") -> bytes:
    lines = []
    for i in range(400):
        labels = {"en": f"E{i}", "de": f"D{i}", "fr": f"F{i}" * (1 + i % 7), "it": f"I{i}"}
        line = json.dumps(item(i + 1, f"Title {i}" if i % 5 else None, labels))
        if i % 37 == 6:  # malformed, its enwiki title still found by the prefilter
            line = line.replace('"descriptions": {}', '"descriptions": {]')
        lines.append(line.encode())
    data = b"[\n" + b",\n".join(lines) + b"\n]\n"
    if variant == "no_end":
        data = data[:-2]
    elif variant == "cut_last_line":
        data = data[: -len(lines[-1]) // 2]
    return data


def build(path, tmp_path, name, workers=1):
    problems = []
    parallel = {"workers": workers, "work_dir": tmp_path / f"{name}-work"}
    store = (build_label_store_parallel if workers > 1 else build_label_store)(
        path,
        tmp_path / f"{name}.sqlite3",
        titles=TITLES,
        languages=["de", "fr"],
        redirects={"Old 3": "Title 3"},
        on_problem=problems.append,
        **(parallel if workers > 1 else {}),
    )
    info = {k: v for k, v in store.info.items() if k not in ("seconds", "created")}
    rows = list(store)
    redirects = store.redirects()
    store.close()
    return rows, redirects, info, problems


@pytest.mark.parametrize("variant", ["ok", "no_end", "cut_last_line"])
@pytest.mark.parametrize("part_mb", ["0.0005", "0.003"])
def test_parts_give_the_one_pass_store(tmp_path, monkeypatch, variant, part_mb):
    path = tmp_path / "dump.json"
    path.write_bytes(dump_bytes(variant))
    one = build(path, tmp_path, "one")
    assert one[0] and one[3]  # rows kept, problems seen
    monkeypatch.setenv("DSBUILD_SHARD_MB", part_mb)
    assert len(plan_parts(path, tmp_path / "idx")) > 3
    assert build(path, tmp_path, "two", workers=2) == one


@pytest.mark.parametrize("kind", ["bz2", "gz"])
def test_compressed_dumps_in_parts(tmp_path, monkeypatch, kind):
    if decompression_library(kind) is None:
        pytest.skip(f"no library to index {kind} (pip install 'dsbuild[shards]')")
    data = dump_bytes()
    path = tmp_path / f"dump.json.{kind}"
    path.write_bytes(bz2.compress(data) if kind == "bz2" else gzip.compress(data))
    one = build(path, tmp_path, "one")
    monkeypatch.setenv("DSBUILD_SHARD_MB", "0.001")
    parts = plan_parts(path, tmp_path / "idx")
    assert len(parts) > 3 and all(p.source is not None for p in parts)
    assert build(path, tmp_path, "two", workers=2) == one


def test_every_line_is_in_exactly_one_part(tmp_path):
    path = tmp_path / "d.json"
    data = dump_bytes("cut_last_line")
    path.write_bytes(data)
    for size in (1, 2, 17, 1000, 10**6):
        parts = plan_parts(path, tmp_path / "idx", part_bytes=size)
        assert b"".join(line for p in parts for line in p.lines()) == data, size


def test_a_cut_compressed_dump_is_one_part_read_whole(tmp_path):
    data = bz2.compress(dump_bytes())
    path = tmp_path / "d.json.bz2"
    path.write_bytes(data[: len(data) * 2 // 3])
    parts = plan_parts(path, tmp_path / "idx", part_bytes=100)
    assert parts == [LinePart(str(path), 0, 0, None, True, True)]


@pytest.mark.parametrize("kind", ["bz2", "gz"])
@pytest.mark.parametrize("cut", [False, True])
def test_a_local_parallel_build_of_a_single_stream_dump_gives_the_one_pass_store(
    tmp_path, kind, cut
):
    """Read once with decompression threads (a cut file: again, the usual way): the same
    rows, redirects, meta and problems as one pass with Python's decompressor."""
    if decompression_library(kind) is None:
        pytest.skip(f"no threaded {kind} decompressor (pip install 'dsbuild[shards]')")
    data = dump_bytes()
    packed = bz2.compress(data) if kind == "bz2" else gzip.compress(data)
    path = tmp_path / f"dump.json.{kind}"
    path.write_bytes(packed[: len(packed) * 2 // 3] if cut else packed)
    results = []
    for name, build_store, extra in (
        ("python", build_label_store, {"decompressor": "python"}),
        ("threads", build_label_store_parallel, {"workers": 2}),
    ):
        problems: list = []
        try:
            store = build_store(
                path,
                tmp_path / f"{name}.sqlite3",
                titles=TITLES,
                languages=["de", "fr"],
                on_problem=problems.append,
                **extra,
            )
        except InputError as exc:  # a cut one-block file holds nothing: refused alike
            results.append(("refused", exc.what, problems))
            continue
        info = {k: v for k, v in store.info.items() if k not in ("seconds", "created")}
        results.append((list(store), info, problems))
        store.close()
    assert results[0] == results[1]
    if not cut:
        assert results[0][0] and not results[0][1]["dump"]["truncated"]
