"""`dsbuild llm`: the LLM engine as a command (batch inference with all its guarantees)."""

from __future__ import annotations

from pathlib import Path

import click

from dsbuild.cli.checks import AMOUNT, COUNT, RATE, refuse_test_models
from dsbuild.cli.options import batch_options, batch_settings

__all__ = ["llm"]


@click.group(short_help="Batch LLM requests through the engine (cache, retries, budget).")
def llm() -> None:
    """Send LLM requests through the dsbuild engine: cached, retried, rate-limited, budgeted.

    Without --model, --base-url or OPENAI_API_KEY the embedded local model answers.
    """


@llm.command()
@click.argument("in_path", metavar="IN.jsonl", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write one result per input line, in input order.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="YAML settings file (flags override it; it overrides env vars).",
)
@click.option(
    "--model",
    help="Model spec, e.g. openai:gpt-4o-mini, vllm:Qwen/Qwen2.5-7B-Instruct, local:smollm2.",
)
@click.option("--base-url", help="OpenAI-compatible endpoint (env OPENAI_BASE_URL).")
@click.option(
    "--concurrency",
    type=int,
    help="Requests in flight at most [default: 16]; halved on 429s, regrown on success.",
)
@click.option(
    "--timeout", "timeout_s", type=float, help="Seconds before a request times out [default: 60]."
)
@click.option(
    "--max-retries", type=int, help="Retries per request on 429, 5xx, timeouts [default: 6]."
)
@click.option("--seed", type=int, help="Sampling seed sent with every request [default: 0].")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help="LLM cache location (env DSBUILD_CACHE_DIR).",
)
@click.option(
    "--cache-only",
    is_flag=True,
    help="Replay from the cache; fail on the first request it does not hold.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option(
    "--max-cost",
    type=AMOUNT,
    metavar="USD",
    help="Stop before spending more than this (exit 5; run again with more to resume).",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML/JSON prices per 1M tokens overriding the built-in table.",
)
@click.option("--rpm", type=RATE, help="At most this many requests per minute.")
@click.option("--tpm", type=RATE, help="At most this many (estimated) tokens per minute.")
@click.option(
    "--max-repairs",
    type=COUNT,
    default=2,
    show_default=True,
    help="Repair turns for structured output that fails its schema.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Count the requests that would be sent (after cache hits) and their cost; send none. "
    "With --batch: the batches too, and the cost at batch prices.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Checkpoint directory [default: OUT.run].",
)
@click.option(
    "--new",
    "mode",
    flag_value="new",
    help="If the run directory holds another input or settings, start a new one beside it.",
)
@click.option(
    "--overwrite",
    "mode",
    flag_value="overwrite",
    help="If the run directory holds another input or settings, replace it.",
)
@batch_options
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(
    in_path: Path,
    out_path: Path,
    config_file: str | None,
    cache_only: bool,
    no_cache: bool,
    max_cost: float | None,
    prices_file: Path | None,
    rpm: float | None,
    tpm: float | None,
    max_repairs: int,
    dry_run: bool,
    run_dir: Path | None,
    mode: str | None,
    batch_mode: str | None,
    detach: bool,
    batch_fallback: str | None,
    batch_results: tuple[Path, ...],
    no_progress: bool,
    as_json: bool,
    **flags,
) -> None:
    """Send one request per line of IN.jsonl; write one result per line to --out.

    \b
    Input lines:  {"id": ..., "messages": [...], "response_format": {...}?,
                   "temperature"/"top_p"/"max_tokens"/"seed"/"stop"?, "sample_index"?}
    Output lines: {"id", "content", "json", "usage", "cost_usd", "provenance", "error"}
    Killed and run again, it resumes: finished lines are kept, answered requests come
    from the cache, and only the rest is sent. Lines that failed because of the endpoint
    (down, timing out, 5xx after retries) are written with their error but stay pending:
    the command exits 4 and running it again retries exactly those lines.
    """
    from dsbuild.cli.output import print_batch_summary, print_dry_run
    from dsbuild.config import resolve_settings
    from dsbuild.llm.batch import dry_run as plan
    from dsbuild.llm.batch import run_batch
    from dsbuild.progress import make_progress

    settings, _ = resolve_settings({**flags, "dataset": "llm"}, config_file)
    refuse_test_models([settings.model])
    batch = batch_settings(batch_mode, detach, batch_fallback, batch_results)
    if dry_run:
        estimate = plan(in_path, settings, prices_file=prices_file, batch=batch)
        print_dry_run(estimate, as_json=as_json)
        return
    from dsbuild.runs.runner import RunIncompleteError

    try:
        summary = run_batch(
            in_path,
            out_path,
            settings,
            run_dir=run_dir,
            mode=mode or "resume",
            cache_only=cache_only,
            max_cost=max_cost,
            prices_file=prices_file,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            max_repairs=max_repairs,
            progress=make_progress(not no_progress),
            use_cache=not no_cache,
            batch=batch,
        )
    except RunIncompleteError as e:  # every line written; some to retry: summary, then exit 4
        if getattr(e, "summary", None) is not None:
            print_batch_summary(e.summary, as_json=as_json)
        raise
    print_batch_summary(summary, as_json=as_json)
