"""Agreement of one annotation round, per field, from the annotators' parsed values.

Each dataset's annotation rounds (`AnnotationRounds.agreement`) build reliability tables
(units x annotators, `None` where an annotator did not annotate a unit) for its fields and
measure them with the functions here, which call `dsbuild.metrics.agreement`:

- `span_agreement`: character level — every character of every annotated text is a unit
  rated 1 (marked) or 0 — nominal Krippendorff's alpha and Fleiss' kappa, plus the mean
  pairwise character IoU of annotators who marked anything;
- `rating_agreement`: ordinal ratings (0-3 or NA): the full `agreement_summary`
  (ordinal/interval/nominal alpha, Gwet's AC2, Fleiss' kappa), NA scored as 0;
- `nominal_agreement`: categories: nominal alpha and Fleiss' kappa.

NaN (undefined: one category in use, nothing pairable) is written as null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

__all__ = ["nominal_agreement", "rating_agreement", "round_agreement", "span_agreement"]

Values = Mapping[str, Mapping[str, Any]]  # annotator -> parsed values, for one unit


def _clean(stats: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (
            None
            if isinstance(v, float) and math.isnan(v)
            else round(v, 4)
            if isinstance(v, float)
            else v
        )
        for k, v in stats.items()
    }


def nominal_agreement(table: list[list[Any]]) -> dict[str, Any]:
    """Nominal alpha and Fleiss' kappa of a units x annotators table of categories."""
    from dsbuild.metrics.agreement import fleiss_kappa, krippendorff_alpha

    pairable = [row for row in table if sum(v is not None for v in row) >= 2]
    return _clean(
        {
            "alpha_nominal": krippendorff_alpha(table, "nominal"),
            "fleiss_kappa": fleiss_kappa(table) if pairable else float("nan"),
            "units": len(pairable),
            "ratings": sum(sum(v is not None for v in row) for row in pairable),
        }
    )


def rating_agreement(table: list[list[Any]]) -> dict[str, Any]:
    """The full agreement summary of a units x annotators table of 0-3/NA ratings."""
    from dsbuild.metrics.agreement import agreement_summary

    if not any(sum(v is not None for v in row) >= 2 for row in table):
        return {"units": 0, "ratings": 0}
    return _clean(agreement_summary(table, na="zero"))


def span_agreement(units: Sequence[tuple[int, Values]], raters: list[str]) -> dict[str, Any]:
    """Character-level agreement of spans; `units` are (text length, values with `spans`)."""
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
    out = nominal_agreement(table)
    out["characters"] = out.pop("units")
    out.pop("ratings", None)
    out["mean_pairwise_iou"] = round(sum(ious) / len(ious), 4) if ious else None
    return out


def round_agreement(dataset: str, units: Sequence[tuple[Any, Values]]) -> dict[str, Any]:
    """Agreement per field for one round; `units` are (unit info, values by annotator).

    The unit info is what the dataset's `AnnotationRounds.unit_info` says of the unit (e.g.
    the length of the annotated text); the fields are those its `agreement` measures.
    """
    from dsbuild.labelstudio.hooks import rounds_for

    raters = sorted({a for _, values in units for a in values})
    multi = [(info, v) for info, v in units if len(v) >= 2]
    out: dict[str, Any] = {
        "annotators": len(raters),
        "units": len(units),
        "units_with_2plus": len(multi),
        "fields": {},
    }
    out["fields"].update(rounds_for(dataset).agreement(units, raters))
    return out
