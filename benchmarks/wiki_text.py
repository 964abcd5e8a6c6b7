"""Speed and memory of the Wikipedia text stage: bz2 decompression vs page streaming vs
wikitext parsing, on one input.

    .venv/bin/python benchmarks/wiki_text.py [--input DUMP] [--make-big MB] [--out PATH]
                                             [--repeat 3]

Input: `--input` (any dump `iter_pages` reads), or by default the two real samples in
../shared/fixtures/wikipedia concatenated (a two-stream bz2 file, 75 pages, 1.05 MB XML).
`--make-big MB` first writes a bigger dump (default path in the temp folder, or `--out`):
the input's pages repeated until the XML reaches MB megabytes, copy k of a page titled T
with id N becoming `T (k)` with id `N + k * 100000000` (redirect targets and link targets
are left as they are), compressed as one bz2 stream at level 9, like the real dumps.

Each phase runs `--repeat` times (the phases taking turns), each time in a fresh child
process so that its peak RSS (`ru_maxrss`) is its own; the median time is reported:
  decompress  bz2 (or gzip) decompression alone, one thread, 1 MiB reads
  stream      `iter_pages` (decompression + cutting + XML parsing of every article page)
  parse       `iter_pages` + `parse_wikitext` on every non-redirect page; also the time
              spent inside `parse_wikitext` alone
  sentences   the EntityCS text stage's work without the runner: `parse` + sentence
              splitting and filtering (`_chunk_records`, one process), records and rejects
              made but not written; the spaCy import and pipeline setup it needs are timed
              apart (once per process; builders/entitycs.py's read_wikipedia pays them)
Ratios are to the decompression time of the same input. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import bz2
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "wikipedia"
SAMPLES = ["enwiki-20250201-tiny70.xml.bz2", "enwiki-table-markup-gensim.xml.bz2"]
sys.path.insert(0, str(REPO))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_decompress(path: Path) -> dict:
    from dsbuild.wiki import open_dump

    start = time.perf_counter()
    size = 0
    with open_dump(path) as stream:
        while block := stream.read(1 << 20):
            size += len(block)
    return {"seconds": time.perf_counter() - start, "xml_bytes": size}


def phase_stream(path: Path) -> dict:
    from dsbuild.wiki import Page, iter_pages

    start = time.perf_counter()
    pages = rejects = redirects = 0
    for item in iter_pages(path):
        if isinstance(item, Page):
            pages += 1
            redirects += item.redirect is not None
        else:
            rejects += 1
    return {
        "seconds": time.perf_counter() - start,
        "pages": pages,
        "redirects": redirects,
        "rejects": rejects,
    }


def phase_parse(path: Path) -> dict:
    from dsbuild.wiki import Page, iter_pages, parse_wikitext

    clock = time.perf_counter
    start = clock()
    parse_seconds = 0.0
    pages = articles = links = chars = wikitext = 0
    for item in iter_pages(path):
        if not isinstance(item, Page):
            continue
        pages += 1
        if item.redirect is not None:
            continue
        articles += 1
        wikitext += len(item.text)
        before = clock()
        parsed = parse_wikitext(item.text)
        parse_seconds += clock() - before
        links += len(parsed.links)
        chars += len(parsed.text)
    return {
        "seconds": clock() - start,
        "parse_seconds": parse_seconds,
        "pages": pages,
        "articles": articles,
        "links": links,
        "text_chars": chars,
        "wikitext_chars": wikitext,
    }


def phase_sentences(path: Path) -> dict:
    clock = time.perf_counter
    start = clock()
    from dsbuild.builders.entitycs import DEFAULTS, _chunk_records, _chunks, _splitter

    _splitter(DEFAULTS["splitter"])  # spaCy import + pipeline: a fixed cost, timed apart
    setup = clock() - start
    from dsbuild.stages import Reject
    from dsbuild.wiki import iter_pages

    start = clock()
    kept = rejects = 0
    for chunk in _chunks(iter_pages(path), 64):
        for item in _chunk_records(chunk, DEFAULTS):
            if isinstance(item, Reject):
                rejects += 1
            elif item["kind"] == "sentence":
                kept += 1
    return {
        "seconds": clock() - start,
        "setup_seconds": setup,
        "sentences": kept,
        "rejects": rejects,
    }


PHASES = {
    "decompress": phase_decompress,
    "stream": phase_stream,
    "parse": phase_parse,
    "sentences": phase_sentences,
}


def default_input() -> Path:
    if not all((FIXTURES / name).is_file() for name in SAMPLES):
        sys.exit(f"no --input given and the samples are not in {FIXTURES}")
    path = Path(tempfile.gettempdir()) / "dsbuild-wiki-samples.xml.bz2"
    path.write_bytes(b"".join((FIXTURES / name).read_bytes() for name in SAMPLES))
    return path


_PAGE = re.compile(rb"<page>.*?</page>\s*", re.S)
_TITLE = re.compile(rb"<title>([^<]*)</title>")
_ID = re.compile(rb"<id>(\d+)</id>")


def make_big(source: Path, megabytes: float, out: Path) -> Path:
    """Repeat `source`'s pages with new titles and ids until the XML reaches `megabytes`."""
    from dsbuild.wiki import open_dump

    with open_dump(source) as stream:
        raw = stream.read()
    pages = _PAGE.findall(raw)
    if not pages:
        sys.exit(f"no <page> found in {source}")
    head = b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11">\n'
    target = int(megabytes * 1_000_000)
    compressor = bz2.BZ2Compressor(9)
    written = 0
    started = time.perf_counter()
    with out.open("wb") as handle:
        handle.write(compressor.compress(head))
        copy = 0
        while written < target:
            copy += 1
            for page in pages:
                page = _TITLE.sub(
                    lambda m: b"<title>%s (%d)</title>" % (m.group(1), copy), page, count=1
                )
                page = _ID.sub(
                    lambda m: b"<id>%d</id>" % (int(m.group(1)) + copy * 10**8), page, count=1
                )
                handle.write(compressor.compress(b"  " + page))
                written += len(page) + 2
        handle.write(compressor.compress(b"</mediawiki>\n"))
        handle.write(compressor.flush())
    print(
        f"made {out}: {written / 1e6:.1f} MB XML ({copy} copies of {len(pages)} pages), "
        f"{out.stat().st_size / 1e6:.1f} MB bz2, in {time.perf_counter() - started:.0f} s"
    )
    return out


def run_child(phase: str, path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--input", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path)
    parser.add_argument("--make-big", type=float, metavar="MB")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # child process: one phase, JSON out
        figures = PHASES[args.phase](args.input)
        figures["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(figures))
        return

    path = args.input or default_input()
    if args.make_big:
        out = args.out or Path(tempfile.gettempdir()) / f"dsbuild-wiki-{args.make_big:g}MB.xml.bz2"
        path = make_big(path, args.make_big, out)

    runs: dict[str, list[dict]] = {phase: [] for phase in PHASES}
    for _ in range(args.repeat):  # interleaved, so that a busy spell hits every phase alike
        for phase in PHASES:
            runs[phase].append(run_child(phase, path))
    med = {
        phase: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for phase, results in runs.items()
    }
    xml_mb = med["decompress"]["xml_bytes"] / 1e6
    base = med["decompress"]["seconds"]
    pages = med["stream"]["pages"]
    print(
        f"input {path}: {path.stat().st_size / 1e6:.2f} MB on disk, {xml_mb:.2f} MB XML, "
        f"{pages:.0f} pages ({med['stream']['redirects']:.0f} redirects, "
        f"{med['stream']['rejects']:.0f} rejects), {med['parse']['articles']:.0f} articles, "
        f"{med['parse']['links']:.0f} links; median of {args.repeat} runs"
    )
    print(
        f"{'phase':<22}{'seconds':>9}{'pages/s':>11}{'MB/s XML':>10}{'x decomp':>10}"
        f"{'peak RSS':>10}"
    )

    def row(name: str, seconds: float, rss: float | None) -> None:
        rss_text = f"{rss:.0f} MB" if rss is not None else ""
        print(
            f"{name:<22}{seconds:>9.3f}{pages / seconds:>11,.0f}{xml_mb / seconds:>10.1f}"
            f"{seconds / base:>10.2f}{rss_text:>10}"
        )

    row("decompress", base, med["decompress"]["peak_rss_mb"])
    row("stream (incl. decomp)", med["stream"]["seconds"], med["stream"]["peak_rss_mb"])
    row("stream+parse", med["parse"]["seconds"], med["parse"]["peak_rss_mb"])
    row("  parse_wikitext only", med["parse"]["parse_seconds"], None)
    row("stream+parse+sentences", med["sentences"]["seconds"], med["sentences"]["peak_rss_mb"])
    row("  + spaCy setup", med["sentences"]["seconds"] + med["sentences"]["setup_seconds"], None)
    wikitext_mb = med["parse"]["wikitext_chars"] / 1e6
    print(
        f"parse_wikitext: {wikitext_mb / med['parse']['parse_seconds']:.1f} M wikitext "
        f"chars/s of articles; output {med['parse']['text_chars'] / 1e6:.2f} M chars"
    )
    sents = med["sentences"]
    print(
        f"sentences: {sents['sentences']:,.0f} kept, {sents['rejects']:,.0f} rejected, "
        f"{sents['sentences'] / sents['seconds']:,.0f} kept sentences/s; spaCy setup "
        f"{sents['setup_seconds']:.2f} s (once per process)"
    )


if __name__ == "__main__":
    main()
