"""EntityCS's text stage in shards: the same records and rejects, byte for byte, for every
input format, shard size, number of workers and engine; a killed parallel run keeps the
shards it finished and redoes only the others."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dsbuild.builders.entitycs import make_builder, sample_paths
from dsbuild.runs import run_builder
from dsbuild.wiki.seekable import decompression_library

REPO = Path(__file__).resolve().parents[2]
_PAGE = re.compile(rb"<page>.*?</page>\s*", re.S)


def big_xml(copies: int) -> bytes:
    """The embedded mini-Wikipedia's pages repeated with new titles and ids, plus one broken
    page: the input of every test here."""
    raw = sample_paths()[0].read_bytes()
    pages = _PAGE.findall(raw)
    out = [b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n']
    for k in range(copies):
        for page in pages:
            page = re.sub(rb"<title>([^<]*)</title>", rb"<title>\1 (%d)</title>" % k, page, 1)
            page = re.sub(
                rb"<id>(\d+)</id>",
                lambda m: b"<id>%d</id>" % (int(m.group(1)) + k * 10**6),
                page,
                1,
            )
            out.append(b"  " + page)
    out.append(b"  <page><title>Broken</title><id>7</id><revision><text>x</page>\n")
    out.append(b"</mediawiki>\n")
    return b"".join(out)


def write_dump(tmp_path: Path, kind: str, copies: int = 3) -> Path:
    xml = big_xml(copies)
    if kind == "xml":
        path = tmp_path / "enwiki.xml"
        path.write_bytes(xml)
    elif kind == "bz2":
        path = tmp_path / "enwiki.xml.bz2"
        path.write_bytes(bz2.compress(xml))
    elif kind == "gz":
        path = tmp_path / "enwiki.xml.gz"
        path.write_bytes(gzip.compress(xml))
    else:  # multistream: a header stream, streams of 5 pages, a footer; the index beside it
        head, _, rest = xml.partition(b"  <page>")
        pages = _PAGE.findall(b"  <page>" + rest)
        path = tmp_path / "enwiki-pages-articles-multistream.xml.bz2"
        data, index = bz2.compress(head), []
        for g in range(0, len(pages), 5):
            index.append(f"{len(data)}:{g}:T\n")
            data += bz2.compress(b"".join(pages[g : g + 5]))
        data += bz2.compress(b"</mediawiki>\n")  # the broken page is the last of `pages`
        path.write_bytes(data)
        (tmp_path / "enwiki-pages-articles-multistream-index.txt.bz2").write_bytes(
            bz2.compress("".join(index).encode())
        )
    return path


def config(dump: Path, workers: int = 1, engine: str = "local") -> dict:
    return {
        "seed": 0,
        "languages": ["de", "fr"],
        "workers": workers,
        "engine": engine,
        "options": {"wikipedia": str(dump), "wikidata": str(sample_paths()[1])},
    }


def outputs(result) -> tuple[bytes, bytes]:
    return result.records_path.read_bytes(), result.rejects_path.read_bytes()


def text_stage_dir(run_dir: Path) -> Path:
    return next(run_dir.glob("stages/*read_wikipedia*/work"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One shard, one worker: what every other way of running must give."""
    tmp = tmp_path_factory.mktemp("ref")
    dump = write_dump(tmp, "xml")
    os.environ["DSBUILD_SHARD_MB"] = "1000"
    try:
        result = run_builder(make_builder(), tmp / "run", config(dump))
    finally:
        del os.environ["DSBUILD_SHARD_MB"]
    plan = json.loads((text_stage_dir(tmp / "run") / "plan.json").read_text())
    assert len(plan["shards"]) == 1
    return outputs(result)


@pytest.mark.parametrize("kind", ["xml", "multistream", "bz2", "gz"])
def test_every_format_in_many_shards_gives_the_reference(tmp_path, monkeypatch, reference, kind):
    if kind in ("bz2", "gz") and decompression_library(kind) is None:
        pytest.skip(f"no library to index {kind} (pip install 'dsbuild[shards]')")
    monkeypatch.setenv("DSBUILD_SHARD_MB", "0.004")
    dump = write_dump(tmp_path, kind)
    result = run_builder(make_builder(), tmp_path / "run", config(dump))
    plan = json.loads((text_stage_dir(tmp_path / "run") / "plan.json").read_text())
    assert len(plan["shards"]) > 5
    assert outputs(result) == reference
    assert b'"page_xml_syntax"' in reference[1]


def test_two_workers_give_the_reference_and_report_their_memory(tmp_path, monkeypatch, reference):
    monkeypatch.setenv("DSBUILD_SHARD_MB", "0.004")
    dump = write_dump(tmp_path, "multistream")
    result = run_builder(make_builder(), tmp_path / "run", config(dump, workers=2))
    assert outputs(result) == reference
    info = json.loads(result.run_json_path.read_text())["shards"]["read_wikipedia"]
    assert info["shards"] > 5 and info["shards_kept"] == 0
    assert len(info["per_worker"]) == 2  # spawned processes, not the main one
    assert all(w["peak_rss_mb"] > 10 and w["shards"] >= 1 for w in info["per_worker"])
    assert sum(w["shards"] for w in info["per_worker"]) == info["shards"]
    assert info["counts"]["pages"] > 100


def test_ray_gives_the_reference(tmp_path, monkeypatch, reference):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("DSBUILD_SHARD_MB", "0.004")
    dump = write_dump(tmp_path, "multistream")
    try:
        result = run_builder(make_builder(), tmp_path / "run", config(dump, 2, "ray"))
    finally:
        ray.shutdown()
    assert outputs(result) == reference
    info = json.loads(result.run_json_path.read_text())["shards"]["read_wikipedia"]
    assert info["engine"] == "ray" and all(w["peak_rss_mb"] > 10 for w in info["per_worker"])


CHILD = r"""
import sys
from dsbuild.builders.entitycs import make_builder
from dsbuild.runs import run_builder
import json
run_builder(make_builder(), sys.argv[1], json.loads(sys.argv[2]))
"""


def kill_after_some_shards(run_dir: Path, cfg: dict, env: dict) -> dict[str, int]:
    """Start the build in a child process group, kill the whole group (SIGKILL) once some
    shards but not all are finished; the finished shards' output files and their mtimes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(run_dir), json.dumps(cfg)],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            done = list(run_dir.glob("stages/*read_wikipedia*/work/shards/*.json"))
            if len(done) >= 2:
                break
            if proc.poll() is not None:
                pytest.fail(f"the build ended before the kill: {proc.stderr.read().decode()}")
            time.sleep(0.02)
        else:
            pytest.fail("no shard finished in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    work = text_stage_dir(run_dir)
    plan = json.loads((work / "plan.json").read_text())
    finished = {p.stem: p.stat().st_mtime_ns for p in (work / "shards").glob("*.json")}
    assert 2 <= len(finished) < len(plan["shards"]), "kill too late: every shard was done"
    return finished


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_killed_parallel_run_keeps_finished_shards(tmp_path, monkeypatch, engine):
    if engine == "ray":
        ray = pytest.importorskip("ray")
    monkeypatch.setenv("DSBUILD_SHARD_MB", "0.02")
    dump = write_dump(tmp_path, "multistream", copies=40)
    env = {**os.environ, "DSBUILD_SHARD_MB": "0.02"}
    cfg = config(dump, workers=2, engine=engine)
    finished = kill_after_some_shards(tmp_path / "run", cfg, env)
    try:
        result = run_builder(make_builder(), tmp_path / "run", cfg)
    finally:
        if engine == "ray":
            ray.shutdown()
    assert result.resumed
    work = text_stage_dir(tmp_path / "run")
    info = json.loads(result.run_json_path.read_text())["shards"]["read_wikipedia"]
    assert info["shards_kept"] == len(finished)  # kept, not run again
    assert info["shards"] == len(json.loads((work / "plan.json").read_text())["shards"])
    for key, mtime in finished.items():
        assert (work / "shards" / f"{key}.json").stat().st_mtime_ns == mtime
    assert not list((work / "shards").glob("*.tmp"))
    clean = run_builder(make_builder(), tmp_path / "clean", config(dump, workers=1))
    assert outputs(result) == outputs(clean)
