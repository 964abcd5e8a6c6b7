"""The explicit `datasets.Features` of each exported dataset (the columns `rows` makes).

Spans that index a text are `[start, end)` pairs of int64 (`List(List(int64, length=2))`)
where the record format has pairs (PsiloQA `labels`); where the format names the ends
(EntityCS entities, cultural nuances) the names are kept so exported JSONL still validates
against the record schemas. Closed vocabularies are `ClassLabel`s (null when unknown).
Nested provenance and metadata, whose keys vary by model and source, are JSON strings.
Ratings follow the long-table convention of `schemas/cultural.py`: `score` 0-3 or null,
and `na: true` for "not translated" (an answer, not missing data).
"""

from __future__ import annotations

from typing import Any

__all__ = ["COMPLEXITIES", "DATASET_NAMES", "features_for"]

DATASET_NAMES = ("psiloqa", "entitycs", "medrect", "cultural")
COMPLEXITIES = ("easy", "medium", "hard")


def features_for(dataset: str) -> Any:
    """The `datasets.Features` of `dataset`'s exported rows."""
    import datasets as hf

    from dsbuild.errors import ConfigError

    s = hf.Value("string")
    i64 = hf.Value("int64")
    i8 = hf.Value("int8")
    if dataset == "psiloqa":
        return hf.Features({
            "id": s, "lang": s, "wiki_title": s, "wiki_url": s, "llm_checkpoint": s,
            "wiki_passage": s, "question": s, "golden_answer": s, "llm_answer": s,
            "annotated_span": s,
            "complexity": hf.ClassLabel(names=list(COMPLEXITIES)),
            "labels": hf.List(hf.List(i64, length=2)),
            "passage_id": s, "answer_model": s, "answer_length": s, "source": s,
            "provenance": s,
        })
    if dataset == "entitycs":
        return hf.Features({
            "id": s, "sentence_id": s, "language": s, "en_sentence": s, "cs_sentence": s,
            "entities": hf.List({"qid": s, "title": s, "language": s, "en_start": i64,
                                 "en_end": i64, "cs_start": i64, "cs_end": i64}),
        })
    if dataset == "medrect":
        from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

        return hf.Features({
            "sample_id": s, "lang": s, "sentences": s, "error_flag": i8,
            "error_type": hf.ClassLabel(names=list(MEDRECT_ERROR_TYPES)),
            "error_sentence_id": i64, "error_sentence": s, "corrected_sentence": s,
            "corrected_text": s, "source_id": s, "metadata": s, "screening_results": s,
            "provenance": s,
        })
    if dataset == "cultural":
        from dsbuild.schemas.cultural import NUANCE_CATEGORIES

        category = hf.ClassLabel(names=list(NUANCE_CATEGORIES))
        return hf.Features({
            "id": s, "text_id": s, "lang": s, "text": s, "source": s,
            "nuances": hf.List({"start": i64, "end": i64, "category": category, "surface": s,
                                "note": s}),
            "system": s, "target_lang": s, "translation": s,
            "alignments": hf.List({"nuance": i64, "counterpart": s, "start": i64, "end": i64,
                                   "status": s}),
            "ratings": hf.List({"annotator": s, "nuance": i64, "score": i8, "na": hf.Value("bool"),
                                "content": i8, "style": i8, "audience": i8, "comment": s}),
            "provenance": s,
        })
    raise ConfigError(f"unknown dataset {dataset!r}", f"use one of: {', '.join(DATASET_NAMES)}",
                      code="DSB105")
