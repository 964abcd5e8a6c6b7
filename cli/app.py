"""The root `dsbuild` group: --version, `list`, `demo`, and one group per dataset."""

from __future__ import annotations

import click

from dsbuild import __version__
from dsbuild.cli.dataset_group import make_dataset_group
from dsbuild.cli.llm_group import llm
from dsbuild.datasets import names

EXIT_CODES_HELP = """\b
Exit codes: 0 ok, 1 internal error (a bug), 2 usage or configuration,
3 bad input data, 4 external service failed, 5 cost budget reached,
130 interrupted (run the same command again to resume).
Errors are one line: `error DSBnnn: what went wrong; fix: what to do`."""


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, "--version", "-V", prog_name="dsbuild")
def app() -> None:
    """Build multilingual NLP datasets the way the papers did: reproducibly, at scale.

    \b
    Each dataset has its own group of commands:
      build     run the builder's stages into a resumable run directory
      validate  check files (JSONL, JSON, CSV, Parquet) against the record schemas
      stats     counts and distributions of a file or run

    Without an API key or base URL, LLM stages use a small embedded local model; set
    OPENAI_API_KEY / OPENAI_BASE_URL (or --model/--base-url) to use real models.
    """


@app.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_cmd(as_json: bool) -> None:
    """List the datasets, their stages and the record formats each one reads and writes."""
    from dsbuild.cli.output import print_dataset_list

    print_dataset_list(as_json=as_json)


@app.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="runs/demo",
    show_default=True,
    help="Where the demo writes its runs.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def demo(out: str, no_progress: bool) -> None:
    """Run the main job on the embedded default: no network, no API key needed.

    Validates and summarises the sample data shipped with dsbuild for every dataset, and
    builds what this version can build end to end into resumable run directories.
    """
    from pathlib import Path

    from dsbuild.cli.demo import run_demo

    run_demo(Path(out), progress=not no_progress)


for _name in names():
    app.add_command(make_dataset_group(_name))
app.add_command(llm)


def _add_root_groups() -> None:
    """Root groups that live in their own modules (`labelstudio`, `check`): each module
    `dsbuild.cli.<name>_group` exposes `group`; it imports only click at the top."""
    import importlib
    import importlib.util

    for module_name in ("labelstudio_group", "check_group", "batches_group"):
        full = f"dsbuild.cli.{module_name}"
        if importlib.util.find_spec(full) is not None:
            app.add_command(importlib.import_module(full).group)


_add_root_groups()
