"""Scores for medical error detection and correction (MEDEC / MEDIQA-CORR 2024, MedRECT).

`evaluate(pred, gold)` compares predictions with gold records matched by id and returns
flat scores by name:

- error flag: accuracy over every gold record (a missing prediction counts as wrong), and
  precision / recall / F1 with "has an error" as the positive class;
- error sentence: accuracy over every gold record (a clean record is right when no
  sentence is named) and over the gold error records only;
- correction: ROUGE-1/2/L F-measures of the predicted corrected sentence against the gold
  one, with MEDIQA-CORR's NA handling. A prediction without an error flag has no
  correction ("NA"). Both NA counts 1, one NA counts 0, both present is scored by the
  metric. `*_subset` is the mean over the pairs where both are present; `*_composite`
  is (sum over those pairs + number of both-NA records) / number of gold records, as
  the shared task's composite scores. `aggregate` and `aggregate_composite` average, per
  pair, the available metrics among ROUGE-1 F, BERTScore F1 and BLEURT (each clipped to
  [0, 1]), as the task's aggregate score. BERTScore and BLEURT need their packages and
  model checkpoints; when either is missing it is reported under `skipped` with the
  reason, and the aggregate is computed over what is available (`aggregate_components`).

Tokens for ROUGE (our choice, the task's `rouge` package splits on spaces only): the text
is NFKC-normalised and case-folded; every Han, kana or Hangul character is one token
(Japanese has no spaces; character ROUGE is the usual choice for it); other letters and
digits form word tokens (a decimal number is one token); punctuation is dropped. With no
n-grams on either side (a one-word sentence for ROUGE-2), the score is 1 if the token lists
are equal, else 0.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EvalItem",
    "evaluate",
    "items_from_records",
    "lcs_length",
    "rouge_l",
    "rouge_n",
    "tokenize",
]

_CJK = (
    "\u1100-\u11ff\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
)
_TOKEN = re.compile(rf"[{_CJK}]|\d+(?:\.\d+)+|[^\W_{_CJK}]+")


def tokenize(text: str) -> list[str]:
    """ROUGE tokens: one per CJK character, one per run of other letters/digits."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def _f(overlap: int, n_pred: int, n_ref: int) -> float:
    if overlap == 0 or n_pred == 0 or n_ref == 0:
        return 0.0
    p, r = overlap / n_pred, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(pred: Sequence[str], ref: Sequence[str], n: int) -> float:
    """ROUGE-N F-measure of two token lists (clipped n-gram counts)."""
    pg = Counter(tuple(pred[i : i + n]) for i in range(len(pred) - n + 1))
    rg = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
    if not pg and not rg:
        return 1.0 if list(pred) == list(ref) and pred else 0.0
    return _f(sum((pg & rg).values()), sum(pg.values()), sum(rg.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (two-row dynamic programme)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(pred: Sequence[str], ref: Sequence[str]) -> float:
    """ROUGE-L F-measure (LCS over the whole text, as rouge-score's rougeL)."""
    return _f(lcs_length(pred, ref), len(pred), len(ref))


@dataclass(frozen=True)
class EvalItem:
    """What is scored of one record: flag, erroneous sentence (numbered from 1), correction."""

    flag: int | None
    sentence_id: int | None
    correction: str | None


def items_from_records(
    records: Iterable[Mapping[str, Any]], id_field: str = "sample_id"
) -> dict[str, EvalItem]:
    """MedRECT records (or MEDEC rows converted to them) as EvalItems by id."""
    out: dict[str, EvalItem] = {}
    for r in records:
        flag = r.get("error_flag")
        flag = int(flag) if flag in (0, 1, "0", "1") else None
        number = r.get("error_sentence_id")
        correction = r.get("corrected_sentence")
        if isinstance(correction, str) and correction.strip() in ("", "NA"):
            correction = None
        out[str(r.get(id_field))] = EvalItem(
            flag,
            number if isinstance(number, int) and not isinstance(number, bool) else None,
            correction if flag == 1 else None,  # the task enforces NA for unflagged texts
        )
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _model_scores(
    name: str, refs: list[str], preds: list[str], lang: str
) -> tuple[list[float] | None, str | None]:
    """Per-pair BERTScore F1 / BLEURT, or (None, why it was skipped)."""
    package = {"bertscore": "bert_score", "bleurt": "bleurt"}[name]
    if importlib.util.find_spec(package) is None:
        install = {
            "bertscore": "pip install bert-score",
            "bleurt": "pip install git+https://github.com/google-research/bleurt",
        }[name]
        return (
            None,
            f"package {package} is not installed ({install}; its model is downloaded on first use)",
        )
    if not refs:
        return [], None
    try:
        if name == "bertscore":
            from bert_score import score

            model = "microsoft/deberta-xlarge-mnli" if lang == "en" else None
            _, _, f1 = score(
                preds, refs, model_type=model, lang=lang, rescale_with_baseline=True, verbose=False
            )
            values = [float(v) for v in f1]
        else:
            from bleurt import score as bleurt_score

            values = list(
                bleurt_score.BleurtScorer(checkpoint="BLEURT-20").score(
                    references=refs, candidates=preds
                )
            )
    except Exception as exc:  # noqa: BLE001 -- a missing checkpoint or no network: report, do not fail the evaluation
        return None, f"{name} could not run: {type(exc).__name__}: {exc}"[:300]
    return [max(0.0, min(1.0, v)) for v in values], None


def evaluate(
    pred: Mapping[str, EvalItem],
    gold: Mapping[str, EvalItem],
    *,
    model_metrics: bool = True,
    lang: str | None = None,
) -> dict[str, Any]:
    """Scores of `pred` against `gold` (matched by id); see the module doc for each name."""
    n = len(gold)
    tp = fp = fn = tn = flag_right = sent_right = sent_right_err = n_err = 0
    refs: list[str] = []
    preds: list[str] = []
    both_na = 0
    for key, g in gold.items():
        p = pred.get(key)
        if g.flag == 1:
            n_err += 1
        if p is not None and p.flag is not None and p.flag == g.flag:
            flag_right += 1
        if p is not None and p.flag == 1:
            tp += g.flag == 1
            fp += g.flag != 1
        elif g.flag == 1:
            fn += 1
        elif p is not None:
            tn += 1
        if p is not None and p.sentence_id == g.sentence_id:
            sent_right += 1
            sent_right_err += g.flag == 1
        if p is None:
            continue
        if g.correction is None and p.correction is None:
            both_na += 1
        elif g.correction is not None and p.correction is not None:
            refs.append(g.correction)
            preds.append(p.correction)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)

    per_pair: dict[str, list[float]] = {"rouge1": [], "rouge2": [], "rougeL": []}
    for r, q in zip(refs, preds):
        rt, qt = tokenize(r), tokenize(q)
        per_pair["rouge1"].append(rouge_n(qt, rt, 1))
        per_pair["rouge2"].append(rouge_n(qt, rt, 2))
        per_pair["rougeL"].append(rouge_l(qt, rt))
    skipped: dict[str, str] = {}
    components = ["rouge1"]
    lang = lang or ("ja" if any(re.search(f"[{_CJK}]", r) for r in refs) else "en")
    for name in ("bertscore", "bleurt"):
        if not model_metrics:
            skipped[name] = "not requested (--no-model-metrics)"
            continue
        values, why = _model_scores(name, refs, preds, lang)
        if values is None:
            skipped[name] = why or "unavailable"
        else:
            per_pair[name] = values
            components.append(name)
    aggregate = [
        sum(per_pair[c][i] for c in components) / len(components) for i in range(len(refs))
    ]

    scores: dict[str, Any] = {
        "error_flag_accuracy": _ratio(flag_right, n),
        "error_flag_precision": precision,
        "error_flag_recall": recall,
        "error_flag_f1": f1,
        "error_sentence_accuracy": _ratio(sent_right, n),
        "error_sentence_accuracy_on_errors": _ratio(sent_right_err, n_err),
    }
    for name in ("rouge1", "rouge2", "rougeL", "bertscore", "bleurt"):
        values = per_pair.get(name)
        if values is None:
            scores[f"{name}_subset"] = scores[f"{name}_composite"] = None
            continue
        scores[f"{name}_subset"] = _ratio(sum(values), len(values))
        scores[f"{name}_composite"] = _ratio(sum(values) + both_na, n)
    scores["aggregate_subset"] = _ratio(sum(aggregate), len(aggregate))
    scores["aggregate_composite"] = _ratio(sum(aggregate) + both_na, n)
    notes = [
        f"aggregate over {', '.join(components)}"
        + (f"; {', '.join(skipped)} skipped (see skipped)" if skipped else "")
    ]
    counts = {
        "gold": n,
        "gold_errors": n_err,
        "predicted": sum(1 for k in gold if k in pred),
        "missing_predictions": sum(1 for k in gold if k not in pred),
        "extra_predictions": sum(1 for k in pred if k not in gold),
        "flag_tp": tp,
        "flag_fp": fp,
        "flag_fn": fn,
        "flag_tn": tn,
        "correction_pairs": len(refs),
        "correction_both_na": both_na,
    }
    return {
        "scores": scores,
        "counts": counts,
        "aggregate_components": components,
        "skipped": skipped,
        "notes": notes,
        "tokenizer": "NFKC+casefold; CJK per character, words otherwise",
    }
