"""Speed and memory of `dsbuild entitycs build` on a big generated input.

    .venv/bin/python benchmarks/entitycs.py [--sizes 10,100] [--repeat 3] [--workers-check]

Input: the embedded mini-Wikipedia (dsbuild/samples/entitycs) repeated until the XML
reaches N MB: copy k of a page titled T with id I becomes `T (k)` with id `I + k * 10^8`;
link and redirect targets are left as they are, so every copy links to the same entities
of the embedded Wikidata excerpt; one bz2 stream at level 9 (benchmarks/wiki_text.py's
generator). For each size, each build runs in a fresh child process (so its peak RSS is its
own), and the median of `--repeat` runs is printed (decompressions and builds take turns):
  decompress    bz2 decompression alone, one thread (the fastest of `--repeat`)
  text stage    read_wikipedia in the runner (XML -> filtered sentences with links,
                checkpointed), as a multiple of decompression
  switching     code_switch in the runner: rows (code-switched sentences) per second
  peak RSS      of the whole build
`--workers-check` also builds the 10 MB input with --workers 1, --workers 2 and --engine ray
and prints the sha256 of each records.jsonl. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

CHILD = r"""
import json, resource, sys, time
from dsbuild.builders.entitycs import make_builder, sample_paths
from dsbuild.runs import run_builder
dump, run_dir, workers, engine = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
config = {"seed": 0, "languages": [], "workers": workers, "engine": engine,
          "options": {"wikipedia": dump, "wikidata": str(sample_paths()[1])}}
t0 = time.perf_counter()
result = run_builder(make_builder(), run_dir, config)
wall = time.perf_counter() - t0
if engine == "ray":
    import ray; ray.shutdown()
stages = {s.name: {"seconds": s.seconds, "n_in": s.n_in, "n_out": s.n_out} for s in result.stages}
print(json.dumps({"wall": wall, "stages": stages, "records": str(result.records_path),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def decompress_seconds(path: Path) -> tuple[float, int, int]:
    """(seconds, XML bytes, pages) of single-thread bz2 decompression."""
    import bz2

    t0 = time.perf_counter()
    size = pages = 0
    with bz2.open(path, "rb") as f:
        while block := f.read(1 << 20):
            size += len(block)
            pages += block.count(b"<page>")
    return time.perf_counter() - t0, size, pages


def build(dump: Path, run_dir: Path, workers: int = 1, engine: str = "local") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(dump), str(run_dir), str(workers), engine],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def sha256(path: str) -> str:
    h = hashlib.sha256()  # streamed: outputs are large and this process's RSS is measured
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    from wiki_text import make_big

    from dsbuild.builders.entitycs import sample_paths

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100", help="input sizes in MB of XML")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers-check", action="store_true")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dsbuild-entitycs-bench-"))
    source = work / "sample.xml.bz2"
    import bz2

    source.write_bytes(bz2.compress(sample_paths()[0].read_bytes(), 9))
    inputs = {}
    for mb in (float(x) for x in a.sizes.split(",")):
        inputs[mb] = make_big(source, mb, work / f"enwiki-{mb:g}MB.xml.bz2")
    print(
        f"{'input':>8} {'decomp s':>9} {'text s':>8} {'x decomp':>9} {'pages/s':>8} "
        f"{'sent/s':>8} {'switch rows/s':>13} {'RSS MB':>7}"
    )
    for mb, dump in inputs.items():
        decs, runs = [], []
        for k in range(a.repeat):  # taking turns, so that a busy spell hits both alike
            decs.append(decompress_seconds(dump))
            runs.append(build(dump, work / f"run-{mb:g}-{k}"))
        dec, size, pages = min(decs)
        text = statistics.median(r["stages"]["read_wikipedia"]["seconds"] for r in runs)
        r0 = runs[0]["stages"]
        sents = r0["read_wikipedia"]["n_out"]
        switch = statistics.median(
            r["stages"]["code_switch"]["n_out"] / r["stages"]["code_switch"]["seconds"]
            for r in runs
        )
        rss = statistics.median(r["rss_mb"] for r in runs)
        print(
            f"{size / 1e6:7.0f}M {dec:9.2f} {text:8.2f} {text / dec:9.1f} "
            f"{pages / text:8.0f} {sents / text:8.0f} {switch:13,.0f} {rss:7.0f}"
            f"   ({pages:,} pages, {sents:,} records kept, "
            f"{r0['code_switch']['n_out']:,} rows)"
        )
    if a.workers_check:
        dump = inputs[min(inputs)]
        for workers, engine in ((1, "local"), (2, "local"), (2, "ray")):
            r = build(dump, work / f"check-{workers}-{engine}", workers, engine)
            print(
                f"--workers {workers} --engine {engine}: "
                f"records sha256 {sha256(r['records'])[:16]} "
                f"text stage {r['stages']['read_wikipedia']['seconds']:.2f}s"
            )


if __name__ == "__main__":
    main()
