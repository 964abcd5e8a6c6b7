"""EntityCS's text stage in shards: wall time, speed-up and memory per worker, by input
format, number of workers and engine; output checksums side by side.

    .venv/bin/python benchmarks/entitycs_shards.py [--sizes 100,1000] [--ray] [--formats ...]
        [--full] [--repeat N]

Inputs, made from the embedded mini-Wikipedia as benchmarks/entitycs.py makes them (copy k
of a page titled T with id I becomes `T (k)` with id `I + k * 10^8`), at each size in MB
of XML: a multistream .bz2 with its index (streams of 100 pages, as Wikimedia's), the same
XML as one bz2 stream, and as .gz. Each run (the text stage alone, or with `--full` the
whole `entitycs build` against the embedded Wikidata excerpt) is a fresh child process; the
table shows the text stage's seconds (read_wikipedia, from run.json), its speed-up over one
worker on the same input, the run's wall time (Python start-up and spaCy load included),
each worker's peak RSS (run.json `shards`), and the sha256 of the run's records.jsonl;
with `--full`, a line per run gives every stage's seconds, speed-up and largest per-worker
peak RSS (the stages after the text stage run in parts, `dsbuild.runs.parts`). With
`--repeat N` the runs are interleaved N times and a last line per run kind gives the
medians, their range and the speed-up of the medians (this machine's speed varies by
10-25% from run to run: one run is not a figure). Everything is
written under one temporary folder (Ray's session files too), removed at the end.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from dsbuild.builders.entitycs import make_builder, sample_paths
from dsbuild.runs import run_builder
from dsbuild.stages import Builder
dump, run_dir, workers, engine = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
config = {"seed": 0, "languages": [], "workers": workers, "engine": engine,
          "options": {"wikipedia": dump, "wikidata": str(sample_paths()[1])}}
builder = make_builder()
if sys.argv[5] == "text":  # the text stage alone (its records are the run's output)
    builder = Builder(builder.name, builder.version, builder.stages[:1])
t0 = time.perf_counter()
result = run_builder(builder, run_dir, config)
wall = time.perf_counter() - t0
if engine == "ray":
    import ray; ray.shutdown()
print(json.dumps({"wall": wall, "run_json": str(result.run_json_path),
                  "records": str(result.records_path)}))
"""

_PAGE = re.compile(rb"<page>.*?</page>\s*", re.S)
_TITLE = re.compile(rb"<title>([^<]*)</title>")
_ID = re.compile(rb"<id>(\d+)</id>")


def make_inputs(work: Path, megabytes: float, formats: list[str]) -> dict[str, Path]:
    """The XML at `megabytes` MB, written in each of `formats` (streamed: bounded memory)."""
    from dsbuild.builders.entitycs import sample_paths

    raw = sample_paths()[0].read_bytes()
    pages = _PAGE.findall(raw)
    head = b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n'
    tag = f"{megabytes:g}MB"
    out: dict[str, Path] = {}
    multi = bz2_one = gz = None
    if "multistream" in formats:
        out["multistream"] = work / f"enwiki-{tag}-pages-articles-multistream.xml.bz2"
        multi = out["multistream"].open("wb")
        index = bz2.BZ2Compressor(9)
        index_file = (work / f"enwiki-{tag}-pages-articles-multistream-index.txt.bz2").open("wb")
        multi.write(bz2.compress(head, 9))
    if "bz2" in formats:
        out["bz2"] = work / f"enwiki-{tag}.xml.bz2"
        bz2_one, bz2_c = out["bz2"].open("wb"), bz2.BZ2Compressor(9)
        bz2_one.write(bz2_c.compress(head))
    if "gz" in formats:
        out["gz"] = work / f"enwiki-{tag}.xml.gz"
        gz = gzip.open(out["gz"], "wb", compresslevel=6)
        gz.write(head)
    target, written, copy, group = int(megabytes * 1e6), 0, 0, []
    while written < target:
        copy += 1
        for page in pages:
            page = _TITLE.sub(lambda m: b"<title>%s (%d)</title>" % (m.group(1), copy), page, 1)
            page = _ID.sub(lambda m: b"<id>%d</id>" % (int(m.group(1)) + copy * 10**8), page, 1)
            data = b"  " + page
            written += len(data)
            group.append(data)
            if len(group) == 100 or written >= target:
                block = b"".join(group)
                if multi is not None:
                    offset = multi.tell()
                    for k in range(len(group)):
                        index_file.write(index.compress(b"%d:%d:T\n" % (offset, copy * 1000 + k)))
                    multi.write(bz2.compress(block, 9))
                if bz2_one is not None:
                    bz2_one.write(bz2_c.compress(block))
                if gz is not None:
                    gz.write(block)
                group = []
            if written >= target:
                break
    tail = b"</mediawiki>\n"
    if multi is not None:
        multi.write(bz2.compress(tail, 9))
        multi.close()
        index_file.write(index.flush())
        index_file.close()
    if bz2_one is not None:
        bz2_one.write(bz2_c.compress(tail) + bz2_c.flush())
        bz2_one.close()
    if gz is not None:
        gz.write(tail)
        gz.close()
    return out


def file_sha256(path: Path) -> str:
    """Streamed: this process must stay small, since a child's peak RSS (ru_maxrss) starts
    from its parent's RSS at the fork (Linux keeps it across exec)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build(dump: Path, run_dir: Path, workers: int, engine: str, env: dict, what: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(dump), str(run_dir), str(workers), engine, what],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        sys.exit(f"build failed ({dump.name}, {workers} {engine}):\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    info = json.loads(Path(result["run_json"]).read_text())
    stages = {s["name"]: s["seconds"] for s in info["stages"]}
    shards = info.get("shards", {})
    digest = file_sha256(Path(result["records"]))
    return {
        "wall": result["wall"],
        "text": stages["read_wikipedia"],
        "stages": stages,
        "shards": shards.get("read_wikipedia", {}).get("shards", 0),
        "rss": [w["peak_rss_mb"] for w in shards.get("read_wikipedia", {}).get("per_worker", [])],
        "stage_rss": {
            name: max((w["peak_rss_mb"] for w in s.get("per_worker", [])), default=0)
            for name, s in shards.items()
        },
        "sha": digest[:12],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100", help="input sizes in MB of XML (e.g. 100,1000)")
    ap.add_argument("--formats", default="multistream,bz2,gz")
    ap.add_argument("--ray", action="store_true", help="also --engine ray with 2 local CPUs")
    ap.add_argument("--full", action="store_true", help="the whole build, not only the text stage")
    ap.add_argument(
        "--repeat", type=int, default=1, help="runs of each kind, interleaved; medians at the end"
    )
    a = ap.parse_args()
    formats = a.formats.split(",")
    with tempfile.TemporaryDirectory(prefix="dsb-shards-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "DSBUILD_RAY_TMPDIR": str(work / "ray"), "TMPDIR": str(work)}
        (work / "ray").mkdir()
        print(
            f"{'input':<22} {'run':<9} {'shards':>6} {'text s':>7} {'speed-up':>8} "
            f"{'run s':>8} {'peak RSS MB per worker':<24} {'records sha256':<14}"
        )
        for mb in (float(x) for x in a.sizes.split(",")):
            t0 = time.perf_counter()
            inputs = make_inputs(work, mb, formats)
            sizes = ", ".join(f"{k} {p.stat().st_size / 1e6:.1f} MB" for k, p in inputs.items())
            print(f"# {mb:g} MB of XML -> {sizes} (made in {time.perf_counter() - t0:.0f} s)")
            for kind, dump in inputs.items():
                runs = [(1, "local"), (2, "local")] + ([(2, "ray")] if a.ray else [])
                seen: dict[tuple[int, str], list[dict]] = {run: [] for run in runs}
                for _ in range(a.repeat):  # interleaved: a load change hits every run alike
                    base = None
                    base_stages: dict[str, float] = {}
                    for workers, engine in runs:
                        run_dir = work / f"run-{kind}-{mb:g}-{workers}-{engine}"
                        what = "full" if a.full else "text"
                        r = build(dump, run_dir, workers, engine, env, what)
                        seen[workers, engine].append(r)
                        base = base or r["text"]
                        base_stages = base_stages or r["stages"]
                        show(f"{kind} {mb:g}MB", workers, engine, r, base, base_stages, a.full)
                        subprocess.run(["rm", "-rf", str(run_dir)], check=False)
                if a.repeat > 1:
                    medians(f"{kind} {mb:g}MB", seen)
            for path in work.glob("enwiki-*"):
                path.unlink()


def show(
    label: str, workers: int, engine: str, r: dict, base: float, base_stages: dict, full: bool
) -> None:
    """One run's line (and with `full`, its stages' line); speed-ups against `base`."""
    rss = " ".join(f"{x:.0f}" for x in r["rss"])
    print(
        f"{label:<22} {f'{workers} {engine}':<9} {r['shards']:>6} "
        f"{r['text']:>7.2f} {base / r['text']:>7.2f}x {r['wall']:>8.2f} "
        f"{rss:<24} {r['sha']:<14}",
        flush=True,
    )
    if full:  # every stage: seconds, speed-up, a worker's peak RSS MB
        cells = [
            f"{name} {sec:.2f}s {base_stages[name] / max(sec, 1e-9):.2f}x"
            + (f" {r['stage_rss'][name]:.0f}MB" if name in r["stage_rss"] else "")
            for name, sec in r["stages"].items()
        ]
        print(f"{'':<22}   stages: " + ", ".join(cells), flush=True)


def medians(label: str, seen: dict[tuple[int, str], list[dict]]) -> None:
    """Per run kind: median text-stage and whole-run seconds (range), and the speed-up of
    the medians over one worker's."""
    one = seen[1, "local"]
    text1 = statistics.median(r["text"] for r in one)
    wall1 = statistics.median(r["wall"] for r in one)
    for (workers, engine), rs in seen.items():
        text = [r["text"] for r in rs]
        wall = [r["wall"] for r in rs]
        print(
            f"{label:<22} {f'{workers} {engine}':<9} median of {len(rs)}: text "
            f"{statistics.median(text):.2f} s ({min(text):.2f}-{max(text):.2f}) "
            f"{text1 / statistics.median(text):.2f}x, run {statistics.median(wall):.2f} s "
            f"({min(wall):.2f}-{max(wall):.2f}) {wall1 / statistics.median(wall):.2f}x; "
            f"checksums {'identical' if len({r['sha'] for r in rs}) == 1 else 'DIFFER'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
