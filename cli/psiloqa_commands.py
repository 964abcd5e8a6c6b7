"""PsiloQA's own verbs: `eval` (Mu-SHROOM span scores), `convert` (Mu-SHROOM <-> PsiloQA),
`agreement` (how far several annotators of the same answers agree), `detect` (models mark
hallucinated spans) and `leaderboard` (prediction files ranked with baselines)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dsbuild.cli.model_options import engine_options

__all__ = ["add_commands"]


def add_commands(group: click.Group) -> None:
    from dsbuild.cli.leaderboard_commands import psiloqa_leaderboard

    group.add_command(eval_cmd)
    group.add_command(convert_cmd)
    group.add_command(agreement_cmd)
    group.add_command(detect_cmd)
    group.add_command(psiloqa_leaderboard)


@click.command(name="detect")
@click.argument(
    "data", metavar="DATA...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Detector model spec (repeat for several: their answers share the soft labels) "
    "[default: local:smollm2 without key or URL].",
)
@click.option(
    "--samples",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Answers per model (sampled at --temperature when more than one).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(0.0, 2.0),
    default=0.7,
    show_default=True,
    help="Sampling temperature when --samples > 1.",
)
@click.option(
    "--with-context",
    is_flag=True,
    help="Show the detector the passage (PsiloQA rows have one; Mu-SHROOM items do not).",
)
@click.option("--lang", "languages", multiple=True, help="Only these languages (repeatable).")
@click.option(
    "--per-language", type=click.IntRange(1), help="Only the first N items of each language."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mu-SHROOM prediction file (JSONL) to write.",
)
@engine_options
def detect_cmd(
    data: tuple[Path, ...],
    models: tuple[str, ...],
    samples: int,
    temperature: float,
    with_context: bool,
    languages: tuple[str, ...],
    per_language: int | None,
    out: Path,
    **flags,
) -> None:
    """Mark the hallucinated spans of answers with one or more models.

    DATA: Mu-SHROOM files, PsiloQA rows, folders of them or a psiloqa run directory. Each
    model copies the answer with [HAL]...[/HAL] around what it finds unsupported (given the
    question, and the passage with --with-context), as the builder's annotate stage does;
    the strict parser makes offsets. With --samples K and/or several --model, the soft
    labels are the share of usable answers marking each character and the hard labels the
    characters above 0.5. PRED is a Mu-SHROOM prediction file for `psiloqa eval` and
    `psiloqa leaderboard`. Cached, budgeted, resumable (OUT.run).
    """
    from dsbuild.cli.model_options import run_model_command
    from dsbuild.cli.output import print_warnings
    from dsbuild.psiloqa.detect import make_task, write_predictions
    from dsbuild.quirks import Warnings

    warnings = Warnings()

    def task(settings):
        t = make_task(
            data,
            models=list(models) or [None],
            samples=samples,
            temperature=temperature,
            with_context=with_context,
            prompts_dir=settings.prompts_dir,
            limit=flags.get("limit"),
            languages=languages,
            per_language=per_language,
            warnings=warnings,
        )
        print_warnings(warnings)
        return t

    run_model_command("psiloqa", list(models) or [None], flags, task, write_predictions, out)


def _as_mushroom(path: Path, strict: bool = False) -> list[dict]:
    from dsbuild.cli.output import print_warnings
    from dsbuild.psiloqa.mushroom import read_labelled, row_to_mushroom
    from dsbuild.quirks import Warnings

    warnings = Warnings()
    fmt, records = read_labelled(path, warnings)
    warnings.raise_if_strict(strict, str(path))
    print_warnings(warnings)
    return records if fmt == "mushroom" else [row_to_mushroom(r) for r in records]


_STRICT = click.option(
    "--strict",
    is_flag=True,
    help="Refuse files with release quirks (e.g. lists stored as strings) "
    "instead of reading them with a warning.",
)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@click.command(name="eval")
@click.argument("pred", type=click.Path(path_type=Path))
@click.argument("gold", type=click.Path(path_type=Path))
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Score gold ids missing from PRED as empty predictions instead of failing.",
)
@_STRICT
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
def eval_cmd(pred: Path, gold: Path, allow_missing: bool, strict: bool, as_json: bool) -> None:
    """Score predicted hallucination spans against gold ones, as Mu-SHROOM does.

    PRED and GOLD are each Mu-SHROOM items or PsiloQA rows (JSONL or JSON; the format is
    detected per file), matched by id. Per item: IoU of the hard-label characters (1.0 when
    both are empty), Spearman correlation of the per-character soft probabilities (1.0/0.0
    when a vector is constant), and average precision of the predicted probabilities
    against the gold characters (skipped when gold has none). Means per language and overall.
    PsiloQA rows without soft labels count their labels as probability 1.0.
    """
    from dsbuild.metrics.spans import evaluate

    result = evaluate(
        _as_mushroom(pred, strict), _as_mushroom(gold, strict), allow_missing=allow_missing
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    from dsbuild.cli.output import _table, console

    rows = []
    for lang, s in [*result.per_language().items(), ("overall", result.overall())]:
        rows.append((lang, s["n"], _cell(s["iou"]), _cell(s["cor"]), _cell(s["ap"]), s["n_ap"]))
    out = console()
    out.print(
        _table(
            f"Mu-SHROOM scores: {pred.name} against {gold.name}",
            ["language", "n", "IoU", "Cor", "AP", "n (AP)"],
            rows,
        )
    )
    if result.missing:
        out.print(f"{len(result.missing)} gold id(s) had no prediction and were scored as empty")
    if result.extra:
        out.print(f"{len(result.extra)} predicted id(s) are not in the gold file and were ignored")


@click.command(name="convert")
@click.argument("src", metavar="IN", type=click.Path(path_type=Path))
@click.option(
    "--to", "to", type=click.Choice(["mushroom", "psiloqa"]), required=True, help="Format to write."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="JSONL file to write.",
)
@_STRICT
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def convert_cmd(src: Path, to: str, out: Path, strict: bool, as_json: bool) -> None:
    """Convert Mu-SHROOM items to PsiloQA rows or back (the format of IN is detected).

    Fields with no counterpart are kept (under `mushroom` in a row, `psiloqa` in an item),
    so converting back gives the original records.
    """
    from dsbuild.cli.output import print_warnings
    from dsbuild.psiloqa.mushroom import convert_file
    from dsbuild.quirks import Warnings

    warnings = Warnings()
    fmt, n = convert_file(src, to, out, warnings, strict=strict)
    print_warnings(warnings)
    if as_json:
        click.echo(
            json.dumps({"in": str(src), "from": fmt, "to": to, "out": str(out), "records": n})
        )
        return
    click.echo(f"converted {n} {fmt} record(s) from {src} to {to}: {out}")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _listed(out, title: str, lines: list[str], limit: int = 10) -> None:
    if not lines:
        return
    out.print(f"{title} ({len(lines)}):")
    for line in lines[:limit]:
        out.print(f"  {line}", markup=False)
    if len(lines) > limit:
        out.print(f"  … and {len(lines) - limit} more (--json lists them all)")


@click.command(name="agreement")
@click.argument(
    "sources",
    metavar="FILE FILE [FILE...]",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the soft labels (share of sources per character) as Mu-SHROOM JSONL.",
)
@click.option(
    "--lang", default="EN", show_default=True, help="`lang` of --out items whose rows have none."
)
@_STRICT
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def agreement_cmd(
    sources: tuple[Path, ...], out: Path | None, lang: str, strict: bool, as_json: bool
) -> None:
    """Measure how far annotators agree on the hallucinated spans of the same answers.

    Each FILE is one annotator: PsiloQA rows whose `annotated_span` has [HAL]...[/HAL] tags
    (JSONL, JSON or CSV, `llm_answer` optional), a run directory (`records.jsonl`), or
    Mu-SHROOM items (`hard_labels`). Items are matched by id; the text without tags must be
    the same in every source (and equal `llm_answer` when the row has it), else that item
    is left out for that source and reported. Per pair of sources: mean character IoU
    (1.0 when neither marks anything) and the share of items where both or neither mark a
    span; over all sources: Krippendorff's alpha (nominal, every character a unit).

    This is how to check an LLM annotator before trusting it: give its file and those of
    human annotators of the same answers, and compare the LLM-human figures with the
    human-human ones.
    """
    from dsbuild.cli.output import print_warnings
    from dsbuild.psiloqa.agreement import load_sources, measure, soft_items
    from dsbuild.quirks import Warnings

    warnings = Warnings()
    loaded = load_sources(sources, warnings)
    warnings.raise_if_strict(strict, ", ".join(str(p) for p in sources))
    print_warnings(warnings)
    report = measure(loaded)
    written = None
    if out is not None:
        from dsbuild.runs.jsonl import write_jsonl

        written = write_jsonl(out, soft_items(report, loaded, lang=lang))
    if as_json:
        data = report.to_dict()
        if out is not None:
            data["out"] = {"path": str(out), "items": written}
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    from dsbuild.cli.output import _table, console

    con = console()
    con.print(
        _table(
            f"Span agreement between {len(loaded)} sources ({report.items} ids, "
            f"{report.complete} usable in every source)",
            ["source A", "source B", "items", "IoU", "both/neither", "alpha"],
            [
                (
                    p["a"],
                    p["b"],
                    p["items"],
                    _cell(p["iou"]),
                    _share(p["span_presence"]),
                    _cell(p["alpha"]),
                )
                for p in report.pairs
            ],
        )
    )
    con.print(
        _table(
            "Per source",
            ["source", "format", "items", "with span", "chars marked", "left out"],
            [
                (
                    s["name"],
                    s["format"],
                    s["items"],
                    s["items_with_span"],
                    _share(s["share_marked"]),
                    s["left_out"],
                )
                for s in report.sources
            ],
        )
    )
    a = report.alpha
    con.print(
        f"Krippendorff's alpha (nominal, per character, {a['sources']} sources): "
        f"{_cell(a['value'])} over {a['characters']} characters of {a['items']} items"
    )
    con.print(
        "IoU: |A∩B|/|A∪B| of marked characters, 1.0 when neither marks any; "
        "both/neither: share of items where both or neither mark a span."
    )
    _listed(
        con,
        "ids missing from some sources",
        [f"{m['id']}: not in {', '.join(m['sources'])}" for m in report.missing],
    )
    _listed(
        con,
        "items left out for a source (not counted in any figure involving it)",
        [f"{p['id']} [{p['source']}] {p['kind']}: {p['message']}" for p in report.problems],
    )
    if out is not None:
        con.print(f"wrote soft labels of {written} item(s) to {out}", markup=False)
