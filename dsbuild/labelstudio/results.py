"""Label Studio annotation results → one annotator's values for one unit.

Each dataset's `AnnotationRounds.parse_result` reads the controls its interface named,
with the readers here (`choice_of`, `text_of`, `control_index`). Span offsets come back in
code points, as Label Studio stores them (`tasks.span_from_ls`), each checked against the
surface text Label Studio recorded. A result that cannot be read raises `InputError`
naming the task; pull records it as a problem and keeps going.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dsbuild.errors import InputError
from dsbuild.labelstudio.hooks import Unit, rounds_for

__all__ = ["annotator_of", "choice_of", "control_index", "parse_result", "text_of"]


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


def choice_of(item: Mapping[str, Any]) -> str | None:
    """The choice a `Choices` result holds (the first), or None."""
    values = (item.get("value") or {}).get("choices") or []
    return str(values[0]) if values else None


def text_of(item: Mapping[str, Any]) -> str | None:
    """The text a `TextArea` result holds (lines joined, stripped), or None when empty."""
    values = (item.get("value") or {}).get("text") or []
    text = "\n".join(str(v) for v in values).strip()
    return text or None


def control_index(name: str, prefix: str, where: str) -> int:
    """The index in a repeated control's name (`seg_score_3` → 3); InputError otherwise."""
    try:
        return int(name[len(prefix) :])
    except ValueError:
        raise InputError(
            f"{where}: unknown control {name!r}", "use the interface dsbuild made", code="DSB303"
        ) from None


def parse_result(
    dataset: str, unit: Unit, result: Sequence[Mapping[str, Any]], *, where: str = "annotation"
) -> dict[str, Any]:
    """The values one annotation gives one unit (dataset-specific dict)."""
    return rounds_for(dataset).parse_result(unit, result or [], where)
