"""Push N PsiloQA tasks with pre-annotations to a real Label Studio, then push again.

    python benchmarks/labelstudio_push.py [--tasks 10000] [--batch-size 500]

Uses the server named by LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY (or the DSBUILD_TEST_...
pair `make test` exports); without one it starts its own from the `make test` data dir
template (build/labelstudio) and stops it after. Prints wall time, tasks/s and the number of
duplicates a re-push creates (should be 0); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make_records(n: int) -> list[dict]:
    """n PsiloQA rows: the sample rows, in turn, with ids and answers made distinct."""
    base = [
        json.loads(line)
        for line in (REPO / "dsbuild/samples/psiloqa.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    records = []
    for i in range(n):
        row = dict(base[i % len(base)])
        suffix = f" (#{i} 🔥)"
        row.update(id=f"bench-{i:06d}", llm_answer=row["llm_answer"] + suffix, annotated_span=None)
        records.append(row)
    return records


def server() -> tuple[str, str, object | None]:
    url = os.environ.get("LABEL_STUDIO_URL") or os.environ.get("DSBUILD_TEST_LABEL_STUDIO_URL")
    token = os.environ.get("LABEL_STUDIO_API_KEY") or os.environ.get(
        "DSBUILD_TEST_LABEL_STUDIO_TOKEN"
    )
    if url and token:
        return url, token, None
    from dsbuild.labelstudio.server import (
        AdminAccount,
        free_port,
        prepare_data_dir,
        start_server,
    )

    data = Path(tempfile.mkdtemp(prefix="dsbuild-ls-bench-")) / "data"
    account = prepare_data_dir(data, REPO / "build/labelstudio/template", AdminAccount.generate())
    started = start_server(data, account, port=free_port())
    return started.url, started.token, started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from dsbuild.labelstudio.client import LabelStudioClient
    from dsbuild.labelstudio.push import push_run
    from dsbuild.labelstudio.server import stop_server

    url, token, own = server()
    try:
        client = LabelStudioClient(url, token)
        with tempfile.TemporaryDirectory(prefix="dsbuild-ls-bench-run-") as tmp:
            run = Path(tmp) / f"bench-{int(time.time())}"
            run.mkdir()
            records = make_records(args.tasks)
            with open(run / "records.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            first = push_run(run, "psiloqa", client, batch_size=args.batch_size)
            again = push_run(run, "psiloqa", client, batch_size=args.batch_size)
            t0 = time.perf_counter()
            keys = client.task_keys(first.project)
            listing = time.perf_counter() - t0
            project = client.get_project(first.project)
            duplicates = int(project.get("task_number") or len(keys)) - len(keys)
            client.delete_project(first.project)
    finally:
        if own is not None:
            stop_server(own.pid)
    print(f"Label Studio at {url}")
    print(
        f"push {first.imported:,} tasks ({first.predictions:,} with pre-annotations) in "
        f"{first.batches} batches of {args.batch_size}: {first.seconds:.1f} s wall, "
        f"{first.imported / first.seconds:,.0f} tasks/s"
    )
    print(
        f"re-push: {again.seconds:.1f} s, imported {again.imported}, already there "
        f"{again.already_there:,}; tasks in project {project.get('task_number')}, "
        f"distinct keys {len(keys):,} -> duplicates: {duplicates}"
    )
    print(f"listing all task keys: {listing:.1f} s")


if __name__ == "__main__":
    main()
