"""Run records -> exported table rows: exactly the columns of `features_for(dataset)`, one
type per column, so every row of a dataset fits one Arrow schema.

Fields a record may lack become null; nested provenance and metadata become JSON strings
(canonical: sorted keys), which `record_of` decodes again for the original formats. A
cultural record holding several translations becomes one row per translation (the unit a
rater judges); rows keep the source text's id in `text_id`, the split group.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dsbuild.errors import InputError

__all__ = ["JSON_COLUMNS", "record_of", "rows_for"]

JSON_COLUMNS = {"psiloqa": ("provenance",), "entitycs": (),
                "medrect": ("metadata", "screening_results", "provenance"),
                "cultural": ("provenance",)}


def _json(value: Any) -> str | None:
    if value is None or value == {}:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _id_of(record: Mapping[str, Any], key: str, index: int) -> str:
    value = record.get(key)
    if value is None:
        raise InputError(f"record {index + 1} has no {key!r}",
                         "give every record an id (validate the run with `dsbuild ... validate`)",
                         code="DSB303")
    return str(value)


# -- psiloqa --------------------------------------------------------------------------------
def _psiloqa(record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
    rid = _id_of(record, "id", index)
    lang = str(record.get("lang") or "").lower()
    complexity = record.get("complexity")
    if complexity is not None and complexity not in ("easy", "medium", "hard"):
        raise InputError(f"psiloqa record {rid!r}: complexity {complexity!r} is not easy, "
                         "medium or hard", "fix the record or set complexity to null",
                         code="DSB303")
    title = record.get("wiki_title") or ""
    yield {
        "id": rid, "lang": lang, "wiki_title": title, "wiki_url": record.get("wiki_url") or "",
        "llm_checkpoint": record.get("llm_checkpoint") or "",
        "wiki_passage": record.get("wiki_passage") or "", "question": record.get("question") or "",
        "golden_answer": record.get("golden_answer") or "", "llm_answer": record["llm_answer"],
        "annotated_span": record.get("annotated_span"), "complexity": complexity,
        "labels": [[int(s), int(e)] for s, e in record.get("labels") or []],
        "passage_id": _str(record.get("passage_id")) or f"{lang}:{title}",
        "answer_model": _str(record.get("answer_model")),
        "answer_length": _str(record.get("answer_length")), "source": _str(record.get("source")),
        "provenance": _json(record.get("provenance")),
    }


# -- entitycs -------------------------------------------------------------------------------
def _entitycs(record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
    rid = _id_of(record, "id", index)
    language = str(record["language"])
    sentence_id = record.get("sentence_id")
    if sentence_id is None:  # release-style ids end in the language: 1234-5-de
        sentence_id = rid.removesuffix(f"-{language}")
    yield {
        "id": rid, "sentence_id": str(sentence_id), "language": language,
        "en_sentence": record["en_sentence"], "cs_sentence": record["cs_sentence"],
        "entities": [{"qid": e.get("qid"), "title": e.get("title"), "language": e["language"],
                      "en_start": e["en_start"], "en_end": e["en_end"],
                      "cs_start": e["cs_start"], "cs_end": e["cs_end"]}
                     for e in record.get("entities") or []],
    }


# -- medrect --------------------------------------------------------------------------------
_SOURCE_KEYS = ("source_id", "source_question_id", "question_id", "jmle_id", "case_id")
_KANA_OR_HAN = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _type_key(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).lower()


def _medrect_type(value: Any, rid: str) -> str | None:
    from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

    if value is None:
        return None
    by_key = {_type_key(t): t for t in MEDRECT_ERROR_TYPES}
    found = by_key.get(_type_key(str(value)))
    if found is None:
        raise InputError(f"medrect record {rid!r}: error type {value!r} is not one of "
                         f"{', '.join(MEDRECT_ERROR_TYPES)}",
                         "convert MEDEC types with `dsbuild medrect convert` first",
                         code="DSB303")
    return found


def _medrect(record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
    rid = _id_of(record, "sample_id", index)
    metadata = record.get("metadata") or {}
    source_id = next((record.get(k) or metadata.get(k) for k in _SOURCE_KEYS
                      if record.get(k) or metadata.get(k)), None)
    lang = record.get("lang") or metadata.get("lang") or metadata.get("language")
    if not lang:
        lang = "ja" if _KANA_OR_HAN.search(record.get("sentences") or "") else "en"
    sid = record.get("error_sentence_id")
    yield {
        "sample_id": rid, "lang": str(lang), "sentences": record["sentences"],
        "error_flag": int(record["error_flag"]),
        "error_type": _medrect_type(record.get("error_type"), rid),
        "error_sentence_id": None if sid is None else int(sid),
        "error_sentence": record.get("error_sentence"),
        "corrected_sentence": record.get("corrected_sentence"),
        "corrected_text": record.get("corrected_text"),
        "source_id": str(source_id) if source_id is not None else rid,
        "metadata": _json(record.get("metadata")),
        "screening_results": _json(record.get("screening_results")),
        "provenance": _json(record.get("provenance")),
    }


# -- cultural -------------------------------------------------------------------------------
def _score(value: Any) -> tuple[int | None, bool]:
    if isinstance(value, str) and value.strip().upper() == "NA":
        return None, True
    return (None if value is None else int(value)), False


def _cultural(record: Mapping[str, Any], index: int) -> Iterator[dict[str, Any]]:
    rid = _id_of(record, "id", index)
    text_id = str(record.get("text_id") or rid)
    nuances = [{"start": n["start"], "end": n["end"], "category": n["category"],
                "surface": n["surface"], "note": n.get("note")} for n in record["nuances"]]
    base_prov = record.get("provenance") or {}
    for tr in record.get("translations") or []:
        ratings = []
        for r in tr.get("ratings") or []:
            score, na = _score(r.get("score"))
            ratings.append({"annotator": r["annotator"], "nuance": r.get("nuance"),
                            "score": score, "na": na, "content": r.get("content"),
                            "style": r.get("style"), "audience": r.get("audience"),
                            "comment": r.get("comment")})
        alignments = [{"nuance": a["nuance"], "counterpart": a.get("counterpart"),
                       "start": a.get("start"), "end": a.get("end"), "status": a.get("status")}
                      for a in tr.get("alignments") or []]
        provenance = {**base_prov, **(tr.get("provenance") or {})}
        if tr.get("model_answered"):
            provenance.setdefault("model_answered", tr["model_answered"])
        yield {
            "id": f"{text_id}/{tr['target_lang']}/{tr['system']}", "text_id": text_id,
            "lang": record["lang"], "text": record["text"], "source": record.get("source"),
            "nuances": nuances, "system": tr["system"], "target_lang": tr["target_lang"],
            "translation": tr["text"], "alignments": alignments, "ratings": ratings,
            "provenance": _json(provenance),
        }


_CONVERTERS = {"psiloqa": _psiloqa, "entitycs": _entitycs, "medrect": _medrect,
               "cultural": _cultural}


def rows_for(dataset: str, records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The exported rows of `records` (see the module docstring)."""
    convert = _CONVERTERS[dataset]
    rows: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        try:
            rows.extend(convert(record, i))
        except (KeyError, TypeError, ValueError) as exc:
            rid = record.get("id") or record.get("sample_id") or f"#{i + 1}"
            raise InputError(f"{dataset} record {rid!r} cannot be exported ({type(exc).__name__}: "
                             f"{exc})", f"check it with `dsbuild {dataset} validate`",
                             code="DSB303") from exc
    return rows


def record_of(dataset: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with its JSON columns decoded (nulls dropped): the record the original formats
    are written from."""
    record = dict(row)
    for column in JSON_COLUMNS[dataset]:
        value = record.pop(column, None)
        if value is not None:
            record[column] = json.loads(value)
    return record
