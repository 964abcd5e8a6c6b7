"""PsiloQA's own verbs: `eval` (Mu-SHROOM span scores) and `convert` (Mu-SHROOM <-> PsiloQA)."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["add_commands"]


def add_commands(group: click.Group) -> None:
    group.add_command(eval_cmd)
    group.add_command(convert_cmd)


def _as_mushroom(path: Path) -> list[dict]:
    from dsbuild.psiloqa.mushroom import read_labelled, row_to_mushroom

    fmt, records = read_labelled(path)
    return records if fmt == "mushroom" else [row_to_mushroom(r) for r in records]


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@click.command(name="eval")
@click.argument("pred", type=click.Path(path_type=Path))
@click.argument("gold", type=click.Path(path_type=Path))
@click.option("--allow-missing", is_flag=True,
              help="Score gold ids missing from PRED as empty predictions instead of failing.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
def eval_cmd(pred: Path, gold: Path, allow_missing: bool, as_json: bool) -> None:
    """Score predicted hallucination spans against gold ones, as Mu-SHROOM does.

    PRED and GOLD are each Mu-SHROOM items or PsiloQA rows (JSONL or JSON; the format is
    detected per file), matched by id. Per item: IoU of the hard-label characters (1.0 when
    both are empty), Spearman correlation of the per-character soft probabilities (1.0/0.0
    when a vector is constant), and average precision of the predicted probabilities
    against the gold characters (skipped when gold has none). Means per language and overall.
    PsiloQA rows without soft labels count their labels as probability 1.0.
    """
    from dsbuild.metrics.spans import evaluate

    result = evaluate(_as_mushroom(pred), _as_mushroom(gold), allow_missing=allow_missing)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    from dsbuild.cli.output import _table, console

    rows = []
    for lang, s in [*result.per_language().items(), ("overall", result.overall())]:
        rows.append((lang, s["n"], _cell(s["iou"]), _cell(s["cor"]), _cell(s["ap"]), s["n_ap"]))
    out = console()
    out.print(_table(f"Mu-SHROOM scores: {pred.name} against {gold.name}",
                     ["language", "n", "IoU", "Cor", "AP", "n (AP)"], rows))
    if result.missing:
        out.print(f"{len(result.missing)} gold id(s) had no prediction and were scored as empty")
    if result.extra:
        out.print(f"{len(result.extra)} predicted id(s) are not in the gold file and were ignored")


@click.command(name="convert")
@click.argument("src", metavar="IN", type=click.Path(path_type=Path))
@click.option("--to", "to", type=click.Choice(["mushroom", "psiloqa"]), required=True,
              help="Format to write.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="JSONL file to write.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def convert_cmd(src: Path, to: str, out: Path, as_json: bool) -> None:
    """Convert Mu-SHROOM items to PsiloQA rows or back (the format of IN is detected).

    Fields with no counterpart are kept (under `mushroom` in a row, `psiloqa` in an item),
    so converting back gives the original records.
    """
    from dsbuild.psiloqa.mushroom import convert_file

    fmt, n = convert_file(src, to, out)
    if as_json:
        click.echo(json.dumps({"in": str(src), "from": fmt, "to": to, "out": str(out), "records": n}))
        return
    click.echo(f"converted {n} {fmt} record(s) from {src} to {to}: {out}")
