"""`dsbuild cultural analyze` and `dsbuild cultural convert`: ratings tables, long and wide.

Imports only click at the top so that `dsbuild --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["add_commands"]

_FORMATS = {"long": (".jsonl", ".ndjson", ".csv", ".parquet", ".pq"), "wide-csv": (".csv",), "wide-xlsx": (".xlsx",)}


def add_commands(group: click.Group) -> None:
    group.add_command(analyze)
    group.add_command(convert)


@click.command(help="Means, omission rates and inter-rater agreement of a ratings file.\n\n"
               "PATH is the long format (.jsonl, .csv, .parquet: one row per rater x text x model x "
               "segment, plus full-text rows) or a wide spreadsheet (.xlsx, or .csv with a 'Rater ID' "
               "column: one row per rater x text x model). Try it on the embedded sample: "
               "dsbuild/samples/cultural/ratings.jsonl.\n\n"
               "NA (segment not translated) is an answer: --na zero counts it as 0 in segment means, "
               "--na exclude leaves it out; the share of NA is reported separately either way.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--na", type=click.Choice(["zero", "exclude"]), default="zero", show_default=True,
              help="How NA enters segment means and ordinal agreement.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write PNG charts and a self-contained report.html into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def analyze(path: Path, na: str, report_dir: Path | None, as_json: bool) -> None:
    import json
    import time

    from dsbuild.cultural.analysis import analyze as analyze_table
    from dsbuild.cultural.ratings import load_ratings

    started = time.perf_counter()
    result = {"input": str(path), **analyze_table(load_ratings(path), na=na)}
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
    from dsbuild.cli.output import console
    from rich.table import Table

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
    out.print(f"[bold]{result['input']}[/bold]: {c['rows']} rows, {c['texts']} texts, {c['models']} models, "
              f"{c['languages']} languages, {c['raters']} raters; {c['segment_ratings']} segment ratings "
              f"({c['na_ratings']} NA, {c['missing_segment_ratings']} missing)")
    out.print(f"mean overall quality: [bold]{fmt(result['overall_mean'])}[/bold] / 3; "
              f"segment means: {result['na_convention']}")
    om = result["omission"]
    for key, label in (("by_model", "model"), ("by_language", "language")):
        rows = [[name, g.get("overall"), g.get("content"), g.get("style"), g.get("audience"), g.get("segment"),
                 om[key].get(name)] for name, g in result[key].items()]
        out.print(table(f"By {label}", [label, "overall", "content", "style", "audience", "segment", "NA rate"], rows))
    rows = [[cat, g["segment"], om["by_category"].get(cat), g["segment_n"]] for cat, g in result["by_category"].items()]
    out.print(table("By category", ["category", "segment", "NA rate", "ratings"], rows))
    stats = ["alpha_ordinal", "alpha_interval", "alpha_nominal", "ac2_ordinal", "fleiss_kappa", "units"]
    ag = result["agreement"]
    rows = [[f"full text: {k}", *(v[s] for s in stats)] for k, v in ag["full_text"].items()]
    rows += [[f"segments: {k}", *(v[s] for s in stats)] for k, v in ag["segments"].items()]
    out.print(table("Agreement", ["scope", "α ordinal", "α interval", "α nominal", "AC2 ordinal", "Fleiss κ", "units"], rows))
    if "report" in result:
        out.print("report: " + ", ".join(result["report"].values()))
    out.print(f"analysed in {seconds:.2f}s")


@click.command(help="Convert a ratings file between the long format and the wide spreadsheet.\n\n"
               "IN is read as `analyze` reads it (long .jsonl/.csv/.parquet, wide .xlsx/.csv). "
               "--to long writes .jsonl, .csv or .parquet by the extension of OUT; wide-csv and "
               "wide-xlsx write one row per rater x text x model with 'Segment N ...' columns.")
@click.argument("in_path", metavar="IN", type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Choice(list(_FORMATS)), required=True, help="Output layout.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file.")
def convert(in_path: Path, target: str, out_path: Path) -> None:
    from dsbuild.cultural.ratings import load_ratings, save_ratings

    if out_path.suffix.lower() not in _FORMATS[target]:
        raise click.UsageError(f"--to {target} writes {' or '.join(_FORMATS[target])} files; "
                               f"rename --out {out_path.name}")
    df = load_ratings(in_path)
    if target == "long":
        save_ratings(df, out_path)
        click.echo(f"{df.height} rows -> {out_path}")
        return
    from dsbuild.cultural.spreadsheet import long_to_wide, write_wide

    wide = long_to_wide(df)
    write_wide(wide, out_path)
    click.echo(f"{df.height} long rows = {wide.height} spreadsheet rows -> {out_path}")
