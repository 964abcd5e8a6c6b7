"""`dsbuild cultural analyze` and `dsbuild cultural convert`: ratings tables, long and wide.

Imports only click at the top so that `dsbuild --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import click

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
@_columns_option
@_strict_option
def analyze(
    path: Path,
    na: str,
    report_dir: Path | None,
    as_json: bool,
    columns: tuple[str, ...],
    strict: bool,
) -> None:
    import json
    import time

    from dsbuild.cultural.analysis import analyze as analyze_table

    started = time.perf_counter()
    read = _read(path, columns, strict)
    result = {"input": str(path), **analyze_table(read.frame, na=na, read=read.counts())}
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
    if "report" in result:
        out.print("report: " + ", ".join(result["report"].values()))
    out.print(f"analysed in {seconds:.2f}s")


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
