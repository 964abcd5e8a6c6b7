"""Mu-SHROOM span scores (SemEval-2025 Task 3): IoU of hard labels, Spearman of soft labels, AP.

Per item, with `n = len(gold model_output_text)` and characters as the unit:

- **IoU**: |P ∩ G| / |P ∪ G| of the predicted and gold hard-label character sets; 1.0 when
  both are empty (so an empty prediction scores 1.0 on an item with no hallucination and
  0.0 on any other).
- **Cor**: Spearman's rho between the predicted and gold per-character probability vectors
  (length n, 0.0 where no soft label covers a character, later spans overwrite earlier ones).
  When either vector is constant (one distinct value after rounding to 8 decimals) rho is
  undefined and the score is 1.0 if both are constant, else 0.0. Rho is the Pearson
  correlation of average ranks (ties share the mean of their ranks), as
  `scipy.stats.spearmanr` computes it; it is implemented here so scipy is not needed.
- **AP** (not part of the official task; a threshold-free view of the soft labels): the
  average precision of ranking characters by predicted probability against the gold
  hard-label characters. For each distinct predicted probability t, from the highest down,
  the characters scoring >= t form the retrieved set, with precision P_t and recall R_t;
  AP = sum over t of (R_t - R_prev) * P_t. Tied characters enter together, so the order
  among ties never matters (the convention of scikit-learn's `average_precision_score`),
  and the lowest threshold retrieves every character, so an all-zero prediction scores the
  share of gold characters. With no gold character AP is undefined: the item is skipped
  for AP and counted (`n_ap` says how many items AP averages).

As the official scorer does, a prediction without `hard_labels` gets them from its soft
labels (characters with prob > 0.5). dsbuild also accepts a prediction (or gold) without
`soft_labels`: each hard-label character then gets probability 1.0. Scores are averaged
over items, overall and per language (the gold item's `lang`, lower-cased).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsbuild.errors import InputError
from dsbuild.span_labels import char_probs, chars_of, hard_from_soft, soft_from_hard

__all__ = [
    "Evaluation",
    "ItemScore",
    "average_precision",
    "evaluate",
    "iou",
    "rankdata",
    "score_item",
    "soft_correlation",
    "spearman",
    "summarize",
]


def iou(pred: set[int], gold: set[int]) -> float:
    """Intersection over union of two character sets; 1.0 when both are empty."""
    if not pred and not gold:
        return 1.0
    return len(pred & gold) / len(pred | gold)


def rankdata(values: Sequence[float]) -> list[float]:
    """1-based ranks of `values`; tied values all get the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = mean_rank
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks; NaN if either is constant."""
    if len(x) != len(y):
        raise ValueError(f"vectors of different lengths ({len(x)} and {len(y)})")
    rx, ry = rankdata(x), rankdata(y)
    n = len(rx)
    if n == 0:
        return math.nan
    mx, my = math.fsum(rx) / n, math.fsum(ry) / n
    dx = [a - mx for a in rx]
    dy = [b - my for b in ry]
    sxx = math.fsum(a * a for a in dx)
    syy = math.fsum(b * b for b in dy)
    if sxx == 0 or syy == 0:
        return math.nan
    r = math.fsum(a * b for a, b in zip(dx, dy)) / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, r))


def _distinct(values: Sequence[float]) -> int:
    return len({round(v, 8) for v in values})


def soft_correlation(pred: Sequence[float], gold: Sequence[float]) -> float:
    """The task's Cor for one item: rho, or 1.0/0.0 when a vector is constant (see module doc).

    An empty text (no characters) scores 1.0: both vectors are trivially constant.
    """
    dp, dg = _distinct(pred), _distinct(gold)
    if dp <= 1 or dg <= 1:
        return 1.0 if dp <= 1 and dg <= 1 else 0.0
    return spearman(gold, pred)


def average_precision(scores: Sequence[float], gold: set[int]) -> float | None:
    """AP of ranking character indices by `scores` against the `gold` set; None if gold is empty."""
    if not gold:
        return None
    by_score: dict[float, list[int]] = {}
    for i, s in enumerate(scores):
        by_score.setdefault(s, []).append(i)
    retrieved = hits = 0
    ap = prev_recall = 0.0
    for s in sorted(by_score, reverse=True):
        group = by_score[s]
        retrieved += len(group)
        hits += sum(1 for i in group if i in gold)
        recall = hits / len(gold)
        ap += (recall - prev_recall) * (hits / retrieved)
        prev_recall = recall
    return ap


@dataclass(frozen=True, slots=True)
class ItemScore:
    """The scores of one item (`ap` None when the gold item has no hallucinated character)."""

    id: str
    lang: str
    iou: float
    cor: float
    ap: float | None


def _labels(item: Mapping[str, Any], n: int, role: str) -> tuple[set[int], list[float]]:
    """(hard-label characters, per-character probabilities) of one item, checked against n."""
    rid = item.get("id")
    soft = item.get("soft_labels")
    hard = item.get("hard_labels")
    if soft is None and hard is None:
        raise InputError(
            f"{role} item {rid!r} has neither soft_labels nor hard_labels",
            "give at least one of them (hard labels count as probability 1.0)",
            code="DSB303",
        )
    if hard is None:
        hard = hard_from_soft(soft)
    for span in hard:
        if not 0 <= span[0] <= span[1] <= n:
            raise InputError(
                f"{role} item {rid!r}: hard label [{span[0]}, {span[1]}) does not fit a text of "
                f"{n} characters",
                "fix the offsets so that 0 <= start <= end <= len(model_output_text)",
                code="DSB303",
            )
    if soft is None:
        soft = soft_from_hard(hard)
    probs = char_probs(soft, n, where=f"{role} item {rid!r}")
    return chars_of(hard), probs


def score_item(pred: Mapping[str, Any], gold: Mapping[str, Any]) -> ItemScore:
    """IoU, Cor and AP of one predicted Mu-SHROOM item against its gold item."""
    text = gold["model_output_text"]
    if "model_output_text" in pred and pred["model_output_text"] != text:
        raise InputError(
            f"prediction {pred.get('id')!r} has a different model_output_text than the gold item",
            "predict on the gold text unchanged: offsets must index the same string",
            code="DSB303",
        )
    n = len(text)
    gold_hard, gold_probs = _labels(gold, n, "gold")
    pred_hard, pred_probs = _labels(pred, n, "predicted")
    return ItemScore(
        id=str(gold["id"]),
        lang=str(gold.get("lang", "")).lower(),
        iou=iou(pred_hard, gold_hard),
        cor=soft_correlation(pred_probs, gold_probs),
        ap=average_precision(pred_probs, gold_hard),
    )


def summarize(scores: Sequence[ItemScore]) -> dict[str, Any]:
    """Means over items: `iou`, `cor`, `ap` (over items where it is defined), `n`, `n_ap`."""
    aps = [s.ap for s in scores if s.ap is not None]
    n = len(scores)
    return {
        "iou": math.fsum(s.iou for s in scores) / n if n else None,
        "cor": math.fsum(s.cor for s in scores) / n if n else None,
        "ap": math.fsum(aps) / len(aps) if aps else None,
        "n": n,
        "n_ap": len(aps),
    }


@dataclass
class Evaluation:
    """Item scores plus the ids the prediction lacked (scored empty) or had in excess (ignored)."""

    items: list[ItemScore]
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def overall(self) -> dict[str, Any]:
        return summarize(self.items)

    def per_language(self) -> dict[str, dict[str, Any]]:
        langs = sorted({s.lang for s in self.items})
        return {lang: summarize([s for s in self.items if s.lang == lang]) for lang in langs}

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall(),
            "per_language": self.per_language(),
            "missing": len(self.missing),
            "extra": len(self.extra),
        }


def _by_id(items: Sequence[Mapping[str, Any]], role: str) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for item in items:
        rid = str(item["id"])
        if rid in out:
            raise InputError(
                f"{role} file has id {rid!r} twice", "keep one record per id", code="DSB303"
            )
        out[rid] = item
    return out


def evaluate(
    preds: Sequence[Mapping[str, Any]],
    golds: Sequence[Mapping[str, Any]],
    *,
    allow_missing: bool = False,
) -> Evaluation:
    """Score predicted against gold Mu-SHROOM items, matched by `id` (compared as strings).

    A gold id without a prediction is an error unless `allow_missing`; then it is scored as
    an empty prediction (no hard labels, all probabilities 0.0), which is what "found no
    hallucination" means. Predicted ids absent from the gold file are ignored and counted.
    """
    pred_by_id = _by_id(preds, "prediction")
    gold_by_id = _by_id(golds, "gold")
    missing = [rid for rid in gold_by_id if rid not in pred_by_id]
    if missing and not allow_missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InputError(
            f"{len(missing)} gold id(s) have no prediction: {shown}{more}",
            "predict every gold item, or allow missing ids (--allow-missing) to score them as "
            "empty predictions",
            code="DSB303",
        )
    scores = []
    for rid, gold in gold_by_id.items():
        pred = pred_by_id.get(rid) or {"id": rid, "hard_labels": [], "soft_labels": []}
        scores.append(score_item(pred, gold))
    extra = [rid for rid in pred_by_id if rid not in gold_by_id]
    return Evaluation(scores, missing, extra)
