"""`dsbuild batches status|cancel RUN`: the Batch API batches a run recorded (`--batch`)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["group"]


@click.group(
    "batches", short_help="Show or cancel the Batch API batches of a run made with --batch."
)
def group() -> None:
    """Show or cancel the Batch API batches a build or `dsbuild llm run` made with --batch
    recorded in its run directory (RUN/batches/, one file per model). RUN is the run
    directory, or the output file OUT of `dsbuild llm run` (its run directory is OUT.run).
    Each model's batches are asked of its own endpoint (credentials from the usual settings:
    OPENAI_API_KEY, --config, --base-url)."""


def _options(f):
    f = click.option("--json", "as_json", is_flag=True, help="Print the batches as JSON.")(f)
    f = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="YAML settings file (flags override it; it overrides env vars).",
    )(f)
    f = click.option("--base-url", help="OpenAI-compatible endpoint (env OPENAI_BASE_URL).")(f)
    return click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))(f)


def _each_model(run_dir: Path, base_url: str | None, config_file: str | None, what: str):
    """[(state file, model, rows)]: `what` (a `BatchRunner` method) on each model's batches."""
    import asyncio

    from dsbuild.config import resolve_settings
    from dsbuild.llm import factory
    from dsbuild.llm.batch_api import BatchAPIClient, BatchRunner, read_state
    from dsbuild.llm.batch_offline import OfflineBatchAPI
    from dsbuild.llm.batch_queue import state_files
    from dsbuild.llm.pool import split_endpoint

    files = state_files(run_dir)
    settings, _ = resolve_settings({"base_url": base_url, "dataset": "llm"}, config_file)

    async def one(path: Path):
        meta = read_state(path)
        model = meta.get("model") or settings.model_spec
        if meta.get("mode") == "offline":
            return model, await getattr(
                BatchRunner(OfflineBatchAPI(path.with_suffix("")), path), what
            )()
        name, url = split_endpoint(model)
        own = settings.model_copy(update={"model": name, "base_url": url or settings.base_url})
        backend = factory.make_backend(factory.model_spec_of(own), own)
        try:
            client = getattr(backend, "client", None)
            return model, await getattr(BatchRunner(BatchAPIClient(client), path), what)()
        finally:
            await backend.aclose()

    async def go():
        return [(path, *await one(path)) for path in files]

    return asyncio.run(go())


def _print(found: list, as_json: bool, cancel: bool) -> None:
    import json

    if as_json:
        click.echo(
            json.dumps(
                [{"state": str(p), "model": model, "batches": rows} for p, model, rows in found]
            )
        )
        return
    for path, model, rows in found:
        click.echo(f"{model} ({path}): {len(rows)} batch(es)")
        for r in rows:
            counts = (
                f"{r['completed']}/{r['total']} done, {r['failed']} failed"
                if r["total"] is not None
                else "no counts"
            )
            state = "collected" if r["collected"] else "not collected yet"
            line = f"  {r['batch_id']}  round {r['round']}  {r['status']:<11} {counts}  ({state})"
            if cancel:
                line += "  cancelled now" if r["cancelled_now"] else "  not live: left alone"
            click.echo(line)
    if cancel:
        n = sum(r["cancelled_now"] for _, _, rows in found for r in rows)
        click.echo(
            f"{n} batch(es) cancelled. Run the same command with --batch again to collect what "
            "they answered and send their unfinished lines again."
        )


@group.command("status")
@_options
def status(run_dir: Path, base_url: str | None, config_file: str | None, as_json: bool):
    """Show each batch recorded in RUN: id, round, status and request counts, as the
    endpoint reports them now."""
    _print(_each_model(run_dir, base_url, config_file, "status"), as_json, cancel=False)


@group.command("cancel")
@_options
def cancel(run_dir: Path, base_url: str | None, config_file: str | None, as_json: bool):
    """Cancel the batches recorded in RUN that are still live (validating, in progress,
    finalizing); the others are left alone."""
    _print(_each_model(run_dir, base_url, config_file, "cancel"), as_json, cancel=True)
