"""What commands print: summary tables (rich) on stdout, or JSON with --json."""

from __future__ import annotations

import json
from typing import Any, Iterable

import click

__all__ = [
    "console",
    "print_config",
    "print_dataset_list",
    "print_run_summary",
    "print_stats",
    "print_validation",
]


# Width of tables written to a pipe or file when COLUMNS does not say: wide enough that no
# header or short cell wraps (rich would assume 80 columns), narrow enough to stay readable.
PIPE_WIDTH = 200


def output_width(stream=None) -> int | None:
    """Width for tables: None on a terminal (rich measures it); else `COLUMNS` when set to a
    number, else `PIPE_WIDTH`."""
    import os
    import sys

    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return None
    except ValueError:  # a closed stream
        pass
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH


def console():
    """The console commands print to. Without a terminal it is `output_width()` wide, and a
    table wider than that is printed at its natural width rather than squeezed (wrapped
    headers) or cropped: a pipe or a file has no right edge."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    width = output_width()

    class _Console(Console):
        def print(self, *objects: Any, **kwargs: Any) -> None:
            tables = [o for o in objects if isinstance(o, Table)]
            need = max(
                (
                    Measurement.get(self, self.options.update_width(10_000), t).maximum
                    for t in tables
                ),
                default=0,
            )
            if width is None or need <= self.width:
                return super().print(*objects, **kwargs)
            self.width = need
            try:
                return super().print(*objects, **kwargs)
            finally:
                self.width = width

    return _Console(highlight=False, soft_wrap=False, width=width)


def _table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]):
    """A table whose headers never wrap (each column at least as wide as its
    name); no header row when every column name is empty."""
    from rich.table import Table
    from rich.text import Text

    columns = list(columns)
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        show_header=any(str(c).strip() for c in columns),
    )
    for i, col in enumerate(columns):
        table.add_column(col, overflow="fold", no_wrap=i == 0, min_width=len(str(col)) or None)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    return table


def print_dataset_list(as_json: bool = False) -> None:
    from dsbuild.datasets import each

    specs = [(spec, spec.stage_plan()) for spec in each()]
    if as_json:
        click.echo(
            json.dumps(
                {
                    spec.name: {
                        "title": spec.title,
                        "method": spec.method,
                        "formats": list(spec.formats),
                        "stages": [{"name": s.name, "description": s.description} for s in stages],
                        "buildable": True,
                    }
                    for spec, stages in specs
                },
                indent=2,
            )
        )
        return
    rows = [
        (spec.name, " → ".join(s.name for s in stages), ", ".join(spec.formats), "yes")
        for spec, stages in specs
    ]
    console().print(
        _table(
            "Datasets (details: dsbuild <dataset> --help)",
            ["dataset", "stages", "formats", "build"],
            rows,
        )
    )


def print_config(settings, sources: dict[str, str], options=None) -> None:
    """Resolved settings with secrets masked, and where each value came from; then the
    dataset's options (`options`: its validated model), each with its value and meaning."""
    import yaml

    def text(value) -> str:
        return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")

    shown = settings.display_dict()
    rows = [(key, text(value), sources.get(key, "default")) for key, value in shown.items()]
    console().print(_table("Resolved settings", ["setting", "value", "from"], rows))
    if options is not None:
        given = set(settings.options or {})
        rows = [
            (
                key,
                text(value),
                "given" if key in given else "default",
                type(options).model_fields[key].description or "",
            )
            for key, value in options.model_dump(mode="json").items()
        ]
        console().print(
            _table(
                "Dataset options (--option KEY=VALUE)", ["option", "value", "from", "meaning"], rows
            )
        )


def print_run_summary(result) -> None:
    rows = []
    for s in result.stages:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(s.rejects_by_reason.items()))
        rows.append(
            (s.name, s.status, s.n_in, s.n_out, s.n_rejected, reasons or "-", f"{s.seconds:.2f}s")
        )
    out = console()
    out.print(
        _table(
            f"Run {result.run_dir} ({result.status})",
            ["stage", "this run", "in", "out", "rejected", "rejects by reason", "time"],
            rows,
        )
    )
    out.print(f"records: {result.records_path}\nrejects: {result.rejects_path}")


def print_model_usage(usage: dict[str, dict]) -> None:
    """One row per model of a build: requests sent, cache hits, failures, tokens, cost."""
    rows = []
    for spec, st in usage.items():
        failures = ", ".join(f"{k}: {v}" for k, v in sorted(st["failures"].items())) or "-"
        rows.append(
            (
                spec,
                st["requests_sent"],
                st["cache_hits"],
                failures,
                st["prompt_tokens"],
                st["completion_tokens"],
                f"${st['cost_usd']:.4f}" if st["cost_usd"] else "-",
            )
        )
    console().print(
        _table(
            "LLM usage",
            ["model", "sent", "cached", "failed", "prompt tok", "completion tok", "cost"],
            rows,
        )
    )


def print_validation(reports, *, max_problems: int | None = None, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2, ensure_ascii=False))
        return
    from collections import Counter
    from pathlib import Path

    shown = 0
    lines = [("", p) for r in reports for p in r.problems] + [
        ("warning ", p) for r in reports for p in r.warnings
    ]
    for prefix, p in lines:
        if max_problems is not None and shown >= max_problems:
            break
        shown += 1
        click.echo(f"{prefix}{p.line()}")
    if max_problems is not None and len(lines) > shown:
        click.echo(f"... {len(lines) - shown} more line(s) not shown (raise --max-problems)")

    def reasons(counter: Counter) -> str:
        return ", ".join(f"{k}: {v}" for k, v in counter.most_common()) or "-"

    rows = [
        (
            Path(r.path).name,
            r.format or "?",
            r.valid,
            r.warned,
            r.invalid,
            reasons(r.by_reason),
            reasons(r.warnings_by_reason),
        )
        for r in reports
    ]
    if len(reports) > 1:
        rows.append(
            (
                "total",
                "",
                sum(r.valid for r in reports),
                sum(r.warned for r in reports),
                sum(r.invalid for r in reports),
                reasons(sum((r.by_reason for r in reports), Counter())),
                reasons(sum((r.warnings_by_reason for r in reports), Counter())),
            )
        )
    columns = [
        "file",
        "format",
        "valid",
        "of which warned",
        "invalid",
        "problems by reason",
        "warnings by reason",
    ]
    console().print(_table("Validation", columns, rows))


def print_warnings(warnings, *, max_lines: int = 10) -> None:
    """Release quirks met by a reader or converter (`dsbuild.quirks.Warnings`), on stderr:
    the first few lines, then the count by reason."""
    if not warnings:
        return
    for w in warnings.items[:max_lines]:
        click.echo(f"warning {w.line()}", err=True)
    if len(warnings) > max_lines:
        click.echo(f"... {len(warnings) - max_lines} more warning(s)", err=True)
    click.echo(f"warnings: {warnings.summary()} (--strict makes them errors)", err=True)


def print_converter_report(report, validate_command: str) -> None:
    """What a converter's check of its input found (`ValidationReport`), on stderr: invalid
    records converted as they are, then the release quirks."""
    if report is None:
        return
    if report.invalid:
        reasons = ", ".join(f"{k} x{v}" for k, v in report.by_reason.most_common(5))
        click.echo(
            f"note: {report.invalid} invalid record(s) converted as they are ({reasons}); "
            f"`{validate_command}` lists them",
            err=True,
        )
    print_warnings(report.as_warnings())


def print_stats(stats: dict[str, Any], *, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(stats, indent=2, ensure_ascii=False))
        return
    out = console()
    out.print(f"[bold]{stats['path']}[/bold]  format {stats['format']}, {stats['records']} records")
    for title, table in stats["tables"].items():
        out.print(_table(title, table["columns"], table["rows"]))


def print_batch_summary(summary, *, as_json: bool = False) -> None:
    """The end of `dsbuild llm run`: what was sent, served from cache, retried, failed, spent."""
    s = summary.engine_stats
    if as_json:
        click.echo(
            json.dumps(
                {
                    **s,
                    "results": summary.n_results,
                    "errors": summary.errors,
                    "seconds": round(summary.seconds, 3),
                    "out": str(summary.out_path),
                    "run_dir": str(summary.run.run_dir),
                }
            )
        )
        return
    n = summary.n_results
    retries = ", ".join(f"{k}: {v}" for k, v in sorted(s["retries"].items())) or "0"
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(summary.errors.items())) or "0"
    tokens = f"{s['prompt_tokens']:,} prompt + {s['completion_tokens']:,} completion"
    if s["estimated_tokens"]:
        tokens += " (partly estimated)"
    rate = n / summary.seconds if summary.seconds > 0 else 0.0
    rows = [
        ("results written", f"{n:,} -> {summary.out_path}"),
        ("requests sent (this run)", f"{s['requests_sent']:,}"),
        ("cache hits", f"{s['cache_hits']:,}"),
        ("retries by cause", retries),
        ("failed lines by reason", errors),
        ("repair turns", f"{s['repairs']:,}"),
        ("tokens (this run)", tokens),
        ("cost (this run)", f"${s['cost_usd']:.4f}"),
        ("time", f"{summary.seconds:.2f}s ({rate:,.1f} results/s)"),
    ]
    if s.get("batch"):  # --batch: its rounds, batches and polls
        from dsbuild.cli.batch_output import batch_rows

        rows += [(f"batch {label}", value) for label, value in batch_rows(s["batch"])]
    console().print(_table("LLM run", ["", ""], rows))


def print_dry_run(plan: dict, *, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(plan))
        return
    cost = (
        "unknown (no price for this model; use --prices FILE)"
        if plan["est_cost_usd"] is None
        else f"${plan['est_cost_usd']:.4f}"
    )
    rows = [
        ("model", plan["model"]),
        ("requests in file", f"{plan['requests']:,}"),
        ("unreadable lines", f"{plan['bad_input']:,}"),
        ("served from cache", f"{plan['cache_hits']:,}"),
        ("would be sent", f"{plan['to_send']:,}"),
        (
            "estimated tokens",
            f"{plan['est_prompt_tokens']:,} prompt + up to "
            f"{plan['est_completion_tokens']:,} completion",
        ),
        ("estimated cost (upper bound)", cost),
    ]
    title = "Dry run: nothing sent"
    if plan.get("batch"):  # --batch: the batches, and the cost at batch prices
        rows.insert(
            5,
            (
                "Batch API batches",
                f"{plan['batches']:,} ({plan['batch_lines']:,} lines)",
            ),
        )
        rows[-1] = ("estimated cost at batch prices (upper bound)", cost)
        title = "Dry run (Batch API): nothing sent"
    console().print(_table(title, ["", ""], rows))


def print_prompts(group: str, rows: list[dict], *, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No prompt templates are packaged for {group} in this version.")
        return
    console().print(
        _table(
            f"Prompts of {group}",
            ["name", "id", "version", "hash", "overridden", "file"],
            [
                (
                    r["name"],
                    r["id"],
                    r["version"],
                    r["hash"],
                    "yes" if r["overridden"] else "",
                    r["path"],
                )
                for r in rows
            ],
        )
    )


def print_exported(folder, counts: dict[str, int]) -> None:
    rows = [(name, f"{n:,}") for name, n in counts.items()]
    rows.append(("total", f"{sum(counts.values()):,}"))
    console().print(_table(f"Exported to {folder}", ["file", "rows"], rows))


def print_batch_usage(usage: dict[str, dict]) -> None:
    """One row per model that ran with --batch: rounds, batches, lines, polls, in flight."""
    from dsbuild.cli.batch_output import BATCH_FIELDS, batch_rows

    rows = [
        (spec, *(value for _, value in batch_rows(st["batch"])))
        for spec, st in usage.items()
        if st.get("batch")
    ]
    if rows:
        console().print(_table("Batch API", ["model", *(label for label, _ in BATCH_FIELDS)], rows))
