"""`dsbuild psiloqa leaderboard` and `dsbuild medrect leaderboard`: prediction files ranked
on the task's metrics next to trivial baselines, with seeded bootstrap intervals, overall
and per language. Only click is imported at module level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

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
    ]
    for option in reversed(options):
        f = option(f)
    return f


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
) -> None:
    """Rank span predictions on Mu-SHROOM IoU and Cor, next to the baselines.

    PRED files are Mu-SHROOM items or PsiloQA rows (e.g. from `psiloqa detect`); the
    baselines `no spans` and `whole answer` are always in the table. Scores per item are
    those of `psiloqa eval`; 95% intervals come from a seeded bootstrap over the items,
    overall and per language.
    """
    from dsbuild.cli.output import print_warnings
    from dsbuild.psiloqa.leaderboard import board as make_board
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
) -> None:
    """Rank error detection/correction predictions next to the baselines.

    PRED files are MedRECT JSON or MEDEC CSV (e.g. from `medrect predict`); the baselines
    `always no error` and `always the last sentence` are always in the table. Metrics are
    those of `medrect eval` (error flag accuracy and F1, error sentence accuracy, ROUGE-1
    composite), each with a 95% interval from a seeded bootstrap over the records, overall
    and per language.
    """
    from dsbuild.medrect.leaderboard import board as make_board

    board = make_board(
        preds, gold, allow_missing=allow_missing, rank_by=rank_by, n_boot=n_boot, seed=seed
    )
    _finish(board, "MedRECT error detection and correction", chart, as_json)
