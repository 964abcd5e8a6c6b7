"""Records → Label Studio tasks: one task per annotation unit, keyed, checked, pre-annotated.

A **unit** is what one task shows: a record (PsiloQA, MedRECT, EntityCS) or one
translation of a cultural record. Its **key** names it for good (the record id, plus the
language for EntityCS and the target/system for a cultural record with several
translations): push skips keys already in the project, pull maps tasks back by key.

Task data carries `dsbuild_key`, `dsbuild_record_id` and `dsbuild_check` (a hash of the
fields the annotator sees): pull recomputes the hash to notice a task edited in the UI,
or a record changed since the push. Span offsets cross into Label Studio as UTF-16 code
units (`dsbuild.spans`), and every converted span is checked both ways:
`text[start:end] == surface` in code points, and the same surface in UTF-16 units.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsbuild.errors import InputError
from dsbuild.spans import from_utf16_offset, to_utf16_offset

__all__ = [
    "DATASETS",
    "Unit",
    "check_of",
    "display_fields",
    "model_version_of",
    "record_id",
    "sample_keys",
    "span_from_ls",
    "span_to_ls",
    "strip_entity_tags",
    "task_data",
    "to_task",
    "units_of",
]

DATASETS = ("psiloqa", "medrect", "cultural", "entitycs")

# Task data fields the annotator sees, per dataset: what `dsbuild_check` hashes.
_DISPLAY: dict[str, tuple[str, ...]] = {
    "psiloqa": ("passage", "question", "golden_answer", "answer"),
    "medrect": ("text", "sentence_choices"),
    "cultural": ("source_text", "translation_text", "segments"),
    "entitycs": ("en_text", "cs_text", "entities"),
}


@dataclass
class Unit:
    """One task's worth of a record: its key, the record, and (cultural) the translation."""

    key: str
    record_id: str
    record: dict[str, Any]
    translation: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def record_id(record: Mapping[str, Any], dataset: str) -> str:
    """The record's id (`sample_id` for MedRECT files); InputError when there is none."""
    for name in ("id", "sample_id") if dataset == "medrect" else ("id",):
        value = record.get(name)
        if value is not None and value != "":
            return str(value)
    raise InputError(f"a {dataset} record has no id: {json.dumps(record, ensure_ascii=False)[:80]}",
                     "give every record an id", code="DSB303")


def units_of(records: Iterable[Mapping[str, Any]], dataset: str) -> list[Unit]:
    """Every annotation unit of the records, in order; a repeated key is an InputError."""
    if dataset not in DATASETS:
        raise InputError(f"no Label Studio interface for dataset {dataset!r}",
                         f"use one of {', '.join(DATASETS)}", code="DSB303")
    units: list[Unit] = []
    seen: dict[str, str] = {}
    for record in records:
        rid = record_id(record, dataset)
        if dataset == "cultural":
            translations = record.get("translations") or []
            for t, tr in enumerate(translations):
                key = rid if len(translations) == 1 else f"{rid}|{tr.get('target_lang')}|{tr.get('system')}"
                units.append(Unit(key, rid, dict(record), t))
        elif dataset == "entitycs":
            switched = [i for i, e in enumerate(record.get("entities") or [])
                        if str(e.get("language", "en")).lower() != "en"]
            if switched:
                units.append(Unit(f"{rid}|{record.get('language')}", rid, dict(record),
                                  extra={"entities": switched}))
        else:
            units.append(Unit(rid, rid, dict(record)))
    for unit in units:
        if unit.key in seen:
            raise InputError(f"two {dataset} annotation units share the key {unit.key!r}",
                             "make record ids unique before pushing", code="DSB303")
        seen[unit.key] = unit.record_id
    return units


# -- offsets ---------------------------------------------------------------------------------
def span_to_ls(text: str, start: int, end: int, *, where: str = "span") -> tuple[int, int]:
    """Code-point span → UTF-16 span, checked both ways (InputError DSB303 on a mismatch)."""
    s16, e16 = to_utf16_offset(text, start), to_utf16_offset(text, end)
    surface = text[start:end]
    units = text.encode("utf-16-le")[2 * s16: 2 * e16].decode("utf-16-le", errors="strict")
    if units != surface or (from_utf16_offset(text, s16), from_utf16_offset(text, e16)) != (start, end):
        raise InputError(f"{where}: span [{start}, {end}) does not survive the UTF-16 conversion",
                         "report this text; it should not happen", code="DSB303")
    return s16, e16


def span_from_ls(text: str, start16: int, end16: int, surface: str | None = None, *,
                 where: str = "span") -> tuple[int, int]:
    """UTF-16 span (from Label Studio) → code points; checks the surface when given."""
    start, end = from_utf16_offset(text, start16), from_utf16_offset(text, end16)
    if start > end:
        raise InputError(f"{where}: span [{start16}, {end16}) ends before it starts",
                         "re-select the span in Label Studio", code="DSB303")
    if surface is not None and text[start:end] != surface:
        raise InputError(
            f"{where}: UTF-16 span [{start16}, {end16}) covers {text[start:end][:40]!r}, "
            f"but Label Studio says {surface[:40]!r}",
            "the task text differs from the record (edited in the UI?); re-push the record",
            code="DSB303")
    return start, end


# -- provenance -------------------------------------------------------------------------------
def model_version_of(record: Mapping[str, Any], dataset: str, translation: int | None = None) -> str:
    """Label Studio's `model_version` for a pre-annotation: the model and prompt that made it.

    PsiloQA labels come from the `annotate` step, a MedRECT error from `inject`, a
    translation from `translate`; without provenance, the record's own model field or
    `dsbuild-<dataset>`.
    """
    prov: Mapping[str, Any] = record.get("provenance") or (record.get("metadata") or {}).get("provenance") or {}
    step = {"psiloqa": "annotate", "medrect": "inject", "cultural": "translate"}.get(dataset)
    if dataset == "cultural" and translation is not None:
        tr = (record.get("translations") or [{}])[translation]
        prov = tr.get("provenance") or {}
        fallback = str(tr.get("system") or "")
    else:
        fallback = str(record.get("llm_checkpoint") or "") if dataset == "psiloqa" else ""
    entry = prov.get(step) if step else None
    if isinstance(entry, Mapping) and (entry.get("model_answered") or entry.get("model_requested")):
        model = entry.get("model_answered") or entry.get("model_requested")
        template = entry.get("template_id") or step
        digest = str(entry.get("template_hash") or "")[:8]
        return f"{model} {template}@{digest}" if digest else f"{model} {template}"
    return fallback or f"dsbuild-{dataset}"


# -- task data --------------------------------------------------------------------------------
def _digest(values: Any) -> str:
    blob = json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def display_fields(data: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The task data fields the annotator sees (what the check hashes)."""
    return {name: data.get(name) for name in _DISPLAY[dataset]}


def check_of(data: Mapping[str, Any], dataset: str) -> str:
    """Hash of the displayed task data: differs when the task or its record changed."""
    return _digest(display_fields(data, dataset))


def _mark(text: str, start: int | None, end: int | None) -> str:
    """HTML of `text` (whitespace kept) with [start, end) highlighted."""
    if start is None or end is None:
        body = html.escape(text)
    else:
        body = (html.escape(text[:start]) + "<mark>" + html.escape(text[start:end]) + "</mark>"
                + html.escape(text[end:]))
    return f'<div style="white-space: pre-wrap">{body}</div>'


def numbered_sentences(text: str) -> list[tuple[int, str]]:
    """MedRECT's numbered sentences `N. …` (continuation lines joined), in order."""
    from dsbuild.schemas.medrect import _MEDRECT_LINE, parse_numbered_sentences

    sentences, _ = parse_numbered_sentences(text, _MEDRECT_LINE, 1)
    return sorted(sentences.items())


_TAG = re.compile(r"<(/?)([A-Za-z]{1,3}(?:[-_][A-Za-z0-9]{1,8})?)>")


def strip_entity_tags(tagged: str) -> tuple[str, list[tuple[int, int]]]:
    """EntityCS: the sentence without its language tags, and each tagged span in it."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = length = 0
    opened: int | None = None
    for m in _TAG.finditer(tagged):
        out.append(tagged[pos:m.start()])
        length += m.start() - pos
        if m.group(1):
            if opened is not None:
                spans.append((opened, length))
            opened = None
        else:
            opened = length
        pos = m.end()
    out.append(tagged[pos:])
    return "".join(out), spans


def _psiloqa_task(unit: Unit) -> tuple[dict, list[dict]]:
    r = unit.record
    answer = r["llm_answer"]
    data = {"passage": r.get("wiki_passage", ""), "question": r.get("question", ""),
            "golden_answer": r.get("golden_answer", ""), "answer": answer,
            "lang": r.get("lang", ""), "wiki_title": r.get("wiki_title", "")}
    result = []
    for i, (start, end) in enumerate(r.get("labels") or []):
        s16, e16 = span_to_ls(answer, start, end, where=f"record {unit.record_id} label {i}")
        result.append({"id": f"dsb{i}", "from_name": "hallucination", "to_name": "answer",
                       "type": "labels", "origin": "prediction",
                       "value": {"start": s16, "end": e16, "text": answer[start:end],
                                 "labels": ["Hallucination"]}})
    return data, result


def _medrect_task(unit: Unit) -> tuple[dict, list[dict]]:
    r = unit.record
    text = r["sentences"]
    choices = [{"value": str(n), "html": f"{n}. {html.escape(s)}"} for n, s in numbered_sentences(text)]
    data = {"text": text, "sentence_choices": choices}
    result: list[dict] = []
    flag = r.get("error_flag")
    if flag in (0, 1):
        result.append({"id": "dsb-flag", "from_name": "error_flag", "to_name": "text",
                       "type": "choices", "value": {"choices": ["error" if flag else "no_error"]}})
    if flag == 1:
        if r.get("error_sentence_id") is not None:
            result.append({"id": "dsb-sent", "from_name": "error_sentence", "to_name": "text",
                           "type": "choices",
                           "value": {"choices": [str(r["error_sentence_id"])]}})
        if r.get("corrected_sentence"):
            result.append({"id": "dsb-corr", "from_name": "corrected_sentence", "to_name": "text",
                           "type": "textarea", "value": {"text": [r["corrected_sentence"]]}})
        if r.get("error_type"):
            result.append({"id": "dsb-type", "from_name": "error_type", "to_name": "text",
                           "type": "choices", "value": {"choices": [r["error_type"]]}})
    return data, result


def _cultural_task(unit: Unit) -> tuple[dict, list[dict]]:
    r = unit.record
    tr = r["translations"][unit.translation]
    source, translation = r["text"], tr["text"]
    aligned = {a.get("nuance"): a for a in tr.get("alignments") or [] if isinstance(a, Mapping)}
    segments = []
    for i, n in enumerate(r.get("nuances") or []):
        if source[n["start"]:n["end"]] != n["surface"]:
            raise InputError(f"record {unit.record_id} nuance {i}: text[{n['start']}:{n['end']}] "
                             f"is not {n['surface']!r}", "fix the record's offsets", code="DSB303")
        a = aligned.get(i) or {}
        start, end = a.get("start"), a.get("end")
        if start is not None and translation[start:end] != a.get("counterpart", translation[start:end]):
            start = end = None
        if start is None:
            note = ("the translation seems to leave this segment out" if a.get("status") == "omitted"
                    else "find its counterpart in the translation yourself")
        else:
            note = f"counterpart: “{translation[start:end]}”"
        segments.append({
            "title": f"Segment {i + 1} · {n['category']}: “{n['surface']}” — {note}",
            "source_html": _mark(source, n["start"], n["end"]),
            "translation_html": _mark(translation, start, end),
        })
    data = {"source_text": source, "translation_text": translation, "segments": segments,
            "source_lang": r.get("lang", ""), "target_lang": tr.get("target_lang", "")}
    return data, []


def _entitycs_task(unit: Unit) -> tuple[dict, list[dict]]:
    r = unit.record
    en_text, _ = strip_entity_tags(r["en_sentence"])
    cs_text, cs_spans = strip_entity_tags(r["cs_sentence"])
    entities = []
    for j, i in enumerate(unit.extra["entities"]):
        e = r["entities"][i]
        start, end = cs_spans[i] if i < len(cs_spans) else (None, None)
        label = cs_text[start:end] if start is not None else r["cs_sentence"][e["cs_start"]:e["cs_end"]]
        qid = f"{e.get('qid')} " if e.get("qid") else ""
        entities.append({"index": i,
                         "title": f"Entity {j + 1} · {qid}{e.get('title') or ''} → “{label}” ({e.get('language')})",
                         "cs_html": _mark(cs_text, start, end)})
    data = {"en_text": en_text, "cs_text": cs_text, "entities": entities, "language": r.get("language", "")}
    return data, []


_BUILDERS = {"psiloqa": _psiloqa_task, "medrect": _medrect_task, "cultural": _cultural_task,
             "entitycs": _entitycs_task}


def task_data(unit: Unit, dataset: str) -> tuple[dict[str, Any], list[dict]]:
    """The task's data (with the dsbuild keys) and its pre-annotation result (may be empty)."""
    data, result = _BUILDERS[dataset](unit)
    data.update(dsbuild_key=unit.key, dsbuild_record_id=unit.record_id,
                dsbuild_check=check_of(data, dataset))
    return data, result


def to_task(unit: Unit, dataset: str) -> dict[str, Any]:
    """The import payload of one task: data, and the model's output as a prediction."""
    data, result = task_data(unit, dataset)
    task: dict[str, Any] = {"data": data}
    if result:
        task["predictions"] = [{"model_version": model_version_of(unit.record, dataset, unit.translation),
                                "result": result}]
    return task


def sample_keys(keys: Sequence[str], n: int | None, seed: int) -> set[str]:
    """A stable sample of `n` keys: the same seed picks the same keys on every push."""
    if n is None or n >= len(keys):
        return set(keys)
    ranked = sorted(keys, key=lambda k: hashlib.sha256(f"{seed}\x00{k}".encode()).hexdigest())
    return set(ranked[:n])
