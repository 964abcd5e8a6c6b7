"""Stages in parts leave their records in the parts' files (`parts.json`): the next stage
reads them in turn, a stage in parts takes them as its input parts, and the run's output is
joined once at the end. The same outputs as one process; a finished run resumes from them;
a part changed after its stage finished is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsbuild.errors import DsbuildError
from dsbuild.gates.report import gate_summary
from dsbuild.runs import run_builder
from dsbuild.stages import Builder, Part, batch_stage, map_stage, reject, source_stage


def _source_in_parts(ctx):
    """A source that writes its records in 7 parts under its work folder."""
    shards = ctx.workdir / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    n = ctx.config["n"]
    for k in range(7):
        records, rejects = shards / f"{k}.out", shards / f"{k}.out.rejects"
        rows = [
            {"id": f"r{i:04d}", "x": i, "lang": "de" if i % 2 else "fr"} for i in range(k, n, 7)
        ]
        rows.sort(key=lambda r: r["x"])
        records.write_text("".join(json.dumps(r) + "\n" for r in rows))
        rejects.write_text("")
        yield Part(records, rejects, len(rows), len(rows), {})


def _source_plain(ctx):
    for k in range(7):
        rows = [
            {"id": f"r{i:04d}", "x": i, "lang": "de" if i % 2 else "fr"}
            for i in range(k, ctx.config["n"], 7)
        ]
        yield from sorted(rows, key=lambda r: r["x"])


def _double(rec, ctx):
    if rec["x"] % 11 == 0:
        return reject("div11", str(rec["x"]))
    return [{**rec, "y": rec["x"] * 2}, {**rec, "id": rec["id"] + "b", "y": -1}]


def _tag(rec, ctx):
    return reject("negative", "") if rec["y"] < 0 and rec["x"] % 3 else {**rec, "tagged": True}


def _count(records, ctx):
    return [{**r, "n": len(records)} for r in records], []


def make_builder(processes: bool, *, batch: bool = False) -> Builder:
    """source -> double (in parts) -> tag (in parts) [-> count (a batch stage)]."""
    stages = [
        source_stage("src", _source_in_parts, parts=True)
        if processes
        else source_stage("src", _source_plain),
        map_stage("double", _double, processes=processes),
        map_stage("tag", _tag, processes=processes, version="gate-1"),
    ]
    if batch:
        stages.append(batch_stage("count", _count))
    return Builder("chain", "1", tuple(stages))


def _run(tmp_path: Path, name: str, processes: bool, workers: int = 1, **kw):
    config = {"n": 500, "seed": 0, "workers": workers}
    return run_builder(make_builder(processes, **kw), tmp_path / name, config)


def _stage(run: Path, index: int, name: str) -> Path:
    return run / "stages" / f"{index:02d}-{name}"


@pytest.fixture(autouse=True)
def _many_parts(monkeypatch):
    monkeypatch.setenv("DSBUILD_PART_MB", "0.004")  # ~4 KB: several parts per input file


@pytest.mark.parametrize("workers", [1, 2])
def test_a_chain_of_stages_in_parts_gives_what_one_process_gives(tmp_path, workers):
    ref = _run(tmp_path, "ref", False)
    got = _run(tmp_path, "got", True, workers)
    assert got.records_path.read_bytes() == ref.records_path.read_bytes()
    assert (got.run_dir / "rejects.jsonl").read_bytes() == (
        ref.run_dir / "rejects.jsonl"
    ).read_bytes()
    for mine, theirs in zip(got.stages, ref.stages):
        assert (mine.n_in, mine.n_out, mine.n_rejected) == (
            theirs.n_in,
            theirs.n_out,
            theirs.n_rejected,
        )
    # the source and `double` left their records in parts: nothing copied them
    for index, name in ((1, "src"), (2, "double")):
        stage = _stage(got.run_dir, index, name)
        assert (stage / "parts.json").is_file() and not (stage / "records.jsonl").exists()
        done = json.loads((stage / "done.json").read_text())
        files = json.loads((stage / "parts.json").read_text())["files"]
        assert done["records_sha256"] is None
        assert done["records_bytes"] == sum((stage / f["path"]).stat().st_size for f in files)
    # the last stage was joined for the run's output, once
    last = _stage(got.run_dir, 3, "tag")
    done = json.loads((last / "done.json").read_text())
    assert not (last / "parts.json").exists() and not (last / "parts").exists()
    assert (last / "records.jsonl").read_bytes() == got.records_path.read_bytes()
    assert done["records_bytes"] == got.records_path.stat().st_size


def test_a_finished_run_in_parts_resumes_from_them(tmp_path):
    first = _run(tmp_path, "run", True, 2)
    again = _run(tmp_path, "run", True, 2)
    assert [s.status for s in again.stages] == ["skipped"] * 3
    assert again.records_path.read_bytes() == first.records_path.read_bytes()


def test_a_later_stage_reads_the_parts_in_turn(tmp_path):
    ref = _run(tmp_path, "ref", False, batch=True)
    got = _run(tmp_path, "got", True, 2, batch=True)
    assert got.records_path.read_bytes() == ref.records_path.read_bytes()
    assert (_stage(got.run_dir, 3, "tag") / "parts.json").is_file()  # read, never joined


def test_a_part_changed_after_its_stage_finished_is_refused(tmp_path):
    _run(tmp_path, "run", True, 2)
    stage = _stage(tmp_path / "run", 2, "double")
    first = stage / json.loads((stage / "parts.json").read_text())["files"][0]["path"]
    first.write_bytes(first.read_bytes()[:-10])
    with pytest.raises(DsbuildError, match=r"changed after stage 'double' finished") as err:
        _run(tmp_path, "run", True, 2)
    assert err.value.code == "DSB203" and first.name in str(err.value)


def test_the_gate_report_reads_stages_left_in_parts(tmp_path):
    ref = _run(tmp_path, "ref", False, batch=True)
    got = _run(tmp_path, "got", True, 2, batch=True)
    summary = gate_summary(got.run_dir)
    assert summary == gate_summary(ref.run_dir)
    assert summary["tag"]["total"] > 0 and set(summary["tag"]["per_language"]) == {"de", "fr"}
