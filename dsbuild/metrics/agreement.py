"""Inter-rater agreement: Krippendorff's alpha, Gwet's AC1/AC2 and Fleiss' kappa.

Every function takes a reliability table as a list of **units** (the things rated: a
segment of one translation, say), each a list of the ratings its raters gave, one slot per
rater in a fixed rater order. A slot holds

- an integer score (0-3 on the cultural-nuance scale),
- `"NA"` ("not translated", an answer), or
- `None`: **missing**, the rater did not rate that unit (also NaN, or no slot at all).

Missing ratings are never counted; units with fewer than two ratings add nothing to the
observed agreement (and, for alpha, nothing at all). NA is an answer, so:

- for the nominal statistics (`level="nominal"`, `fleiss_kappa`) NA is one more category;
- for the ordered ones (ordinal and interval alpha, AC2 with ordinal weights) a position on
  the scale is needed, and `na` says which: `"zero"` scores NA as 0 (nothing of the nuance
  reached the reader, the same convention as `analysis --na zero`), `"exclude"` drops NA
  ratings as if missing (agreement among the raters who saw a translation).

Formulas: Krippendorff (2011), "Computing Krippendorff's alpha-reliability" (coincidence
matrix; nominal, ordinal, interval and ratio distances); Gwet (2014), "Handbook of
Inter-Rater Reliability", 4th ed., ch. 2-3 and 5 (AC1/AC2 and Fleiss' kappa with a varying
number of raters per unit: percent agreement over units with two or more ratings, category
shares averaged over units with one or more). With every rater rating every unit, Fleiss'
kappa is the textbook Fleiss (1971) statistic. An undefined statistic (a single category
in use, nothing pairable) is NaN.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from dsbuild.errors import ConfigError

__all__ = [
    "NA",
    "agreement_summary",
    "fleiss_kappa",
    "gwet_ac2",
    "krippendorff_alpha",
    "weight_matrix",
]

NA = "NA"
NA_CHOICES = ("zero", "exclude")
LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = ("identity", "ordinal", "linear", "quadratic")

Table = Iterable[Sequence[Any]]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _normalise(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in ("NA", "N/A"):
            return NA
        try:
            return _normalise(float(text))
        except ValueError:
            return text
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _units(table: Table, *, ordered: bool, na: str) -> list[Counter]:
    """Per unit, the count of each value; NA mapped for the ordered statistics."""
    if na not in NA_CHOICES:
        raise ConfigError(
            f"na={na!r} is not a way to treat NA", f"use one of: {', '.join(NA_CHOICES)}"
        )
    units = []
    for row in table:
        counts: Counter = Counter()
        for value in row:
            if _is_missing(value):
                continue
            value = _normalise(value)
            if value == NA and ordered:
                if na == "exclude":
                    continue
                value = 0
            counts[value] += 1
        units.append(counts)
    return units


def _sorted_values(values: Iterable[Any]) -> list[Any]:
    """Numbers in order, then other categories (NA) by name: the order ordinal ranks use."""
    return sorted(
        values,
        key=lambda v: (
            not isinstance(v, int | float),
            v if isinstance(v, int | float) else 0,
            str(v),
        ),
    )


def krippendorff_alpha(table: Table, level: str = "ordinal", *, na: str = "zero") -> float:
    """Krippendorff's alpha of a units x raters table at `level` (nominal, ordinal, interval,
    ratio)."""
    if level not in LEVELS:
        raise ConfigError(
            f"level={level!r} is not a Krippendorff level", f"use one of: {', '.join(LEVELS)}"
        )
    units = _units(table, ordered=level != "nominal", na=na)
    coincidence: Counter = Counter()
    for counts in units:
        m = sum(counts.values())
        if m < 2:
            continue
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                coincidence[c, k] += n_c * (n_k - (c == k)) / (m - 1)
    totals: Counter = Counter()
    for (c, _k), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    values = _sorted_values(totals)
    if n < 2 or len(values) < 2:
        return float("nan")
    delta = _distance(level, values, totals)
    observed = sum(o * delta[c, k] for (c, k), o in coincidence.items())
    expected = sum(totals[c] * totals[k] * delta[c, k] for c in values for k in values)
    if expected == 0:
        return float("nan")
    return 1.0 - (n - 1) * observed / expected


def _distance(level: str, values: list[Any], totals: Counter) -> dict[tuple[Any, Any], float]:
    """Squared distance delta^2 between every two values (Krippendorff 2011, section D)."""
    delta: dict[tuple[Any, Any], float] = {}
    if level in ("interval", "ratio", "ordinal") and not all(
        isinstance(v, int | float) for v in values
    ):
        raise ConfigError(
            f"{level} agreement needs numeric ratings, got {values}", "use level='nominal'"
        )
    rank = {v: i for i, v in enumerate(values)}
    for c in values:
        for k in values:
            if level == "nominal":
                d = 0.0 if c == k else 1.0
            elif level == "interval":
                d = float(c - k) ** 2
            elif level == "ratio":
                d = 0.0 if c == k else ((c - k) / (c + k)) ** 2
            else:
                lo, hi = sorted((rank[c], rank[k]))
                between = sum(totals[values[g]] for g in range(lo, hi + 1))
                d = (between - (totals[c] + totals[k]) / 2) ** 2
            delta[c, k] = d
    return delta


def weight_matrix(categories: Sequence[Any], weights: str = "ordinal") -> list[list[float]]:
    """Gwet's agreement weights between categories (1 on the diagonal).

    identity: 0 off the diagonal (AC1, kappa); linear: 1 - |k-l|/(max-min);
    quadratic: 1 - (k-l)^2/(max-min)^2; ordinal: 1 - C(|rank_k-rank_l|+1, 2) / C(q, 2).
    """
    if weights not in WEIGHTS:
        raise ConfigError(
            f"weights={weights!r} is not a weighting", f"use one of: {', '.join(WEIGHTS)}"
        )
    q = len(categories)
    if weights != "identity" and not all(isinstance(c, int | float) for c in categories):
        raise ConfigError(
            f"{weights} weights need numeric categories, got {list(categories)}",
            "use weights='identity'",
        )
    out = [[0.0] * q for _ in range(q)]
    span = (
        (max(categories) - min(categories)) if weights in ("linear", "quadratic") and q > 1 else 1
    )
    for i, a in enumerate(categories):
        for j, b in enumerate(categories):
            if i == j:
                out[i][j] = 1.0
            elif weights == "linear":
                out[i][j] = 1 - abs(a - b) / span
            elif weights == "quadratic":
                out[i][j] = 1 - (a - b) ** 2 / span**2
            elif weights == "ordinal":
                m = abs(i - j) + 1
                out[i][j] = 1 - (m * (m - 1) / 2) / (q * (q - 1) / 2)
    return out


def _chance_corrected(
    units: list[Counter], categories: Sequence[Any], w: list[list[float]], *, fleiss: bool
) -> float:
    index = {c: i for i, c in enumerate(categories)}
    q = len(categories)
    for counts in units:
        for value in counts:
            if value not in index:
                raise ConfigError(
                    f"rating {value!r} is not among the categories {list(categories)}",
                    "pass every category the ratings use",
                )
    rated = [c for c in units if sum(c.values()) >= 1]
    paired = [c for c in rated if sum(c.values()) >= 2]
    if not paired or q < 2:
        return float("nan")
    pa = 0.0
    for counts in paired:
        r = sum(counts.values())
        total = 0.0
        for k, r_k in counts.items():
            r_star = sum(w[index[k]][index[other]] * r_other for other, r_other in counts.items())
            total += r_k * (r_star - 1)
        pa += total / (r * (r - 1))
    pa /= len(paired)
    pi = [0.0] * q
    for counts in rated:
        r = sum(counts.values())
        for k, r_k in counts.items():
            pi[index[k]] += r_k / r
    pi = [p / len(rated) for p in pi]
    if fleiss:
        pe = sum(p * p for p in pi)
    else:
        t_w = sum(sum(row) for row in w)
        pe = t_w / (q * (q - 1)) * sum(p * (1 - p) for p in pi)
    if pe >= 1:
        return float("nan")
    return (pa - pe) / (1 - pe)


def gwet_ac2(
    table: Table,
    weights: str = "ordinal",
    *,
    na: str = "zero",
    categories: Sequence[Any] | None = None,
) -> float:
    """Gwet's AC2 (AC1 with `weights="identity"`); `categories` default: the values seen.

    Pass the whole scale (e.g. `range(4)`) so that the weights do not depend on which
    scores happen to occur. With identity weights NA is a category; otherwise `na` applies.
    """
    units = _units(table, ordered=weights != "identity", na=na)
    cats = _sorted_values(
        set(categories) if categories is not None else {v for u in units for v in u}
    )
    return _chance_corrected(units, cats, weight_matrix(cats, weights), fleiss=False)


def fleiss_kappa(table: Table, *, categories: Sequence[Any] | None = None) -> float:
    """Fleiss' kappa (nominal; NA is a category), for any number of raters per unit."""
    units = _units(table, ordered=False, na="zero")
    cats = _sorted_values(
        set(categories) if categories is not None else {v for u in units for v in u}
    )
    return _chance_corrected(units, cats, weight_matrix(cats, "identity"), fleiss=True)


def agreement_summary(
    table: Sequence[Sequence[Any]], *, na: str = "zero", scale: Sequence[int] = (0, 1, 2, 3)
) -> dict[str, Any]:
    """Every statistic for one table, with how many units were pairable and ratings counted."""
    nominal = _units(table, ordered=False, na=na)
    pairable = [c for c in nominal if sum(c.values()) >= 2]
    has_na = any(NA in c for c in nominal)
    return {
        "alpha_ordinal": krippendorff_alpha(table, "ordinal", na=na),
        "alpha_interval": krippendorff_alpha(table, "interval", na=na),
        "alpha_nominal": krippendorff_alpha(table, "nominal", na=na),
        "ac2_ordinal": gwet_ac2(table, "ordinal", na=na, categories=scale),
        "fleiss_kappa": fleiss_kappa(table, categories=[*scale, NA] if has_na else scale),
        "units": len(pairable),
        "ratings": sum(sum(c.values()) for c in pairable),
    }
