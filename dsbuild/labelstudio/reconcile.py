"""Reconcile several annotators: spans (union, intersection, majority, soft labels) and
ratings (majority, median), with every disagreement listed for adjudication.

Generic functions first; then `reconcile_unit`, which writes one unit's human annotations
into its record the way each dataset keeps them:

- PsiloQA: `labels` become the reconciled spans (`method`, default majority) and
  `annotated_span` follows; the model's spans stay in `model_labels`; `soft_labels` (share
  of annotators per character) and `annotations` (each annotator's spans) as in Mu-SHROOM.
- cultural: each annotator's ratings join the translation's `ratings` (the schema's
  `Rating`), and the translation gets an `annotation` block with majority and median.
- MedRECT and EntityCS: an `annotation` block with the reconciled verdicts.

Every unit also gets `annotation` metadata: project, task, annotators with their
annotation ids and timestamps, and each annotator's raw values.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dsbuild.labelstudio.tasks import Unit
from dsbuild.psiloqa.labels import (
    chars_of,
    hard_from_soft,
    normalize_spans,
    soft_from_annotations,
    spans_of,
)

__all__ = [
    "SPAN_METHODS",
    "majority_vote",
    "median_rating",
    "reconcile_spans",
    "reconcile_unit",
]

SPAN_METHODS = ("majority", "union", "intersection")
NA = "NA"


def reconcile_spans(per_annotator: Mapping[str, Sequence[Sequence[int]]]) -> dict[str, Any]:
    """Union, intersection, strict majority (> half) and soft labels of annotators' spans."""
    sets = [chars_of(spans) for spans in per_annotator.values()]
    union = set().union(*sets) if sets else set()
    inter = set.intersection(*sets) if sets else set()
    soft = soft_from_annotations(per_annotator) if per_annotator else []
    return {"union": spans_of(union), "intersection": spans_of(inter),
            "majority": hard_from_soft(soft), "soft": soft}


def majority_vote(values: Iterable[Any]) -> tuple[Any, bool]:
    """(the most frequent value or None on a tie, whether everyone agreed). Missing values
    (None) are not votes."""
    votes = Counter(v for v in values if v is not None)
    if not votes:
        return None, True
    ranked = votes.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None, False
    return ranked[0][0], len(ranked) == 1


def median_rating(values: Iterable[Any]) -> Any:
    """The median of ordinal ratings (the lower one of two middles, so it stays on the scale);
    NA when NA is the majority answer, else NA ratings are left out."""
    given = [v for v in values if v is not None]
    if not given:
        return None
    na = sum(1 for v in given if v == NA)
    if na * 2 > len(given):
        return NA
    numbers = [int(v) for v in given if v != NA]
    return statistics.median_low(numbers) if numbers else NA


def _rating_block(votes: Mapping[str, Any]) -> dict[str, Any]:
    majority, unanimous = majority_vote(votes.values())
    return {"majority": majority, "median": median_rating(votes.values()), "unanimous": unanimous,
            "votes": dict(votes)}


def _disagreement(unit: Unit, field: str, votes: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"key": unit.key, "record_id": unit.record_id, "field": field, "votes": dict(votes), **extra}


def _psiloqa(unit: Unit, values: Mapping[str, dict], method: str) -> tuple[dict, list[dict]]:
    record = dict(unit.record)
    spans = {a: v["spans"] for a, v in values.items()}
    rec = reconcile_spans(spans)
    text = record["llm_answer"]
    from dsbuild.spans import insert_markers

    chosen = rec[method]
    record.setdefault("model_labels", record.get("labels"))
    record["labels"] = chosen
    record["annotated_span"] = insert_markers(text, chosen)
    record["soft_labels"] = rec["soft"]
    record["hard_labels"] = rec["majority"]
    record["annotations"] = {a: normalize_spans(s) for a, s in spans.items()}
    disputed = chars_of(rec["union"]) - chars_of(rec["intersection"])
    disagreements = []
    if disputed:
        disagreements.append(_disagreement(
            unit, "labels", {a: normalize_spans(s) for a, s in spans.items()},
            disputed_chars=len(disputed), disputed_spans=spans_of(disputed),
            surfaces=[text[s:e] for s, e in spans_of(disputed)]))
    return record, disagreements


def _medrect(unit: Unit, values: Mapping[str, dict], method: str) -> tuple[dict, list[dict]]:
    record = dict(unit.record)
    block: dict[str, Any] = {}
    disagreements = []
    for field in ("error_flag", "error_sentence_id", "error_type"):
        votes = {a: v.get(field) for a, v in values.items()}
        if field != "error_flag":  # only annotators who saw an error answer these
            votes = {a: x for a, x in votes.items() if values[a].get("error_flag") == 1}
        majority, unanimous = majority_vote(votes.values())
        block[field] = {"majority": majority, "unanimous": unanimous, "votes": votes}
        if not unanimous:
            disagreements.append(_disagreement(unit, field, votes))
    block["corrected_sentences"] = {a: v["corrected_sentence"] for a, v in values.items()
                                    if v.get("corrected_sentence")}
    record["annotation_result"] = block
    return record, disagreements


def _cultural(unit: Unit, values: Mapping[str, dict], method: str) -> tuple[dict, list[dict]]:
    record = dict(unit.record)
    translations = [dict(t) for t in record.get("translations") or []]
    tr = translations[unit.translation or 0]
    ratings = [r for r in tr.get("ratings") or [] if r.get("annotator") not in values]
    segments = []
    disagreements = []
    for i, nuance in enumerate(record.get("nuances") or []):
        votes = {a: v["segments"].get(i) for a, v in values.items() if v["segments"].get(i) is not None}
        for a, score in votes.items():
            ratings.append({"annotator": a, "nuance": i, "score": score})
        block = {"nuance": i, "surface": nuance.get("surface"), **_rating_block(votes)}
        segments.append(block)
        if not block["unanimous"]:
            disagreements.append(_disagreement(unit, f"segment {i + 1}", votes,
                                               surface=nuance.get("surface"),
                                               translation=tr.get("target_lang"), system=tr.get("system")))
    full: dict[str, Any] = {}
    for criterion in ("content", "style", "audience", "overall"):
        votes = {a: v.get(criterion) for a, v in values.items() if v.get(criterion) is not None}
        full[criterion] = _rating_block(votes)
        if not full[criterion]["unanimous"]:
            disagreements.append(_disagreement(unit, criterion, votes, translation=tr.get("target_lang"),
                                               system=tr.get("system")))
    for a, v in values.items():
        if v.get("overall") is None:
            continue
        ratings.append({"annotator": a, "nuance": None, "score": v["overall"], "content": v.get("content"),
                        "style": v.get("style"), "audience": v.get("audience"), "comment": v.get("comment")})
    tr["ratings"] = ratings
    tr["annotation_result"] = {"segments": segments, "full_text": full}
    translations[unit.translation or 0] = tr
    record["translations"] = translations
    return record, disagreements


def _entitycs(unit: Unit, values: Mapping[str, dict], method: str) -> tuple[dict, list[dict]]:
    record = dict(unit.record)
    entities = []
    disagreements = []
    for i in unit.extra["entities"]:
        votes = {a: v["verdicts"].get(i) for a, v in values.items() if v["verdicts"].get(i) is not None}
        majority, unanimous = majority_vote(votes.values())
        entities.append({"index": i, "verdict": majority, "unanimous": unanimous, "votes": votes})
        if not unanimous:
            disagreements.append(_disagreement(unit, f"entity {i}", votes,
                                               title=(record["entities"][i] or {}).get("title")))
    record["annotation_result"] = {"entities": entities}
    return record, disagreements


_RECONCILERS = {"psiloqa": _psiloqa, "medrect": _medrect, "cultural": _cultural, "entitycs": _entitycs}


def reconcile_unit(dataset: str, unit: Unit, values: Mapping[str, dict], meta: Mapping[str, Any],
                   *, method: str = "majority") -> tuple[dict, list[dict]]:
    """The unit's record with the annotations written in, and its disagreements.

    `values` maps annotator → parsed values; `meta` (project, task, annotators, ...) is kept
    as the record's `annotation` block (cultural: on the translation).
    """
    record, disagreements = _RECONCILERS[dataset](unit, values, method)
    block = {**meta, "method": method, "values": {a: _jsonable(v) for a, v in values.items()}}
    if dataset == "cultural":
        record["translations"][unit.translation or 0]["annotation"] = block
    else:
        record["annotation"] = block
    return record, disagreements


def _jsonable(value: Any) -> Any:
    """Dict keys as strings (segment and entity indices), for JSON files."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
