"""Counts and distributions of a dataset file, whatever its dataset.

`compute_stats` reads a file, detects its record format, and asks the format's dataset for
its statistics: the dataset's spec hook `stats` (`dsbuild.datasets.get(name).hook("stats")`),
a `DatasetStats` with one `FormatStats` per format (the protocol is in `dsbuild.tables`:
`tables(records)`, optional `summary(records)` and `chart(records, png)`). Nothing here
knows a dataset or a format by name. It returns plain data (titles, columns, rows) so the
CLI can print tables or JSON; nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dsbuild.tables import DatasetStats, FormatStats, Row

__all__ = [
    "DatasetStats",
    "FormatStats",
    "compute_stats",
    "draw_chart",
    "format_stats",
    "stats_from_records",
]


def format_stats(fmt: str | None) -> FormatStats | None:
    """The statistics of record format `fmt`, from the hook of the dataset that owns it
    (`dsbuild.schemas.FORMATS[fmt].dataset`); None when there are none."""
    if not fmt:
        return None
    from dsbuild import datasets
    from dsbuild.schemas import FORMATS

    spec = FORMATS.get(fmt)
    if spec is None or spec.dataset not in datasets.names():
        return None
    hook = datasets.get(spec.dataset).hook("stats")
    return hook.of(fmt) if hook is not None else None


def stats_from_records(records: list[Row], fmt: str) -> dict[str, dict[str, Any]]:
    """Tables of counts and distributions for records of one format."""
    stats = format_stats(fmt)
    if not records or stats is None:
        return {}
    return stats.tables(records)


def _read(path: Path, dataset: str, fmt: str | None) -> tuple[list, list[Row], str | None]:
    """The file's read items, its records, and its format (given, the dataset's only one, or
    detected from the first records)."""
    from dsbuild.readers import read_records, require_readable
    from dsbuild.validation import DETECT_SAMPLE, candidate_formats, detect_file_format

    items = list(read_records(path))
    require_readable(
        path, items
    )  # some unreadable lines are counted; a file of nothing else is an error
    candidates = candidate_formats(dataset, fmt)
    name = (
        candidates[0]
        if len(candidates) == 1
        else detect_file_format(path, items[:DETECT_SAMPLE], candidates)
    )
    return items, [item.record for item in items if item.record is not None], name


def compute_stats(path: Path, dataset: str, fmt: str | None = None) -> dict[str, Any]:
    """Read a file's records, detect its format, and tabulate them.

    Statistics describe what can be read; unreadable lines are counted, not fatal
    (`validate` says what is wrong with them), but a file with no readable record is an
    InputError (DSB302; DSB304 when empty).
    """
    path = Path(path)
    items, records, name = _read(path, dataset, fmt)
    stats = format_stats(name)
    result = {
        "path": str(path),
        "format": name,
        "records": len(records),
        "unreadable": len(items) - len(records),
        "tables": stats.tables(records) if stats is not None and records else {},
    }
    if (path.parent / "fingerprint.json").is_file():  # a run's records: what its gates did
        from dsbuild.gates.report import GATE_COLUMNS, gate_rows, gate_summary

        gates = gate_summary(path.parent)
        if gates:
            result["gates"] = gates
            result["tables"]["Quality gates (per language)"] = {
                "columns": GATE_COLUMNS,
                "rows": gate_rows(gates),
            }
    if stats is not None and stats.summary is not None and records:
        result["summary"] = stats.summary(records)
    return result


def draw_chart(path: Path, dataset: str, out: Path, fmt: str | None = None) -> Path:
    """Draw the chart of a file's format (its `FormatStats.chart`) into `out` (PNG)."""
    from dsbuild.errors import UsageError

    _, records, name = _read(Path(path), dataset, fmt)
    stats = format_stats(name)
    if stats is None or stats.chart is None:
        raise UsageError(
            f"no chart is defined for {name or 'this'} format yet",
            "drop --chart; the tables are printed",
            code="DSB106",
        )
    return stats.chart(records, Path(out))
