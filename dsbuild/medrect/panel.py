"""The difficulty panel of the MedRECT builder: score validator answers and decide what to keep.

Each validator model answers a record (error flag, sentence id, corrected sentence). An
answer is *completely right* when its flag matches and, for an error record, it names the
error sentence and its correction is close enough to the gold one (ROUGE-1 F of at least
`correction_min_rouge`, or it states the correct answer). It *mislocates* when it flags an
error record but names another sentence. A record is kept when

    min_correct <= number completely right <= max_correct   (None: the panel size)
    share of the panel that mislocates    <= max_mislocated_share

else it is rejected as `too_hard`, `too_easy` or `ambiguous_location`. The three bounds may
differ per error type (`by_type`: {error_type or "clean": {bound: value}}), as hard types
(history taking, monitoring) need looser bounds than diagnoses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dsbuild.errors import ConfigError

__all__ = ["BOUNDS", "Thresholds", "decide", "parse_by_type", "score_answer", "thresholds_for"]

BOUNDS = ("min_correct", "max_correct", "max_mislocated_share")


@dataclass(frozen=True)
class Thresholds:
    """Keep bounds for one error type (see the module docstring)."""

    min_correct: int = 0
    max_correct: int | None = None
    max_mislocated_share: float = 1.0


def parse_by_type(value: Any) -> dict[str, dict[str, Any]]:
    """The per-type bounds from a mapping or a JSON object text; ConfigError DSB103 naming
    the bad part otherwise."""
    from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

    if value in (None, "", {}):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"option difficulty_by_type is not a JSON object: {exc.msg}",
                'write e.g. {"diagnosis": {"min_correct": 1}}',
                code="DSB103",
            ) from exc
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"option difficulty_by_type must map error types to bounds, got {type(value).__name__}",
            'write e.g. {"diagnosis": {"min_correct": 1}}',
            code="DSB103",
        )
    known = (*MEDRECT_ERROR_TYPES, "clean")
    out: dict[str, dict[str, Any]] = {}
    for kind, bounds in value.items():
        if kind not in known:
            raise ConfigError(
                f"option difficulty_by_type names unknown type {kind!r}",
                f"use {', '.join(known)}",
                code="DSB103",
            )
        if not isinstance(bounds, Mapping) or set(bounds) - set(BOUNDS):
            raise ConfigError(
                f"option difficulty_by_type[{kind!r}] must hold only {', '.join(BOUNDS)}",
                'write e.g. {"min_correct": 1, "max_correct": 2}',
                code="DSB103",
            )
        out[str(kind)] = dict(bounds)
    return out


def thresholds_for(
    kind: str | None, base: Mapping[str, Any], by_type: Mapping[str, Mapping[str, Any]]
) -> Thresholds:
    """The bounds for one record's type (`None`: a clean record): per-type values over `base`."""
    merged = {k: base.get(k) for k in BOUNDS if base.get(k) is not None}
    merged.update({k: v for k, v in (by_type.get(kind or "clean") or {}).items() if v is not None})
    return Thresholds(
        min_correct=int(merged.get("min_correct", 0)),
        max_correct=None if merged.get("max_correct") is None else int(merged["max_correct"]),
        max_mislocated_share=float(merged.get("max_mislocated_share", 1.0)),
    )


def score_answer(
    record: Mapping[str, Any],
    answer: Mapping[str, Any],
    *,
    correction_min_rouge: float = 0.5,
    answer_text: str = "",
) -> dict[str, Any]:
    """One validator's answer with `detected`, `located` and `correct` (see the docstring)."""
    from dsbuild.medrect.synthesis import choice_overlap
    from dsbuild.metrics.correction import rouge_n, tokenize

    flag = 1 if answer.get("error_flag") in (1, True, "1") else 0
    try:
        number = int(answer.get("error_sentence_id") or 0)
    except (TypeError, ValueError):
        number = 0
    correction = str(answer.get("corrected_sentence") or "")
    gold_flag = record.get("error_flag")
    detected = flag == 1
    located = detected and gold_flag == 1 and number == record.get("error_sentence_id")
    if gold_flag != 1:
        correct = not detected
    else:
        gold = record.get("corrected_sentence") or ""
        close = rouge_n(tokenize(correction), tokenize(gold), 1) >= correction_min_rouge
        states = bool(answer_text) and choice_overlap(answer_text, correction) >= 0.5
        correct = located and (close or states)
    return {
        "error_flag": flag,
        "error_sentence_id": number or None,
        "corrected_sentence": correction or None,
        "detected": detected,
        "located": bool(located),
        "correct": bool(correct),
    }


def decide(
    record: Mapping[str, Any], scored: Sequence[Mapping[str, Any]], bounds: Thresholds
) -> tuple[str, str] | None:
    """None to keep the record, else (reason, detail)."""
    panel = len(scored)
    n_correct = sum(bool(s["correct"]) for s in scored)
    mislocated = (
        sum(bool(s["detected"]) and not s["located"] for s in scored)
        if record.get("error_flag") == 1
        else 0
    )
    upper = panel if bounds.max_correct is None else bounds.max_correct
    if panel and mislocated / panel > bounds.max_mislocated_share:
        detail = (
            f"{mislocated} of {panel} validators flag an error but name another sentence "
            f"(allowed share {bounds.max_mislocated_share:g})"
        )
        return ("ambiguous_location", detail)
    if n_correct < bounds.min_correct:
        detail = (
            f"{n_correct} of {panel} validators got it completely right "
            f"(at least {bounds.min_correct} needed)"
        )
        return ("too_hard", detail)
    if n_correct > upper:
        return (
            "too_easy",
            f"{n_correct} of {panel} validators got it completely right (at most {upper} allowed)",
        )
    return None
