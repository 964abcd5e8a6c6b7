"""Deduplication gate: precision/recall on generated duplicates, throughput and peak RSS.

Usage: python benchmarks/gates_dedup.py [--n 1000000] [--backends rensa,datasketch]
           [--datasketch-n 100000] [--json]

The generated set (seeded, no files needed): a 20,000-word vocabulary of pseudo-words made
of random syllables, drawn with Zipf-like frequencies into "short records" of 8-20 words
(about 90 characters, like a question). Then, for a random 10% of positions, a variant of
an earlier fresh record is inserted instead of a fresh one:
  - exact variants (a third): the source with changed case, punctuation and spacing;
  - edited variants (two thirds): 1-4 word substitutions, insertions or deletions.
Truth for near duplicates is the exact Jaccard similarity of the character 5-gram sets
(the quantity the gate estimates): a record is a true near duplicate when its Jaccard with
its source is >= the threshold (0.8). Precision: flagged records that truly are; recall:
true ones flagged. Exact variants must all be `duplicate_exact`.

Backends: `bulk` is what the dedup stage and `dsbuild check dedup` run (`dedup_all`);
`rensa` and `datasketch` are the streaming `Deduplicator` with that library's LSH index.
Each backend runs in its own subprocess so that its peak RSS (ru_maxrss) is its own.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SYLLABLES = [c + v for c in "bdfghklmnprstvz" for v in "aeiou"] + ["an", "el", "or", "us"]


def generate(n: int, seed: int = 7, dup_share: float = 0.10):
    """(records, truth): records are (id, text); truth maps variant id → (kind, source id)."""
    rng = random.Random(seed)
    vocab = sorted(
        {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(24000)}
    )[:20000]
    rng.shuffle(vocab)
    weights = [1 / (r + 1) ** 1.05 for r in range(len(vocab))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)

    def sentence() -> list[str]:
        return rng.choices(vocab, cum_weights=cum, k=rng.randint(8, 20))

    records: list[tuple[str, str]] = []
    words_of: list[list[str]] = []
    truth: dict[str, tuple[str, str]] = {}
    fresh: list[int] = []  # variants are made of fresh records only, so truth is unambiguous
    for i in range(n):
        rid = f"r{i}"
        if i > 10 and rng.random() < dup_share:
            j = fresh[rng.randrange(len(fresh))]
            src_id, src = records[j][0], words_of[j]
            if rng.random() < 1 / 3:
                words = list(src)
                text = " ".join(w.upper() if rng.random() < 0.3 else w for w in words)
                text = text.replace(" ", rng.choice(["  ", " , ", " - ", " "]), 2) + rng.choice(
                    ["?", "!", ".", ""]
                )
                truth[rid] = ("exact", src_id)
            else:
                words = list(src)
                for _ in range(rng.randint(1, 4)):
                    op = rng.random()
                    pos = rng.randrange(len(words))
                    if op < 0.5:
                        words[pos] = rng.choices(vocab, cum_weights=cum)[0]
                    elif op < 0.75:
                        words.insert(pos, rng.choices(vocab, cum_weights=cum)[0])
                    elif len(words) > 3:
                        del words[pos]
                text = " ".join(words)
                truth[rid] = ("edit", src_id)
        else:
            words = sentence()
            text = " ".join(words)
            text = text[0].upper() + text[1:] + "?"
            fresh.append(i)
        records.append((rid, text))
        words_of.append(words)
    return records, truth


def jaccard(a: str, b: str) -> float:
    from dsbuild.gates.dedup import normalize_text, shingles

    sa, sb = set(shingles(normalize_text(a))), set(shingles(normalize_text(b)))
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def run_one(n: int, backend: str, near: bool, threshold: float) -> dict:
    from dsbuild.gates.dedup import Deduplicator, normalize_text

    records, truth = generate(n)
    normalize_text("warm")  # build the punctuation table outside the timing
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    verdicts = {}
    t0 = time.perf_counter()
    if backend == "bulk":
        from dsbuild.gates.dedup_bulk import dedup_all

        for (rid, _), v in zip(records, dedup_all(records, near=near, threshold=threshold)):
            if not v.keep:
                verdicts[rid] = (v.reason, v.duplicate_of)
    else:
        dedup = Deduplicator(near=near, backend=backend, threshold=threshold)
        for rid, text in records:
            v = dedup.check(rid, text)
            if not v.keep:
                verdicts[rid] = (v.reason, v.duplicate_of)
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text_of = dict(records)
    out = {
        "backend": backend if near else "exact-only",
        "n": n,
        "seconds": round(seconds, 1),
        "records_per_second": round(n / seconds),
        "peak_rss_mb": round(rss / 1024),
        "peak_rss_before_dedup_mb": round(rss0 / 1024),
        "by_reason": {},
    }
    for reason, _ in verdicts.values():
        out["by_reason"][reason] = out["by_reason"].get(reason, 0) + 1
    exact_ids = [rid for rid, (kind, _) in truth.items() if kind == "exact"]
    out["exact_variants"] = len(exact_ids)
    # an exact variant of a record that was itself dropped as a near duplicate is (rightly)
    # a near duplicate of the kept one: count it as found when rejected for either reason
    out["exact_found"] = sum(rid in verdicts for rid in exact_ids)
    if near:
        # near-duplicate truth: exact 5-gram Jaccard with the source >= threshold
        edits = [(rid, src) for rid, (kind, src) in truth.items() if kind == "edit"]
        true_near = {rid for rid, src in edits if jaccard(text_of[rid], text_of[src]) >= threshold}
        flagged = {rid for rid, (reason, _) in verdicts.items() if reason == "near_duplicate"}
        correct = {
            rid
            for rid in flagged
            if rid in true_near
            or jaccard(text_of[rid], text_of[verdicts[rid][1].removeprefix("ref:")]) >= threshold
        }
        out.update(
            {
                "edited_variants": len(edits),
                "true_near": len(true_near),
                "flagged_near": len(flagged),
                "precision": round(len(correct) / len(flagged), 4) if flagged else None,
                # an edit can give back the source's text (a word replaced by itself): then it is
                # rightly an exact duplicate, so recall counts rejections for either reason
                "recall": round(sum(rid in verdicts for rid in true_near) / len(true_near), 4)
                if true_near
                else None,
                "edited_flagged_any": round(
                    sum(rid in verdicts for rid, _ in edits) / len(edits), 4
                ),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--datasketch-n", type=int, default=100_000)
    parser.add_argument(
        "--backends",
        default="exact,bulk,rensa,datasketch",
        help="exact (exact only), bulk (dedup_all: rensa signatures, sorted "
        "bands), rensa / datasketch (streaming Deduplicator)",
    )
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.one:
        backend = args.one
        print(
            json.dumps(
                run_one(
                    args.n,
                    "rensa" if backend == "exact" else backend,
                    backend != "exact",
                    args.threshold,
                )
            )
        )
        return
    results = []
    for backend in args.backends.split(","):
        n = args.datasketch_n if backend == "datasketch" else args.n
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                backend,
                "--n",
                str(n),
                "--threshold",
                str(args.threshold),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        if not args.json:
            print(json.dumps(results[-1]), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("\n| backend | records | rec/s | peak RSS MB | exact found | near P | near R |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['backend']} | {r['n']:,} | {r['records_per_second']:,} | {r['peak_rss_mb']} "
            f"| {r['exact_found']}/{r['exact_variants']} | {r.get('precision', '-')} "
            f"| {r.get('recall', '-')} |"
        )


if __name__ == "__main__":
    main()
