"""A leaderboard: several systems scored on the same items, with seeded bootstrap intervals.

Each entry (a prediction file, a trivial baseline) gives one statistics record per item id;
a `Metric` turns a list of such records into a score (a mean, an F1 from counts, ...). The
table ranks the entries on one metric, overall and per group (a language), and gives every
score a percentile bootstrap confidence interval: `n_boot` resamples of the items, drawn
with replacement by `random.Random(seed)` and shared by all entries of a group (so the
intervals of two systems come from the same resamples and the table is reproducible).

The *floor* is what a real model must beat besides the trivial baselines: the embedded
model (`local:smollm2`) on the same items. A prediction file made by it alone is the floor
(`kind_of`); without one, a board may make the floor row itself (`floor_row`, from a
`dsbuild.model_run.FloorRun` of the dataset's `floor_task`).

Nothing here knows a dataset: the datasets build the entries and metrics
(`dsbuild.psiloqa.leaderboard`, `dsbuild.medrect.leaderboard`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FLOOR",
    "Entry",
    "Metric",
    "bootstrap_interval",
    "chart",
    "floor_row",
    "kind_of",
    "leaderboard",
    "mean_of",
]

FLOOR = "embedded floor"
"""The kind of a prediction made by the embedded model (`local:smollm2`): what a real model
must beat, shown beside the trivial baselines."""


def kind_of(models: str) -> str:
    """`embedded floor` for predictions made by the embedded local model alone, else
    `prediction` (`models`: the comma-separated model labels of a prediction file)."""
    names = [m.strip() for m in models.split(",") if m.strip()]
    return FLOOR if names and all(m.startswith("local:smollm2") for m in names) else "prediction"


def floor_row(
    entries: list[Entry],
    floor: Callable[[list[str]], Any] | None,
    ids: Sequence[str],
    *,
    answers: Callable[[list[dict[str, Any]]], Mapping[str, Any]],
    stats: Callable[[Any, str], Any],
    unusable: Callable[[Any], bool],
    scored_as: str,
) -> dict[str, Any] | None:
    """The board's floor, and what `--json` says of it under `floor` (None: no floor).

    A prediction file by the embedded model among `entries` is the floor. Otherwise
    `floor(ids)` (a `dsbuild.model_run.FloorRun` of the dataset's `floor_task`; None: no
    floor asked) makes the row, appended to `entries`: `answers(run.records)` are its
    answers by id, `stats(answer or None, id)` an item's statistics. `unusable` answers and
    pending items (not answered; the next board asks again) are scored as `scored_as`, as
    a missing prediction is, and the row's note says how many."""
    given = next((e for e in entries if e.kind == FLOOR), None)
    if given is not None:
        return {"source": "file", "name": given.name, "model": given.note}
    if floor is None:
        return None
    run = floor(list(ids))
    made = answers(run.records)
    n_unusable = sum(1 for i in ids if i in made and unusable(made[i]))
    n_pending = sum(1 for i in ids if i not in made)
    counts = ((n_unusable, "unusable"), (n_pending, "pending"))
    said = [f"{k} {what}" for k, what in counts if k]
    note = f"{' and '.join(said)} of {len(ids)}, scored as {scored_as}" if said else ""
    entries.append(Entry(run.model, FLOOR, {i: stats(made.get(i), i) for i in ids}, note))
    return {
        "source": "run",
        "model": run.model,
        "run_dir": str(run.run_dir),
        "ran": run.ran,
        "items": len(ids),
        "unusable": n_unusable,
        "pending": n_pending,
    }


@dataclass(frozen=True)
class Metric:
    """A score over items: `fn(stats)` of the items' statistics records (None: undefined)."""

    name: str
    label: str
    fn: Callable[[Sequence[Any]], float | None]
    higher_is_better: bool = True


@dataclass(frozen=True)
class Entry:
    """One row of the board: its `name`, its `kind` (prediction, baseline, ...), and one
    statistics record per item id; `note` says anything worth saying (e.g. its model)."""

    name: str
    kind: str
    stats: Mapping[str, Any]
    note: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


def mean_of(key: str) -> Callable[[Sequence[Any]], float | None]:
    """A metric function: the mean of `stats[key]` over the items where it is not None."""

    def fn(stats: Sequence[Any]) -> float | None:
        values = [s[key] for s in stats if s[key] is not None]
        return math.fsum(values) / len(values) if values else None

    return fn


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap_interval(
    values: Sequence[float | None], confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """The percentile interval of bootstrap replicates (undefined replicates left out)."""
    defined = sorted(v for v in values if v is not None)
    if not defined:
        return None, None
    tail = (1 - confidence) / 2
    return _percentile(defined, tail), _percentile(defined, 1 - tail)


def _resamples(n: int, n_boot: int, seed: int, group: str) -> list[list[int]]:
    rng = random.Random(f"{seed}:{group}")
    return [[rng.randrange(n) for _ in range(n)] for _ in range(n_boot)]


def _group_rows(
    entries: Sequence[Entry],
    ids: Sequence[str],
    metrics: Sequence[Metric],
    rank_by: str,
    n_boot: int,
    seed: int,
    group: str,
    confidence: float,
) -> list[dict[str, Any]]:
    draws = _resamples(len(ids), n_boot, seed, group) if ids and n_boot > 0 else []
    rows = []
    for entry in entries:
        stats = [entry.stats[i] for i in ids]
        scores: dict[str, Any] = {}
        for m in metrics:
            value = m.fn(stats) if stats else None
            lo = hi = None
            if value is not None and draws:
                lo, hi = bootstrap_interval(
                    [m.fn([stats[k] for k in draw]) for draw in draws], confidence
                )
            scores[m.name] = {"value": value, "lo": lo, "hi": hi}
        rows.append({"name": entry.name, "kind": entry.kind, "note": entry.note, "scores": scores})
    metric = next(m for m in metrics if m.name == rank_by)
    sign = -1 if metric.higher_is_better else 1

    def key(row: dict[str, Any]) -> tuple[int, float]:
        v = row["scores"][rank_by]["value"]
        return (1, 0.0) if v is None else (0, sign * v)

    rows.sort(key=key)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def leaderboard(
    entries: Sequence[Entry],
    metrics: Sequence[Metric],
    groups: Mapping[str, str],
    *,
    rank_by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The board over the item ids of `groups` (id -> group, e.g. its language): every
    entry must have statistics for every one of them. Returns `{"rank_by", "n_boot", "seed",
    "confidence", "metrics": [{name, label}], "groups": {"all": {"n", "rows"}, group: ...}}`,
    rows ranked best first on `rank_by` (default: the first metric)."""
    rank_by = rank_by or metrics[0].name
    if rank_by not in {m.name for m in metrics}:
        from dsbuild.errors import UsageError

        raise UsageError(
            f"unknown metric {rank_by!r} to rank by",
            f"use one of: {', '.join(m.name for m in metrics)}",
            code="DSB103",
        )
    ids = list(groups)
    by_group: dict[str, list[str]] = {}
    for i in ids:
        by_group.setdefault(groups[i], []).append(i)
    out_groups = {
        "all": {
            "n": len(ids),
            "rows": _group_rows(entries, ids, metrics, rank_by, n_boot, seed, "all", confidence),
        }
    }
    if len(by_group) > 1:
        for g in sorted(by_group):
            members = by_group[g]
            out_groups[g] = {
                "n": len(members),
                "rows": _group_rows(
                    entries, members, metrics, rank_by, n_boot, seed, g, confidence
                ),
            }
    return {
        "rank_by": rank_by,
        "n_boot": n_boot,
        "seed": seed,
        "confidence": confidence,
        "metrics": [{"name": m.name, "label": m.label} for m in metrics],
        "groups": out_groups,
    }


def chart(board: Mapping[str, Any], path: str | Path, title: str = "Leaderboard") -> Path:
    """A PNG: one panel per metric, a bar per entry (overall), with its interval; baselines
    grey, the embedded floor orange, predictions blue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = board["groups"]["all"]["rows"]
    metrics = board["metrics"]
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(3.2 * len(metrics) + 1, 0.45 * len(rows) + 1.6), squeeze=False
    )
    names = [r["name"] for r in rows][::-1]
    for ax, m in zip(axes[0], metrics):
        values, errs, colors = [], [[], []], []
        for r in rows[::-1]:
            s = r["scores"][m["name"]]
            v = s["value"] if s["value"] is not None else 0.0
            values.append(v)
            errs[0].append(v - s["lo"] if s["lo"] is not None else 0.0)
            errs[1].append(s["hi"] - v if s["hi"] is not None else 0.0)
            colors.append({"baseline": "#9e9e9e", FLOOR: "#f79646"}.get(r["kind"], "#4f81bd"))
        ax.barh(names, values, xerr=errs, color=colors, capsize=3)
        ax.set_title(m["label"], fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
        if ax is not axes[0][0]:
            ax.set_yticklabels([])
    fig.suptitle(
        f"{title} (n={board['groups']['all']['n']}, {int(board['confidence'] * 100)}% "
        f"bootstrap CI, {board['n_boot']} resamples, seed {board['seed']})",
        fontsize=9,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
