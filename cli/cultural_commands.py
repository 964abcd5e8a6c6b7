"""`dsbuild cultural analyze` and `dsbuild cultural convert`: ratings tables, long and wide.

Imports only click at the top so that `dsbuild --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import click

from dsbuild.cli.model_options import engine_options

__all__ = ["add_commands"]

_FORMATS = {
    "long": (".jsonl", ".ndjson", ".csv", ".parquet", ".pq"),
    "wide-csv": (".csv",),
    "wide-xlsx": (".xlsx",),
}


def _columns_option(f):
    return click.option(
        "--columns",
        "columns",
        multiple=True,
        metavar="FIELD=HEADER,...",
        help="Read a sheet of another layout: which header holds which field, e.g. "
        '--columns text_id="Email id",model=Model,language=Language,overall="Overall quality",'
        'rating="Segment {n} rating". Fields: text_id, model, target, language, locale, rater, '
        "unit, content, style, audience, overall, comment, final_comment, segment_id, segment, "
        "category, segment_translation, rating, segment_comment, meta.<key>. The published "
        '"Be My Cheese?" sheet and our own wide sheet are detected without it.',
    )(f)


def _strict_option(f):
    return click.option(
        "--strict",
        is_flag=True,
        help="Any warning (e.g. an empty row) or excluded rating is an error (exit 3).",
    )(f)


def _read(path: Path, columns: tuple[str, ...], strict: bool):
    """Read ratings in any layout; print warnings and exclusions on stderr; --strict fails
    on them."""
    from dsbuild.cli.output import print_warnings
    from dsbuild.cultural.layouts import parse_columns
    from dsbuild.cultural.ratings import read_ratings

    read = read_ratings(path, parse_columns(columns) or None)
    read.raise_if_strict(strict, str(path))
    print_warnings(read.warnings)
    if read.exclusions:
        for item in read.exclusions.items[:10]:
            click.echo(f"excluded {item.line()}", err=True)
        if len(read.exclusions) > 10:
            click.echo(f"... {len(read.exclusions) - 10} more excluded", err=True)
        click.echo(f"excluded: {read.exclusions.summary()} (--strict makes them errors)", err=True)
    return read


def add_commands(group: click.Group) -> None:
    group.add_command(analyze)
    group.add_command(convert)
    group.add_command(rate)


@click.command(
    help="An LLM rates each segment translation 0-3 or NA, and the full text, with reasons.\n\n"
    "DATA is a ratings table in any layout `analyze` reads (our rating sheet, the published "
    "'Be My Cheese?' sheet, a sheet with --columns): it gives the units to rate (text x "
    "target x model), their segments and translations; human ratings in it never reach the "
    "model. The source text comes from --sources (JSONL/CSV of id, text) or the published "
    "sheet's Email text. RATINGS is the long format (.jsonl, .csv, .parquet), rater "
    "`llm:<model>`; `cultural analyze DATA --llm RATINGS` compares it with the humans. "
    "Cached, budgeted, resumable (OUT.run)."
)
@click.argument("data", metavar="DATA", type=click.Path(exists=True, path_type=Path))
@click.option("--model", help="Rater model spec [default: local:smollm2 without key or URL].")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ratings file to write (.jsonl, .csv or .parquet).",
)
@click.option(
    "--sources",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Source texts: JSONL/JSON/CSV rows with id (or text_id) and text.",
)
@_columns_option
@engine_options
def rate(
    data: Path,
    model: str | None,
    out: Path,
    sources: Path | None,
    columns: tuple[str, ...],
    **flags,
) -> None:
    from dsbuild.cli.model_options import run_model_command
    from dsbuild.cultural.layouts import parse_columns
    from dsbuild.cultural.rate import make_task, write_ratings

    if out.suffix.lower() not in _FORMATS["long"]:
        raise click.UsageError(f"--out {out.name}: write .jsonl, .csv or .parquet")

    def task(settings):
        t, read = make_task(
            data,
            model=model,
            columns=parse_columns(columns) or None,
            sources=sources,
            prompts_dir=settings.prompts_dir,
            limit=flags.get("limit"),
        )
        from dsbuild.cli.output import print_warnings

        print_warnings(read.warnings)
        return t

    run_model_command("cultural", [model], flags, task, write_ratings, out)


@click.command(
    help="Means, omission rates and inter-rater agreement of a ratings file.\n\n"
    "PATH is the long format (.jsonl, .csv, .parquet: one row per rater x text x model x "
    "segment, plus full-text rows), a wide spreadsheet (.xlsx, or .csv with a 'Rater ID' "
    "column: one row per rater x text x model), the published 'Be My Cheese?' sheet as "
    "released (detected by its header), or any sheet with --columns. Empty rows are skipped "
    "and ratings outside the scheme excluded, both counted. Try it on the embedded sample: "
    "dsbuild/samples/cultural/ratings.jsonl.\n\n"
    "NA (segment not translated) is an answer: --na zero counts it as 0 in segment means, "
    "--na exclude leaves it out; the share of NA is reported separately either way."
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--na",
    type=click.Choice(["zero", "exclude"]),
    default="zero",
    show_default=True,
    help="How NA enters segment means and ordinal agreement.",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write PNG charts and a self-contained report.html into this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option(
    "--llm",
    "llm_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ratings by an LLM rater (`cultural rate`), reported beside the humans: its means, "
    "its agreement with the human consensus and its NA calls (repeatable). Rows of raters "
    "named llm:... in PATH count as LLM raters too.",
)
@_columns_option
@_strict_option
def analyze(
    path: Path,
    na: str,
    report_dir: Path | None,
    as_json: bool,
    llm_files: tuple[Path, ...],
    columns: tuple[str, ...],
    strict: bool,
) -> None:
    import json
    import time

    from dsbuild.cultural.analysis import analyze as analyze_table
    from dsbuild.cultural.llm_rater import compare, split_raters

    started = time.perf_counter()
    read = _read(path, columns, strict)
    humans, llms = split_raters(read.frame)
    if llm_files:
        import polars as pl

        llms = pl.concat([llms, *(_read(p, (), strict).frame for p in llm_files)])
    result = {"input": str(path), **analyze_table(humans, na=na, read=read.counts())}
    if llms.height:
        result["llm_raters"] = compare(humans, llms, na=na)
    if report_dir is not None:
        from dsbuild.cultural.report import write_report

        written = write_report(result, report_dir, title=f"Cultural-nuance ratings: {path.name}")
        result["report"] = {name: str(p) for name, p in written.items()}
    seconds = time.perf_counter() - started
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    _print_analysis(result, seconds)


def _print_analysis(result: dict, seconds: float) -> None:
    from rich.table import Table

    from dsbuild.cli.output import console

    def fmt(v) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    def table(title: str, columns: list[str], rows: list[list]) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold")
        for i, c in enumerate(columns):
            t.add_column(c, justify="left" if i == 0 else "right")
        for row in rows:
            t.add_row(*(fmt(v) for v in row))
        return t

    out = console()
    c = result["counts"]
    out.print(
        f"[bold]{result['input']}[/bold]: {c['rows']} rows, {c['texts']} texts, "
        f"{c['models']} models, {c['languages']} languages, {c['raters']} raters; "
        f"{c['segment_ratings']} segment ratings "
        f"({c['na_ratings']} NA, {c['missing_segment_ratings']} missing)"
    )
    rd = result["read"]
    if rd.get("rows_read") is not None:
        reasons = ", ".join(f"{k} {v}" for k, v in rd["excluded_by_reason"].items())
        out.print(
            f"read ({rd['layout']}): {rd['rows_read']} rows, "
            f"{rd['empty_rows_skipped']} empty rows skipped, "
            f"{rd['excluded']} excluded{f' ({reasons})' if reasons else ''}; "
            f"{rd['raters']} raters, "
            f"{rd['units']['full_text']} full-text and {rd['units']['segments']} segment units"
        )
    out.print(
        f"mean overall quality: [bold]{fmt(result['overall_mean'])}[/bold] / 3; "
        f"segment means: {result['na_convention']}"
    )
    om = result["omission"]
    for key, label in (("by_model", "model"), ("by_language", "language"), ("by_locale", "locale")):
        rows = [
            [
                name,
                g.get("overall"),
                g.get("content"),
                g.get("style"),
                g.get("audience"),
                g.get("segment"),
                om[key].get(name),
            ]
            for name, g in result[key].items()
        ]
        out.print(
            table(
                f"By {label}",
                [label, "overall", "content", "style", "audience", "segment", "NA rate"],
                rows,
            )
        )
    both = result["by_category_na"]
    rows = [
        [
            cat,
            both["zero"][cat]["segment"],
            both["exclude"].get(cat, {}).get("segment"),
            om["by_category"].get(cat),
            g["segment_n"],
        ]
        for cat, g in both["zero"].items()
    ]
    out.print(
        table(
            "By category",
            ["category", "mean, NA as 0", "mean, NA excluded", "NA rate", "ratings"],
            rows,
        )
    )
    stats = ["alpha_ordinal", "ac2_ordinal", "fleiss_kappa", "units"]
    rows = []
    for conv, ag in result["agreement_by_na"].items():
        rows += [
            [f"NA {conv}: full text {k}", *(v[s] for s in stats)]
            for k, v in ag["full_text"].items()
        ]
        rows += [
            [f"NA {conv}: segments {k}", *(v[s] for s in stats)] for k, v in ag["segments"].items()
        ]
    out.print(table("Agreement", ["scope", "α ordinal", "AC2 ordinal", "Fleiss κ", "units"], rows))
    for rater, llm in result.get("llm_raters", {}).items():
        _print_llm_rater(out, table, rater, llm)
    if "report" in result:
        out.print("report: " + ", ".join(result["report"].values()))
    out.print(f"analysed in {seconds:.2f}s")


def _print_llm_rater(out, table, rater: str, llm: dict) -> None:
    """The LLM rater beside the humans: its means, agreement with the consensus, NA calls."""
    out.print(
        f"[bold]LLM rater {rater}[/bold]: mean overall quality {llm['overall_mean']} / 3 "
        f"(NA {llm['na_convention']})"
    )
    cats = llm["by_category_na"]
    out.print(
        table(
            f"LLM rater {rater}: segment means",
            ["group", "NA as 0", "NA excluded"],
            [[f"category {c}", v, cats["exclude"].get(c)] for c, v in cats["zero"].items()]
            + [[f"model {m}", v, None] for m, v in llm["by_model"].items()],
        )
    )
    ag = llm["agreement_with_humans"]
    rows = [
        [f"segments: {k}", v["alpha_ordinal"], v["exact"], v["mean_abs_diff"], v["units"]]
        for k, v in ag["segments"].items()
    ] + [
        [f"full text: {k}", v["alpha_ordinal"], v["exact"], v["mean_abs_diff"], v["units"]]
        for k, v in ag["full_text"].items()
    ]
    out.print(
        table(
            f"LLM rater {rater} vs the human consensus (median)",
            ["scope", "α ordinal", "exact", "mean |diff|", "units"],
            rows,
        )
    )
    n = llm["na"]
    out.print(
        f"NA: humans (majority) {n['humans_na']}, LLM {n['llm_na']}, both {n['both_na']} of "
        f"{n['segments_compared']} segments; LLM says NA where humans did: {n['na_recall']}; "
        f"humans did where the LLM says NA: {n['na_precision']}",
        markup=False,
    )


@click.command(
    help="Convert a ratings file between the long format and the wide spreadsheet.\n\n"
    "IN is read as `analyze` reads it (long .jsonl/.csv/.parquet, wide .xlsx/.csv). "
    "--to long writes .jsonl, .csv or .parquet by the extension of OUT; wide-csv and "
    "wide-xlsx write one row per rater x text x model with 'Segment N ...' columns."
)
@click.argument("in_path", metavar="IN", type=click.Path(path_type=Path))
@click.option(
    "--to", "target", type=click.Choice(list(_FORMATS)), required=True, help="Output layout."
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file.",
)
@_columns_option
@_strict_option
def convert(
    in_path: Path, target: str, out_path: Path, columns: tuple[str, ...], strict: bool
) -> None:
    from dsbuild.cultural.ratings import save_ratings

    if out_path.suffix.lower() not in _FORMATS[target]:
        raise click.UsageError(
            f"--to {target} writes {' or '.join(_FORMATS[target])} files; "
            f"rename --out {out_path.name}"
        )
    df = _read(in_path, columns, strict).frame
    if target == "long":
        save_ratings(df, out_path)
        click.echo(f"{df.height} rows -> {out_path}")
        return
    from dsbuild.cultural.spreadsheet import long_to_wide, write_wide

    wide = long_to_wide(df)
    write_wide(wide, out_path)
    click.echo(f"{df.height} long rows = {wide.height} spreadsheet rows -> {out_path}")
