"""Throughput and robustness of `dsbuild llm run` against a local fake OpenAI server.

    .venv/bin/python benchmarks/llm_engine.py [--n 2000] [--concurrency 64] [--latency-ms 200]
                                             [--repeat 3] [--only clean,cached,faults,kill,budget]

Needs ../shared/tools/fake_openai.py (and aiohttp, which it uses). Every server listens on
127.0.0.1 only. Prints figures; asserts nothing. Runs, in one session so ratios are fair:
  raw     the plain AsyncOpenAI + semaphore loop (../shared/tools/drive_raw.py)
  clean   dsbuild llm run, N requests, fresh cache
  cached  the same N again: served from the cache, requests reaching the server
  faults  5% 429 (Retry-After 1 s) + 1% 500 injected: lines lost, time vs clean, retries
  kill    SIGKILL midway, then resume: requests the server saw in total vs N
  budget  --max-cost: spent vs budget, in units of one request's cost
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO.parent / "shared" / "tools"
DSBUILD = str(Path(sys.executable).parent / "dsbuild")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeServer:
    def __init__(self, latency_ms: float, extra: list[str] = ()) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(TOOLS / "fake_openai.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/models", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("fake server did not start")

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/stats/reset", method="POST")
        urllib.request.urlopen(req, timeout=5)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_input(path: Path, n: int) -> None:
    with open(path, "w") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "id": f"r{i}",
                        "max_tokens": 64,
                        "messages": [
                            {"role": "user", "content": f"Write one sentence about item {i}"}
                        ],
                    }
                )
                + "\n"
            )


ENV = {**os.environ, "OPENAI_API_KEY": "fake"}


def llm_cmd(server: FakeServer, inp: Path, out: Path, c: int, cache: Path, extra=()) -> list[str]:
    return [
        DSBUILD,
        "llm",
        "run",
        str(inp),
        "--out",
        str(out),
        "--base-url",
        server.url,
        "--model",
        "fake-model",
        "--concurrency",
        str(c),
        "--cache-dir",
        str(cache),
        "--no-progress",
        "--json",
        *extra,
    ]


def llm_run(
    work: Path, server: FakeServer, inp: Path, tag: str, c: int, cache: Path, extra: list[str] = ()
) -> dict:
    cmd = llm_cmd(server, inp, work / f"{tag}.jsonl", c, cache, extra)
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    summary = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {}
    return {"rc": p.returncode, "stderr": p.stderr.strip()[-300:], **summary}


def raw_run(server: FakeServer, n: int, c: int, latency_ms: float) -> dict:
    p = subprocess.run(
        [
            sys.executable,
            str(TOOLS / "drive_raw.py"),
            "--base-url",
            server.url,
            "-n",
            str(n),
            "-c",
            str(c),
            "--latency-ms",
            str(latency_ms),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(p.stdout.strip().splitlines()[-1])


def lost(out: Path) -> int:
    with open(out) as f:
        return sum(
            1 for line in f if json.loads(line)["error"] or json.loads(line)["content"] is None
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="raw,clean,cached,faults,kill,budget")
    a = ap.parse_args()
    only = set(a.only.split(","))
    ideal = a.concurrency / (a.latency_ms / 1000)
    work = Path(tempfile.mkdtemp(prefix="dsbuild-bench-"))
    inp = work / "in.jsonl"
    write_input(inp, a.n)
    print(
        f"N={a.n} concurrency={a.concurrency} latency={a.latency_ms:.0f}ms ideal={ideal:.0f} req/s"
    )
    server = FakeServer(a.latency_ms)
    try:
        raw_rates, clean_rates, clean_secs = [], [], []
        for k in range(a.repeat):
            if "raw" in only:
                r = raw_run(server, a.n, a.concurrency, a.latency_ms)
                raw_rates.append(r["req_per_s"])
                print(
                    f"  raw loop #{k + 1}: {r['req_per_s']:.1f} req/s "
                    f"({r['fraction_of_ideal']:.2f} of ideal), lost {r['rows_lost']}"
                )
            if "clean" in only or "cached" in only:
                server.reset()
                cache = work / f"cache-clean-{k}"
                r = llm_run(work, server, inp, f"clean-{k}", a.concurrency, cache)
                sent = server.stats().get("requests", server.stats())
                rate = r["results"] / r["seconds"]
                clean_rates.append(rate)
                clean_secs.append(r["seconds"])
                print(
                    f"  dsbuild  #{k + 1}: {rate:.1f} req/s ({rate / ideal:.2f} of ideal), "
                    f"server saw {sent}, errors {r['errors']}"
                )
        if raw_rates and clean_rates:
            print(
                f"clean: dsbuild median {statistics.median(clean_rates):.1f} req/s = "
                f"{statistics.median(clean_rates) / ideal:.3f} of ideal; raw median "
                f"{statistics.median(raw_rates):.1f} req/s; ratio "
                f"{statistics.median(clean_rates) / statistics.median(raw_rates):.2f}x"
            )
        if "cached" in only:
            server.reset()
            r = llm_run(work, server, inp, "cached", a.concurrency, work / "cache-clean-0")
            print(
                f"cached: {r['results'] / r['seconds']:.1f} req/s, cache hits {r['cache_hits']}, "
                f"requests reaching the server {server.stats().get('requests')}"
            )
    finally:
        server.stop()

    if "faults" in only:
        server = FakeServer(
            a.latency_ms, ["--fail-mix", "429:0.05,500:0.01", "--retry-after-s", "1"]
        )
        try:
            r = llm_run(work, server, inp, "faults", a.concurrency, work / "cache-faults")
            base = statistics.median(clean_secs) if clean_secs else float("nan")
            print(
                f"faults: {r['results']} results, lost {lost(work / 'faults.jsonl')}, time "
                f"{r['seconds']:.2f}s = {100 * (r['seconds'] / base - 1):+.0f}% vs clean; retries "
                f"{r['retries']}; server saw {server.stats().get('requests')}"
            )
        finally:
            server.stop()

    if "kill" in only:
        server = FakeServer(a.latency_ms)
        try:
            out = work / "kill.jsonl"
            cmd = llm_cmd(server, inp, out, a.concurrency, work / "cache-kill")
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
            time.sleep(0.5 + a.n / ideal / 2)
            before = server.stats().get("requests")
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            at_kill = server.stats().get("requests")
            r = llm_run(work, server, inp, "kill", a.concurrency, work / "cache-kill")
            total = server.stats().get("requests")
            print(
                f"kill: killed after ~{before} requests ({at_kill} when dead); resumed run sent "
                f"{r['requests_sent']}, cache hits {r['cache_hits']}; server saw {total} in total "
                f"for N={a.n} (excess {total - a.n}, concurrency {a.concurrency}); lost "
                f"{lost(out)}"
            )
        finally:
            server.stop()

    if "budget" in only:
        server = FakeServer(a.latency_ms)
        try:
            prices = work / "prices.yaml"
            prices.write_text("fake-model: {input: 1000.0, output: 1000.0}\n")
            budget = 1.0
            r = llm_run(
                work,
                server,
                inp,
                "budget",
                a.concurrency,
                work / "cache-budget",
                ["--max-cost", str(budget), "--prices", str(prices)],
            )
            run_json = json.loads((work / "budget.jsonl.run" / "run.json").read_text())
            spent = run_json["cost_usd"]
            with open(work / "budget.jsonl.run" / "stages" / "02-complete" / "log.jsonl") as f:
                costs = [json.loads(line)["out"][0]["cost_usd"] for line in f if line.strip()]
            one = statistics.median(costs) if costs else float("nan")
            print(
                f"budget: exit {r['rc']} ({r['stderr'][:120]}); spent ${spent:.4f} "
                f"of ${budget:.2f} (run.json); one request ~${one:.5f}; under budget by "
                f"{(budget - spent) / one:.2f} requests; "
                f"server saw {server.stats().get('requests')}"
            )
        finally:
            server.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
