"""The cultural dataset's human annotation rounds in Label Studio (`SPEC.annotation`).

- Unit: one per translation of a record, keyed by the record id (plus target language and
  system when the record has several translations).
- Interface: the source text and the translation once each; then per segment (Repeater
  over the task's segments) `seg_score_{i}` 0-3 or NA, under "Segment {i}" (the same
  number as the field, which is the record's nuance index: a Repeater counts from 0), the
  segment's note, the source sentence with the segment highlighted and, labelled, the
  translation's sentence with the counterpart highlighted, or a line saying none was found
  (the translation is not repeated); full-text `content`, `style`, `audience`, `overall`
  (0-3) and a `comment`. An ordinal scale with NA is `Choices`: `Rating` has no zero and
  no NA.
- Task: no pre-annotation (ratings are human work); a prediction's provenance would be the
  translation's `translate` step (else its `system`).
- Reconcile: each annotator's ratings join the translation's `ratings` (the schema's
  `Rating`), and the translation gets an `annotation_result` block with majority and
  median, and the round's `annotation` block.
- Agreement: the rating summary for segment scores and each full-text criterion.
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

__all__ = ["FULL_TEXT_MEANINGS", "ROUNDS", "SCORE_MEANINGS", "CulturalRounds"]

SCORE_MEANINGS: dict[str, str] = {
    "3": "carried over naturally (an apt equivalent)",
    "2": "meaning kept, cultural flavour flattened",
    "1": "too literal: a reader would misread it",
    "0": "wrong, offensive or lost",
    "NA": "not translated: the translation leaves the segment out",
}
FULL_TEXT_MEANINGS: dict[str, str] = {
    "3": "publishable as is",
    "2": "good, needs light editing",
    "1": "poor, needs heavy editing",
    "0": "unusable",
}
_SCORES = {"0": 0, "1": 1, "2": 2, "3": 3, "NA": "NA"}
_CRITERIA = ("content", "style", "audience", "overall")


_SENTENCE_END = re.compile(r"[.!?。！？؟।]+[\"'”’»)]*\s+|\n\s*\n")


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence (or sentences) of `text` holding [start, end): from the end of the
    sentence before to the end of the one that holds `end`."""
    begin, stop = 0, len(text)
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= start:
            begin = m.end()
        elif m.start() >= end:
            stop = m.end()
            break
    return begin, stop


def _in_sentence(text: str, start: int, end: int) -> str:
    """HTML of the sentence holding [start, end), the span highlighted (whitespace kept)."""
    from dsbuild.labelstudio.tasks import mark

    begin, stop = _sentence_bounds(text, start, end)
    sentence = text[begin:stop].rstrip()
    body = mark(sentence, start - begin, end - begin)
    prefix = "… " if begin > 0 else ""
    suffix = " …" if stop < len(text.rstrip()) else ""
    if prefix or suffix:
        body = body.replace('pre-wrap">', f'pre-wrap">{prefix}', 1)
        body = body[: -len("</div>")] + suffix + "</div>"
    return body


def _labelled(label: str, body: str) -> str:
    """A segment block's line: a bold label above its text."""
    import html

    return f"<div><b>{html.escape(label)}</b></div>{body}"


class CulturalRounds(AnnotationRounds):
    display = ("source_text", "translation_text", "segments")
    prediction_step = "translate"

    def units(self, record: Mapping[str, Any], record_id: str) -> list[Unit]:
        translations = record.get("translations") or []
        units = []
        for t, tr in enumerate(translations):
            key = (
                record_id
                if len(translations) == 1
                else f"{record_id}|{tr.get('target_lang')}|{tr.get('system')}"
            )
            units.append(Unit(key, record_id, dict(record), t))
        return units

    def interface(self) -> Interface:
        from dsbuild.schemas.cultural import FULL_TEXT_CRITERIA

        lines = [
            (
                "You are a native speaker of the target language. Read the source text and its "
                "translation; below them, each culture-bound segment is shown with why it is "
                "culturally loaded, highlighted in its source sentence and, where it was found, "
                "in the translation."
            ),
            (
                "Segments are numbered from 0, as the fields of the export are "
                "(Segment 0 is seg_score_0)."
            ),
            "Rate each segment: "
            + "; ".join(f"{k} = {v}" for k, v in SCORE_MEANINGS.items())
            + ".",
            "NA is an answer (the translation left the segment out), not 'I do not know'.",
            (
                "Then rate the whole translation 0-3 on each criterion: "
                + "; ".join(f"{k} = {v}" for k, v in FULL_TEXT_MEANINGS.items())
                + "."
            ),
            "Add a comment when a rating needs explaining (what a reader would misunderstand).",
        ]
        root = start(lines)
        add_text(root, "Source text", "source", "$source_text")
        add_text(root, "Translation", "translation", "$translation_text")
        repeat = element(root, "Repeater", on="$segments", indexFlag="{{idx}}")
        seg = element(
            repeat, "View", style="border-top: 1px solid #ddd; margin-top: 10px; padding-top: 6px"
        )
        element(seg, "Header", value="$segments[{{idx}}].title", size="5")
        element(
            seg,
            "HyperText",
            name="seg_src_{{idx}}",
            value="$segments[{{idx}}].source_html",
            inline="true",
        )
        element(
            seg,
            "HyperText",
            name="seg_tr_{{idx}}",
            value="$segments[{{idx}}].translation_html",
            inline="true",
        )
        add_choices(
            seg,
            "seg_score_{{idx}}",
            "seg_tr_{{idx}}",
            {k: f"{k} — {v}" for k, v in SCORE_MEANINGS.items()},
            required="true",
            requiredMessage="Segment {{idx}} has no rating yet: choose 0-3 or NA.",
        )
        element(root, "Header", value="The whole translation", size="4")
        for name, what in FULL_TEXT_CRITERIA.items():
            element(root, "Header", value=what.capitalize(), size="5")
            add_choices(
                root,
                name,
                "translation",
                {k: f"{k} — {v}" for k, v in FULL_TEXT_MEANINGS.items()},
                required="true",
            )
        add_comment(root, "translation", rows="3")
        return finish("cultural", root, lines)

    def task(self, unit: Unit) -> tuple[dict, list[dict]]:
        import html

        from dsbuild.errors import InputError
        from dsbuild.languages import language_name

        r = unit.record
        tr = r["translations"][unit.translation]
        source, translation = r["text"], tr["text"]
        source_lang, target_lang = r.get("lang", ""), tr.get("target_lang", "")
        aligned = {a.get("nuance"): a for a in tr.get("alignments") or [] if isinstance(a, Mapping)}
        segments = []
        for i, n in enumerate(r.get("nuances") or []):
            if source[n["start"] : n["end"]] != n["surface"]:
                raise InputError(
                    f"record {unit.record_id} nuance {i}: text[{n['start']}:{n['end']}] "
                    f"is not {n['surface']!r}",
                    "fix the record's offsets",
                    code="DSB303",
                )
            a = aligned.get(i) or {}
            begin, end = a.get("start"), a.get("end")
            if begin is not None and translation[begin:end] != a.get(
                "counterpart", translation[begin:end]
            ):
                begin = end = None
            note = (
                f'<div style="color: #555"><b>Why it is culturally loaded:</b> '
                f"{html.escape(n['note'])}</div>"
                if n.get("note")
                else ""
            )
            src_label = f"Source ({language_name(source_lang)})" if source_lang else "Source"
            tr_label = (
                f"Translation ({language_name(target_lang)})" if target_lang else "Translation"
            )
            if begin is None:
                missing = (
                    "no counterpart: the translation seems to leave this segment out"
                    if a.get("status") == "omitted"
                    else "no counterpart was located: find it in the translation above"
                )
                tr_html = _labelled(tr_label, f"<i>{html.escape(missing)}</i>")
            else:
                tr_html = _labelled(tr_label, _in_sentence(translation, begin, end))
            segments.append(
                {
                    "title": f"Segment {i} · {n['category']}: “{n['surface']}”",
                    "source_html": note
                    + _labelled(src_label, _in_sentence(source, n["start"], n["end"])),
                    "translation_html": tr_html,
                }
            )
        data = {
            "source_text": source,
            "translation_text": translation,
            "segments": segments,
            "source_lang": source_lang,
            "target_lang": target_lang,
        }
        return data, []

    def prediction_source(
        self, record: Mapping[str, Any], translation: int | None
    ) -> tuple[Mapping[str, Any], str]:
        if translation is None:
            return super().prediction_source(record, translation)
        tr = (record.get("translations") or [{}])[translation]
        return tr.get("provenance") or {}, str(tr.get("system") or "")

    def parse_result(
        self, unit: Unit, result: Sequence[Mapping[str, Any]], where: str
    ) -> dict[str, Any]:
        from dsbuild.errors import InputError
        from dsbuild.labelstudio.results import choice_of, control_index, text_of

        n = len(unit.record.get("nuances") or [])
        out: dict[str, Any] = {
            "segments": {},
            "content": None,
            "style": None,
            "audience": None,
            "overall": None,
            "comment": None,
        }
        for item in result:
            name = str(item.get("from_name"))
            if name.startswith("seg_score_"):
                i = control_index(name, "seg_score_", where)
                score = _SCORES.get(choice_of(item) or "")
                if i >= n:
                    raise InputError(
                        f"{where}: a score for segment {i}, but the record has {n} "
                        f"(numbered from 0)",
                        "the task no longer matches its record; re-push it",
                        code="DSB303",
                    )
                if score is not None:
                    out["segments"][i] = score
            elif name in _CRITERIA:
                score = _SCORES.get(choice_of(item) or "")
                out[name] = score if isinstance(score, int) else None
            elif name == "comment":
                out["comment"] = text_of(item)
        return out

    def reconcile(self, unit: Unit, values: Values, method: str) -> tuple[dict, list[dict]]:
        from dsbuild.labelstudio.reconcile import disagreement, rating_block

        record = dict(unit.record)
        translations = [dict(t) for t in record.get("translations") or []]
        tr = translations[unit.translation or 0]
        ratings = [r for r in tr.get("ratings") or [] if r.get("annotator") not in values]
        segments = []
        disagreements = []
        for i, nuance in enumerate(record.get("nuances") or []):
            votes = {
                a: v["segments"].get(i)
                for a, v in values.items()
                if v["segments"].get(i) is not None
            }
            for a, score in votes.items():
                ratings.append({"annotator": a, "nuance": i, "score": score})
            block = {"nuance": i, "surface": nuance.get("surface"), **rating_block(votes)}
            segments.append(block)
            if not block["unanimous"]:
                disagreements.append(
                    disagreement(
                        unit,
                        f"segment {i}",
                        votes,
                        surface=nuance.get("surface"),
                        translation=tr.get("target_lang"),
                        system=tr.get("system"),
                    )
                )
        full: dict[str, Any] = {}
        for criterion in _CRITERIA:
            votes = {a: v.get(criterion) for a, v in values.items() if v.get(criterion) is not None}
            full[criterion] = rating_block(votes)
            if not full[criterion]["unanimous"]:
                disagreements.append(
                    disagreement(
                        unit,
                        criterion,
                        votes,
                        translation=tr.get("target_lang"),
                        system=tr.get("system"),
                    )
                )
        for a, v in values.items():
            if v.get("overall") is None:
                continue
            ratings.append(
                {
                    "annotator": a,
                    "nuance": None,
                    "score": v["overall"],
                    "content": v.get("content"),
                    "style": v.get("style"),
                    "audience": v.get("audience"),
                    "comment": v.get("comment"),
                }
            )
        tr["ratings"] = ratings
        tr["annotation_result"] = {"segments": segments, "full_text": full}
        translations[unit.translation or 0] = tr
        record["translations"] = translations
        return record, disagreements

    def attach(self, record: dict[str, Any], unit: Unit, block: dict[str, Any]) -> None:
        record["translations"][unit.translation or 0]["annotation"] = block

    def unit_info(self, unit: Unit) -> Any:
        return len(unit.record.get("nuances") or [])

    def agreement(self, units: Sequence[tuple[Any, Values]], raters: list[str]) -> dict[str, Any]:
        from dsbuild.labelstudio.agreement import rating_agreement

        seg_table = [
            [v[a]["segments"].get(i) if a in v else None for a in raters]
            for n, v in units
            for i in range(n)
        ]
        fields = {"segment score": rating_agreement(seg_table)}
        for criterion in _CRITERIA:
            fields[criterion] = rating_agreement(
                [[v[a].get(criterion) if a in v else None for a in raters] for _, v in units]
            )
        return fields


ROUNDS = CulturalRounds()
