"""Convert between Mu-SHROOM items (SemEval-2025 Task 3) and PsiloQA rows, both ways.

Mu-SHROOM → PsiloQA: `model_input` → `question`, `model_output_text` → `llm_answer`,
`model_id` → `llm_checkpoint`, `lang` lower-cased, `labels` = the hard labels as sorted,
merged spans, `annotated_span` = the answer with [HAL]…[/HAL] around them, wiki fields from
`wikipedia_url` (empty strings without one). Everything else of the item (its own `lang`,
soft and hard labels, annotations, logits, tokens, URL, unknown keys) is kept under the
row's `mushroom` key, so converting back gives the same item.

PsiloQA → Mu-SHROOM: `hard_labels` come from `labels`; `soft_labels` from the kept soft
labels, else from per-annotator spans (`mushroom.annotations` or `annotations`), else
probability 1.0 on each label span. Kept hard/soft labels and annotations are used only
while they still agree with `labels` (their majority characters are exactly the labelled
ones), so a row whose labels were edited never gets stale labels back. Row fields the item
cannot carry (passage, golden answer, complexity, …) go under the item's `psiloqa` key,
so the reverse is lossless too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from dsbuild.errors import InputError, UsageError
from dsbuild.runs.jsonl import write_jsonl
from dsbuild.span_labels import (
    chars_of,
    hard_from_soft,
    normalize_spans,
    soft_from_annotations,
    soft_from_hard,
)
from dsbuild.spans import insert_markers

if TYPE_CHECKING:
    from dsbuild.quirks import Warnings

__all__ = [
    "FORMATS",
    "PSILOQA_FIELDS",
    "convert_file",
    "format_of",
    "mushroom_to_row",
    "read_labelled",
    "row_to_mushroom",
]

FORMATS = ("mushroom", "psiloqa")

PSILOQA_FIELDS = (
    "id",
    "lang",
    "wiki_title",
    "wiki_url",
    "llm_checkpoint",
    "wiki_passage",
    "question",
    "golden_answer",
    "llm_answer",
    "annotated_span",
    "complexity",
    "labels",
)
# Item fields that map onto row fields; every other item field is kept under `mushroom`.
_MAPPED = ("id", "model_input", "model_output_text", "model_id", "psiloqa")


def format_of(record: Mapping[str, Any]) -> str | None:
    """`mushroom` (has `model_output_text`), `psiloqa` (has `llm_answer`), or None."""
    if "model_output_text" in record:
        return "mushroom"
    if "llm_answer" in record:
        return "psiloqa"
    return None


def _title_from_url(url: str) -> str:
    """`https://en.wikipedia.org/wiki/Petra_van_Staveren` → `Petra van Staveren`."""
    return unquote(url.rstrip("/").rsplit("/", 1)[-1]).replace("_", " ") if url else ""


def mushroom_to_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """The PsiloQA row of one Mu-SHROOM item (see the module docstring for the mapping)."""
    text = item["model_output_text"]
    if item.get("hard_labels") is not None:
        labels = normalize_spans(item["hard_labels"])
    else:
        labels = hard_from_soft(item.get("soft_labels") or [])
    url = item.get("wikipedia_url") or ""
    row: dict[str, Any] = {
        "id": item["id"],
        "lang": str(item.get("lang", "")).lower(),
        "wiki_title": _title_from_url(url),
        "wiki_url": url,
        "llm_checkpoint": item.get("model_id", ""),
        "wiki_passage": "",
        "question": item.get("model_input", ""),
        "golden_answer": "",
        "llm_answer": text,
        "annotated_span": insert_markers(text, labels),
        "complexity": None,
        "labels": labels,
    }
    row.update(item.get("psiloqa") or {})
    row["mushroom"] = {k: v for k, v in item.items() if k not in _MAPPED}
    return row


def _majority_chars(soft: Iterable[Any]) -> set[int]:
    return chars_of(hard_from_soft(soft))


def row_to_mushroom(row: Mapping[str, Any], *, keep_row_fields: bool = True) -> dict[str, Any]:
    """The Mu-SHROOM item of one PsiloQA row (see the module docstring for the rules).

    `keep_row_fields=False` leaves out the `psiloqa` key (a lean item, no longer lossless).
    """
    kept: dict[str, Any] = dict(row.get("mushroom") or {})
    text = row["llm_answer"]
    labels = normalize_spans(row.get("labels") or [])
    wanted = chars_of(labels)

    hard = kept.get("hard_labels")
    if hard is None or chars_of(hard) != wanted:
        hard = labels
    soft = kept.get("soft_labels")
    if soft is None or _majority_chars(soft) != wanted:
        soft = None
        annotations = kept.get("annotations") or row.get("annotations")
        if annotations:
            try:
                derived = soft_from_annotations(annotations, len(text))
            except InputError as exc:
                raise InputError(f"row {row['id']!r}: {exc.what}", exc.fix, code=exc.code) from exc
            if _majority_chars(derived) == wanted:
                soft = derived
        if soft is None:
            soft = soft_from_hard(labels)

    item: dict[str, Any] = {
        "id": row["id"],
        "lang": kept.get("lang") or str(row.get("lang", "")).upper(),
        "model_input": row.get("question", ""),
        "model_output_text": text,
        "model_id": row.get("llm_checkpoint", ""),
        "soft_labels": soft,
        "hard_labels": hard,
    }
    for key, value in kept.items():
        if key not in item:
            item[key] = value
    if "wikipedia_url" not in item and row.get("wiki_url"):
        item["wikipedia_url"] = row["wiki_url"]

    if not keep_row_fields:
        return item
    # Row fields the item does not carry (or carries differently) ride along under `psiloqa`.
    back = mushroom_to_row(item)
    extra = {k: v for k, v in row.items() if k != "mushroom" and back.get(k) != v}
    if extra:
        item["psiloqa"] = extra
    return item


def read_labelled(
    path: str | Path, warnings: Warnings | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The records of a Mu-SHROOM or PsiloQA file (JSONL or JSON) and which format it is.

    The format is decided per record (`format_of`); every record must have an `id` and all
    must share one format. Unreadable lines raise `InputError` naming the line. Release
    quirks are read as validation reads them (a Mu-SHROOM list stored as a string is
    parsed) and added to `warnings`.
    """
    from dsbuild.quirks import collecting, found
    from dsbuild.readers import records_or_fail
    from dsbuild.schemas.psiloqa import unstring_lists

    path = Path(path)
    fmt: str | None = None
    records: list[dict[str, Any]] = []
    for locator, record in records_or_fail(path):
        kind = format_of(record)
        if kind is None:
            raise InputError(
                f"{locator}: the record is neither Mu-SHROOM (no model_output_text) nor "
                "PsiloQA (no llm_answer)",
                "give Mu-SHROOM items or PsiloQA rows",
                code="DSB302",
            )
        if fmt is None:
            fmt = kind
        elif kind != fmt:
            raise InputError(
                f"{locator}: a {kind} record in a file of {fmt} records",
                "keep one format per file",
                code="DSB303",
            )
        if record.get("id") is None:
            raise InputError(
                f"{locator}: the record has no id", "give every record an id", code="DSB303"
            )
        if kind == "mushroom":
            context = collecting()
            record = unstring_lists(record, context)
            if warnings is not None:
                warnings.add_record(found(context), locator, str(record["id"]))
        records.append(record)
    if fmt is None:
        raise InputError(
            f"{path} holds no records", "give a file with at least one record", code="DSB304"
        )
    return fmt, records


def _converted(records: list[dict[str, Any]], fmt: str, to: str) -> Iterator[dict[str, Any]]:
    convert = mushroom_to_row if to == "psiloqa" else row_to_mushroom
    for record in records:
        try:
            yield convert(record)
        except KeyError as exc:
            raise InputError(
                f"{fmt} record {record.get('id')!r} has no {exc.args[0]!r} field",
                f"add the field, or check that the file is in {fmt} format",
                code="DSB303",
            ) from exc


def convert_file(
    src: str | Path,
    to: str,
    out: str | Path,
    warnings: Warnings | None = None,
    *,
    strict: bool = False,
) -> tuple[str, int]:
    """Convert a Mu-SHROOM or PsiloQA file into the other format; returns (source format, count).
    Release quirks met while reading go to `warnings` (with `strict`, they stop the
    conversion before anything is written)."""
    from dsbuild.quirks import Warnings

    if to not in FORMATS:
        raise UsageError(f"unknown target format {to!r}", f"use one of {', '.join(FORMATS)}")
    warnings = Warnings() if warnings is None else warnings
    fmt, records = read_labelled(src, warnings)
    warnings.raise_if_strict(strict, str(src))
    if fmt == to:
        raise UsageError(f"{src} is already in {to} format", "pick the other --to format")
    return fmt, write_jsonl(out, _converted(records, fmt, to))
