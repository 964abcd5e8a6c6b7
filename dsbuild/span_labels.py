"""Label arithmetic for hallucinated spans: annotator spans → soft labels → hard labels.

All spans are half-open `[start, end)` in code points of the answer text. Three layers:

- per-annotator spans (`annotations`): raw selections, possibly empty (`[69, 69]`),
  unsorted or overlapping; one annotator counts a character at most once;
- soft labels (`[{start, end, prob}]`): for each character, the share of annotators who
  marked it; a run of neighbouring characters with the same share is one soft span, and
  characters nobody marked are left out;
- hard labels (`[[start, end]]`): the characters whose soft probability is above 0.5
  (a strict majority), merged into sorted, non-overlapping, non-touching spans.

Soft labels are read as the Mu-SHROOM scorer reads them: each span writes its `prob` into
its characters in list order, so where spans overlap the later one wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dsbuild.errors import InputError

__all__ = [
    "HARD_THRESHOLD",
    "char_probs",
    "chars_of",
    "hard_from_soft",
    "normalize_spans",
    "soft_from_annotations",
    "soft_from_hard",
    "soft_triplets",
    "spans_of",
]

HARD_THRESHOLD = 0.5
"""A character is a hard label when its soft probability is strictly above this."""


def chars_of(spans: Iterable[Sequence[int]]) -> set[int]:
    """The set of character indices the spans cover (empty spans cover nothing)."""
    return {i for span in spans for i in range(int(span[0]), int(span[1]))}


def spans_of(chars: Iterable[int]) -> list[list[int]]:
    """Sorted `[start, end)` spans of the maximal runs of consecutive indices in `chars`."""
    spans: list[list[int]] = []
    for i in sorted(set(chars)):
        if spans and spans[-1][1] == i:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    return spans


def normalize_spans(spans: Iterable[Sequence[int]]) -> list[list[int]]:
    """The same characters as sorted, merged spans: overlapping, touching and empty spans go."""
    return spans_of(chars_of(spans))


def soft_triplets(soft: Iterable[Any]) -> list[tuple[int, int, float]]:
    """`(start, end, prob)` of each soft label, given as a dict, a triple or a `SoftLabel`."""
    out = []
    for label in soft:
        if isinstance(label, Mapping):
            out.append((int(label["start"]), int(label["end"]), float(label["prob"])))
        elif isinstance(label, Sequence):
            out.append((int(label[0]), int(label[1]), float(label[2])))
        else:
            out.append((int(label.start), int(label.end), float(label.prob)))
    return out


def char_probs(soft: Iterable[Any], n: int, *, where: str = "soft labels") -> list[float]:
    """The probability of each of the `n` characters (0.0 where no soft label covers it).

    Later spans overwrite earlier ones where they overlap (the official scorer's reading).
    A span outside `[0, n]` raises `InputError` (DSB303) naming `where`.
    """
    probs = [0.0] * n
    for start, end, prob in soft_triplets(soft):
        if start < 0 or end > n or start > end:
            raise InputError(
                f"{where}: soft label [{start}, {end}) does not fit a text of {n} characters",
                "fix the offsets so that 0 <= start <= end <= len(text)",
                code="DSB303",
            )
        probs[start:end] = [prob] * (end - start)
    return probs


def hard_from_soft(soft: Iterable[Any], threshold: float = HARD_THRESHOLD) -> list[list[int]]:
    """Hard labels: the characters with soft probability above `threshold`, as merged spans."""
    triplets = soft_triplets(soft)
    n = max((end for _, end, _ in triplets), default=0)
    probs = char_probs(triplets, n)
    return spans_of(i for i, p in enumerate(probs) if p > threshold)


def soft_from_hard(hard: Iterable[Sequence[int]], prob: float = 1.0) -> list[dict[str, Any]]:
    """Soft labels that give each hard-label character `prob` (1.0: certain)."""
    return [{"start": s, "end": e, "prob": prob} for s, e in normalize_spans(hard)]


def soft_from_annotations(
    annotations: Mapping[str, Iterable[Sequence[int]]] | Iterable[Iterable[Sequence[int]]],
    n: int | None = None,
) -> list[dict[str, Any]]:
    """Soft labels from per-annotator spans: per character, the share of annotators marking it.

    `annotations` maps annotator → spans (or is a list with one list of spans per annotator).
    Every annotator counts in the denominator, including one who marked nothing. When `n`
    (the text length) is given, a span reaching past it raises `InputError` (DSB303).
    The result is sorted by start; runs of equal share are one span; unmarked characters
    are left out; `prob` is the exact share `count / annotators` (not rounded).
    """
    per_annotator = (
        list(annotations.values()) if isinstance(annotations, Mapping) else list(annotations)
    )
    names = (
        list(annotations) if isinstance(annotations, Mapping) else list(range(len(per_annotator)))
    )
    total = len(per_annotator)
    counts: dict[int, int] = {}
    for name, spans in zip(names, per_annotator):
        spans = [(int(s), int(e)) for s, e in spans]
        if n is not None:
            for s, e in spans:
                if s < 0 or e > n or s > e:
                    raise InputError(
                        f"annotator {name}: span [{s}, {e}) does not fit a text of {n} characters",
                        "fix or drop that annotator's span",
                        code="DSB303",
                    )
        for i in chars_of(spans):
            counts[i] = counts.get(i, 0) + 1
    soft: list[dict[str, Any]] = []
    for i in sorted(counts):
        prob = counts[i] / total
        last = soft[-1] if soft else None
        if last is not None and last["end"] == i and last["prob"] == prob:
            last["end"] = i + 1
        else:
            soft.append({"start": i, "end": i + 1, "prob": prob})
    return soft
