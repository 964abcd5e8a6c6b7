"""Figures for the data card, computed from the exported rows and the run: rows per language
and split, label distributions, rejects by stage and reason, the models and prompt
versions in the rows' provenance, and inter-rater agreement when people rated.

Each figure is a `Table` (title, columns, rows) so the card can print it as Markdown and
tests can read it as data.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.hub.hooks import hooks_for

__all__ = [
    "Table",
    "agreement_table",
    "distribution",
    "label_tables",
    "language_column",
    "markdown",
    "gate_table",
    "models_and_prompts",
    "reject_table",
    "split_language_table",
]


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]


def markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""

    def cell(v: Any) -> str:
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines)


def language_column(dataset: str) -> str:
    return hooks_for(dataset).language_field


def split_language_table(dataset: str, splits: Mapping[str, Sequence[Mapping[str, Any]]]) -> Table:
    col = language_column(dataset)
    counts: dict[str, Counter] = defaultdict(Counter)
    for split, rows in splits.items():
        for r in rows:
            counts[str(r[col])][split] += 1
    names = list(splits)
    body = [
        [lang, *(counts[lang][s] for s in names), sum(counts[lang].values())]
        for lang in sorted(counts)
    ]
    body.append(["**all**", *(len(splits[s]) for s in names), sum(len(v) for v in splits.values())])
    return Table("Rows per language and split", ["language", *names, "total"], body)


def distribution(title: str, counter: Counter, label: str = "value") -> Table:
    """A value -> count, share table, most frequent first (for the hooks' label tables)."""
    total = sum(counter.values()) or 1
    return Table(
        title,
        [label, "count", "share"],
        [
            [k, n, f"{n / total:.1%}"]
            for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ],
    )


def label_tables(dataset: str, rows: Sequence[Mapping[str, Any]]) -> list[Table]:
    """The label distributions that matter for `dataset` (its export hook's)."""
    return list(hooks_for(dataset).label_tables(rows))


def gate_table(run_dir: Path) -> Table:
    """What each quality gate of the run did, per language (`dsbuild.gates`)."""
    from dsbuild.gates.report import GATE_COLUMNS, gate_rows, gate_summary

    return Table("Quality gates (per language)", GATE_COLUMNS, gate_rows(gate_summary(run_dir)))


def reject_table(rejects: Sequence[Mapping[str, Any]]) -> Table:
    counts = Counter((r.get("stage", "?"), r.get("reason", "?")) for r in rejects)
    return Table(
        "Rejected during the build",
        ["stage", "reason", "count"],
        [[s, reason, n] for (s, reason), n in sorted(counts.items())],
    )


def models_and_prompts(rows: Sequence[Mapping[str, Any]]) -> tuple[Table, Table]:
    """(models per step: asked -> answered, rows; prompt templates: id, hash, rows)."""
    models: Counter = Counter()
    prompts: Counter = Counter()
    for r in rows:
        prov = r.get("provenance")
        if not prov:
            continue
        prov = json.loads(prov) if isinstance(prov, str) else prov
        for step, p in sorted(prov.items()):
            if not isinstance(p, Mapping):
                continue
            if p.get("model_requested") or p.get("model_answered"):
                models[(step, p.get("model_requested"), p.get("model_answered"))] += 1
            if p.get("template_id"):
                prompts[(step, p["template_id"], (p.get("template_hash") or "")[:12])] += 1
    return (
        Table(
            "Models (from each row's provenance)",
            ["step", "model asked", "model that answered", "rows"],
            [[*k, n] for k, n in sorted(models.items(), key=lambda kv: tuple(map(str, kv[0])))],
        ),
        Table(
            "Prompt templates",
            ["step", "template", "hash", "rows"],
            [[*k, n] for k, n in sorted(prompts.items(), key=lambda kv: tuple(map(str, kv[0])))],
        ),
    )


def agreement_table(
    dataset: str, rows: Sequence[Mapping[str, Any]], agreement: Mapping[str, Any] | None
) -> Table | None:
    """Inter-rater agreement: from the run's human-round file if there is one, else what the
    dataset's export hook computes from the rows (e.g. from ratings in them), if anything."""
    if agreement:
        head = ", ".join(
            f"{k} {v}" for k, v in agreement.items() if not isinstance(v, (dict, list))
        )
        rows = [
            [name, stat, f"{v:.3f}" if isinstance(v, float) else v]
            for name, stats in (agreement.get("fields") or {}).items()
            for stat, v in (stats.items() if isinstance(stats, Mapping) else [("value", stats)])
        ]
        return Table(
            f"Annotation agreement (human round: {head})", ["field", "statistic", "value"], rows
        )
    return hooks_for(dataset).agreement(rows)
