"""How an LLM rater (`cultural rate`) compares with the human raters of the same units.

For each LLM rater (rater id `llm:<model>`):

- its own figures, as `analysis.analyze` gives them for its rows alone: mean overall
  quality, means by model and per category under both NA conventions;
- its agreement with the **human consensus**: per unit (one segment of one translation, or
  one full translation per criterion) the median of the human ratings (the lower median of
  an even count; NA scored by the `na` convention: 0, or left out); Krippendorff's alpha
  (ordinal) over the pairs (LLM, consensus), the share of exact matches and the mean
  absolute difference, over the units both rated;
- NA: among the segments most humans marked NA, the share the LLM marked NA (`na_recall`);
  among the segments the LLM marked NA, the share most humans did (`na_precision`); and
  both NA rates.

With one human rater per unit (the published excerpt) the consensus is that rater.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dsbuild.cultural.rate import is_llm_rater
from dsbuild.schemas.cultural import FULL_TEXT_CRITERIA

if TYPE_CHECKING:
    import polars as pl

__all__ = ["compare", "split_raters"]


def split_raters(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(human rows, LLM rows) of a long ratings table."""
    import polars as pl

    llm = pl.col("rater").map_elements(is_llm_rater, return_dtype=pl.Boolean)
    return df.filter(~llm), df.filter(llm)


def _median(values: list[int]) -> int | None:
    if not values:
        return None
    values = sorted(values)
    return values[(len(values) - 1) // 2]


def _round(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, 4)


def _pairs_summary(pairs: list[tuple[Any, Any]], na: str) -> dict[str, Any]:
    """alpha (ordinal), exact share and mean absolute difference of (llm, consensus) pairs;
    `"NA"` values follow `na` (0, or left out)."""
    from dsbuild.metrics.agreement import krippendorff_alpha

    def value(v: Any) -> int | None:
        if v == "NA":
            return 0 if na == "zero" else None
        return v

    numeric = [(value(a), value(b)) for a, b in pairs]
    numeric = [(a, b) for a, b in numeric if a is not None and b is not None]
    alpha = krippendorff_alpha([list(p) for p in pairs], "ordinal", na=na) if pairs else math.nan
    return {
        "units": len(numeric),
        "alpha_ordinal": _round(alpha),
        "exact": _round(sum(a == b for a, b in numeric) / len(numeric)) if numeric else None,
        "mean_abs_diff": _round(sum(abs(a - b) for a, b in numeric) / len(numeric))
        if numeric
        else None,
    }


def _consensus(values: list[Any], na: str) -> Any:
    """The humans' consensus of one unit: NA when most said NA (under `exclude`), else the
    median of the scores (NA as 0 under `zero`)."""
    n_na = sum(v == "NA" for v in values)
    scores = [v for v in values if v != "NA"]
    if na == "zero":
        return _median([0 if v == "NA" else v for v in values])
    if n_na * 2 > len(values) or not scores:
        return "NA"
    return _median(scores)


def compare(humans: pl.DataFrame, llms: pl.DataFrame, na: str = "zero") -> dict[str, Any]:
    """Per LLM rater: its figures and its agreement with the human consensus (module doc)."""
    import polars as pl

    from dsbuild.cultural.analysis import _with_groups, analyze

    out: dict[str, Any] = {}
    if llms.height == 0:
        return out
    humans, llms = _with_groups(humans), _with_groups(llms)

    def rating(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(
            pl.col("segment").is_not_null() & (pl.col("score").is_not_null() | pl.col("na"))
        ).with_columns(
            pl.when(pl.col("na"))
            .then(pl.lit("NA"))
            .otherwise(pl.col("score").cast(pl.String))
            .alias("rating")
        )

    human_seg: dict[str, list[Any]] = {}
    human_cat: dict[str, str] = {}
    for row in rating(humans).iter_rows(named=True):
        r = row["rating"]
        human_seg.setdefault(row["_seg_unit"], []).append("NA" if r == "NA" else int(r))
        human_cat[row["_seg_unit"]] = row["category"]
    human_full: dict[str, dict[str, list[int]]] = {c: {} for c in FULL_TEXT_CRITERIA}
    for row in humans.filter(pl.col("segment").is_null()).iter_rows(named=True):
        for c in FULL_TEXT_CRITERIA:
            if row[c] is not None:
                human_full[c].setdefault(row["_unit"], []).append(row[c])

    drop = [c for c in llms.columns if c.startswith("_")]
    for rater in sorted(llms["rater"].unique().to_list()):
        mine = llms.filter(pl.col("rater") == rater)
        figures = analyze(mine.drop(drop), na=na)
        seg_pairs: dict[str, list[tuple[Any, Any]]] = {}
        na_both = na_llm = na_humans = 0
        for row in rating(mine).iter_rows(named=True):
            values = human_seg.get(row["_seg_unit"])
            if not values:
                continue
            llm_value = "NA" if row["rating"] == "NA" else int(row["rating"])
            pair = (llm_value, _consensus(values, na))
            seg_pairs.setdefault("all", []).append(pair)
            seg_pairs.setdefault(human_cat[row["_seg_unit"]] or "other", []).append(pair)
            humans_na = sum(v == "NA" for v in values) * 2 > len(values)
            na_humans += humans_na
            na_llm += llm_value == "NA"
            na_both += humans_na and llm_value == "NA"
        n_seg = len(seg_pairs.get("all", []))
        full = {}
        for c in FULL_TEXT_CRITERIA:
            pairs = [
                (row[c], _median(human_full[c][row["_unit"]]))
                for row in mine.filter(pl.col("segment").is_null()).iter_rows(named=True)
                if row[c] is not None and human_full[c].get(row["_unit"])
            ]
            full[c] = _pairs_summary(pairs, na)
        out[rater] = {
            "overall_mean": figures["overall_mean"],
            "by_model": {m: g.get("segment") for m, g in figures["by_model"].items()},
            "by_model_overall": {m: g.get("overall") for m, g in figures["by_model"].items()},
            "by_category_na": {
                conv: {cat: g.get("segment") for cat, g in cats.items()}
                for conv, cats in figures["by_category_na"].items()
            },
            "agreement_with_humans": {
                "segments": {k: _pairs_summary(v, na) for k, v in seg_pairs.items()},
                "full_text": full,
            },
            "na": {
                "segments_compared": n_seg,
                "humans_na": na_humans,
                "llm_na": na_llm,
                "both_na": na_both,
                "na_recall": _round(na_both / na_humans) if na_humans else None,
                "na_precision": _round(na_both / na_llm) if na_llm else None,
                "llm_na_rate": _round(na_llm / n_seg) if n_seg else None,
                "humans_na_rate": _round(na_humans / n_seg) if n_seg else None,
            },
            "na_convention": na,
        }
    return out
