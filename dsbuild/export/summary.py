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

__all__ = ["Table", "agreement_table", "label_tables", "language_column", "markdown",
           "gate_table", "models_and_prompts", "reject_table", "split_language_table"]


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
    return "language" if dataset == "entitycs" else "lang"


def split_language_table(dataset: str, splits: Mapping[str, Sequence[Mapping[str, Any]]]) -> Table:
    col = language_column(dataset)
    counts: dict[str, Counter] = defaultdict(Counter)
    for split, rows in splits.items():
        for r in rows:
            counts[str(r[col])][split] += 1
    names = list(splits)
    body = [[lang, *(counts[lang][s] for s in names), sum(counts[lang].values())]
            for lang in sorted(counts)]
    body.append(["**all**", *(len(splits[s]) for s in names), sum(len(v) for v in splits.values())])
    return Table("Rows per language and split", ["language", *names, "total"], body)


def _dist(title: str, counter: Counter, label: str = "value") -> Table:
    total = sum(counter.values()) or 1
    return Table(title, [label, "count", "share"],
                 [[k, n, f"{n / total:.1%}"] for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))])


def label_tables(dataset: str, rows: Sequence[Mapping[str, Any]]) -> list[Table]:
    """The label distributions that matter for `dataset`."""
    if dataset == "psiloqa":
        by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for r in rows:
            spans = r["labels"]
            t = by_lang[r["lang"]]
            t[0] += 1
            t[1] += bool(spans)
            t[2] += len(spans)
            t[3] += sum(e - s for s, e in spans)
        hal = Table("Hallucinated spans per language", ["language", "answers",
                    "with a span", "spans", "mean span length (chars)"],
                    [[k, v[0], f"{v[1] / v[0]:.1%}", v[2], f"{v[3] / v[2]:.1f}" if v[2] else "-"]
                     for k, v in sorted(by_lang.items())])
        return [hal, _dist("Question complexity", Counter(r["complexity"] or "unknown" for r in rows),
                           "complexity")]
    if dataset == "entitycs":
        switched = Counter()
        for r in rows:
            if r["language"] == "en":
                continue
            for e in r["entities"]:
                switched["switched" if e["language"] != "en" else "kept in English"] += 1
        per_row = [len(r["entities"]) for r in rows]
        mean = sum(per_row) / len(per_row) if per_row else 0
        return [_dist(f"Entities of the code-switched rows ({mean:.2f} per row on average)",
                      switched, "entity")]
    if dataset == "medrect":
        return [_dist("Error flag", Counter("error" if r["error_flag"] else "clean" for r in rows), "flag"),
                _dist("Error types (rows with an error)",
                      Counter(r["error_type"] for r in rows if r["error_flag"]), "error type")]
    if dataset == "cultural":
        cats = Counter(n["category"] for r in {r["text_id"]: r for r in rows}.values()
                       for n in r["nuances"])
        status = Counter(a["status"] or "unknown" for r in rows for a in r["alignments"])
        scores = Counter("NA" if x["na"] else x["score"] for r in rows for x in r["ratings"]
                         if x["nuance"] is not None and (x["na"] or x["score"] is not None))
        out = [_dist("Nuance categories (per source text)", cats, "category")]
        if status:
            out.append(_dist("Alignment of nuances in translations", status, "status"))
        if scores:
            out.append(_dist("Segment ratings (0-3, NA = not translated)", scores, "score"))
        return out
    return []


def gate_table(run_dir: Path) -> Table:
    """What each quality gate of the run did, per language (`dsbuild.gates`)."""
    from dsbuild.gates.report import GATE_COLUMNS, gate_rows, gate_summary

    return Table("Quality gates (per language)", GATE_COLUMNS, gate_rows(gate_summary(run_dir)))


def reject_table(rejects: Sequence[Mapping[str, Any]]) -> Table:
    counts = Counter((r.get("stage", "?"), r.get("reason", "?")) for r in rejects)
    return Table("Rejected during the build", ["stage", "reason", "count"],
                 [[s, reason, n] for (s, reason), n in sorted(counts.items())])


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
    return (Table("Models (from each row's provenance)", ["step", "model asked", "model that answered", "rows"],
                  [[*k, n] for k, n in sorted(models.items(), key=lambda kv: tuple(map(str, kv[0])))]),
            Table("Prompt templates", ["step", "template", "hash", "rows"],
                  [[*k, n] for k, n in sorted(prompts.items(), key=lambda kv: tuple(map(str, kv[0])))]))


def agreement_table(dataset: str, rows: Sequence[Mapping[str, Any]],
                    agreement: Mapping[str, Any] | None) -> Table | None:
    """Inter-rater agreement: from the run's human-round file if there is one, else (cultural)
    computed from the ratings in the rows when some unit has two raters."""
    if agreement:
        head = ", ".join(f"{k} {v}" for k, v in agreement.items() if not isinstance(v, (dict, list)))
        rows = [[name, stat, f"{v:.3f}" if isinstance(v, float) else v]
                for name, stats in (agreement.get("fields") or {}).items()
                for stat, v in (stats.items() if isinstance(stats, Mapping) else [("value", stats)])]
        return Table(f"Annotation agreement (human round: {head})", ["field", "statistic", "value"],
                     rows)
    if dataset != "cultural":
        return None
    from dsbuild.metrics.agreement import agreement_summary

    units: dict[tuple, dict[str, Any]] = defaultdict(dict)
    for r in rows:
        for x in r["ratings"]:
            if x["nuance"] is None or not (x["na"] or x["score"] is not None):
                continue
            units[(r["id"], x["nuance"])][x["annotator"]] = "NA" if x["na"] else x["score"]
    raters = sorted({a for u in units.values() for a in u})
    table = [[u.get(a) for a in raters] for u in units.values()]
    if not any(sum(v is not None for v in t) >= 2 for t in table):
        return None
    summary = agreement_summary(table, na="zero")
    return Table("Annotation agreement (segment ratings, NA scored 0)", ["statistic", "value"],
                 [[k, f"{v:.3f}" if isinstance(v, float) else v] for k, v in summary.items()])
