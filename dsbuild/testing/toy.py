"""A small deterministic builder that exercises every stage kind, for tests and demos.

    python -m dsbuild.testing.toy RUN_DIR --n 300 --delay 0.003 [--seed S] [--new|--overwrite]

Stages: `generate` (source: n records from the seed), `transform` (async map, concurrency 8,
a per-record sleep so completion order differs from input order; splits long texts in two
and rejects blocked words), `min_words` (sync filter), `dedup` (batch).
`delay` only slows the stages down (it is passed as `ctx.delay`, not in the config), so the
output depends on `n` and `seed` alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import time
from typing import Any, Iterator

from dsbuild.stages import (
    Builder,
    Reject,
    StageContext,
    batch_stage,
    map_stage,
    reject,
    source_stage,
)

__all__ = ["BLOCKED", "build_toy", "main", "toy_builder", "toy_config"]

_WORDS = (
    "river",
    "Fluss",
    "rivière",
    "川",
    "نهر",
    "stone",
    "light",
    "Licht",
    "lumière",
    "光",
    "bridge",
    "brücke",
    "ville",
    "town",
    "嵐",
    "storm",
    "🌊",
    "wave",
    "ciel",
    "sky",
    "blocked",
)
BLOCKED = "blocked"


def _text(seed: int, i: int) -> str:
    rng = random.Random(f"toy:{seed}:{i}")
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 12)))


def _generate(ctx: StageContext) -> Iterator[dict]:
    """n records; every 7th repeats an earlier text, for dedup to find."""
    n, seed, delay = int(ctx.options.get("n", 300)), ctx.seed, float(getattr(ctx, "delay", 0.0))
    for i in range(n):
        if delay:
            time.sleep(delay / 3)
        text = _text(seed, i - 3 if i % 7 == 6 else i)
        yield {"id": f"toy-{i:05d}", "text": text, "lang": ("en", "de", "fr", "ja")[i % 4]}


async def _transform(record: dict, ctx: StageContext) -> Any:
    """Upper-case; split texts of 8+ words in two; reject blocked words."""
    delay = float(getattr(ctx, "delay", 0.0))
    if delay:
        h = int(hashlib.sha256(record["id"].encode()).hexdigest()[:4], 16)
        await asyncio.sleep(delay * (1 + h % 5) / 3)  # 1..5 thirds: scrambles completion order
    words = record["text"].split()
    if BLOCKED in words:
        return reject("blocked_word", f"word {BLOCKED!r} at position {words.index(BLOCKED)}")
    if len(words) >= 8:
        half = len(words) // 2
        return [
            {
                **record,
                "id": f"{record['id']}-{part}",
                "text": " ".join(ws).upper(),
                "n_words": len(ws),
            }
            for part, ws in (("a", words[:half]), ("b", words[half:]))
        ]
    return {**record, "text": record["text"].upper(), "n_words": len(words)}


def _min_words(record: dict, ctx: StageContext) -> Any:
    """Keep records of 2+ words (True keeps the record as it is)."""
    delay = float(getattr(ctx, "delay", 0.0))
    if delay:
        time.sleep(delay / 3)
    return True if record["n_words"] >= 2 else reject("too_short")


def _dedup(records: list[dict], ctx: StageContext) -> tuple[list[dict], list[Reject]]:
    """Keep the first record of each text."""
    first: dict[str, str] = {}
    kept, rejects = [], []
    for record in records:
        if record["text"] in first:
            rejects.append(
                Reject(
                    record["id"],
                    ctx.stage or "",
                    "duplicate",
                    f"same text as {first[record['text']]}",
                )
            )
        else:
            first[record["text"]] = record["id"]
            kept.append(record)
    return kept, rejects


def toy_builder() -> Builder:
    return Builder(
        "toy",
        "1",
        (
            source_stage("generate", _generate),
            map_stage("transform", _transform, concurrency=8),
            map_stage("min_words", _min_words),
            batch_stage("dedup", _dedup),
        ),
        description="A deterministic toy builder for tests.",
    )


def toy_config(n: int = 300, seed: int = 0) -> dict[str, Any]:
    """The toy's settings, shaped like `Settings.public_dict()`: knobs go under `options`."""
    return {"dataset": "toy", "seed": seed, "options": {"n": n}}


def build_toy(
    run_dir: str, *, n: int = 300, seed: int = 0, delay: float = 0.0, mode: str = "resume"
):
    """Run the toy builder; returns the `RunResult`."""
    from dsbuild.runs import run_builder

    return run_builder(
        toy_builder(),
        run_dir,
        toy_config(n, seed),
        mode=mode,  # type: ignore[arg-type]
        context_extras={"delay": delay},
    )


def main(argv: list[str] | None = None) -> int:
    from dsbuild.errors import DsbuildError

    parser = argparse.ArgumentParser(
        prog="python -m dsbuild.testing.toy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--new", dest="mode", action="store_const", const="new")
    group.add_argument("--overwrite", dest="mode", action="store_const", const="overwrite")
    args = parser.parse_args(argv)
    try:
        result = build_toy(
            args.run_dir, n=args.n, seed=args.seed, delay=args.delay, mode=args.mode or "resume"
        )
    except DsbuildError as e:
        print(e.one_line(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    print(
        json.dumps({"run_dir": str(result.run_dir), "stages": [s.to_dict() for s in result.stages]})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
