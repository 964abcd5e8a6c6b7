"""How long `dsbuild --help` (and a few other instant commands) take: median of N runs.

    python benchmarks/cli_startup.py [--runs 5]

Prints figures; asserts nothing. The target is under 0.5 s for `dsbuild --help`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def time_command(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = shutil.which("dsbuild") or str(Path(sys.executable).parent / "dsbuild")
    commands = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "dsbuild --help": [exe, "--help"],
        "dsbuild --version": [exe, "--version"],
        "dsbuild psiloqa --help": [exe, "psiloqa", "--help"],
        "dsbuild list": [exe, "list"],
    }
    print(f"{'command':<28} {'median':>8} {'min':>8} {'max':>8}   (runs={args.runs})")
    for label, cmd in commands.items():
        t = time_command(cmd, args.runs)
        print(f"{label:<28} {statistics.median(t):8.3f} {min(t):8.3f} {max(t):8.3f}")


if __name__ == "__main__":
    main()
