"""Record schemas of every dataset dsbuild builds or reads, and the registry of formats.

Each format is a pydantic model (`FORMATS[name].model`); validating a record dict with it
either succeeds or raises a `ValidationError` whose errors carry a field path and a reason
code (`type`). Pydantic's own codes cover structure (`missing`, `string_type`, ...); ours
cover meaning (`span_out_of_range`, `error_sentence_mismatch`, ...). JSON Schema files for
the structure live in `json/<format>.schema.json` (`python -m dsbuild.schemas.generate`).

A dataset reads and writes several formats: PsiloQA also reads Mu-SHROOM, MedRECT also
reads MEDEC and the JMLE question pool it was built from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from .cultural import CulturalRecord
from .entitycs import EntityCSRecord
from .medrect import JMLEQuestion, MEDECRecord, MedRECTRecord
from .psiloqa import MushroomRecord, PsiloQARecord

__all__ = [
    "DATASET_FORMATS",
    "FORMATS",
    "CulturalRecord",
    "EntityCSRecord",
    "FormatSpec",
    "JMLEQuestion",
    "MEDECRecord",
    "MedRECTRecord",
    "MushroomRecord",
    "PsiloQARecord",
    "dataset_formats",
    "detect_format",
    "register_format",
]


@dataclass(frozen=True)
class FormatSpec:
    """A record format: its model, the field that names a record, and how to recognise it."""

    name: str
    dataset: str
    model: type[BaseModel]
    id_field: str
    description: str
    detect_keys: frozenset[str]
    unique_key: tuple[str, ...] = ()

    def key_of(self, record: Mapping[str, object]) -> tuple[object, ...] | None:
        """The values that must be unique per file (default: the id), or None if missing."""
        fields = self.unique_key or (self.id_field,)
        values = tuple(record.get(f) for f in fields)
        return None if any(v is None for v in values) else values


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "psiloqa",
            "psiloqa",
            PsiloQARecord,
            "id",
            "PsiloQA rows: question, LLM answer, hallucinated spans ([start, end) into llm_answer)",
            frozenset({"llm_answer", "question", "labels"}),
        ),
        FormatSpec(
            "mushroom",
            "psiloqa",
            MushroomRecord,
            "id",
            "Mu-SHROOM (SemEval-2025 Task 3) JSONL: model output with soft and hard "
            "hallucination labels",
            frozenset({"model_output_text", "model_input"}),
        ),
        FormatSpec(
            "entitycs",
            "entitycs",
            EntityCSRecord,
            "id",
            "EntityCS rows: English sentence, code-switched sentence, entity offsets "
            "(or <en> markers)",
            frozenset({"en_sentence", "cs_sentence"}),
            unique_key=("id", "language"),
        ),
        FormatSpec(
            "medrect",
            "medrect",
            MedRECTRecord,
            "sample_id",
            "MedRECT JSON: numbered clinical sentences (from 1) with at most one error and its "
            "correction",
            frozenset({"sample_id", "sentences", "error_flag"}),
        ),
        FormatSpec(
            "medec",
            "medrect",
            MEDECRecord,
            "Text ID",
            "MEDEC CSV: numbered clinical sentences (from 0), error flag, sentence id "
            "(-1 when clean)",
            frozenset({"Text ID", "Sentences", "Error Flag"}),
        ),
        FormatSpec(
            "jmle",
            "medrect",
            JMLEQuestion,
            "id",
            "JMLE source questions (MedRECT-ja pool): question, lettered choices, answer letters",
            frozenset({"question", "choices", "answer"}),
        ),
        FormatSpec(
            "cultural",
            "cultural",
            CulturalRecord,
            "id",
            "Cultural-nuance segments: source text, nuance spans, translations, "
            "native-speaker ratings",
            frozenset({"text", "lang", "nuances"}),
        ),
    )
}


def register_format(spec: FormatSpec) -> FormatSpec:
    """Add a record format (a new dataset's, defined outside dsbuild or in a test)."""
    FORMATS[spec.name] = spec
    return spec


def dataset_formats() -> dict[str, list[str]]:
    """Which formats each dataset reads, its own first: from each format's `dataset`."""
    out: dict[str, list[str]] = {}
    for spec in FORMATS.values():
        out.setdefault(spec.dataset, []).append(spec.name)
    return out


def __getattr__(name: str):
    if name == "DATASET_FORMATS":  # a live view: registered formats are included
        return dataset_formats()
    raise AttributeError(name)


def detect_format(
    record: Mapping[str, object], candidates: Iterable[str] | None = None, *, min_share: float = 1.0
) -> str | None:
    """The candidate format whose detect keys the record has, or None.

    A format matches when the record has at least `min_share` of its detect keys (all of
    them by default); among matches the larger share wins, then the more specific format.
    """
    keys = record.keys()
    best: str | None = None
    best_score = (0.0, 0)
    for name in candidates if candidates is not None else FORMATS:
        wanted = FORMATS[name].detect_keys
        share = len(wanted & keys) / len(wanted)
        if share >= min_share and share > 0 and (share, len(wanted)) > best_score:
            best, best_score = name, (share, len(wanted))
    return best
