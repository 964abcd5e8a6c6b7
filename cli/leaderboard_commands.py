"""`dsbuild psiloqa leaderboard` and `dsbuild medrect leaderboard`: prediction files ranked
on the task's metrics next to trivial baselines and the embedded model's floor, with seeded
bootstrap intervals, overall and per language. Only click is imported at module level.

The floor row: when no PRED file is the embedded model's, the board runs the dataset's
`floor_task` (its `detect` / `predict` by `--floor-model`, default `local:smollm2`) on the
scored gold items, once, in a run directory under `--floor-dir` named by the task's
fingerprint (`dsbuild.model_run.run_floor`); `--no-floor` leaves it out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

FLOOR_TIMEOUT_S = 900.0
"""Seconds one request of the floor may take: the embedded model answers one request at a
time on the CPU, and a long answer copied with tags takes minutes on 2 cores."""

__all__ = ["medrect_leaderboard", "print_board", "psiloqa_leaderboard"]


def _board_options(f):
    options = [
        click.option(
            "--allow-missing",
            is_flag=True,
            help="Score every gold id (a missing prediction counts as empty/wrong) instead "
            "of the ids every prediction file has.",
        ),
        click.option("--rank-by", metavar="METRIC", help="Metric to rank by [default: the first]."),
        click.option(
            "--bootstrap",
            "n_boot",
            type=click.IntRange(0),
            default=1000,
            show_default=True,
            help="Bootstrap resamples for the 95% intervals (0: none).",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed."),
        click.option(
            "--chart",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write a PNG of the overall scores with their intervals.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the board as one JSON object."),
        click.option(
            "--no-floor",
            is_flag=True,
            help="Leave out the floor row (made by running the embedded model on the gold "
            "items when no PRED file is its own).",
        ),
        click.option(
            "--floor-model",
            metavar="SPEC",
            help="Model that makes the floor row [default: local:smollm2, the embedded one].",
        ),
        click.option(
            "--floor-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Folder of the floor's run directories [default: floors/ in the LLM cache "
            "folder].",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar for the floor's run."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _floor(dataset: str, floor_task: Callable[..., Any], gold: Any, flags: dict[str, Any]):
    """The board's `floor` callback (None with --no-floor): the dataset's `floor_task` on
    the scored ids, run once by `run_floor` and found again by later boards."""
    from dsbuild.cli.checks import refuse_test_models
    from dsbuild.config import DEFAULT_LOCAL_MODEL

    if flags["no_floor"]:
        return None
    spec = flags["floor_model"] or DEFAULT_LOCAL_MODEL
    refuse_test_models([spec])

    def make(ids: list[str]) -> Any:
        from dsbuild.config import resolve_settings
        from dsbuild.errors import ConfigError
        from dsbuild.model_run import floor_run_dir, run_floor

        settings, _ = resolve_settings(
            {"model": spec, "dataset": dataset, "timeout_s": FLOOR_TIMEOUT_S}
        )
        if spec.startswith("local:"):  # in-process: no endpoint (nor its URL in the key)
            settings = settings.model_copy(update={"base_url": None})
        task = floor_task(gold, settings, ids)
        run_dir = floor_run_dir(task, settings, flags["floor_dir"])

        def announce(n: int) -> None:
            click.echo(
                f"floor: no PRED file is {spec}'s, so it runs once on the {n} scored "
                f"item(s) into {run_dir} (later boards reuse it; --no-floor skips it)",
                err=True,
            )

        try:
            return run_floor(
                task, settings, run_dir, progress=not flags["no_progress"], announce=announce
            )
        except ConfigError as exc:
            fix = f"{exc.fix}, or" if exc.fix else ""
            raise ConfigError(
                f"the floor row needs {spec}: {exc.what}",
                f"{fix} leave the floor out with --no-floor",
                code=exc.code,
            ) from None

    return make


def _cell(score: dict[str, Any]) -> str:
    v = score["value"]
    if v is None:
        return "-"
    if score["lo"] is None:
        return f"{v:.3f}"
    return f"{v:.3f} [{score['lo']:.3f}, {score['hi']:.3f}]"


def print_board(board: dict[str, Any], title: str) -> None:
    """One table per group (all, then each language), ranked; baselines marked."""
    from rich.table import Table

    from dsbuild.cli.output import console

    out = console()
    metrics = board["metrics"]
    for group, data in board["groups"].items():
        table = Table(
            title=f"{title}: {'all languages' if group == 'all' else group} (n={data['n']})",
            title_justify="left",
            title_style="bold",
        )
        table.add_column("#", justify="right")
        table.add_column("system")
        table.add_column("kind")
        for m in metrics:
            table.add_column(m["label"], justify="right")
        for row in data["rows"]:
            name = row["name"] + (f" ({row['note']})" if row.get("note") else "")
            table.add_row(
                str(row["rank"]),
                name,
                row["kind"],
                *(_cell(row["scores"][m["name"]]) for m in metrics),
            )
        out.print(table)
    out.print(
        f"ranked by {board['rank_by']}; [lo, hi]: {int(board['confidence'] * 100)}% percentile "
        f"bootstrap interval, {board['n_boot']} resamples of the items, seed {board['seed']}; "
        f"{board['items']} of {board['gold_records']} gold items scored",
        markup=False,
    )


def _finish(board: dict[str, Any], title: str, chart: Path | None, as_json: bool) -> None:
    if chart is not None:
        from dsbuild.metrics.leaderboard import chart as draw

        board["chart"] = str(draw(board, chart, title))
    if as_json:
        click.echo(json.dumps(board, ensure_ascii=False))
        return
    print_board(board, title)
    if chart is not None:
        click.echo(f"chart: {chart}")


@click.command(name="leaderboard")
@click.argument("preds", metavar="PRED...", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--gold",
    "gold",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Gold Mu-SHROOM/PsiloQA file, folder of them, or run directory (repeatable).",
)
@_board_options
def psiloqa_leaderboard(
    preds: tuple[Path, ...],
    gold: tuple[Path, ...],
    allow_missing: bool,
    rank_by: str | None,
    n_boot: int,
    seed: int,
    chart: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Rank span predictions on Mu-SHROOM IoU and Cor, next to the baselines and the floor.

    PRED files are Mu-SHROOM items or PsiloQA rows (e.g. from `psiloqa detect`); the
    baselines `no spans` and `whole answer` are always in the table, and so is the floor:
    a PRED file by the embedded model alone, or else `psiloqa detect --model local:smollm2`
    run by the board on the scored items (once: the first board costs the model's time,
    later ones reuse its run; --no-floor leaves it out). Scores per item are those of
    `psiloqa eval`; 95% intervals come from a seeded bootstrap over the items, overall and
    per language.
    """
    from dsbuild.cli.output import print_warnings
    from dsbuild.psiloqa.leaderboard import board as make_board
    from dsbuild.psiloqa.leaderboard import floor_task
    from dsbuild.quirks import Warnings

    warnings = Warnings()
    board = make_board(
        preds,
        gold,
        allow_missing=allow_missing,
        rank_by=rank_by,
        n_boot=n_boot,
        seed=seed,
        warnings=warnings,
        floor=_floor("psiloqa", floor_task, gold, flags),
    )
    print_warnings(warnings)
    _finish(board, "Mu-SHROOM span detection", chart, as_json)


@click.command(name="leaderboard")
@click.argument("preds", metavar="PRED...", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--gold",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Gold MedRECT JSON, MEDEC CSV or medrect run directory.",
)
@_board_options
def medrect_leaderboard(
    preds: tuple[Path, ...],
    gold: Path,
    allow_missing: bool,
    rank_by: str | None,
    n_boot: int,
    seed: int,
    chart: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Rank error detection/correction predictions next to the baselines and the floor.

    PRED files are MedRECT JSON or MEDEC CSV (e.g. from `medrect predict`); the baselines
    `always no error` and `always the last sentence` are always in the table, and so is the
    floor: a PRED file by the embedded model alone, or else `medrect predict --model
    local:smollm2` run by the board on the scored records (once: the first board costs the
    model's time, later ones reuse its run; --no-floor leaves it out). Metrics are those of
    `medrect eval` (error flag accuracy and F1, error sentence accuracy, ROUGE-1 composite),
    each with a 95% interval from a seeded bootstrap over the records, overall and per
    language.
    """
    from dsbuild.medrect.leaderboard import board as make_board
    from dsbuild.medrect.leaderboard import floor_task

    board = make_board(
        preds,
        gold,
        allow_missing=allow_missing,
        rank_by=rank_by,
        n_boot=n_boot,
        seed=seed,
        floor=_floor("medrect", floor_task, gold, flags),
    )
    _finish(board, "MedRECT error detection and correction", chart, as_json)
