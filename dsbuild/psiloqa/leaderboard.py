"""`psiloqa leaderboard`: span prediction files and trivial baselines on Mu-SHROOM gold.

Per item, the Mu-SHROOM scores `psiloqa eval` averages (`dsbuild.metrics.spans.score_item`):
IoU of the hard labels and Cor (Spearman of the soft labels); the board's metrics are their
means, with bootstrap intervals. Baselines: `no spans` (nothing marked) and `whole answer`
(every character marked, probability 1). Groups: the gold item's `lang`.

The floor: without a prediction file by the embedded model, `board(floor=...)` gets the
floor row from `floor_task` (`psiloqa detect` on the scored gold items, greedy, one sample)
run by the caller (`dsbuild.model_run.run_floor`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.metrics.leaderboard import Entry, Metric, kind_of, mean_of

if TYPE_CHECKING:
    from dsbuild.config import Settings
    from dsbuild.model_run import FloorRun, ModelTask

__all__ = ["BASELINES", "METRICS", "baselines", "board", "floor_task"]

BASELINES = ("no spans", "whole answer")

METRICS = (
    Metric("iou", "IoU (hard labels)", mean_of("iou")),
    Metric("cor", "Cor (soft labels, Spearman)", mean_of("cor")),
)


def baselines(gold: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The trivial predictions of every gold item, by baseline name."""
    none, whole = {}, {}
    for rid, g in gold.items():
        n = len(g["model_output_text"])
        none[rid] = {"id": rid, "hard_labels": [], "soft_labels": []}
        whole[rid] = {
            "id": rid,
            "hard_labels": [[0, n]] if n else [],
            "soft_labels": [{"start": 0, "end": n, "prob": 1.0}] if n else [],
        }
    return {BASELINES[0]: none, BASELINES[1]: whole}


def _stats(pred: dict[str, Any] | None, gold: dict[str, Any]) -> dict[str, float]:
    from dsbuild.metrics.spans import score_item

    s = score_item(pred or {"id": gold["id"], "hard_labels": [], "soft_labels": []}, gold)
    return {"iou": s.iou, "cor": s.cor}


def _model_of(items: dict[str, dict[str, Any]]) -> str:
    models = {str((i.get("prediction") or {}).get("models") or "") for i in items.values()}
    models.discard("")
    return ", ".join(sorted(models))


def floor_task(gold: Sequence[str | Path], settings: Settings, ids: Sequence[str]) -> ModelTask:
    """The floor's task: `psiloqa detect` by `settings.model_spec` on the gold items `ids`,
    as `detect GOLD --model SPEC` asks it (greedy, one sample, no passage)."""
    from dsbuild.psiloqa.detect import make_task

    return make_task(gold, models=[settings.model_spec], prompts_dir=settings.prompts_dir, ids=ids)


def board(
    preds: Sequence[str | Path],
    gold: Sequence[str | Path],
    *,
    allow_missing: bool = False,
    rank_by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    warnings: Any = None,
    floor: Callable[[list[str]], FloorRun] | None = None,
) -> dict[str, Any]:
    """The leaderboard of `preds` and the baselines against the `gold` files (Mu-SHROOM
    items or PsiloQA rows, files, folders of .jsonl files or run directories).

    Items: the gold ids every prediction file has (`detect --limit` covers fewer), or, with
    `allow_missing`, every gold id (a missing prediction scores as an empty one). `floor`:
    called with the scored ids when no prediction file is the embedded model's, it runs
    `floor_task` and gives the floor row (an unusable or missing answer predicts nothing)."""
    from dsbuild.errors import InputError
    from dsbuild.metrics.leaderboard import floor_row, leaderboard
    from dsbuild.psiloqa.detect import read_items

    gold_items = {str(i["id"]): i for i in read_items(gold, warnings)}
    loaded = []
    for p in preds:
        items = {str(i["id"]): i for i in read_items([p], warnings)}
        loaded.append((Path(p), items))
    ids = [i for i in gold_items if allow_missing or all(i in items for _, items in loaded)]
    if not ids:
        raise InputError(
            "no gold id is in every prediction file",
            "predict on the gold files (psiloqa detect GOLD --out PRED), or --allow-missing",
            code="DSB303",
        )
    names = [p.stem for p, _ in loaded]
    entries = [
        Entry(
            name if names.count(name) == 1 else str(p),
            kind_of(_model_of(items)),
            {i: _stats(items.get(i), gold_items[i]) for i in ids},
            _model_of(items),
        )
        for name, (p, items) in zip(names, loaded)
    ]
    floor_info = floor_row(
        entries,
        floor,
        ids,
        answers=lambda records: {str(r["id"]): r for r in records},
        stats=lambda item, i: _stats(item, gold_items[i]),
        unusable=_unusable,
        scored_as="empty",
    )
    for name, items in baselines({i: gold_items[i] for i in ids}).items():
        entries.append(Entry(name, "baseline", {i: _stats(items[i], gold_items[i]) for i in ids}))
    groups = {i: str(gold_items[i].get("lang") or "?").lower() for i in ids}
    result = leaderboard(entries, METRICS, groups, rank_by=rank_by, n_boot=n_boot, seed=seed)
    result.update(
        gold=[str(g) for g in gold],
        gold_records=len(gold_items),
        items=len(ids),
        predictions=[str(p) for p in preds],
        floor=floor_info,
    )
    return result


def _unusable(item: dict[str, Any]) -> bool:
    """An item no answer of the detector was usable for (predicted empty)."""
    prediction = item.get("prediction") or {}
    return bool(prediction.get("failed")) and not prediction.get("annotations")
