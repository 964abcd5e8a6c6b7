"""Shared click options: the settings every building command accepts."""

from __future__ import annotations

from typing import Any, Callable

import click

__all__ = ["settings_options", "flags_to_settings"]


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
