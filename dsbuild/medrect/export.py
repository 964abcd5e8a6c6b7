"""MedRECT's export hooks (`dsbuild.hub.hooks`): rows keyed by `sample_id`, splits grouped
by source question (every variant made from one case together), and two original formats:
MedRECT JSON and MEDEC CSV."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from dsbuild.errors import InputError
from dsbuild.hub.hooks import DatasetExport, json_text, record_id

__all__ = ["EXPORT", "MedrectExport"]

_SOURCE_KEYS = ("source_id", "source_question_id", "question_id", "jmle_id", "case_id")
_KANA_OR_HAN = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_EXTRA_KEYS = ("metadata", "screening_results")  # written to MedRECT JSON only when set


def _type_key(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).lower()


def _error_type(value: Any, rid: str) -> str | None:
    from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

    if value is None:
        return None
    by_key = {_type_key(t): t for t in MEDRECT_ERROR_TYPES}
    found = by_key.get(_type_key(str(value)))
    if found is None:
        raise InputError(
            f"medrect record {rid!r}: error type {value!r} is not one of "
            f"{', '.join(MEDRECT_ERROR_TYPES)}",
            "convert MEDEC types with `dsbuild medrect convert` first",
            code="DSB303",
        )
    return found


class MedrectExport(DatasetExport):
    split_key = "source_id"
    unique_key = "sample_id"
    json_columns = ("metadata", "screening_results", "provenance")
    original_formats: ClassVar[Mapping[str, str]] = {
        "medrect": "MedRECT JSON (sentences numbered from 1, nulls when clean)",
        "medec": "MEDEC CSV (sentences numbered from 0, -1 and NA when clean; MedRECT's eight "
        "error types mapped onto MEDEC's five)",
    }

    def features(self) -> Any:
        import datasets as hf

        from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

        s = hf.Value("string")
        return hf.Features(
            {
                "sample_id": s,
                "lang": s,
                "sentences": s,
                "error_flag": hf.Value("int8"),
                "error_type": hf.ClassLabel(names=list(MEDRECT_ERROR_TYPES)),
                "error_sentence_id": hf.Value("int64"),
                "error_sentence": s,
                "corrected_sentence": s,
                "corrected_text": s,
                "source_id": s,
                "metadata": s,
                "screening_results": s,
                "provenance": s,
            }
        )

    def rows(self, record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
        rid = record_id(record, "sample_id", index)
        metadata = record.get("metadata") or {}
        source_id = next(
            (
                record.get(k) or metadata.get(k)
                for k in _SOURCE_KEYS
                if record.get(k) or metadata.get(k)
            ),
            None,
        )
        lang = record.get("lang") or metadata.get("lang") or metadata.get("language")
        if not lang:
            lang = "ja" if _KANA_OR_HAN.search(record.get("sentences") or "") else "en"
        sid = record.get("error_sentence_id")
        yield {
            "sample_id": rid,
            "lang": str(lang),
            "sentences": record["sentences"],
            "error_flag": int(record["error_flag"]),
            "error_type": _error_type(record.get("error_type"), rid),
            "error_sentence_id": None if sid is None else int(sid),
            "error_sentence": record.get("error_sentence"),
            "corrected_sentence": record.get("corrected_sentence"),
            "corrected_text": record.get("corrected_text"),
            "source_id": str(source_id) if source_id is not None else rid,
            "metadata": json_text(record.get("metadata")),
            "screening_results": json_text(record.get("screening_results")),
            "provenance": json_text(record.get("provenance")),
        }

    def write_originals(
        self, split: str, records: Sequence[Mapping[str, Any]], out: Path
    ) -> dict[str, int]:
        """MedRECT JSON (the MedRECT fields, metadata and screening results when set; the
        provenance stays in the tables) and the same records as MEDEC CSV."""
        from dsbuild.medrect import MEDRECT_KEYS
        from dsbuild.medrect.formats import (
            medrect_to_medec_row,
            write_medec,
            write_medrect,
        )

        medrect = [
            {
                **{k: r.get(k) for k in MEDRECT_KEYS},
                **{k: r[k] for k in _EXTRA_KEYS if r.get(k) is not None},
            }
            for r in records
        ]
        (out / "medrect").mkdir(exist_ok=True)
        (out / "medec").mkdir(exist_ok=True)
        write_medrect(medrect, out / f"medrect/{split}.json")
        write_medec([medrect_to_medec_row(r) for r in medrect], out / f"medec/{split}.csv")
        return {f"medrect/{split}.json": len(medrect), f"medec/{split}.csv": len(medrect)}

    def sources(self, rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> Iterator:
        """From each row's `metadata.source` (embedded vignettes, a JMLE file, ...)."""
        from dsbuild.hub.licenses import source_of_marker

        for r in rows:
            meta = json.loads(r["metadata"]) if r.get("metadata") else {}
            yield source_of_marker(meta.get("source"))

    def label_tables(self, rows: Sequence[Mapping[str, Any]]) -> list:
        from dsbuild.hub.summary import distribution

        return [
            distribution(
                "Error flag", Counter("error" if r["error_flag"] else "clean" for r in rows), "flag"
            ),
            distribution(
                "Error types (rows with an error)",
                Counter(r["error_type"] for r in rows if r["error_flag"]),
                "error type",
            ),
        ]


EXPORT = MedrectExport()
