"""Agreement between several span annotations of the same answers (an LLM annotator vs humans).

Each **source** is one annotator's labels for a set of answers, one of:

- PsiloQA rows (JSONL, JSON or CSV) whose `annotated_span` carries inline `[HAL]…[/HAL]`
  tags, with or without `llm_answer` (the published consistency study has none); a row
  without `annotated_span` uses `llm_answer` and `labels`;
- a run directory (a folder with `records.jsonl`), read the same way;
- Mu-SHROOM items: the `hard_labels` on `model_output_text`.

A source is named after its file stem (`gpt.excerpt10`) or its folder; clashing names get
the parent folder in front (`a/gpt`), then `#2`, `#3`.

Items are matched by `id` (as strings). Per item and source the text is the answer without
its tags; an item is **left out of every figure involving that source** when its tags are
unbalanced or nested, its spans fall outside the text, its untagged text differs from the
row's own `llm_answer`, or it differs from the text most sources share for that id (ties go
to the source given first). Each such case is reported with the id, the sources and the first
differing character; ids absent from some sources are reported too.

Figures, all over characters (code points) of the untagged text:

- per pair of sources, over the items both have: mean IoU |A∩B|/|A∪B| of the marked
  character sets (1.0 when neither marks anything, as Mu-SHROOM scores), the share of items
  where both or neither mark a span, and Krippendorff's alpha of the pair;
- Krippendorff's alpha (nominal) over all sources: every character of every item is a unit,
  every source a coder, value 1 inside a span and 0 outside; a source without the item is a
  missing value, and items with fewer than two sources add nothing. It is computed from the
  coincidence counts of the binary values (`binary_alpha`), which equals
  `dsbuild.metrics.agreement.krippendorff_alpha(table, "nominal")` and stays fast for
  hundreds of thousands of units; NaN when only one value occurs;
- per source: its items, the items with any span, the share of characters marked.

`soft_items` gives the soft labels (share of the item's sources marking each character) as
Mu-SHROOM items; `lang` is the row's `lang` upper-cased, else the `lang` argument (`EN`:
the published study is English).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError
from dsbuild.metrics.spans import iou
from dsbuild.schemas._common import first_difference
from dsbuild.span_labels import chars_of, hard_from_soft, normalize_spans, soft_from_annotations
from dsbuild.spans import strip_markers

__all__ = [
    "AgreementReport",
    "ItemView",
    "Source",
    "SourceItem",
    "binary_alpha",
    "compare",
    "load_source",
    "load_sources",
    "measure",
    "soft_items",
    "source_names",
]


@dataclass
class SourceItem:
    """One item as one source labels it: the untagged text and the marked spans.

    `problem` (a dict with `kind` and `message`) says why the item cannot be used from
    this source; `text` is None when it could not be recovered at all.
    """

    id: str
    text: str | None
    spans: list[list[int]]
    record: dict[str, Any]
    problem: dict[str, Any] | None = None


@dataclass
class Source:
    """One annotator's labels: its name, where they came from, and its items by id."""

    name: str
    path: Path
    format: str
    items: dict[str, SourceItem]


@dataclass
class ItemView:
    """One id across sources: the shared text and the spans of each source that has it."""

    id: str
    text: str | None
    coders: dict[str, list[list[int]]]
    missing: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# Reading


def source_names(paths: Sequence[Path]) -> list[str]:
    """Unique names: the file stem (folder name for a run), the parent in front on a clash."""
    base = [Path(p).name if Path(p).is_dir() else Path(p).stem for p in paths]
    names = [
        f"{Path(p).resolve().parent.name}/{b}" if base.count(b) > 1 else b
        for p, b in zip(paths, base)
    ]
    out: list[str] = []
    for name in names:
        unique, n = name, 1
        while unique in out:
            n += 1
            unique = f"{name}#{n}"
        out.append(unique)
    return out


def _around(text: str, at: int, width: int = 12) -> str:
    return repr(text[max(0, at - width) : at + width])


def _difference(a: str, b: str) -> tuple[int, str]:
    """(first differing character, a short description) of two texts that differ."""
    at = first_difference(a, b)
    note = " (whitespace only)" if a.split() == b.split() else ""
    return at, f"first difference at character {at}{note}: {_around(a, at)} vs {_around(b, at)}"


def _span_list(value: Any) -> list[list[int]]:
    """Spans given as a list of pairs, or as a string holding one (CSV cells)."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    return [[int(s), int(e)] for s, e in value]


def _bad_range(spans: Iterable[Sequence[int]], n: int) -> Sequence[int] | None:
    return next((s for s in spans if not 0 <= s[0] <= s[1] <= n), None)


def _item(record: Mapping[str, Any], fmt: str) -> SourceItem:
    """The untagged text and spans of one record, or the problem that prevents them."""
    rid = str(record["id"])
    rec = dict(record)

    def bad(kind: str, message: str, text: str | None = None, **extra: Any) -> SourceItem:
        return SourceItem(rid, text, [], rec, {"kind": kind, "message": message, **extra})

    if fmt == "mushroom":
        text = record.get("model_output_text")
        if not isinstance(text, str):
            return bad("no_text", "model_output_text is not a string")
        try:
            if record.get("hard_labels") is not None:
                spans = _span_list(record["hard_labels"])
            else:
                spans = hard_from_soft(record.get("soft_labels") or [])
        except (ValueError, TypeError, KeyError, InputError) as exc:
            return bad("bad_spans", f"hard_labels cannot be read ({exc})", text)
    else:
        marked = record.get("annotated_span")
        answer = record.get("llm_answer")
        if isinstance(marked, str) and (marked or not answer):
            try:
                text, tagged = strip_markers(marked)
            except InputError as exc:
                return bad("markers", f"[HAL] markers cannot be read: {exc.what}")
            spans = [list(s) for s in tagged]
            if isinstance(answer, str) and text != answer:
                at, message = _difference(text, answer)
                return bad(
                    "llm_answer_mismatch",
                    f"without its tags annotated_span differs from llm_answer, {message}",
                    text,
                    at=at,
                )
        elif isinstance(answer, str):
            text = answer
            try:
                spans = _span_list(record.get("labels") or [])
            except (ValueError, TypeError) as exc:
                return bad("bad_spans", f"labels cannot be read ({exc})", text)
        else:
            return bad("no_text", "the row has neither annotated_span nor llm_answer")
    wrong = _bad_range(spans, len(text))
    if wrong is not None:
        return bad(
            "bad_spans",
            f"span [{wrong[0]}, {wrong[1]}) does not fit a text of {len(text)} characters",
            text,
        )
    return SourceItem(rid, text, normalize_spans(spans), rec)


def _records(path: Path, warnings: Any = None) -> tuple[str, list[dict[str, Any]]]:
    """(format, records) of one file: Mu-SHROOM or PsiloQA, `llm_answer` optional.

    Files with `model_output_text` or `llm_answer` go through `read_labelled`, which reads
    release quirks (lists stored as strings) and reports them to `warnings`.
    """
    from dsbuild.psiloqa.mushroom import read_labelled
    from dsbuild.readers import records_or_fail

    first: dict[str, Any] | None = None
    for _, first in records_or_fail(path):
        break
    if first is None:
        raise InputError(
            f"{path} holds no records", "give a file with at least one record", code="DSB304"
        )
    if "model_output_text" in first or "llm_answer" in first:
        return read_labelled(path) if warnings is None else read_labelled(path, warnings)
    if "annotated_span" not in first:
        raise InputError(
            f"{path}: the first record has neither annotated_span, llm_answer nor "
            f"model_output_text (keys: {', '.join(sorted(first)) or 'none'})",
            "give PsiloQA rows with [HAL]…[/HAL] tags in annotated_span, a run directory or "
            "Mu-SHROOM items",
            code="DSB302",
        )
    records = []
    for locator, record in records_or_fail(path):
        if record.get("id") in (None, ""):
            raise InputError(
                f"{locator}: the record has no id", "give every record an id", code="DSB303"
            )
        records.append(record)
    return "psiloqa", records


def load_source(path: str | Path, name: str | None = None, warnings: Any = None) -> Source:
    """Read one source: a PsiloQA or Mu-SHROOM file, or a run directory (`records.jsonl`).

    `warnings` (a `dsbuild.quirks.Warnings`) collects the release quirks met while reading.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", "check the path", code="DSB301")
    file = path / "records.jsonl" if path.is_dir() else path
    if path.is_dir() and not file.is_file():
        raise InputError(
            f"{path} is a folder without records.jsonl",
            "give a data file or a run directory dsbuild wrote",
            code="DSB204",
        )
    fmt, records = _records(file, warnings)
    items: dict[str, SourceItem] = {}
    for record in records:
        item = _item(record, fmt)
        if item.id in items:
            raise InputError(
                f"{file} has id {item.id!r} twice", "keep one record per id", code="DSB303"
            )
        items[item.id] = item
    return Source(name or (path.name if path.is_dir() else path.stem), path, fmt, items)


def load_sources(paths: Sequence[str | Path], warnings: Any = None) -> list[Source]:
    """Read every source, named by `source_names`; fewer than two is an error."""
    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise InputError(
            f"agreement needs at least 2 sources, got {len(paths)}",
            "give two or more files or run directories",
            code="DSB301",
        )
    return [load_source(p, n, warnings) for p, n in zip(paths, source_names(paths))]


# ---------------------------------------------------------------------------------------
# Matching


def compare(sources: Sequence[Source]) -> tuple[list[ItemView], list[dict[str, Any]]]:
    """Match items by id across sources: one view per id, and every problem found.

    A source's item counts only when it was readable and its text is the text most of the
    id's sources share (ties: the source given first).
    """
    order: dict[str, None] = {}
    for source in sources:
        order.update(dict.fromkeys(source.items))
    views: list[ItemView] = []
    problems: list[dict[str, Any]] = []
    for rid in order:
        missing = [s.name for s in sources if rid not in s.items]
        usable: list[tuple[Source, SourceItem]] = []
        left_out: list[str] = []
        for source in sources:
            item = source.items.get(rid)
            if item is None:
                continue
            if item.problem is not None:
                problems.append({"id": rid, "source": source.name, **item.problem})
                left_out.append(source.name)
            else:
                usable.append((source, item))
        groups: dict[str, list[str]] = {}
        for source, item in usable:
            groups.setdefault(item.text, []).append(source.name)
        text = max(groups, key=lambda t: len(groups[t])) if groups else None  # first wins ties
        coders: dict[str, list[list[int]]] = {}
        for source, item in usable:
            if item.text == text:
                coders[source.name] = item.spans
                continue
            at, message = _difference(item.text, text)
            problems.append(
                {
                    "id": rid,
                    "source": source.name,
                    "kind": "text_mismatch",
                    "against": groups[text],
                    "at": at,
                    "message": f"the untagged text differs from {', '.join(groups[text])}, "
                    f"{message}",
                }
            )
            left_out.append(source.name)
        views.append(ItemView(rid, text, coders, missing, left_out))
    return views, problems


# ---------------------------------------------------------------------------------------
# Figures


def _alpha_from_counts(units: Mapping[tuple[int, int], int]) -> float:
    """Nominal alpha of binary units given as {(coders m, ones k): how many such units}.

    Coincidences: o01 = o10 = sum k(m-k)/(m-1); n1 = sum k, n0 = sum (m-k) over units with
    m >= 2; alpha = 1 - (n-1) * o01 / (n0 * n1) (observed 2*o01, expected 2*n0*n1).
    """
    o01 = n0 = n1 = 0.0
    for (m, k), w in units.items():
        if m < 2:
            continue
        o01 += w * k * (m - k) / (m - 1)
        n1 += w * k
        n0 += w * (m - k)
    n = n0 + n1
    if n < 2 or n0 == 0 or n1 == 0:
        return math.nan
    return 1.0 - (n - 1) * o01 / (n0 * n1)


def binary_alpha(table: Iterable[Sequence[Any]]) -> float:
    """Krippendorff's alpha (nominal) of a units x coders table of 0/1 (None: missing)."""
    units: Counter[tuple[int, int]] = Counter()
    for row in table:
        values = [v for v in row if v is not None]
        units[len(values), sum(1 for v in values if v)] += 1
    return _alpha_from_counts(units)


def _unit_counts(views: Iterable[ItemView], names: Sequence[str]) -> Counter[tuple[int, int]]:
    """{(coders, coders marking): characters} over the items' characters, for `names`."""
    units: Counter[tuple[int, int]] = Counter()
    for view in views:
        coders = [view.coders[n] for n in names if n in view.coders]
        if len(coders) < 2 or not view.text:
            continue
        marks = [0] * len(view.text)
        for spans in coders:
            for i in chars_of(spans):
                marks[i] += 1
        for k, count in Counter(marks).items():
            units[len(coders), k] += count
    return units


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


@dataclass
class AgreementReport:
    """Every figure of `measure`, ready for a table or JSON."""

    sources: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    alpha: dict[str, Any]
    items: int
    complete: int
    missing: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    per_item: list[dict[str, Any]] = field(default_factory=list)
    views: list[ItemView] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "complete": self.complete,
            "sources": self.sources,
            "pairs": self.pairs,
            "alpha": self.alpha,
            "missing": self.missing,
            "problems": self.problems,
            "per_item": self.per_item,
            "note": "an item whose text or tags fail for a source is left out of every figure "
            "involving that source (see problems)",
        }


def measure(sources: Sequence[Source]) -> AgreementReport:
    """Pairwise IoU and span-presence agreement, alpha over all sources, per-source shares."""
    views, problems = compare(sources)
    names = [s.name for s in sources]
    per_source = []
    for source in sources:
        mine = [v for v in views if source.name in v.coders]
        chars = sum(len(v.text or "") for v in mine)
        marked = sum(len(chars_of(v.coders[source.name])) for v in mine)
        per_source.append(
            {
                "name": source.name,
                "path": str(source.path),
                "format": source.format,
                "items": len(mine),
                "items_with_span": sum(1 for v in mine if v.coders[source.name]),
                "share_marked": marked / chars if chars else None,
                "left_out": sum(1 for v in views if source.name in v.left_out),
            }
        )
    per_item = []
    for view in views:
        sets = {name: chars_of(spans) for name, spans in view.coders.items()}
        per_item.append(
            {
                "id": view.id,
                "sources": list(view.coders),
                "iou": [
                    {"a": a, "b": b, "iou": iou(sets[a], sets[b])}
                    for a, b in combinations(names, 2)
                    if a in sets and b in sets
                ],
            }
        )
    pairs = []
    for a, b in combinations(names, 2):
        shared = [v for v in views if a in v.coders and b in v.coders]
        ious = [iou(chars_of(v.coders[a]), chars_of(v.coders[b])) for v in shared]
        presence = [bool(v.coders[a]) == bool(v.coders[b]) for v in shared]
        pairs.append(
            {
                "a": a,
                "b": b,
                "items": len(shared),
                "iou": math.fsum(ious) / len(ious) if ious else None,
                "span_presence": sum(presence) / len(presence) if presence else None,
                "alpha": _nan_to_none(_alpha_from_counts(_unit_counts(shared, (a, b)))),
            }
        )
    units = _unit_counts(views, names)
    pairable = [v for v in views if len(v.coders) >= 2]
    alpha = {
        "value": _nan_to_none(_alpha_from_counts(units)),
        "level": "nominal",
        "unit": "character",
        "sources": len(names),
        "items": len(pairable),
        "characters": sum(w for (m, _k), w in units.items() if m >= 2),
    }
    missing = [{"id": v.id, "sources": v.missing} for v in views if v.missing]
    complete = sum(1 for v in views if len(v.coders) == len(names))
    return AgreementReport(
        per_source, pairs, alpha, len(views), complete, missing, problems, per_item, views
    )


# ---------------------------------------------------------------------------------------
# Soft labels


def _field(records: Iterable[Mapping[str, Any]], *keys: str) -> Any:
    for record in records:
        for key in keys:
            value = record.get(key)
            if value not in (None, ""):
                return value
    return None


def soft_items(
    report: AgreementReport, sources: Sequence[Source], *, lang: str = "EN"
) -> list[dict[str, Any]]:
    """One Mu-SHROOM item per id some source could label: soft labels = share of its sources.

    The share is over the sources counted for that item (`annotations` lists them, with
    their spans); `hard_labels` are the characters above 0.5, so with four sources two
    marking is not enough. Ids with no usable source are left out.
    """
    by_name = {s.name: s for s in sources}
    out = []
    for view in report.views:
        if view.text is None or not view.coders:
            continue
        rows = [by_name[name].items[view.id].record for name in view.coders]
        annotations = {name: [list(s) for s in spans] for name, spans in view.coders.items()}
        soft = soft_from_annotations(annotations, len(view.text))
        item: dict[str, Any] = {
            "id": view.id,
            "lang": str(_field(rows, "lang") or lang).upper(),
            "model_input": str(_field(rows, "question", "model_input") or ""),
            "model_output_text": view.text,
            "model_id": str(_field(rows, "llm_checkpoint", "model_id") or ""),
            "soft_labels": soft,
            "hard_labels": hard_from_soft(soft),
            "annotations": annotations,
        }
        url = _field(rows, "wiki_url", "wikipedia_url")
        if url:
            item["wikipedia_url"] = str(url)
        out.append(item)
    return out
