"""`dsbuild <dataset> annotate push|pull|status RUN`: human annotation rounds in Label Studio.

Imports only click at the top; the Label Studio SDK loads when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

__all__ = ["add_commands"]

_RUN = click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))


def _server_options(fn):
    fn = click.option(
        "--api-key",
        envvar="LABEL_STUDIO_API_KEY",
        show_envvar=True,
        help="Label Studio API token (Account & Settings).",
    )(fn)
    fn = click.option(
        "--url",
        envvar="LABEL_STUDIO_URL",
        show_envvar=True,
        help="Label Studio URL [default: the one RUN was pushed to].",
    )(fn)
    fn = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="YAML settings file (label_studio_url, label_studio_api_key).",
    )(fn)
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(fn)


def _client(run_dir: Path, url: str | None, api_key: str | None, config_file: str | None):
    from dsbuild.config import resolve_settings
    from dsbuild.labelstudio.client import LabelStudioClient
    from dsbuild.labelstudio.state import AnnotationState

    settings, _ = resolve_settings(
        {"label_studio_url": url, "label_studio_api_key": api_key}, config_file
    )
    url = settings.label_studio_url or (AnnotationState(run_dir).project() or {}).get("url")
    token = (
        settings.label_studio_api_key.get_secret_value() if settings.label_studio_api_key else None
    )
    return LabelStudioClient(url or "", token or "")


def _table(title: str, rows: list[tuple[Any, ...]], columns: tuple[str, ...] = ("", "")) -> None:
    """A summary table; without column names (the default) it has no header row."""
    from dsbuild.cli.output import _table as make
    from dsbuild.cli.output import console

    console().print(make(title, columns, rows))


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else "-"


def add_commands(group: click.Group, dataset: str) -> None:
    """Add the `annotate` subgroup (push, pull, status) to a dataset's group."""

    @group.group(
        help=f"Human annotation rounds for {dataset} in Label Studio: push a run's records as "
        "tasks (the model's output as pre-annotations), pull the annotations back "
        "(reconciled, with agreement), and follow progress per annotator.\n\n"
        "The server: `dsbuild labelstudio serve`, or any Label Studio 1.x "
        "(LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY)."
    )
    def annotate() -> None:
        pass

    @annotate.command(
        help="Create or update RUN's project and import its records as tasks, in "
        "batches. Idempotent: tasks are keyed by record id, so pushing again imports "
        "only what is missing (a push cut short resumes)."
    )
    @_RUN
    @_server_options
    @click.option(
        "--overlap",
        type=int,
        help="Annotators per task (Label Studio's maximum annotations) [default: 1, or "
        "what the last push set].",
    )
    @click.option("--sample", type=int, help="Push only N units, a stable seeded sample.")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed of --sample.")
    @click.option(
        "--batch-size", type=int, default=500, show_default=True, help="Tasks per import request."
    )
    @click.option("--project", "project_id", type=int, help="Push into this existing project id.")
    @click.option(
        "--new-project", is_flag=True, help="Start a new project even if RUN was pushed before."
    )
    @click.option("--title", help="Title of a new project [default: dsbuild DATASET RUN-NAME].")
    def push(
        run_dir: Path,
        as_json: bool,
        config_file: str | None,
        url: str | None,
        api_key: str | None,
        overlap: int | None,
        sample: int | None,
        seed: int,
        batch_size: int,
        project_id: int | None,
        new_project: bool,
        title: str | None,
    ) -> None:
        from dsbuild.labelstudio.push import push_run

        client = _client(run_dir, url, api_key, config_file)
        summary = push_run(
            run_dir,
            dataset,
            client,
            overlap=overlap,
            sample=sample,
            seed=seed,
            batch_size=batch_size,
            project=project_id,
            new_project=new_project,
            title=title,
        )
        if as_json:
            click.echo(json.dumps(summary.to_dict()))
            return
        rate = summary.imported / summary.seconds if summary.seconds else 0.0
        _table(
            f"Pushed {run_dir} to {summary.url}/projects/{summary.project}",
            [
                (
                    "project",
                    f"{summary.project} {summary.title!r}"
                    + (" (new)" if summary.created_project else ""),
                ),
                ("units in run / selected", f"{summary.units:,} / {summary.selected:,}"),
                ("already in the project", f"{summary.already_there:,}"),
                (
                    "imported now",
                    (
                        f"{summary.imported:,} in {summary.batches} batch(es), "
                        f"{summary.predictions:,} with pre-annotations"
                    ),
                ),
                ("changed since pushed (not re-imported)", f"{summary.changed:,}"),
                ("time", f"{summary.seconds:.2f}s ({rate:,.0f} tasks/s)"),
            ],
        )

    @annotate.command(
        help="Export the submitted annotations of RUN's project, map them back to the "
        "records with annotator ids and timestamps, reconcile the annotators, and "
        "write a new RUN/annotation/pulls/NNN/ (records, disagreements, agreement). "
        "Earlier pulls are never overwritten."
    )
    @_RUN
    @_server_options
    @click.option(
        "--method",
        type=click.Choice(["majority", "union", "intersection"]),
        default="majority",
        show_default=True,
        help="How spans of several annotators become the labels.",
    )
    @click.option(
        "--accept-edited",
        is_flag=True,
        help="Use annotations another user changed after their annotator submitted them "
        "(credited to the annotator; reported either way).",
    )
    @click.option(
        "--include-incomplete",
        is_flag=True,
        help="Keep tasks with fewer annotations than the overlap in the reconciled records "
        "(marked incomplete); they are left out by default.",
    )
    def pull(
        run_dir: Path,
        as_json: bool,
        config_file: str | None,
        url: str | None,
        api_key: str | None,
        method: str,
        accept_edited: bool,
        include_incomplete: bool,
    ) -> None:
        from dsbuild.labelstudio.pull import pull_run

        client = _client(run_dir, url, api_key, config_file)
        summary = pull_run(
            run_dir,
            dataset,
            client,
            method=method,
            accept_edited=accept_edited,
            include_incomplete=include_incomplete,
        )
        if as_json:
            click.echo(json.dumps(summary.to_dict()))
            return
        for line in summary.problem_lines[:20]:
            click.echo(f"problem: {line}")
        rows = [
            ("pull folder", summary.folder),
            ("tasks with annotations", f"{summary.tasks_exported:,}"),
            (
                "annotations used",
                f"{summary.annotations:,} by {len(summary.annotators)} annotator(s)",
            ),
            ("records annotated", f"{summary.records_annotated:,}"),
            (
                f"incomplete tasks (< {summary.overlap} annotations)",
                f"{summary.incomplete:,} "
                + (
                    "kept, marked incomplete"
                    if summary.incomplete_kept
                    else "left out (--include-incomplete keeps them)"
                )
                if summary.incomplete
                else "0",
            ),
            (
                "annotations changed by another user",
                f"{summary.edited:,} "
                + (
                    "used (--accept-edited)"
                    if summary.edited_accepted
                    else "left out (--accept-edited uses them)"
                )
                if summary.edited
                else "0",
            ),
            ("disagreements to adjudicate", f"{summary.disagreements:,}"),
            ("problems (see problems.jsonl)", f"{summary.problems:,}"),
        ]
        _table(f"Pulled project {summary.project} from {summary.url}", rows)
        agreement = [
            (name, ", ".join(f"{k} {v}" for k, v in stats.items()))
            for name, stats in summary.agreement["fields"].items()
        ]
        _table("Agreement", agreement, ("field", "statistics"))

    @annotate.command(
        help="Progress of RUN's project: tasks done, and per annotator the "
        "annotations, skips, first/last activity and mean time per task."
    )
    @_RUN
    @_server_options
    def status(
        run_dir: Path, as_json: bool, config_file: str | None, url: str | None, api_key: str | None
    ) -> None:
        from dsbuild.labelstudio.pull import annotator_status

        client = _client(run_dir, url, api_key, config_file)
        report = annotator_status(run_dir, dataset, client)
        if as_json:
            click.echo(json.dumps(report))
            return
        click.echo(
            f"{report['url']}/projects/{report['project']} {report['title']!r}: "
            f"{report['tasks']:,} tasks, {report['tasks_with_annotations']:,} annotated, "
            f"{report['tasks_complete']:,} complete (overlap {report['overlap']}); "
            f"pulls: {', '.join(report['pulls']) or 'none'}"
        )
        _table(
            "Annotators",
            [
                (
                    r["annotator"],
                    r["annotated"],
                    r["skipped"],
                    f"{r['share_of_tasks']:.1%}" if r["share_of_tasks"] is not None else "-",
                    r["mean_lead_time_s"],
                    _when(r["first"]),
                    _when(r["last"]),
                )
                for r in report["annotators"]
            ],
            ("annotator", "annotated", "skipped", "of tasks", "mean s/task", "first", "last"),
        )
