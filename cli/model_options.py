"""What the commands that run a model over a file share (`psiloqa detect`, `medrect predict`,
`cultural rate`): the engine's flags, the run directory, `--dry-run`, and the summary.

Only click is imported at module level.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dsbuild.cli.checks import AMOUNT, refuse_test_models
from dsbuild.cli.options import batch_options, batch_settings

__all__ = ["engine_options", "run_model_command"]


def engine_options(f):
    """The engine and run flags, in `--help` order."""
    options = [
        click.option("--base-url", help="OpenAI-compatible endpoint (env OPENAI_BASE_URL)."),
        click.option("--concurrency", type=click.IntRange(1), help="Requests in flight at most."),
        click.option(
            "--timeout", "timeout_s", type=float, help="Seconds before a request times out."
        ),
        click.option("--max-retries", type=click.IntRange(0), help="Retries per request."),
        click.option("--seed", type=int, help="Sampling seed [default: 0]."),
        click.option("--cache-dir", type=click.Path(file_okay=False), help="LLM cache location."),
        click.option("--cache-only", is_flag=True, help="Replay from the cache; fail on a miss."),
        click.option(
            "--max-cost",
            type=AMOUNT,
            metavar="USD",
            help="Stop before spending more (exit 5; run again with more to resume).",
        ),
        click.option(
            "--dry-run",
            is_flag=True,
            help="Count the requests that would be sent (after cache hits) and their cost.",
        ),
        click.option(
            "--limit", type=click.IntRange(1), help="Only the first N records of the input."
        ),
        click.option(
            "--prompts",
            "prompts_dir",
            type=click.Path(file_okay=False),
            help="Folder of prompt templates overriding the packaged ones.",
        ),
        click.option(
            "--run-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Checkpoint directory [default: OUT.run].",
        ),
        click.option(
            "--new",
            "mode",
            flag_value="new",
            help="If the run directory holds other settings, start a new one beside it.",
        ),
        click.option(
            "--overwrite", "mode", flag_value="overwrite", help="Replace such a run directory."
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="YAML settings file (flags override it).",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
    ]
    for option in reversed(options):
        f = option(f)
    return batch_options(f)


_SETTING_FLAGS = ("base_url", "concurrency", "timeout_s", "max_retries", "seed", "cache_dir")


def run_model_command(
    dataset: str,
    models: list[str | None],
    flags: dict[str, Any],
    make_task: Callable[[Any], Any],
    write: Callable[[list[dict], Path], int],
    out: Path,
) -> None:
    """Resolve the settings, then dry-run or run the task made by `make_task(settings)` and
    write its records with `write(records, out)`; print a summary."""
    from dsbuild.config import resolve_settings

    given = {k: flags.get(k) for k in _SETTING_FLAGS}
    model = next((m for m in models if m), None)
    settings, _ = resolve_settings(
        {**given, "model": model, "prompts_dir": flags.get("prompts_dir"), "dataset": dataset},
        flags.get("config_file"),
    )
    refuse_test_models([settings.model, *models])
    batch = batch_settings(
        flags.get("batch_mode"),
        flags.get("detach", False),
        flags.get("batch_fallback"),
        tuple(flags.get("batch_results") or ()),
    )
    task = make_task(settings)
    as_json = flags.get("as_json", False)
    if flags.get("dry_run"):
        from dsbuild.model_run import plan_task

        _print_plan(plan_task(task, settings), as_json)
        return
    from dsbuild.builder_kit import read_records
    from dsbuild.model_run import run_task

    run_dir = flags.get("run_dir") or out.with_name(out.name + ".run")
    result = run_task(
        task,
        settings,
        run_dir,
        mode=flags.get("mode") or "resume",
        max_cost=flags.get("max_cost"),
        cache_only=flags.get("cache_only", False),
        progress=not flags.get("no_progress"),
        batch=batch,
    )
    records = read_records(result.records_path)
    n = write(records, out)
    info = json.loads(Path(result.run_json_path).read_text(encoding="utf-8"))
    summary = {
        "out": str(out),
        "records": n,
        "rejected": result.n_rejected,
        "run_dir": str(result.run_dir),
        "resumed": result.resumed,
        "tokens": info.get("tokens"),
        "cost_usd": info.get("cost_usd"),
    }
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    rejected = (
        f", {summary['rejected']} rejected (see {result.rejects_path})" if result.n_rejected else ""
    )
    click.echo(f"{n} record(s) -> {out}{rejected}; run directory {result.run_dir}")


def _print_plan(plan: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(plan))
        return
    cost = "unknown (no price)" if plan["est_cost_usd"] is None else f"${plan['est_cost_usd']:.4f}"
    click.echo(
        f"dry run ({plan['task']}, {', '.join(plan['models'])}): {plan['records']} records, "
        f"{plan['requests']} requests, {plan['cache_hits']} from the cache, "
        f"{plan['to_send']} to send (about {plan['est_prompt_tokens']} prompt + up to "
        f"{plan['est_completion_tokens']} completion tokens, {cost}); nothing sent"
    )
