"""Label Studio annotation results → one annotator's values for one unit, per dataset.

The control names are those of `dsbuild.labelstudio.interfaces`. Span offsets come back in
UTF-16 code units and leave here in code points, each checked against the surface text
Label Studio recorded. A result that cannot be read raises `InputError` naming the task;
pull records it as a problem and keeps going.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dsbuild.errors import InputError
from dsbuild.labelstudio.tasks import Unit, span_from_ls

__all__ = ["annotator_of", "parse_result"]

_SCORES = {"0": 0, "1": 1, "2": 2, "3": 3, "NA": "NA"}


def annotator_of(annotation: Mapping[str, Any]) -> tuple[str, int | None]:
    """(annotator name, user id) of an exported annotation: the email when the snapshot
    export carries identities, else `user-<id>`."""
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        uid = who.get("id")
        return str(who.get("email") or f"user-{uid}"), uid
    if who is None:
        return "unknown", None
    return f"user-{who}", int(who)


def _choice(item: Mapping[str, Any]) -> str | None:
    values = (item.get("value") or {}).get("choices") or []
    return str(values[0]) if values else None


def _text(item: Mapping[str, Any]) -> str | None:
    values = (item.get("value") or {}).get("text") or []
    text = "\n".join(str(v) for v in values).strip()
    return text or None


def _index(name: str, prefix: str, where: str) -> int:
    try:
        return int(name[len(prefix):])
    except ValueError:
        raise InputError(f"{where}: unknown control {name!r}", "use the interface dsbuild made",
                         code="DSB303") from None


def _psiloqa(unit: Unit, result: Sequence[Mapping[str, Any]], where: str) -> dict[str, Any]:
    text = unit.record["llm_answer"]
    spans: list[list[int]] = []
    comment = None
    for item in result:
        name = item.get("from_name")
        if name == "hallucination":
            value = item.get("value") or {}
            start, end = span_from_ls(text, int(value["start"]), int(value["end"]), value.get("text"),
                                      where=where)
            spans.append([start, end])
        elif name == "comment":
            comment = _text(item)
    return {"spans": sorted(spans), "comment": comment}


def _medrect(unit: Unit, result: Sequence[Mapping[str, Any]], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"error_flag": None, "error_sentence_id": None, "corrected_sentence": None,
                           "error_type": None, "comment": None}
    for item in result:
        name = item.get("from_name")
        if name == "error_flag":
            choice = _choice(item)
            out["error_flag"] = {"error": 1, "no_error": 0}.get(choice or "")
        elif name == "error_sentence":
            choice = _choice(item)
            out["error_sentence_id"] = int(choice) if choice and choice.isdigit() else None
        elif name == "corrected_sentence":
            out["corrected_sentence"] = _text(item)
        elif name == "error_type":
            out["error_type"] = _choice(item)
        elif name == "comment":
            out["comment"] = _text(item)
    if out["error_flag"] == 0:  # hidden fields keep stale values when the flag is switched off
        out.update(error_sentence_id=None, corrected_sentence=None, error_type=None)
    return out


def _cultural(unit: Unit, result: Sequence[Mapping[str, Any]], where: str) -> dict[str, Any]:
    n = len(unit.record.get("nuances") or [])
    out: dict[str, Any] = {"segments": {}, "content": None, "style": None, "audience": None,
                           "overall": None, "comment": None}
    for item in result:
        name = str(item.get("from_name"))
        if name.startswith("seg_score_"):
            i = _index(name, "seg_score_", where)
            score = _SCORES.get(_choice(item) or "")
            if i >= n:
                raise InputError(f"{where}: a score for segment {i + 1}, but the record has {n}",
                                 "the task no longer matches its record; re-push it", code="DSB303")
            if score is not None:
                out["segments"][i] = score
        elif name in ("content", "style", "audience", "overall"):
            score = _SCORES.get(_choice(item) or "")
            out[name] = score if isinstance(score, int) else None
        elif name == "comment":
            out["comment"] = _text(item)
    return out


def _entitycs(unit: Unit, result: Sequence[Mapping[str, Any]], where: str) -> dict[str, Any]:
    indices: list[int] = unit.extra["entities"]
    out: dict[str, Any] = {"verdicts": {}, "comment": None}
    for item in result:
        name = str(item.get("from_name"))
        if name.startswith("verdict_"):
            j = _index(name, "verdict_", where)
            if j >= len(indices):
                raise InputError(f"{where}: a verdict for entity {j + 1}, but the task shows {len(indices)}",
                                 "the task no longer matches its record; re-push it", code="DSB303")
            choice = _choice(item)
            if choice:
                out["verdicts"][indices[j]] = choice
        elif name == "comment":
            out["comment"] = _text(item)
    return out


_PARSERS = {"psiloqa": _psiloqa, "medrect": _medrect, "cultural": _cultural, "entitycs": _entitycs}


def parse_result(dataset: str, unit: Unit, result: Sequence[Mapping[str, Any]], *,
                 where: str = "annotation") -> dict[str, Any]:
    """The values one annotation gives one unit (dataset-specific dict)."""
    return _PARSERS[dataset](unit, result or [], where)
