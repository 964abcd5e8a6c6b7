"""Verbs every dataset shares: `export` (a Hub-ready Hugging Face dataset folder with its
data card) and `publish` (that folder, uploaded to the Hub). Only click is imported here;
`datasets` and `huggingface_hub` load when a command runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["add_commands"]

_SPLITS_HELP = (
    "train,validation,test shares, e.g. 0.8,0.1,0.1 [default]; rows are kept with "
    "their group (passage, sentence, source case, source text) in one split"
)


def add_commands(group: click.Group, dataset: str) -> None:
    group.add_command(_export_command(dataset))
    group.add_command(_publish_command(dataset))


def _export(dataset: str, run: Path, out: Path | None, splits: str | None, seed: int | None):
    from dsbuild.hub import export_run

    return export_run(dataset, run, out, splits=splits, seed=seed)


def _print_export(result, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    from dsbuild.cli.output import _table, console
    from dsbuild.hub.hooks import hooks_for

    rows = [(name, f"{n:,}") for name, n in result.splits.items()]
    rows.append(("total", f"{sum(result.splits.values()):,}"))
    out = console()
    out.print(_table(f"Exported {result.dataset} to {result.folder}", ["split", "rows"], rows))
    configs = ", ".join(c["config_name"] for c in result.configs)
    out.print(
        f"configs: {configs}\ncard: {result.folder / 'README.md'}\n"
        f'load it: datasets.load_dataset("parquet", data_dir="{result.folder / "data"}'
        f'{"/<language>" if hooks_for(result.dataset).per_language_configs else ""}")'
    )


def _export_command(dataset: str) -> click.Command:
    @click.command(
        name="export",
        help=(
            f"Export the {dataset} run RUN as a Hugging Face dataset folder, ready for the Hub.\n\n"
            "Writes Parquet shards with explicit features, a data card (README.md: Hub metadata, "
            "how the data was built, models, prompt versions, statistics, licence), and the same "
            "rows as JSONL and CSV plus the dataset's original format. Splits are deterministic "
            "(seeded hash of each row's group). Default folder: RUN/hf."
        ),
    )
    @click.argument("run", type=click.Path(path_type=Path, file_okay=False))
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="DIR",
        help="Folder to write [default: RUN/hf]; an earlier export there is replaced.",
    )
    @click.option("--splits", metavar="T,V,T", help=_SPLITS_HELP)
    @click.option("--seed", type=int, help="Seed of the split hash [default: the run's seed].")
    @click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
    def export(
        run: Path, out: Path | None, splits: str | None, seed: int | None, as_json: bool
    ) -> None:
        _print_export(_export(dataset, run, out, splits, seed), as_json)

    return export


def _publish_command(dataset: str) -> click.Command:
    @click.command(
        name="publish",
        help=(
            f"Export the {dataset} run RUN (or take an exported folder) and upload it to the "
            "Hugging Face Hub as a dataset repo.\n\n"
            "The token comes from HF_TOKEN (or hf_token in --config), else from `hf auth login`. "
            "The repo must be yours or one of your organisations'; it is created if missing. "
            "Refuses without a token, on someone else's repo, or when the folder fails "
            "validation. --dry-run checks the folder and lists the files without sending any."
        ),
    )
    @click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
    @click.option("--repo", required=True, metavar="OWNER/NAME", help="Dataset repo on the Hub.")
    @click.option("--private", is_flag=True, help="Create the repo private.")
    @click.option("--dry-run", is_flag=True, help="List what would be uploaded; send nothing.")
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="DIR",
        help="Folder to export into first [default: RUN/hf].",
    )
    @click.option("--splits", metavar="T,V,T", help=_SPLITS_HELP)
    @click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="YAML settings file (for hf_token).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the upload plan/result as JSON.")
    def publish(
        run: Path,
        repo: str,
        private: bool,
        dry_run: bool,
        out: Path | None,
        splits: str | None,
        config_file: Path | None,
        as_json: bool,
    ) -> None:
        from dsbuild.config import resolve_settings
        from dsbuild.hub import publish_folder
        from dsbuild.hub.publish import resolve_token

        if (run / "README.md").is_file() and not (run / "records.jsonl").is_file():
            folder = run  # already an exported folder
        else:
            folder = _export(dataset, run, out, splits, None).folder
        settings, _ = resolve_settings({"dataset": dataset}, config_file)
        plan = publish_folder(
            folder, repo, token=resolve_token(settings.hf_token), private=private, dry_run=dry_run
        )
        if as_json:
            click.echo(json.dumps(plan.to_dict(), ensure_ascii=False))
            return
        from dsbuild.cli.output import _table, console

        title = (
            f"Dry run: would upload {folder} to {repo}"
            if dry_run
            else f"Uploaded {folder} to {repo}"
        )
        out_ = console()
        out_.print(_table(title, ["file", "bytes"], [(p, f"{n:,}") for p, n in plan.files]))
        if plan.commit_url:
            out_.print(f"commit: {plan.commit_url}" + (" (repo created)" if plan.created else ""))
        for note in plan.notes:
            out_.print(f"note: {note}")

    return publish
