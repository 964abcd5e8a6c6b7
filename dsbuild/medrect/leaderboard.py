"""`medrect leaderboard`: prediction files and trivial baselines on one MedRECT gold file.

Per record, the statistics `medrect eval` sums (`dsbuild.metrics.correction`): the gold and
predicted flags, whether the sentence number is right, and the correction pair's ROUGE-1
(1 when both are NA, 0 when one is); the metrics are the eval's error-flag accuracy and F1,
error-sentence accuracy and ROUGE-1 composite, computed again on each bootstrap resample.
Baselines: `always no error` (flag 0) and `always the last sentence` (flag 1, the last
sentence named, and copied unchanged as its correction). Groups: the text's language.

The floor: without a prediction file by the embedded model, `board(floor=...)` gets the
floor row from `floor_task` (`medrect predict` on the scored gold records) run by the
caller (`dsbuild.model_run.run_floor`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.metrics.correction import EvalItem
from dsbuild.metrics.leaderboard import Entry, Metric, kind_of, mean_of

if TYPE_CHECKING:
    from dsbuild.config import Settings
    from dsbuild.model_run import FloorRun, ModelTask

__all__ = ["BASELINES", "METRICS", "baselines", "board", "floor_task", "item_stats", "load"]

BASELINES = ("always no error", "always the last sentence")


def _f1(stats: Sequence[dict[str, Any]]) -> float | None:
    tp = sum(1 for s in stats if s["pred_flag"] == 1 and s["gold_flag"] == 1)
    fp = sum(1 for s in stats if s["pred_flag"] == 1 and s["gold_flag"] != 1)
    fn = sum(1 for s in stats if s["pred_flag"] != 1 and s["gold_flag"] == 1)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None


METRICS = (
    Metric("error_flag_accuracy", "error flag accuracy", mean_of("flag_right")),
    Metric("error_flag_f1", "error flag F1", _f1),
    Metric("error_sentence_accuracy", "error sentence accuracy", mean_of("sentence_right")),
    Metric("rouge1_composite", "correction ROUGE-1 (composite)", mean_of("rouge1")),
)


def item_stats(pred: EvalItem | None, gold: EvalItem) -> dict[str, Any]:
    """What one record adds to each metric (see the module doc); `pred` None: missing."""
    from dsbuild.metrics.correction import rouge_n, tokenize

    p = pred or EvalItem(None, None, None)
    if gold.correction is None and p.correction is None:
        rouge = 1.0 if pred is not None else 0.0
    elif gold.correction is not None and p.correction is not None:
        rouge = rouge_n(tokenize(p.correction), tokenize(gold.correction), 1)
    else:
        rouge = 0.0
    return {
        "gold_flag": gold.flag,
        "pred_flag": p.flag,
        "flag_right": float(p.flag is not None and p.flag == gold.flag),
        "sentence_right": float(pred is not None and p.sentence_id == gold.sentence_id),
        "rouge1": rouge,
    }


def load(path: str | Path) -> tuple[dict[str, EvalItem], dict[str, dict[str, Any]]]:
    """A MedRECT JSON / MEDEC CSV file (or a run directory's records) as EvalItems by id,
    and the records themselves by id."""
    from dsbuild.medrect.formats import read_records_as_medrect
    from dsbuild.metrics.correction import items_from_records

    path = Path(path)
    if path.is_dir():
        path = path / "records.jsonl"
    _, records = read_records_as_medrect(path)
    return items_from_records(records), {str(r.get("sample_id")): r for r in records}


def baselines(gold_records: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, EvalItem]]:
    """The trivial predictions of every gold record, by baseline name."""
    from dsbuild.medrect.sentences import parse_sentences

    none, last = {}, {}
    for rid, r in gold_records.items():
        none[rid] = EvalItem(0, None, None)
        numbers = parse_sentences(r.get("sentences") or "")[0]
        n = max(numbers) if numbers else None
        last[rid] = EvalItem(1, n, numbers.get(n) if n is not None else None)
    return {BASELINES[0]: none, BASELINES[1]: last}


def _model_of(records: Mapping[str, dict[str, Any]]) -> str:
    models = {
        ((r.get("metadata") or {}).get("prediction") or {}).get("model") for r in records.values()
    }
    models.discard(None)
    return ", ".join(sorted(models))


def floor_task(gold: str | Path, settings: Settings, ids: Sequence[str]) -> ModelTask:
    """The floor's task: `medrect predict` by `settings.model_spec` on the gold records
    `ids`, as `predict GOLD --model SPEC` asks it."""
    from dsbuild.medrect.predict import make_task

    return make_task(gold, model=settings.model_spec, prompts_dir=settings.prompts_dir, ids=ids)


def board(
    preds: Sequence[str | Path],
    gold: str | Path,
    *,
    allow_missing: bool = False,
    rank_by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    floor: Callable[[list[str]], FloorRun] | None = None,
) -> dict[str, Any]:
    """The leaderboard of `preds` and the baselines against `gold` (see the module doc).

    Items: the gold ids every prediction file has (a file made with `--limit` covers fewer),
    or, with `allow_missing`, every gold id (a missing prediction scores as wrong). `floor`:
    called with the scored ids when no prediction file is the embedded model's, it runs
    `floor_task` and gives the floor row (an unusable or missing answer scores as wrong)."""
    from dsbuild.errors import InputError
    from dsbuild.medrect.predict import language_of
    from dsbuild.metrics.correction import items_from_records
    from dsbuild.metrics.leaderboard import floor_row, leaderboard

    gold_items, gold_records = load(gold)
    if not gold_items:
        raise InputError(f"gold file {gold} has no records", "give a gold file", code="DSB304")
    loaded = []
    for p in preds:
        items, records = load(p)
        loaded.append((Path(p), items, records))
    ids = [i for i in gold_items if allow_missing or all(i in items for _, items, _ in loaded)]
    if not ids:
        raise InputError(
            f"no gold id of {gold} is in every prediction file",
            "predict on the gold file (medrect predict GOLD --out PRED), or --allow-missing",
            code="DSB303",
        )
    names = [p.stem for p, _, _ in loaded]
    entries = [
        Entry(
            name if names.count(name) == 1 else str(p),
            kind_of(_model_of(records)),
            {i: item_stats(items.get(i), gold_items[i]) for i in ids},
            _model_of(records),
        )
        for name, (p, items, records) in zip(names, loaded)
    ]
    floor_info = floor_row(
        entries,
        floor,
        ids,
        answers=items_from_records,
        stats=lambda item, i: item_stats(item, gold_items[i]),
        unusable=lambda item: item.flag is None,
        scored_as="wrong",
    )
    for name, items in baselines({i: gold_records[i] for i in ids}).items():
        entries.append(
            Entry(name, "baseline", {i: item_stats(items[i], gold_items[i]) for i in ids})
        )
    groups = {i: language_of(gold_records[i].get("sentences") or "") for i in ids}
    result = leaderboard(entries, METRICS, groups, rank_by=rank_by, n_boot=n_boot, seed=seed)
    result.update(
        gold=str(gold),
        gold_records=len(gold_items),
        items=len(ids),
        predictions=[str(p) for p in preds],
        floor=floor_info,
    )
    return result
