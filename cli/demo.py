"""`dsbuild demo`: the main job on the embedded default, with no network and no API key."""

from __future__ import annotations

from pathlib import Path

import click

from dsbuild.datasets import BUILTIN, get

__all__ = ["run_demo", "sample_files"]


def sample_files(dataset: str) -> list[Path]:
    """The sample record files shipped for a dataset (one per format we write)."""
    from importlib.resources import files

    root = Path(str(files("dsbuild.samples")))
    return sorted(
        p for p in root.iterdir() if p.stem == dataset and p.suffix in {".jsonl", ".json", ".csv"}
    )


def _export(name: str, result) -> None:
    """The Hub-ready folder of a demo run (RUN/hf), when the run kept any records."""
    if not result.n_out:
        click.echo(f"{name}: no records kept, so nothing to export (see rejects.jsonl)")
        return
    from dsbuild.hub import export_run

    exported = export_run(name, result.run_dir)
    click.echo(f"{name}: Hugging Face dataset folder with its card: {exported.folder}")


def run_demo(out: Path, *, progress: bool = True) -> None:
    from dsbuild.cli.output import console, print_run_summary, print_stats, print_validation
    from dsbuild.config import resolve_settings
    from dsbuild.errors import InvalidRecordsError, RunConflictError
    from dsbuild.progress import make_progress
    from dsbuild.runs import run_builder
    from dsbuild.stats import compute_stats
    from dsbuild.validation import validate_path

    con = console()
    for spec in (get(name) for name in BUILTIN):
        name = spec.name
        con.rule(f"[bold]{name}[/bold]: {spec.title}")
        from dsbuild.cli.dataset_group import build_dataset

        settings, _ = resolve_settings({"dataset": name, "run_dir": str(out / name)}, env={})
        try:
            result = build_dataset(name, settings, out / name, progress=progress)
        except RunConflictError:  # an older demo run (other version): the demo owns it
            click.echo(f"{out / name} holds a demo run of another version; rebuilding it")
            result = build_dataset(name, settings, out / name, progress=progress, mode="overwrite")
        paths = [result.records_path]
        _export(name, result)
        reports = [validate_path(p, name) for p in paths]
        print_validation(reports)
        if any(r.invalid for r in reports):
            raise InvalidRecordsError(
                f"the {name} demo records are invalid", "report this as a bug"
            )
        for p in paths:
            print_stats(compute_stats(p, name))

    con.rule("[bold]run engine[/bold]: resumable stages (toy pipeline)")
    from dsbuild.testing.toy import toy_builder, toy_config

    result = run_builder(
        toy_builder(), out / "toy", toy_config(200, 0), progress=make_progress(progress)
    )
    print_run_summary(result)
    click.echo(
        f"\nDemo finished. Run `dsbuild demo` again: finished stages are skipped. Output: {out}"
    )
