"""Figures of a long ratings table: means by model, language and category, omission rates,
and inter-rater agreement (what `dsbuild cultural analyze` prints).

NA ("not translated") is an answer, so the means need a convention, chosen by `na`:

- `na="zero"` (default): NA counts as 0 in segment means: an untranslated segment carried
  none of its nuance over. A model that drops idioms is marked down for it.
- `na="exclude"`: NA ratings are left out of segment means, which then say how well the
  segments that *were* translated came across.

Either way the share of NA among the rated segments (the **omission rate**) is reported
separately, by model, language and category, and missing ratings (nobody rated) are never
counted. Full-text criteria are 0-3 without NA, so `overall_mean` (the mean overall-quality
rating) does not depend on `na`. "Language" is the table's `language` where a study gives it
(the published sheet's `Language`), else the target language-locale (`target`, e.g. ja-JP);
"locale" likewise (`locale`, else `target`). Agreement (`dsbuild.metrics.agreement`) is
computed over units = one segment of one translation (the study's `segment_id` within its
`unit` where given) or one full translation per criterion (the study's `unit` where given,
else text x target x model); nominal statistics keep NA as a category, ordinal and interval
ones place it by the same `na` convention. Per-category means and agreement are also given
under both conventions side by side (`by_category_na`, `agreement_by_na`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dsbuild.errors import ConfigError
from dsbuild.schemas.cultural import FULL_TEXT_CRITERIA

if TYPE_CHECKING:
    import polars as pl

__all__ = ["NA_CONVENTIONS", "analyze"]

NA_CONVENTIONS = {
    "zero": "NA (not translated) counts as 0 in segment means",
    "exclude": "NA (not translated) is left out of segment means",
}
CATEGORY_ORDER = ("idiom", "pun", "holiday", "cultural_concept", "other")


def _num(x: Any) -> float | None:
    """Round for output; NaN and None become None (JSON null)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), 4)


def _with_groups(df: pl.DataFrame) -> pl.DataFrame:
    """Add `_language`, `_locale` (the study's, else `target`) and the agreement unit keys
    `_unit` (full text) and `_seg_unit` (segments)."""
    import polars as pl

    sep = "\x1f"
    unit = (
        pl.when(pl.col("unit").is_not_null())
        .then(pl.lit("unit" + sep) + pl.col("unit"))
        .otherwise(pl.concat_str(["text_id", "target", "model"], separator=sep))
    )
    seg_unit = (
        pl.when(pl.col("segment_id").is_not_null())
        .then(pl.concat_str([pl.col("_unit"), pl.lit("id"), pl.col("segment_id")], separator=sep))
        .otherwise(
            pl.concat_str([pl.col("_unit"), pl.col("segment").cast(pl.String)], separator=sep)
        )
    )
    return df.with_columns(
        pl.coalesce("language", "target").alias("_language"),
        pl.coalesce("locale", "target").alias("_locale"),
        unit.alias("_unit"),
    ).with_columns(seg_unit.alias("_seg_unit"))


def analyze(
    df: pl.DataFrame, na: str = "zero", read: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Every figure of the report for a long ratings table, as plain JSON-ready data.

    `read` (`RatingsRead.counts()`) adds how the file was read: rows, empty rows, exclusions.
    """
    import polars as pl

    if na not in NA_CONVENTIONS:
        raise ConfigError(
            f"--na {na} is not a NA convention", f"use one of: {', '.join(NA_CONVENTIONS)}"
        )
    df = _with_groups(df)
    full = df.filter(pl.col("segment").is_null())
    seg = df.filter(pl.col("segment").is_not_null())
    rated = seg.filter(pl.col("score").is_not_null() | pl.col("na"))
    value = (
        pl.when(pl.col("na")).then(0).otherwise(pl.col("score"))
        if na == "zero"
        else pl.col("score")
    )
    rated = rated.with_columns(value.cast(pl.Float64).alias("value"))

    def means(key: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        f = full.group_by(key).agg(
            *(pl.col(c).mean().alias(c) for c in FULL_TEXT_CRITERIA),
            pl.col("overall").is_not_null().sum().alias("full_text_n"),
        )
        s = rated.group_by(key).agg(
            pl.col("value").mean().alias("segment"),
            pl.col("value").is_not_null().sum().alias("segment_n"),
        )
        for row in f.iter_rows(named=True):
            out.setdefault(row.pop(key), {}).update(
                {k: _num(v) if k in FULL_TEXT_CRITERIA else v for k, v in row.items()}
            )
        for row in s.iter_rows(named=True):
            out.setdefault(row.pop(key), {}).update(
                segment=_num(row["segment"]), segment_n=row["segment_n"]
            )
        return dict(sorted(out.items()))

    def omission(key: str | None) -> Any:
        if key is None:
            return _num(rated["na"].mean()) if rated.height else None
        g = rated.group_by(key).agg(pl.col("na").mean().alias("r"))
        return {k: _num(r) for k, r in sorted(g.iter_rows())}

    def matrix(frame: pl.DataFrame, rows: str, cols: str, column: str) -> dict[str, dict[str, Any]]:
        g = frame.group_by(rows, cols).agg(pl.col(column).mean().alias("m"))
        out: dict[str, dict[str, Any]] = {}
        for r, c, m in sorted(g.iter_rows(), key=lambda t: (t[0], t[1])):
            out.setdefault(r, {})[c] = _num(m)
        return out

    def categories(convention: str) -> dict[str, dict[str, Any]]:
        v = (
            pl.when(pl.col("na")).then(0).otherwise(pl.col("score"))
            if convention == "zero"
            else pl.col("score")
        )
        cats = (
            rated.with_columns(v.cast(pl.Float64).alias("v"))
            .group_by("category")
            .agg(
                pl.col("v").mean().alias("segment"),
                pl.col("v").is_not_null().sum().alias("segment_n"),
            )
        )
        return {
            cat: {"segment": _num(mean), "segment_n": n}
            for cat, mean, n in sorted(cats.iter_rows(), key=lambda t: _category_rank(t[0]))
        }

    by_category_na = {c: categories(c) for c in NA_CONVENTIONS}
    by_category = by_category_na[na]
    agreement_by_na = {c: agreement(df, na=c) for c in NA_CONVENTIONS}
    units = {
        "full_text": full.filter(pl.col("overall").is_not_null())["_unit"].n_unique(),
        "segments": rated["_seg_unit"].n_unique(),
    }
    reading = {
        "layout": None,
        "rows_read": None,
        "empty_rows_skipped": 0,
        "excluded": 0,
        "excluded_by_reason": {},
        "warnings": {},
        **(read or {}),
        "raters": df["rater"].n_unique(),
        "units": units,
    }

    return {
        "na": na,
        "na_convention": NA_CONVENTIONS[na],
        "counts": {
            "rows": df.height,
            "texts": df["text_id"].n_unique(),
            "models": df["model"].n_unique(),
            "languages": df["target"].n_unique(),
            "raters": df["rater"].n_unique(),
            "full_text_ratings": int(full["overall"].is_not_null().sum()),
            "segment_ratings": rated.height,
            "na_ratings": int(rated["na"].sum()),
            "missing_segment_ratings": seg.height - rated.height,
        },
        "overall_mean": _num(full["overall"].mean()),
        "full_text_means": {c: _num(full[c].mean()) for c in FULL_TEXT_CRITERIA},
        "segment_mean": _num(rated["value"].mean()),
        "by_model": means("model"),
        "by_language": means("_language"),
        "by_locale": means("_locale"),
        "by_category": by_category,
        "by_category_na": by_category_na,
        "model_by_language": matrix(full, "model", "_language", "overall"),
        "model_by_category": {
            m: dict(sorted(v.items(), key=lambda t: _category_rank(t[0])))
            for m, v in matrix(rated, "model", "category", "value").items()
        },
        "omission": {
            "overall": omission(None),
            "by_model": omission("model"),
            "by_language": omission("_language"),
            "by_locale": omission("_locale"),
            "by_category": dict(
                sorted(omission("category").items(), key=lambda t: _category_rank(t[0]))
            ),
        },
        "agreement": agreement_by_na[na],
        "agreement_by_na": agreement_by_na,
        "read": reading,
    }


def _category_rank(cat: str) -> tuple[int, str]:
    return (CATEGORY_ORDER.index(cat) if cat in CATEGORY_ORDER else len(CATEGORY_ORDER), cat)


def agreement(df: pl.DataFrame, na: str = "zero") -> dict[str, Any]:
    """Agreement per full-text criterion and over segments (all, and per category)."""
    import polars as pl

    from dsbuild.metrics.agreement import agreement_summary

    def summary(frame: pl.DataFrame, keys: list[str], column: str) -> dict[str, Any]:
        units = (
            frame.group_by(keys, maintain_order=True)
            .agg(pl.col(column).drop_nulls())[column]
            .to_list()
        )
        return {
            k: _num(v) if isinstance(v, float) else v
            for k, v in agreement_summary(units, na=na).items()
        }

    if "_unit" not in df.columns:
        df = _with_groups(df)
    full = df.filter(pl.col("segment").is_null())
    seg = df.filter(pl.col("segment").is_not_null()).with_columns(
        pl.when(pl.col("na"))
        .then(pl.lit("NA"))
        .otherwise(pl.col("score").cast(pl.String))
        .alias("rating")
    )
    out: dict[str, Any] = {
        "full_text": {
            c: summary(full.with_columns(pl.col(c).cast(pl.String)), ["_unit"], c)
            for c in FULL_TEXT_CRITERIA
        },
        "segments": {"all": summary(seg, ["_seg_unit"], "rating")},
    }
    for cat in sorted(seg["category"].unique().to_list(), key=_category_rank):
        out["segments"][cat] = summary(
            seg.filter(pl.col("category") == cat), ["_seg_unit"], "rating"
        )
    return out
