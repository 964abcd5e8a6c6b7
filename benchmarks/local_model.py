"""Speed of the local SmolLM2 backend: model load time, and completion tokens per second
for a grammar-constrained 3-item JSON answer (median of 3 runs after one warm-up).

Run: .venv/bin/python benchmarks/local_model.py [--model PATH.gguf] [--threads N]
Prints figures only; timings depend on the machine and are never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dsbuild.llm.backends.local import LocalLlamaBackend  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {"type": "string", "maxLength": 40},
        }
    },
    "required": ["items"],
    "additionalProperties": False,
}


def payload(i: int) -> dict:
    # A different seed each run, so no run merely replays the previous one's tokens.
    return {
        "model": "local:smollm2",
        "temperature": 0.7,
        "max_tokens": 96,
        "seed": 100 + i,
        "messages": [{"role": "user", "content": "Give three short tips for learning a language."}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "three_tips", "schema": SCHEMA},
        },
    }


async def main(model: str, threads: int | None, runs: int) -> None:
    backend = LocalLlamaBackend(model, n_ctx=1024, n_threads=threads)
    t0 = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - t0
    print(
        f"model      {backend.model_path.name} ({backend.model_path.stat().st_size / 1e6:.0f} MB)"
    )
    print(f"threads    {backend.n_threads} (cpu_count {os.cpu_count()})")
    print(f"load       {load_s:.2f} s")

    await backend.complete(payload(-1), timeout=300)  # warm-up
    rates, secs, tokens = [], [], []
    for i in range(runs):
        t0 = time.perf_counter()
        reply = await backend.complete(payload(i), timeout=300)
        dt = time.perf_counter() - t0
        n = reply.usage.completion_tokens if reply.usage else 0
        rates.append(n / dt)
        secs.append(dt)
        tokens.append(n)
        print(
            f"run {i + 1}      {n} tokens in {dt:.2f} s = {n / dt:.1f} tok/s  "
            f"(prompt {reply.usage.prompt_tokens if reply.usage else '?'}, "
            f"{reply.finish_reason}) {reply.content}"
        )
    print(
        f"median     {statistics.median(rates):.1f} completion tok/s, "
        f"{statistics.median(secs):.2f} s per answer, {statistics.median(tokens):.0f} tokens"
    )
    await backend.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="'smollm2' or a .gguf path")
    parser.add_argument("--threads", type=int, default=None, help="default: os.cpu_count()")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.model, args.threads, args.runs))
