"""`dsbuild medrect convert` and `dsbuild medrect eval`: verbs only MedRECT has.

Only click is imported here; the library modules load inside the commands.
"""

from __future__ import annotations

from pathlib import Path

import click

from dsbuild.cli.model_options import engine_options

__all__ = ["add_commands"]


def add_commands(group: click.Group) -> None:
    from dsbuild.cli.leaderboard_commands import medrect_leaderboard

    group.add_command(convert)
    group.add_command(eval_command)
    group.add_command(predict)
    group.add_command(medrect_leaderboard)


@click.command(
    help="Run a model on clinical texts: error flag, erroneous sentence and correction.\n\n"
    "DATA is a medrect run directory, MedRECT JSON/JSONL or MEDEC CSV (English or Japanese). "
    "The model sees only the numbered sentences; its answer is one structured object per "
    "record (the sentence number constrained to the text's numbers). PRED is MedRECT JSON "
    "(or MEDEC CSV when it ends in .csv), what `medrect eval` and `medrect leaderboard` read. "
    "Every call goes through the engine (cache, retries, --max-cost); killed and run again, "
    "it resumes from OUT.run."
)
@click.argument("data", metavar="DATA", type=click.Path(exists=True, path_type=Path))
@click.option("--model", help="Model spec [default: local:smollm2 without key or URL].")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Prediction file to write (.json, or .csv for MEDEC).",
)
@click.option(
    "--lang",
    type=click.Choice(["auto", "en", "ja"]),
    default="auto",
    show_default=True,
    help="Language the prompt names (auto: Japanese when the text is).",
)
@engine_options
def predict(data: Path, model: str | None, out: Path, lang: str, **flags) -> None:
    from dsbuild.cli.model_options import run_model_command
    from dsbuild.medrect.predict import make_task, write_predictions

    run_model_command(
        "medrect",
        [model],
        flags,
        lambda settings: make_task(
            data,
            model=model,
            prompts_dir=settings.prompts_dir,
            language=lang,
            limit=flags.get("limit"),
        ),
        write_predictions,
        out,
    )


@click.command(
    help="Convert between MedRECT JSON and MEDEC CSV (the format of IN is detected).\n\n"
    "MEDEC → MedRECT → MEDEC gives back the same file byte for byte: what MedRECT JSON "
    "cannot hold goes into each record's metadata. MedRECT → MEDEC drops screening "
    "results and MedRECT's own metadata unless --keep-extra adds them as one JSON column."
)
@click.argument("in_path", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice(["medrect-json", "medec-csv"]),
    help="Format to write.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (replaced atomically).",
)
@click.option(
    "--keep-extra",
    is_flag=True,
    help="medec-csv only: add a dsbuild_extra column so the way back to MedRECT JSON is lossless.",
)
@click.option(
    "--labels",
    type=click.Choice(["en", "ja"]),
    help="Name the eight error types in English (history_taking, ...) or as MedRECT-ja "
    "writes them (病歴聴取エラー, ...). Default: as read. Types outside the scheme stay as read.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to convert when any record is invalid or has a release quirk (a warning).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def convert(
    in_path: Path,
    target: str,
    out_path: Path,
    keep_extra: bool,
    labels: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    import json

    from dsbuild.cli.output import print_converter_report
    from dsbuild.medrect.formats import convert_file

    summary = convert_file(
        in_path, target, out_path, keep_extra=keep_extra, labels=labels, strict=strict
    )
    print_converter_report(summary.report, f"dsbuild medrect validate {in_path}")
    if as_json:
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False))
        return
    click.echo(
        f"{summary.records} records ({summary.errors} with an error) "
        f"{summary.source_format} {summary.source} → {summary.target_format} {summary.target}"
    )


@click.command(
    name="eval",
    help="Score predictions against gold records, matched by id.\n\n"
    "PRED and GOLD are MedRECT JSON or MEDEC CSV files (either, detected). Scores: error "
    "flag accuracy/precision/recall/F1, error sentence accuracy (all records and error "
    "records), correction ROUGE-1/2/L (CJK by character) and the MEDIQA-CORR 2024 "
    "composite and aggregate scores. BERTScore and BLEURT are used when their packages "
    "and models are available; otherwise they are listed as skipped and the aggregate "
    "is over what is available.",
)
@click.argument("pred_path", metavar="PRED", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("gold_path", metavar="GOLD", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-model-metrics", is_flag=True, help="Do not try BERTScore or BLEURT.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object with the scores by name."
)
def eval_command(pred_path: Path, gold_path: Path, no_model_metrics: bool, as_json: bool) -> None:
    import json

    from dsbuild.errors import InputError
    from dsbuild.medrect.formats import read_records_as_medrect
    from dsbuild.metrics.correction import evaluate, items_from_records

    _, gold_records = read_records_as_medrect(gold_path)
    _, pred_records = read_records_as_medrect(pred_path)
    gold, pred = items_from_records(gold_records), items_from_records(pred_records)
    if not gold:
        raise InputError(
            f"gold file {gold_path} has no records", "give a gold file with records", code="DSB304"
        )
    if not set(gold) & set(pred):
        raise InputError(
            f"no id of {pred_path} is in {gold_path}",
            "predictions are matched to gold records by sample_id / Text ID",
            code="DSB303",
        )
    result = evaluate(pred, gold, model_metrics=not no_model_metrics)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **result["scores"],
                    "counts": result["counts"],
                    "aggregate_components": result["aggregate_components"],
                    "skipped": result["skipped"],
                    "notes": result["notes"],
                    "tokenizer": result["tokenizer"],
                },
                ensure_ascii=False,
            )
        )
        return
    from rich.table import Table

    from dsbuild.cli.output import console

    table = Table(
        title=f"{pred_path.name} vs {gold_path.name}", title_justify="left", title_style="bold"
    )
    table.add_column("score")
    table.add_column("value", justify="right")
    for name, value in result["scores"].items():
        table.add_row(
            name,
            "skipped"
            if value is None and name.split("_")[0] in result["skipped"]
            else "-"
            if value is None
            else f"{value:.4f}",
        )
    out = console()
    out.print(table)
    c = result["counts"]
    out.print(
        f"gold {c['gold']} ({c['gold_errors']} with an error), predicted {c['predicted']}, "
        f"missing {c['missing_predictions']}, extra {c['extra_predictions']}; "
        f"correction pairs {c['correction_pairs']}, both NA {c['correction_both_na']}"
    )
    for name, why in result["skipped"].items():
        out.print(f"[yellow]skipped {name}[/]: {why}")
    out.print(result["notes"][0])
