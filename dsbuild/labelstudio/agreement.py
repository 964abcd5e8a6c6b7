"""Agreement of one annotation round, per field, from the annotators' parsed values.

Reliability tables (units x annotators, `None` where an annotator did not annotate a unit)
go to `dsbuild.metrics.agreement`:

- spans (PsiloQA): character level — every character of every annotated answer is a unit
  rated 1 (marked) or 0 — nominal Krippendorff's alpha and Fleiss' kappa, plus the mean
  pairwise character IoU of annotators who marked anything;
- ratings (cultural segments 0-3/NA, full-text criteria 0-3): the full `agreement_summary`
  (ordinal/interval/nominal alpha, Gwet's AC2, Fleiss' kappa), NA scored as 0;
- categories (MedRECT flag/sentence/type, EntityCS verdicts): nominal alpha and Fleiss' kappa.

NaN (undefined: one category in use, nothing pairable) is written as null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

__all__ = ["round_agreement"]

Values = Mapping[str, Mapping[str, Any]]  # annotator -> parsed values, for one unit


def _clean(stats: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else
                round(v, 4) if isinstance(v, float) else v) for k, v in stats.items()}


def _nominal(table: list[list[Any]]) -> dict[str, Any]:
    from dsbuild.metrics.agreement import fleiss_kappa, krippendorff_alpha

    pairable = [row for row in table if sum(v is not None for v in row) >= 2]
    return _clean({"alpha_nominal": krippendorff_alpha(table, "nominal"),
                   "fleiss_kappa": fleiss_kappa(table) if pairable else float("nan"),
                   "units": len(pairable),
                   "ratings": sum(sum(v is not None for v in row) for row in pairable)})


def _ratings(table: list[list[Any]]) -> dict[str, Any]:
    from dsbuild.metrics.agreement import agreement_summary

    if not any(sum(v is not None for v in row) >= 2 for row in table):
        return {"units": 0, "ratings": 0}
    return _clean(agreement_summary(table, na="zero"))


def _span_agreement(units: Sequence[tuple[int, Values]], raters: list[str]) -> dict[str, Any]:
    table: list[list[Any]] = []
    ious: list[float] = []
    for length, values in units:
        marked = {a: {i for s, e in v["spans"] for i in range(s, e)} for a, v in values.items()}
        for i in range(length):
            table.append([None if a not in marked else int(i in marked[a]) for a in raters])
        for a, b in combinations(sorted(marked), 2):
            union = marked[a] | marked[b]
            if union:
                ious.append(len(marked[a] & marked[b]) / len(union))
    out = _nominal(table)
    out["characters"] = out.pop("units")
    out.pop("ratings", None)
    out["mean_pairwise_iou"] = round(sum(ious) / len(ious), 4) if ious else None
    return out


def round_agreement(dataset: str, units: Sequence[tuple[Any, Values]]) -> dict[str, Any]:
    """Agreement per field for one round; `units` are (unit info, values by annotator).

    The unit info is the answer length for PsiloQA, the number of segments for cultural,
    the entity indices for EntityCS, and unused for MedRECT.
    """
    raters = sorted({a for _, values in units for a in values})
    multi = [(info, v) for info, v in units if len(v) >= 2]
    out: dict[str, Any] = {"annotators": len(raters), "units": len(units),
                           "units_with_2plus": len(multi), "fields": {}}
    fields = out["fields"]
    if dataset == "psiloqa":
        fields["labels (characters)"] = _span_agreement(units, raters)
    elif dataset == "cultural":
        seg_table = [[v[a]["segments"].get(i) if a in v else None for a in raters]
                     for n, v in units for i in range(n)]
        fields["segment score"] = _ratings(seg_table)
        for criterion in ("content", "style", "audience", "overall"):
            fields[criterion] = _ratings([[v[a].get(criterion) if a in v else None for a in raters]
                                          for _, v in units])
    elif dataset == "medrect":
        for field in ("error_flag", "error_sentence_id", "error_type"):
            fields[field] = _nominal([[v[a].get(field) if a in v else None for a in raters]
                                      for _, v in units])
    elif dataset == "entitycs":
        fields["verdict"] = _nominal([[v[a]["verdicts"].get(i) if a in v else None for a in raters]
                                      for indices, v in units for i in indices])
    return out
