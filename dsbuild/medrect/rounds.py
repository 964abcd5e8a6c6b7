"""MedRECT's human annotation rounds in Label Studio (`SPEC.annotation`).

- Interface: `error_flag` (error / no_error), `error_sentence` (one of the numbered
  sentences, from the task data), `corrected_sentence`, `error_type` (the schema's types).
- Task: one per record, keyed by `id` or, in MedRECT files, `sample_id`; the record's
  error (if any) is pre-filled, its provenance the `inject` step.
- Reconcile: an `annotation_result` block with majority and unanimity per field and each
  annotator's corrected sentence.
- Agreement: nominal, per field.
"""

from __future__ import annotations

import html
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

__all__ = ["ROUNDS", "MedrectRounds", "numbered_sentences"]

_FIELDS = ("error_flag", "error_sentence_id", "error_type")
_PREFILLED = "A pre-filled answer comes from a model: check it and change what is wrong."


def numbered_sentences(text: str) -> list[tuple[int, str]]:
    """MedRECT's numbered sentences `N. …` (continuation lines joined), in order."""
    from dsbuild.schemas.medrect import _MEDRECT_LINE, parse_numbered_sentences

    sentences, _ = parse_numbered_sentences(text, _MEDRECT_LINE, 1)
    return sorted(sentences.items())


class MedrectRounds(AnnotationRounds):
    id_fields = ("id", "sample_id")
    display = ("text", "sentence_choices")
    prediction_step = "inject"

    def interface(self) -> Interface:
        from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

        lines = [
            (
                "Read the numbered clinical text. It holds at most one medical error "
                "(a wrong diagnosis, drug, dose, finding, test reading or management step)."
            ),
            (
                "Say whether there is an error. If there is, choose the sentence that holds it, "
                "write that sentence corrected (change only what is wrong), "
                "and choose the error type."
            ),
            _PREFILLED,
        ]
        root = start(lines)
        add_text(root, "Clinical text", "text", "$text")
        element(root, "Header", value="Does the text hold a medical error?", size="5")
        add_choices(
            root,
            "error_flag",
            "text",
            {"error": "Yes: one sentence is wrong", "no_error": "No: the text is correct"},
            required="true",
        )
        when = {
            "visibleWhen": "choice-selected",
            "whenTagName": "error_flag",
            "whenChoiceValue": "error",
        }
        box = element(root, "View", **when)
        element(box, "Header", value="Which sentence is wrong?", size="5")
        element(
            box,
            "Choices",
            name="error_sentence",
            toName="text",
            value="$sentence_choices",
            choice="single-radio",
        )
        element(box, "Header", value="The sentence, corrected", size="5")
        element(
            box,
            "TextArea",
            name="corrected_sentence",
            toName="text",
            maxSubmissions="1",
            editable="true",
            rows="2",
        )
        element(box, "Header", value="Error type", size="5")
        add_choices(
            box, "error_type", "text", {t: t.replace("_", " ") for t in MEDRECT_ERROR_TYPES}
        )
        add_comment(root, "text")
        return finish("medrect", root, lines, prefilled=(_PREFILLED,))

    def task(self, unit: Unit) -> tuple[dict, list[dict]]:
        r = unit.record
        text = r["sentences"]
        choices = [
            {"value": str(n), "html": f"{n}. {html.escape(s)}"} for n, s in numbered_sentences(text)
        ]
        data = {"text": text, "sentence_choices": choices}
        result: list[dict] = []
        flag = r.get("error_flag")
        if flag in (0, 1):
            result.append(
                {
                    "id": "dsb-flag",
                    "from_name": "error_flag",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": ["error" if flag else "no_error"]},
                }
            )
        if flag == 1:
            if r.get("error_sentence_id") is not None:
                result.append(
                    {
                        "id": "dsb-sent",
                        "from_name": "error_sentence",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": [str(r["error_sentence_id"])]},
                    }
                )
            if r.get("corrected_sentence"):
                result.append(
                    {
                        "id": "dsb-corr",
                        "from_name": "corrected_sentence",
                        "to_name": "text",
                        "type": "textarea",
                        "value": {"text": [r["corrected_sentence"]]},
                    }
                )
            if r.get("error_type"):
                result.append(
                    {
                        "id": "dsb-type",
                        "from_name": "error_type",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": [r["error_type"]]},
                    }
                )
        return data, result

    def parse_result(
        self, unit: Unit, result: Sequence[Mapping[str, Any]], where: str
    ) -> dict[str, Any]:
        from dsbuild.labelstudio.results import choice_of, text_of

        out: dict[str, Any] = {
            "error_flag": None,
            "error_sentence_id": None,
            "corrected_sentence": None,
            "error_type": None,
            "comment": None,
        }
        for item in result:
            name = item.get("from_name")
            if name == "error_flag":
                choice = choice_of(item)
                out["error_flag"] = {"error": 1, "no_error": 0}.get(choice or "")
            elif name == "error_sentence":
                choice = choice_of(item)
                out["error_sentence_id"] = int(choice) if choice and choice.isdigit() else None
            elif name == "corrected_sentence":
                out["corrected_sentence"] = text_of(item)
            elif name == "error_type":
                out["error_type"] = choice_of(item)
            elif name == "comment":
                out["comment"] = text_of(item)
        if out["error_flag"] == 0:  # hidden fields keep stale values when the flag is switched off
            out.update(error_sentence_id=None, corrected_sentence=None, error_type=None)
        return out

    def reconcile(self, unit: Unit, values: Values, method: str) -> tuple[dict, list[dict]]:
        from dsbuild.labelstudio.reconcile import disagreement, majority_vote

        record = dict(unit.record)
        block: dict[str, Any] = {}
        disagreements = []
        for field in _FIELDS:
            votes = {a: v.get(field) for a, v in values.items()}
            if field != "error_flag":  # only annotators who saw an error answer these
                votes = {a: x for a, x in votes.items() if values[a].get("error_flag") == 1}
            majority, unanimous = majority_vote(votes.values())
            block[field] = {"majority": majority, "unanimous": unanimous, "votes": votes}
            if not unanimous:
                disagreements.append(disagreement(unit, field, votes))
        block["corrected_sentences"] = {
            a: v["corrected_sentence"] for a, v in values.items() if v.get("corrected_sentence")
        }
        record["annotation_result"] = block
        return record, disagreements

    def agreement(self, units: Sequence[tuple[Any, Values]], raters: list[str]) -> dict[str, Any]:
        from dsbuild.labelstudio.agreement import nominal_agreement

        return {
            field: nominal_agreement(
                [[v[a].get(field) if a in v else None for a in raters] for _, v in units]
            )
            for field in _FIELDS
        }


ROUNDS = MedrectRounds()
