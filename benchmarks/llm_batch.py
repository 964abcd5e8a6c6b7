"""`dsbuild llm run --batch` (OpenAI Batch API rounds) against a local fake OpenAI server.

    .venv/bin/python benchmarks/llm_batch.py [--n 2000] [--batch-seconds 2] [--latency-ms 50]
                                            [--only batch,kill,expire,psiloqa]

Needs ../shared/tools/fake_openai.py (and aiohttp, which it uses). Every server listens on
127.0.0.1 only. Prints figures as a table, then the commands; asserts nothing. Runs:
  batch   N requests through --batch (fresh cache): online requests the server saw, batches,
          batch lines, polls, rounds; results vs an online run of the same input (own fresh
          cache); reported cost of the batch run vs the online run (a --prices file gives
          the fake model a known price)
  kill    the batch run SIGKILLed while polling (once the server has a batch), then the same
          command again: batches the server created, results
  expire  a fake started with --batch-expire-share 0.1: its first batch expires with 10% of
          the lines unfinished; results after the next round, lines lost
  psiloqa `dsbuild psiloqa build` on the embedded samples, online and with --batch (own
          fresh caches): every stage's records and rejects compared (batch marks in the
          provenance aside), online requests, batches, rounds, polls
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llm_engine import DSBUILD, ENV, FakeServer, llm_cmd, write_input  # noqa: E402

PRICE_IN, PRICE_OUT = 10.0, 30.0  # USD per 1M tokens, for the fake model
CONCURRENCY = 64


def read_out(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    with open(path) as f:
        return {r["id"]: r for r in map(json.loads, f)}


def n_lost(rows: dict[str, dict], n: int) -> int:
    ok = sum(1 for r in rows.values() if not r["error"] and r["content"] is not None)
    return n - ok


def n_differ(a: dict[str, dict], b: dict[str, dict]) -> int:
    """Ids whose content/json differ between two runs (or that one of them lacks)."""
    ids = set(a) | set(b)
    return sum(
        1
        for i in ids
        if i not in a
        or i not in b
        or (a[i]["content"], a[i]["json"]) != (b[i]["content"], b[i]["json"])
    )


def batch_state(out: Path) -> list[dict]:
    """The batches the run directory's state files record (round, status, custom_ids): RUN
    itself, or OUT.run for the output file OUT of `llm run`."""
    run = out if out.is_dir() else out.with_name(out.name + ".run")
    batches = []
    for path in sorted((run / "batches").glob("*.json")):
        try:
            batches += json.loads(path.read_text()).get("batches", [])
        except (OSError, ValueError):
            pass
    return batches


BATCH_MARKS = {"batch_id", "batch_line", "cached"}


def _unmarked(value):
    if isinstance(value, dict):
        return {k: _unmarked(v) for k, v in value.items() if k not in BATCH_MARKS}
    if isinstance(value, list):
        return [_unmarked(v) for v in value]
    return value


def stage_outputs(run: Path) -> dict[str, tuple[list, list]]:
    """Each stage's records and rejects, batch marks aside (a reject's detail may name the
    batch that answered)."""
    import re

    out = {}
    if not (run / "stages").is_dir():
        return out
    for stage in sorted((run / "stages").iterdir()):

        def rows(name):
            path = stage / name
            if not path.is_file():
                return []
            text = re.sub(r"batch \S+: ", "", path.read_text())
            return [_unmarked(json.loads(x)) for x in text.splitlines()]

        out[stage.name] = (rows("records.jsonl"), rows("rejects.jsonl"))
    return out


def rounds_of(out: Path) -> str:
    rounds = {b["round"] for b in batch_state(out)}
    return str(max(rounds)) if rounds else "0"


def lines_per_round(out: Path) -> str:
    """Lines submitted per round, e.g. `2000 + 200`, with each batch's end status."""
    return " + ".join(
        f"{len(b['custom_ids'])} ({b['status']})"
        for b in sorted(batch_state(out), key=lambda b: b["round"])
    )


def summary_of(p: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


class Bench:
    def __init__(self, work: Path, n: int) -> None:
        self.work, self.n = work, n
        self.rows: list[tuple[str, str, str, str]] = []  # scenario, figure, target, measured
        self.commands: list[tuple[str, str]] = []
        self.inp = work / "in.jsonl"
        write_input(self.inp, n)
        self.prices = work / "prices.json"
        self.prices.write_text(json.dumps({"fake-model": {"input": PRICE_IN, "output": PRICE_OUT}}))

    def row(self, scenario: str, figure: str, target: str, measured) -> None:
        self.rows.append((scenario, figure, target, str(measured)))

    def cmd(self, server: FakeServer, tag: str, batch: bool) -> tuple[list[str], Path]:
        out = self.work / f"{tag}.jsonl"
        extra = ["--prices", str(self.prices)] + (["--batch"] if batch else [])
        cmd = llm_cmd(server, self.inp, out, CONCURRENCY, self.work / f"cache-{tag}", extra)
        return cmd, out

    def note(self, label: str, cmd: list[str]) -> None:
        text = shlex.join(cmd).replace(str(self.work), "$W").replace(DSBUILD, "dsbuild")
        self.commands.append((label, text))

    def run(self, server: FakeServer, tag: str, batch: bool, label: str):
        cmd, out = self.cmd(server, tag, batch)
        self.note(label, cmd)
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
        secs = time.monotonic() - t0
        if p.returncode != 0:
            print(f"  [{label}] exit {p.returncode}: {p.stderr.strip()[-400:]}", file=sys.stderr)
        return p, out, secs

    # -- 1. batch vs online ----------------------------------------------------------------
    def batch_vs_online(self, server: FakeServer) -> dict[str, dict]:
        s = "1 batch"
        server.reset()
        p, out, secs = self.run(server, "batch", True, "1 batch run")
        st = server.stats()
        batch_rows, bsum = read_out(out), summary_of(p)
        server.reset()
        po, out_o, secs_o = self.run(server, "online", False, "1 online run (reference)")
        st_o = server.stats()
        online_rows, osum = read_out(out_o), summary_of(po)
        self.row(s, "exit code (batch / online)", "0 / 0", f"{p.returncode} / {po.returncode}")
        self.row(s, "online requests the server saw", "0", st.get("requests"))
        self.row(s, "batches created", "1", st.get("batches_created"))
        self.row(s, "files uploaded", "1", st.get("files_uploaded"))
        self.row(s, "batch lines the server processed", str(self.n), st.get("batch_lines"))
        self.row(s, "batch polls", "-", st.get("batch_polls"))
        self.row(s, "rounds (state file)", "1", rounds_of(out))
        self.row(s, "lines submitted (state file)", str(self.n), lines_per_round(out))
        self.row(
            s,
            "results / lost",
            f"{self.n} / 0",
            f"{len(batch_rows)} / {n_lost(batch_rows, self.n)}",
        )
        self.row(s, "seconds (batch / online)", "-", f"{secs:.1f} / {secs_o:.1f}")
        self.row(s, "online run: requests the server saw", str(self.n), st_o.get("requests"))
        self.row(
            s, "ids whose content/json differ from online", "0", n_differ(batch_rows, online_rows)
        )
        bc, oc = bsum.get("cost_usd"), osum.get("cost_usd")
        line_b = sum(r.get("cost_usd") or 0 for r in batch_rows.values())
        line_o = sum(r.get("cost_usd") or 0 for r in online_rows.values())
        self.row(s, "reported cost USD (batch / online)", "x / 2x", f"{bc} / {oc}")
        ratio = f"{bc / oc:.6f}" if bc is not None and oc else "n/a"
        self.row(s, "batch cost / online cost (summary)", "0.500000", ratio)
        ratio_l = f"{line_b / line_o:.6f}" if line_o else "n/a"
        self.row(s, "batch / online, sum of per-line cost_usd", "0.500000", ratio_l)
        tok = (bsum.get("prompt_tokens"), bsum.get("completion_tokens"))
        tok_o = (osum.get("prompt_tokens"), osum.get("completion_tokens"))
        self.row(s, "tokens (prompt, completion) batch vs online", "equal", f"{tok} vs {tok_o}")
        return online_rows

    # -- 2. killed while polling, run again ------------------------------------------------
    def kill_and_rerun(self, server: FakeServer, online_rows: dict[str, dict] | None) -> None:
        s = "2 kill"
        server.reset()
        cmd, out = self.cmd(server, "kill", True)
        self.note("2 batch run, SIGKILLed once the server has a batch and a poll, then again", cmd)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        t0 = time.monotonic()
        st: dict = {}
        while time.monotonic() - t0 < 120 and proc.poll() is None:
            st = server.stats()
            if st.get("batches_created", 0) >= 1 and st.get("batch_polls", 0) >= 1:
                break
            time.sleep(0.05)
        created_at = time.monotonic() - t0
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        st_kill = server.stats()
        self.row(s, "killed while running (not finished yet)", "yes", "yes" if alive else "NO")
        self.row(
            s,
            "batches / polls at the kill",
            "1 / >=1",
            f"{st_kill.get('batches_created')} / {st_kill.get('batch_polls')}",
        )
        self.row(s, "seconds from start to the kill", "-", f"{created_at:.1f}")
        self.row(
            s,
            "batch still in flight at the kill",
            "yes",
            "yes" if st_kill.get("batch_lines", 0) == 0 else "no (already finished)",
        )
        t1 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
        secs = time.monotonic() - t1
        if p.returncode != 0:
            print(f"  [kill rerun] exit {p.returncode}: {p.stderr.strip()[-400:]}", file=sys.stderr)
        st = server.stats()
        rows = read_out(out)
        self.row(s, "exit code of the second run", "0", p.returncode)
        self.row(s, "batches created (both runs)", "1", st.get("batches_created"))
        self.row(s, "files uploaded (both runs)", "1", st.get("files_uploaded"))
        self.row(s, "batch lines the server processed", str(self.n), st.get("batch_lines"))
        self.row(s, "batches recorded (state file)", "1", len(batch_state(out)))
        self.row(s, "online requests the server saw", "0", st.get("requests"))
        self.row(s, "results / lost", f"{self.n} / 0", f"{len(rows)} / {n_lost(rows, self.n)}")
        if online_rows:
            self.row(
                s, "ids whose content/json differ from online", "0", n_differ(rows, online_rows)
            )
        self.row(s, "seconds of the second run", "-", f"{secs:.1f}")

    # -- 3. first batch expires with 10% unfinished ----------------------------------------
    def expire(self, server: FakeServer, online_rows: dict[str, dict] | None) -> None:
        s = "3 expire"
        server.reset()
        p, out, secs = self.run(
            server, "expire", True, "3 batch run, fake with --batch-expire-share 0.1"
        )
        st = server.stats()
        rows = read_out(out)
        self.row(s, "exit code", "0", p.returncode)
        self.row(s, "batches created", "2", st.get("batches_created"))
        ten = self.n // 10
        self.row(
            s, "batch lines the server processed", f"{self.n - ten} + {ten}", st.get("batch_lines")
        )
        self.row(s, "rounds (state file)", "2", rounds_of(out))
        self.row(
            s,
            "lines submitted per round (state file)",
            f"{self.n} (expired) + {ten} (completed)",
            lines_per_round(out),
        )
        self.row(s, "online requests the server saw", "0", st.get("requests"))
        self.row(s, "results / lost", f"{self.n} / 0", f"{len(rows)} / {n_lost(rows, self.n)}")
        if online_rows:
            self.row(
                s, "ids whose content/json differ from online", "0", n_differ(rows, online_rows)
            )
        self.row(s, "seconds", "-", f"{secs:.1f}")

    # -- 4. a multi-stage build, online and with --batch ----------------------------------
    def psiloqa(self, server: FakeServer) -> None:
        s = "4 psiloqa"
        runs = {}
        for tag, extra in (("online", []), ("batch", ["--batch"])):
            server.reset()
            run = self.work / f"psiloqa-{tag}"
            cmd = [
                DSBUILD,
                "psiloqa",
                "build",
                "--model",
                "openai:fake-model",
                "--base-url",
                server.url,
                "--run-dir",
                str(run),
                "--cache-dir",
                str(self.work / f"cache-psiloqa-{tag}"),
                "--no-progress",
                *extra,
            ]
            self.note(f"4 psiloqa build ({tag})", cmd)
            t0 = time.monotonic()
            p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
            runs[tag] = (p, run, server.stats(), time.monotonic() - t0)
            if p.returncode != 0:
                print(
                    f"  [psiloqa {tag}] exit {p.returncode}: {p.stderr.strip()[-400:]}",
                    file=sys.stderr,
                )
        (po, ro, so, to), (pb, rb, sb, tb) = runs["online"], runs["batch"]
        self.row(s, "exit code (batch / online)", "0 / 0", f"{pb.returncode} / {po.returncode}")
        a, b = stage_outputs(ro), stage_outputs(rb)
        same = sum(1 for k in a if a.get(k) == b.get(k))
        self.row(s, "stages whose records and rejects equal online's", f"{len(a)}", f"{same}")
        n_rec = sum(len(v[0]) for v in a.values())
        n_rej = sum(len(v[1]) for v in a.values())
        self.row(s, "stage records / rejects compared", "-", f"{n_rec} / {n_rej}")
        final = len(a[max(a)][0]) if a else "-"
        self.row(s, "final rows (online)", "-", final)
        self.row(s, "online requests (online run)", "-", so.get("requests"))
        self.row(s, "online requests (batch run)", "0", sb.get("requests"))
        self.row(
            s,
            "batches created / lines",
            "-",
            f"{sb.get('batches_created')} / {sb.get('batch_lines')}",
        )
        self.row(
            s,
            "rounds / polls",
            "-",
            f"{len({x['round'] for x in batch_state(rb)})} / {sb.get('batch_polls')}",
        )
        self.row(s, "seconds (batch / online)", "-", f"{tb:.1f} / {to:.1f}")

    def print(self) -> None:
        head = ("scenario", "figure", "target", "measured")
        w = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        line = "| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |"
        print(line)
        print("|" + "|".join("-" * (x + 2) for x in w) + "|")
        for r in self.rows:
            print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
        print(f"\ncommands (W={self.work}; OPENAI_API_KEY=fake):")
        for label, text in self.commands:
            print(f"  {label}:\n    {text}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-seconds", type=float, default=2.0)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--only", default="batch,kill,expire,psiloqa")
    a = ap.parse_args()
    only = set(a.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="dsbuild-bench-batch-"))
    bench = Bench(work, a.n)
    print(
        f"N={a.n} batch-seconds={a.batch_seconds:g} latency={a.latency_ms:.0f}ms "
        f"price fake-model in/out={PRICE_IN:g}/{PRICE_OUT:g} USD per 1M tokens"
    )
    t0 = time.monotonic()
    try:
        run_all(bench, a, only)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal {time.monotonic() - t0:.0f}s")


def run_all(bench: Bench, a: argparse.Namespace, only: set[str]) -> None:
    online_rows = None
    server = FakeServer(a.latency_ms, ["--batch-seconds", str(a.batch_seconds)])
    try:
        if "batch" in only:
            online_rows = bench.batch_vs_online(server)
        if "kill" in only:
            bench.kill_and_rerun(server, online_rows)
        if "psiloqa" in only:
            bench.psiloqa(server)
    finally:
        server.stop()
    if "expire" in only:
        server = FakeServer(
            a.latency_ms,
            ["--batch-seconds", str(a.batch_seconds), "--batch-expire-share", "0.1"],
        )
        try:
            bench.expire(server, online_rows)
        finally:
            server.stop()
    bench.print()


if __name__ == "__main__":
    main()
