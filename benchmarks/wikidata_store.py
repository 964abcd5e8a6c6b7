"""Label store benchmark: build time, MB/s, store size, peak RSS and lookup speed.

    .venv/bin/python benchmarks/wikidata_store.py [--size-mb 1024] [--compress gz,bz2]
        [--backends sqlite,duckdb,parquet] [--needed 10pct|all] [--repeat 3]
        [--lookup-entities 1000000] [--lookup-backends sqlite,sqlite-nocache,memory,duckdb,
        parquet,parquet-mem] [--threads 1] [--workdir /tmp/dsbuild-wikidata-bench]
        [--skip-build] [--skip-lookup] [--workers 1,2]

Prints figures; asserts nothing. DuckDB (`pip install duckdb`) is needed only for the
duckdb rows; dsbuild itself does not use it. Repeats are interleaved across the variants
(run 1 of each, then run 2, ...), so a load change on a shared machine hits all alike.

Input (generated once into --workdir, reused while its parameters are unchanged): a file in
the exact Wikidata dump framing (`[`, one entity per line ending in `,`, last without, `]`)
of at least --size-mb MiB uncompressed, made from the 49 real entities of
../shared/fixtures/wikidata/wikidata-dump-head50-2017.json by byte template substitution:
each template is split once around its `"id"` value and its enwiki title, and entity n is
written as `part0 + n + part1 + " " + n + part2`, i.e. id `Q<10,000,000+n>` and enwiki title
`<original title> <n>` (every id and title new and unique; JSON escapes of the original
titles kept). Entity n uses template n mod 49 in one of three shapes, so the mix looks like
a real dump rather than 49 famous items: n mod 10 == 0: the real line unchanged (2017 style,
ASCII-escaped, 17-208 KB, ~170 labels); otherwise a "typical item" re-serialized once per
template in today's UTF-8 style with its labels cut to 8-32 languages, 5 descriptions,
2 alias languages, 4 claim properties and 5 sitelinks (2-6 KB), with the enwiki sitelink
kept when n mod 3 == 0 and removed otherwise (~40% of items have an enwiki title; in the
real dump ~6% do, so this input makes the store parse more lines than reality would).
Mean line ~12 KB (the 2024 dump: ~1.5 TB / 110M items, ~13 KB). Written at ~500 MB/s
(1 GB in 2 s). Compressed copies by the command-line tools, in parallel: `gzip -6` (6.0x,
179 MB) and `bzip2 -9` (9.2x, 117 MB), ~110 s; real dumps compress better (~10x, ~15x).

Needed titles: the titles of ~10% of the items with an enwiki title (crc32 of n mod 10 ==
0), plus as many titles that are in no item (red links), plus 1% of the needed ones asked
through a redirect. Languages: 20 (de fr es it pl ru ja zh ar hi tr nl sv pt ko vi fa uk
he id).

Build: each build runs in a child process (peak RSS = its own ru_maxrss) from the plain file
and from each compressed copy; the other backends take the same stream of kept rows
(`iter_dump_labels`) and write them their way (batches of 50k rows).

Lookups: a store of --lookup-entities synthetic entities (titles of 1-4 words + a number,
20 languages at ~60% coverage) per backend, opened in a child process; after a warm-up pass
on other titles, 20 batches of 10,000 titles, each answered as {title: (qid, {lang: label})}:
"uniform" = distinct titles (90% present), "zipf" = titles drawn with Zipf s=1 over the store
(links are skewed; repeats within a batch count), then single-title lookups for up to 5 s.
`sqlite` is dsbuild's LabelStore (its 100k-answer cache on), `sqlite-nocache` the same with
cache_size=0, `memory` the store loaded whole into dicts (LabelStore.load()), `duckdb` a
table with an ART index on title, `parquet` a polars scan with a filter per batch,
`parquet-mem` the Parquet file read whole once, then a polars semi-join per batch. DuckDB
and polars get --threads threads (default 1: per-core figures, as the builder runs one
worker process per core). "store RSS" is the RSS growth from opening the store to the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO.parent / "shared" / "fixtures" / "wikidata" / "wikidata-dump-head50-2017.json"
LANGS = "de fr es it pl ru ja zh ar hi tr nl sv pt ko vi fa uk he id".split()
GEN_VERSION = 2
BASE = 10_000_000
# Threads for DuckDB and polars in the children (--threads; POLARS_MAX_THREADS is set before
# polars is imported): 1 compares per core, as the builder runs one worker process per core.
THREADS = int(os.environ.get("DSBUILD_BENCH_THREADS", "1"))


# --- generation ---------------------------------------------------------------------------


def _templates() -> list[list[tuple[bytes, bytes, bytes | None, str | None]]]:
    """Per fixture entity, three shapes: (part0, part1, part2 or None, original title)."""
    lines = [ln.rstrip().rstrip(b",") for ln in FIXTURE.read_bytes().split(b"\n")]
    lines = [ln for ln in lines if ln.startswith(b"{")]
    out = []
    for t, line in enumerate(lines):
        entity = json.loads(line)
        title = entity["sitelinks"]["enwiki"]["title"]
        shapes = [_split(line, title)]
        small = _typical(entity, t)
        with_en = json.dumps(small, ensure_ascii=False, separators=(",", ":")).encode()
        shapes.append(_split(with_en, title))
        small["sitelinks"].pop("enwiki")
        no_en = json.dumps(small, ensure_ascii=False, separators=(",", ":")).encode()
        p0, p1 = _split_id(no_en)
        shapes.append((p0, p1, None, None))
        out.append(shapes)
    return out


def _typical(entity: dict, t: int) -> dict:
    labels = dict(list(entity["labels"].items())[: 8 + (t * 7) % 25])
    labels["en"] = entity["labels"]["en"]
    sitelinks = {"enwiki": entity["sitelinks"]["enwiki"]}
    sitelinks.update(list((k, v) for k, v in entity["sitelinks"].items() if k != "enwiki")[:4])
    return {
        "type": "item",
        "id": entity["id"],
        "labels": labels,
        "descriptions": dict(list(entity["descriptions"].items())[:5]),
        "aliases": dict(list(entity["aliases"].items())[:2]),
        "claims": dict(list(entity["claims"].items())[:4]),
        "sitelinks": sitelinks,
    }


def _split_id(line: bytes) -> tuple[bytes, bytes]:
    m = re.search(rb'"id":"Q([0-9]+)"', line)
    assert m
    return line[: m.start(1)], line[m.end(1) :]


def _split(line: bytes, title: str) -> tuple[bytes, bytes, bytes, str]:
    p0, rest = _split_id(line)
    m = re.search(rb'"enwiki":\{"site":"enwiki","title":"((?:[^"\\]|\\.)*)"', rest)
    assert m and json.loads(b'"' + m.group(1) + b'"') == title
    return p0, rest[: m.end(1)], rest[m.end(1) :], title


def needed_by_crc(n: int) -> bool:
    return zlib.crc32(str(n).encode()) % 10 == 0


def generate(path: Path, size_mb: int) -> dict:
    """Write the input (see the module docstring) and its needed-title list; reuse if there."""
    meta_path = path.with_suffix(".meta.json")
    want = {"version": GEN_VERSION, "size_mb": size_mb}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("params") == want:
            return meta
    t0 = time.perf_counter()
    shapes = _templates()
    limit = size_mb * 1024 * 1024
    needed: list[str] = []
    with_title = 0
    written = 2
    n = 0
    with open(path, "wb", buffering=1 << 22) as out:
        out.write(b"[\n")
        buf: list[bytes] = []
        while written < limit:
            t = n % len(shapes)
            shape = 0 if n % 10 == 0 else (1 if n % 3 == 0 else 2)
            p0, p1, p2, title = shapes[t][shape]
            num = str(BASE + n).encode()
            if p2 is None:
                pieces = [p0, num, p1]
            else:
                pieces = [p0, num, p1, b" ", num, p2]
                with_title += 1
                if needed_by_crc(n):
                    needed.append(f"{title} {BASE + n}")
            if n:
                buf.append(b",\n")
            buf.extend(pieces)
            written += sum(map(len, pieces)) + 2
            n += 1
            if len(buf) > 4000:
                out.writelines(buf)
                buf.clear()
        out.writelines(buf)
        out.write(b"\n]\n")
    seconds = time.perf_counter() - t0
    rng = random.Random(7)
    redirects = {f"Redirect to {t}": t for t in rng.sample(needed, max(1, len(needed) // 100))}
    absent = [f"Red link {i}" for i in range(len(needed))]
    meta = {
        "params": want,
        "entities": n,
        "with_enwiki": with_title,
        "bytes": path.stat().st_size,
        "seconds": round(seconds, 2),
        "needed": needed,
        "absent": absent,
        "redirects": redirects,
    }
    meta_path.write_text(json.dumps(meta))
    return meta


def compress(path: Path, kinds: list[str]) -> dict[str, Path]:
    """gzip -6 / bzip2 -9 copies, made in parallel by the command-line tools (once)."""
    procs, out = [], {}
    for kind in kinds:
        target = Path(f"{path}.{kind}")
        out[kind] = target
        stamp = Path(f"{target}.ok")
        if target.exists() and stamp.exists() and stamp.read_text() == str(path.stat().st_mtime):
            continue
        tool = {"gz": "gzip", "bz2": "bzip2"}[kind]
        f = open(target, "wb")
        procs.append((subprocess.Popen([tool, "-c", str(path)], stdout=f), f, stamp))
    for proc, f, stamp in procs:
        proc.wait()
        f.close()
        stamp.write_text(str(path.stat().st_mtime))
    return out


# --- backends -----------------------------------------------------------------------------


def _rows_to_frame(rows: list):
    import polars as pl

    return pl.DataFrame(
        {
            "qid": [int(e.qid[1:]) for e in rows],
            "title": [e.title for e in rows],
            "en": [e.en_label for e in rows],
            "labels": [
                json.dumps(e.labels, ensure_ascii=False, separators=(",", ":")) for e in rows
            ],
        },
        schema={"qid": pl.Int64, "title": pl.String, "en": pl.String, "labels": pl.String},
    )


class ParquetBackend:
    """Part files of up to 50k rows in a folder (bounded memory); lookups scan with polars."""

    name = "parquet"

    def write(self, rows, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        batch, k = [], 0
        for e in rows:
            batch.append(e)
            if len(batch) >= 50_000:
                _rows_to_frame(batch).write_parquet(out / f"part-{k:05d}.parquet")
                batch, k = [], k + 1
        if batch or k == 0:
            _rows_to_frame(batch).write_parquet(out / f"part-{k:05d}.parquet")

    def open(self, out: Path):
        import polars as pl

        lf = pl.scan_parquet(str(out / "*.parquet"))

        def lookup(titles: list[str]) -> dict:
            df = lf.filter(pl.col("title").is_in(titles)).select("title", "qid", "labels").collect()
            return {t: (f"Q{q}", orjson.loads(lab)) for t, q, lab in df.iter_rows()}

        return lookup


class ParquetMemBackend(ParquetBackend):
    """The same files read whole into memory once; lookups are polars joins."""

    name = "parquet-mem"

    def open(self, out: Path):
        import polars as pl

        df = pl.read_parquet(str(out / "*.parquet")).select("title", "qid", "labels")

        def lookup(titles: list[str]) -> dict:
            hit = df.join(pl.DataFrame({"title": titles}), on="title", how="semi")
            return {t: (f"Q{q}", orjson.loads(lab)) for t, q, lab in hit.iter_rows()}

        return lookup


class DuckDBBackend:
    """A DuckDB table with an ART index on title; batches staged through Parquet (DuckDB
    reads polars frames only through pyarrow, which the project does not install)."""

    name = "duckdb"

    def write(self, rows, out: Path) -> None:
        import duckdb

        out.unlink(missing_ok=True)
        con = duckdb.connect(str(out))
        con.execute(f"SET threads = {THREADS}")
        con.execute("CREATE TABLE entities (qid BIGINT, title VARCHAR, en VARCHAR, labels VARCHAR)")
        stage = out.with_suffix(".stage.parquet")
        batch: list = []

        def flush() -> None:
            if batch:
                _rows_to_frame(batch).write_parquet(stage)
                con.execute(f"INSERT INTO entities SELECT * FROM read_parquet('{stage}')")
                batch.clear()

        for e in rows:
            batch.append(e)
            if len(batch) >= 50_000:
                flush()
        flush()
        stage.unlink(missing_ok=True)
        con.execute("CREATE INDEX entities_title ON entities (title)")
        con.close()

    def open(self, out: Path):
        import duckdb

        con = duckdb.connect(str(out), read_only=True)
        con.execute(f"SET threads = {THREADS}")

        def lookup(titles: list[str]) -> dict:
            rows = con.execute(
                "SELECT title, qid, labels FROM entities WHERE title IN "
                "(SELECT unnest($1::VARCHAR[]))",
                [titles],
            ).fetchall()
            return {t: (f"Q{q}", orjson.loads(lab)) for t, q, lab in rows}

        return lookup


class SQLiteBackend:
    """dsbuild's LabelStore."""

    name = "sqlite"

    def write(self, rows, out: Path) -> None:
        from dsbuild.wikidata.store import _Writer

        w = _Writer(out, tuple(LANGS), 2000)
        for e in rows:
            w.add(e)
        w.finish({}, {})

    def open(self, out: Path):
        from dsbuild.wikidata.store import LabelStore

        return LabelStore.open(out).labels_for_titles


class SQLiteNoCacheBackend(SQLiteBackend):
    """dsbuild's LabelStore without its in-memory cache of decoded answers."""

    name = "sqlite-nocache"

    def open(self, out: Path):
        from dsbuild.wikidata.store import LabelStore

        return LabelStore.open(out, cache_size=0).labels_for_titles


class MemoryBackend(SQLiteBackend):
    """The SQLite store loaded whole into dicts (`LabelStore.load()`): small runs only."""

    name = "memory"

    def open(self, out: Path):
        from dsbuild.wikidata.store import LabelStore

        with LabelStore.open(out) as store:
            return store.load().labels_for_titles


BACKENDS = {
    b.name: b
    for b in (
        SQLiteBackend,
        SQLiteNoCacheBackend,
        MemoryBackend,
        DuckDBBackend,
        ParquetBackend,
        ParquetMemBackend,
    )
}
BASE_OF = {"parquet-mem": "parquet", "sqlite-nocache": "sqlite", "memory": "sqlite"}


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size if path.exists() else 0


def _rss_mb() -> float:
    """Peak RSS of this process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mb() -> float:
    """Current RSS of this process, MiB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --- children (one process per measurement, so peak RSS is its own) -----------------------


def all_titles(meta: dict) -> list[str]:
    """Every enwiki title of the generated input (the generator's rule, replayed)."""
    shapes = _templates()
    return [
        f"{shapes[n % len(shapes)][0][3]} {BASE + n}"
        for n in range(meta["entities"])
        if n % 10 == 0 or n % 3 == 0
    ]


def store_digest(path: Path) -> str:
    """sha256 of every table of a SQLite label store but its meta (timings), rows sorted."""
    import hashlib
    import sqlite3

    h = hashlib.sha256()
    db = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            if "meta" not in r[0]
        ]
        for table in tables:
            h.update(table.encode())
            for row in sorted(db.execute(f"SELECT * FROM {table}"), key=repr):
                h.update(repr(row).encode())
    finally:
        db.close()
    return h.hexdigest()[:12]


def child_build(args: argparse.Namespace) -> dict:
    meta = json.loads(Path(args.meta).read_text())
    titles = meta["needed"] + meta["absent"] + list(meta["redirects"])
    if args.needed == "all":
        titles += all_titles(meta)
    out = Path(args.out)
    t0 = time.perf_counter()
    extra: dict = {}
    if args.backend == "sqlite":
        from dsbuild.wikidata.parallel import build_label_store_parallel
        from dsbuild.wikidata.store import build_label_store

        kwargs = dict(
            titles=titles,
            languages=LANGS,
            redirects=meta["redirects"],
            decompressor=args.decompressor,
        )
        workers = int(args.workers)
        if workers > 1:  # parts scanned by worker processes, merged in dump order
            work = out.with_name(out.name + "-parts")
            shutil.rmtree(work, ignore_errors=True)
            store = build_label_store_parallel(
                args.input, out, workers=workers, work_dir=work, **kwargs
            )
            per_worker: dict[str, float] = {}
            for counts in (work / "parts").glob("*.json"):
                c = json.loads(counts.read_text())
                per_worker[c["worker"]] = max(per_worker.get(c["worker"], 0), c["peak_rss_mb"])
            extra["worker_rss_mb"] = sorted(per_worker.values())
            shutil.rmtree(work, ignore_errors=True)
        else:
            store = build_label_store(args.input, out, **kwargs)
        entities = len(store)
        dump = store.info["dump"]
        store.close()
        extra["digest"] = store_digest(out)
    else:
        from dsbuild.wikidata.dump import DumpReader
        from dsbuild.wikidata.store import _needed_titles, iter_dump_labels

        needed, _ = _needed_titles(titles, meta["redirects"])
        reader = DumpReader(args.input, decompressor=args.decompressor)
        counted = []

        def rows():
            for e in iter_dump_labels(args.input, needed, LANGS, reader=reader):
                counted.append(1)
                yield e

        BACKENDS[args.backend]().write(rows(), out)
        entities = len(counted)
        dump = {"lines": reader.stats.lines, "bytes": reader.stats.bytes}
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "entities": entities,
        "store_bytes": _size(out),
        "rss_mb": _rss_mb(),
        "uncompressed": dump["bytes"],
        "on_disk": Path(args.input).stat().st_size,
        **extra,
    }


def synthetic_rows(n: int):
    from dsbuild.wikidata.store import EntityLabels

    rng = random.Random(1)
    words = [
        "river",
        "Saint",
        "battle",
        "of",
        "the",
        "North",
        "station",
        "club",
        "album",
        "Johann",
        "María",
        "Łódź",
        "東京",
        "history",
        "(film)",
        "(band)",
        "county",
    ]
    for i in range(n):
        title = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) + f" {i}"
        labels = {lang: f"{title[:18]} {lang}" for lang in LANGS if rng.random() < 0.6}
        yield EntityLabels(f"Q{i + 1}", title[0].upper() + title[1:], title, labels)


def child_lookup(args: argparse.Namespace) -> dict:
    backend = BACKENDS[args.backend]()
    out = Path(args.out)
    if not out.exists():
        t0 = time.perf_counter()
        backend.write(synthetic_rows(args.entities), out)
        return {"write_s": time.perf_counter() - t0, "store_bytes": _size(out)}
    titles = [e.title for e in synthetic_rows(args.entities)]
    rss0 = _rss_now_mb()
    t0 = time.perf_counter()
    lookup = backend.open(out)
    opened = time.perf_counter() - t0
    rng = random.Random(2)
    uniform = []
    for _ in range(args.batches):
        batch = rng.sample(titles, args.batch_size * 9 // 10)
        batch += [f"Absent title {rng.random()}" for _ in range(args.batch_size - len(batch))]
        uniform.append(batch)
    # Links follow a power law (a few entities are linked everywhere): Zipf, s = 1.
    cum, total = [], 0.0
    for k in range(len(titles)):
        total += 1.0 / (k + 1)
        cum.append(total)
    order = titles[:]
    rng.shuffle(order)
    zipf = [rng.choices(order, cum_weights=cum, k=args.batch_size) for _ in range(args.batches)]
    for _ in range(args.batches):  # warm up (page cache, mmap, buffer pools) on other titles
        lookup(rng.sample(titles, args.batch_size))
    result = {"open_s": opened, "store_bytes": _size(out)}
    for name, batches in (("uniform", uniform), ("zipf", zipf)):
        t0 = time.perf_counter()
        hits = 0
        for batch in batches:
            hits += len(lookup(batch))
        seconds = time.perf_counter() - t0
        result[name] = args.batches * args.batch_size / seconds
    singles = [rng.choice(titles) for _ in range(args.singles)]
    t0 = time.perf_counter()
    done = 0
    for t in singles:
        lookup([t])
        done += 1
        if not done % 10 and time.perf_counter() - t0 > 5:  # slow backends: 5 s is enough
            break
    result["point_per_s"] = done / (time.perf_counter() - t0)
    result["rss_mb"] = _rss_mb()
    result["store_rss_mb"] = _rss_now_mb() - rss0
    return result


def run_child(kind: str, **kw) -> dict:
    cmd = [sys.executable, __file__, "--child", kind]
    for k, v in kw.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "DSBUILD_BENCH_THREADS": str(THREADS), "POLARS_MAX_THREADS": str(THREADS)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise SystemExit(f"child failed: {' '.join(cmd)}\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def med(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--compress", default="gz,bz2", help="comma list of gz,bz2, or ''")
    ap.add_argument("--backends", default="sqlite,duckdb,parquet")
    ap.add_argument(
        "--lookup-backends", default="sqlite,sqlite-nocache,memory,duckdb,parquet,parquet-mem"
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--needed",
        choices=["10pct", "all"],
        default="10pct",
        help="needed titles: ~10%% of the enwiki titles, or all of them",
    )
    ap.add_argument("--decompressor", default="auto")
    ap.add_argument("--lookup-entities", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--singles", type=int, default=2000)
    ap.add_argument(
        "--workdir", default=os.path.join(tempfile.gettempdir(), "dsbuild-wikidata-bench")
    )
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument(
        "--workers",
        default="1",
        help="comma list: SQLite builds by that many worker processes (parallel parts)",
    )
    ap.add_argument("--skip-lookup", action="store_true")
    ap.add_argument("--child", choices=["build", "lookup"])
    ap.add_argument("--input")
    ap.add_argument("--meta")
    ap.add_argument("--out")
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--entities", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=THREADS,
        help="threads for DuckDB and polars (default 1: per-core figures)",
    )
    args = ap.parse_args()
    globals()["THREADS"] = args.threads
    if args.child:
        result = child_build(args) if args.child == "build" else child_lookup(args)
        print(json.dumps(result))
        return

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    backends = [b for b in args.backends.split(",") if b]
    if not args.skip_build:
        if not FIXTURE.exists():
            raise SystemExit(f"needs the real sample {FIXTURE}")
        src = work / f"wikidata-{args.size_mb}mb.json"
        meta = generate(src, args.size_mb)
        print(
            f"input {src}: {meta['bytes'] / 1e6:,.0f} MB, {meta['entities']:,} entities, "
            f"{meta['with_enwiki']:,} with an enwiki title (generated in {meta['seconds']} s); "
            f"needed titles {len(meta['needed']):,} present + {len(meta['absent']):,} absent "
            f"+ {len(meta['redirects']):,} redirects; {len(LANGS)} languages"
        )
        inputs = {"plain": src}
        kinds = [k for k in args.compress.split(",") if k]
        if kinds:
            t0 = time.perf_counter()
            inputs.update(compress(src, kinds))
            print(
                f"compressed copies ready in {time.perf_counter() - t0:.0f} s: "
                + ", ".join(f"{k} {p.stat().st_size / 1e6:,.0f} MB" for k, p in inputs.items())
            )
        print(
            f"\nbuild (median of {args.repeat}, range; repeats interleaved), "
            f"decompressor={args.decompressor}, needed={args.needed}"
        )
        print(
            f"{'backend':12} {'input':6} {'workers':>7} {'seconds':>22} {'speed-up':>8} "
            f"{'MB/s (uncompr.)':>16} {'MB/s (on disk)':>15} {'store MB':>9} {'entities':>9} "
            f"{'peak RSS MB':>12} {'per worker':>12} {'store sha256':>13}"
        )
        worker_counts = [int(w) for w in args.workers.split(",") if w]
        combos = [
            (kind, path, backend, n)
            for kind, path in inputs.items()
            for backend in backends
            for n in (worker_counts if backend == "sqlite" else [1])
            if kind == "plain" or backend == "sqlite"
        ]  # the writer ignores compression
        builds: dict[tuple[str, str, int], list[dict]] = {(k, b, n): [] for k, _, b, n in combos}
        for _ in range(args.repeat):
            for kind, path, backend, n in combos:
                out = work / f"store-{backend}-{kind}-w{n}"
                if out.is_dir():
                    shutil.rmtree(out)
                builds[kind, backend, n].append(
                    run_child(
                        "build",
                        input=path,
                        meta=src.with_suffix(".meta.json"),
                        out=out,
                        backend=backend,
                        needed=args.needed,
                        decompressor=args.decompressor,
                        workers=n,
                    )
                )
        for (kind, backend, n), runs in builds.items():
            secs = [r["seconds"] for r in runs]
            one = builds.get((kind, backend, 1))
            speed = (
                f"{statistics.median(r['seconds'] for r in one) / statistics.median(secs):.2f}x"
                if one
                else "-"
            )
            r = runs[-1]
            per_worker = ",".join(f"{x:.0f}" for x in r.get("worker_rss_mb", [])) or "-"
            print(
                f"{backend:12} {kind:6} {n:7} {med(secs):>22} {speed:>8} "
                f"{r['uncompressed'] / 1e6 / statistics.median(secs):16,.0f} "
                f"{r['on_disk'] / 1e6 / statistics.median(secs):15,.0f} "
                f"{r['store_bytes'] / 1e6:9.2f} {r['entities']:9,} "
                f"{max(x['rss_mb'] for x in runs):12,.0f} {per_worker:>12} "
                f"{r.get('digest', '-'):>13}"
            )
    if not args.skip_lookup:
        n = args.lookup_entities
        names = [b for b in args.lookup_backends.split(",") if b]
        written: dict[str, float] = {}
        for backend in names:
            base = BASE_OF.get(backend, backend)
            out = work / f"lookup-{base}-{n}"
            if not out.exists():
                written[base] = run_child("lookup", backend=base, out=out, entities=n)["write_s"]
        print(
            f"\nlookups: store of {n:,} synthetic entities, {len(LANGS)} languages; after a "
            f"warm-up pass, {args.batches} batches of {args.batch_size:,} titles (uniform: "
            f"distinct, 90% present; zipf: s=1 over the store); median of {args.repeat}, "
            f"repeats interleaved"
        )
        print(
            f"{'backend':14} {'write s':>8} {'store MB':>9} {'open s':>7} "
            f"{'uniform titles/s':>17} {'zipf titles/s':>14} {'single/s':>9} "
            f"{'store RSS MB':>13}"
        )
        looks: dict[str, list[dict]] = {b: [] for b in names}
        for _ in range(args.repeat):
            for backend in names:
                out = work / f"lookup-{BASE_OF.get(backend, backend)}-{n}"
                looks[backend].append(
                    run_child(
                        "lookup",
                        backend=backend,
                        out=out,
                        entities=n,
                        batches=args.batches,
                        batch_size=args.batch_size,
                        singles=args.singles,
                    )
                )
        for backend, runs in looks.items():

            def m(key: str) -> float:
                return statistics.median(r[key] for r in runs)

            write_s = written.get(BASE_OF.get(backend, backend), float("nan"))
            print(
                f"{backend:14} {write_s:8.1f} {runs[-1]['store_bytes'] / 1e6:9.1f} "
                f"{m('open_s'):7.3f} {m('uniform'):17,.0f} {m('zipf'):14,.0f} "
                f"{m('point_per_s'):9,.0f} {m('store_rss_mb'):13,.0f}"
            )


if __name__ == "__main__":
    main()
