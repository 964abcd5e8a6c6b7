"""Shared click options: the settings every building command accepts, and `--batch`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

__all__ = ["batch_options", "batch_settings", "flags_to_settings", "settings_options"]


def _parse_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    import yaml

    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"'{item}' is not KEY=VALUE (e.g. --option n_questions=3)")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


_OPTIONS: list[Callable] = [
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="YAML file of settings (flags override it; it overrides env vars).",
    ),
    click.option(
        "-o",
        "--run-dir",
        type=click.Path(file_okay=False),
        help="Run directory (default: runs/<dataset>).",
    ),
    click.option("--seed", type=int, help="Seed for every sampling decision [default: 0]."),
    click.option("--limit", type=int, help="Stop after this many source records."),
    click.option(
        "--lang",
        "languages",
        multiple=True,
        help="Target language code; repeat for several (e.g. --lang de --lang fi).",
    ),
    click.option(
        "--model",
        help="Model spec, e.g. openai:gpt-4o-mini [default: local:smollm2 "
        "without key or base URL].",
    ),
    click.option("--base-url", help="OpenAI-compatible endpoint (env OPENAI_BASE_URL)."),
    click.option("--concurrency", type=int, help="Requests in flight at most [default: 16]."),
    click.option(
        "--timeout", "timeout_s", type=float, help="Request timeout in seconds [default: 60]."
    ),
    click.option(
        "--structured",
        type=click.Choice(["auto", "json_schema", "json_object", "guided_json", "prompt"]),
        help="How structured output is asked of an OpenAI-compatible server "
        "[default: auto: the first mode it takes, remembered per endpoint].",
    ),
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        help="LLM cache location (env DSBUILD_CACHE_DIR; default: user cache dir).",
    ),
    click.option(
        "--prompts",
        "prompts_dir",
        type=click.Path(file_okay=False),
        help="Folder of prompt templates (NAME.md) overriding the packaged ones; "
        "see `dsbuild <dataset> prompts`.",
    ),
    click.option(
        "--option",
        "options",
        multiple=True,
        callback=_parse_option,
        metavar="KEY=VALUE",
        help="Dataset-specific option; repeatable.",
    ),
]


def settings_options(fn: Callable) -> Callable:
    """Decorate a command with the settings flags (applied in display order)."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def flags_to_settings(dataset: str, **flags: Any) -> dict[str, Any]:
    """Turn click's flag values into the mapping `resolve_settings` takes (None = not given)."""
    out = {k: v for k, v in flags.items() if v is not None and v != () and v != {}}
    out["dataset"] = dataset
    if "languages" in out:
        out["languages"] = list(out["languages"])
    return out


_BATCH_OPTIONS: list[Callable] = [
    click.option(
        "--batch",
        "batch_mode",
        type=click.Choice(["api", "offline"]),
        is_flag=False,
        flag_value="api",
        default=None,
        help="Send the LLM requests that miss the cache as Batch API batches (half price, "
        "answers within 24 h) instead of one by one; their ids are kept in the run "
        "directory, so a killed run re-attaches to them. `--batch offline` writes the batch "
        "input files for a self-hosted tool (vllm run-batch) and stops.",
    ),
    click.option(
        "--detach",
        is_flag=True,
        help="With --batch: submit the batches and exit (0); the same command run again "
        "collects what has ended and goes on.",
    ),
    click.option(
        "--batch-fallback",
        type=click.Choice(["online"]),
        help="With --batch: send what the batch rounds leave unanswered online, instead of "
        "leaving it pending for the next run.",
    ),
    click.option(
        "--batch-results",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        metavar="FILE",
        help="With --batch offline: the output files of the offline tool to take the "
        "answers from (repeatable; lines matched by custom_id).",
    ),
]


def batch_options(fn: Callable) -> Callable:
    """Decorate a command with --batch, --detach, --batch-fallback, --batch-results."""
    for option in reversed(_BATCH_OPTIONS):
        fn = option(fn)
    return fn


def batch_settings(
    batch_mode: str | None,
    detach: bool = False,
    batch_fallback: str | None = None,
    batch_results: tuple[Path, ...] = (),
):
    """The `BatchSettings` of the batch flags (None without --batch); a usage error (DSB103)
    for a flag that needs another."""
    from dsbuild.errors import UsageError

    if batch_results and batch_mode is None:
        batch_mode = "offline"  # results of offline batches: that is the offline mode
    if batch_mode is None:
        given = [f for f, v in (("--detach", detach), ("--batch-fallback", batch_fallback)) if v]
        if given:
            raise UsageError(
                f"{given[0]} needs --batch", f"add --batch or drop {given[0]}", code="DSB103"
            )
        return None
    if batch_results and batch_mode != "offline":
        raise UsageError(
            "--batch-results is for --batch offline", "use --batch offline", code="DSB103"
        )
    if batch_mode == "offline" and batch_fallback:
        raise UsageError(
            "--batch-fallback online does not go with --batch offline",
            "drop one of the two",
            code="DSB103",
        )
    from dsbuild.llm.batch_queue import BatchSettings

    return BatchSettings(
        mode=batch_mode,
        detach=detach,
        fallback=batch_fallback,
        results=tuple(batch_results),
    )
