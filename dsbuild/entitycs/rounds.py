"""EntityCS's human annotation rounds in Label Studio (`SPEC.annotation`).

- Unit: one per record with at least one switched (non-English) entity, keyed by the
  record id and its language; only the switched entities are judged.
- Interface: per switched entity (Repeater over the task's entities) `verdict_{i}`:
  correct / wrong_label / wrong_inflection, the entity highlighted in the code-switched
  sentence (language tags stripped).
- Task: no pre-annotation.
- Reconcile: an `annotation_result` block with each entity's majority verdict.
- Agreement: nominal, over all judged entities.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dsbuild.labelstudio.hooks import AnnotationRounds, Unit, Values
from dsbuild.labelstudio.interfaces import (
    Interface,
    add_choices,
    add_comment,
    add_text,
    element,
    finish,
    start,
)

__all__ = ["ROUNDS", "VERDICTS", "EntitycsRounds", "strip_entity_tags"]

VERDICTS: dict[str, str] = {
    "correct": "correct: the entity's name in this language, correctly inflected",
    "wrong_label": "wrong label: not this entity's name in this language (another entity, a "
    "mistranslation, an English leftover)",
    "wrong_inflection": "wrong inflection: the right name in the wrong grammatical form for "
    "the sentence (case, number, gender, article)",
}

_TAG = re.compile(r"<(/?)([A-Za-z]{1,3}(?:[-_][A-Za-z0-9]{1,8})?)>")


def strip_entity_tags(tagged: str) -> tuple[str, list[tuple[int, int]]]:
    """The sentence without its language tags, and each tagged span in it."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = length = 0
    opened: int | None = None
    for m in _TAG.finditer(tagged):
        out.append(tagged[pos : m.start()])
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


def _english_surface(en_sentence: str, entity: Mapping[str, Any]) -> str | None:
    """The entity's English name as the English sentence has it (its tagged span)."""
    start, end = entity.get("en_start"), entity.get("en_end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(en_sentence):
        return en_sentence[start:end]
    return None


class EntitycsRounds(AnnotationRounds):
    display = ("en_text", "cs_text", "entities")

    def units(self, record: Mapping[str, Any], record_id: str) -> list[Unit]:
        switched = [
            i
            for i, e in enumerate(record.get("entities") or [])
            if str(e.get("language", "en")).lower() != "en"
        ]
        if not switched:
            return []
        return [
            Unit(
                f"{record_id}|{record.get('language')}",
                record_id,
                dict(record),
                extra={"entities": switched},
            )
        ]

    def interface(self) -> Interface:
        lines = [
            (
                "The second sentence is the first with some entity names switched into another "
                "language. Judge each switched entity (highlighted) on its own:"
            ),
            *[f"{v}." for v in VERDICTS.values()],
        ]
        root = start(lines)
        add_text(root, "English sentence", "en", "$en_text")
        add_text(root, "Code-switched sentence", "cs", "$cs_text")
        repeat = element(root, "Repeater", on="$entities", indexFlag="{{idx}}")
        ent = element(
            repeat, "View", style="border-top: 1px solid #ddd; margin-top: 10px; padding-top: 6px"
        )
        element(ent, "Header", value="$entities[{{idx}}].title", size="5")
        element(
            ent, "HyperText", name="ent_{{idx}}", value="$entities[{{idx}}].cs_html", inline="true"
        )
        add_choices(
            ent,
            "verdict_{{idx}}",
            "ent_{{idx}}",
            {k: v.split(":")[0] for k, v in VERDICTS.items()},
            required="true",
        )
        add_comment(root, "cs")
        return finish("entitycs", root, lines)

    def task(self, unit: Unit) -> tuple[dict, list[dict]]:
        from dsbuild.labelstudio.tasks import mark
        from dsbuild.languages import language_name

        r = unit.record
        en_text, _ = strip_entity_tags(r["en_sentence"])
        cs_text, cs_spans = strip_entity_tags(r["cs_sentence"])
        entities = []
        for j, i in enumerate(unit.extra["entities"]):
            e = r["entities"][i]
            begin, end = cs_spans[i] if i < len(cs_spans) else (None, None)
            label = (
                cs_text[begin:end]
                if begin is not None
                else r["cs_sentence"][e["cs_start"] : e["cs_end"]]
            )
            english = e.get("title") or _english_surface(r["en_sentence"], e) or "?"
            qid = f" ({e['qid']})" if e.get("qid") else ""
            entities.append(
                {
                    "index": i,
                    "title": f"Entity {j + 1} · {english}{qid} → “{label}” in "
                    f"{language_name(str(e.get('language') or ''))}",
                    "cs_html": mark(cs_text, begin, end),
                }
            )
        data = {
            "en_text": en_text,
            "cs_text": cs_text,
            "entities": entities,
            "language": r.get("language", ""),
        }
        return data, []

    def parse_result(
        self, unit: Unit, result: Sequence[Mapping[str, Any]], where: str
    ) -> dict[str, Any]:
        from dsbuild.errors import InputError
        from dsbuild.labelstudio.results import choice_of, control_index, text_of

        indices: list[int] = unit.extra["entities"]
        out: dict[str, Any] = {"verdicts": {}, "comment": None}
        for item in result:
            name = str(item.get("from_name"))
            if name.startswith("verdict_"):
                j = control_index(name, "verdict_", where)
                if j >= len(indices):
                    raise InputError(
                        f"{where}: a verdict for entity {j + 1}, but the task shows {len(indices)}",
                        "the task no longer matches its record; re-push it",
                        code="DSB303",
                    )
                choice = choice_of(item)
                if choice:
                    out["verdicts"][indices[j]] = choice
            elif name == "comment":
                out["comment"] = text_of(item)
        return out

    def reconcile(self, unit: Unit, values: Values, method: str) -> tuple[dict, list[dict]]:
        from dsbuild.labelstudio.reconcile import disagreement, majority_vote

        record = dict(unit.record)
        entities = []
        disagreements = []
        for i in unit.extra["entities"]:
            votes = {
                a: v["verdicts"].get(i)
                for a, v in values.items()
                if v["verdicts"].get(i) is not None
            }
            majority, unanimous = majority_vote(votes.values())
            entities.append(
                {"index": i, "verdict": majority, "unanimous": unanimous, "votes": votes}
            )
            if not unanimous:
                disagreements.append(
                    disagreement(
                        unit, f"entity {i}", votes, title=(record["entities"][i] or {}).get("title")
                    )
                )
        record["annotation_result"] = {"entities": entities}
        return record, disagreements

    def unit_info(self, unit: Unit) -> Any:
        return unit.extra["entities"]

    def agreement(self, units: Sequence[tuple[Any, Values]], raters: list[str]) -> dict[str, Any]:
        from dsbuild.labelstudio.agreement import nominal_agreement

        return {
            "verdict": nominal_agreement(
                [
                    [v[a]["verdicts"].get(i) if a in v else None for a in raters]
                    for indices, v in units
                    for i in indices
                ]
            )
        }


ROUNDS = EntitycsRounds()
