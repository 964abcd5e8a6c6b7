"""PsiloQA's human annotation rounds in Label Studio (`SPEC.annotation`).

- Interface: `hallucination` spans (Labels) on the `answer`; passage, question and gold
  answer shown; a `comment`.
- Task: one per record; the model's spans (`labels`) are pre-annotated, their provenance
  the `annotate` step (else the record's `llm_checkpoint`).
- Reconcile: `labels` become the reconciled spans (`method`, default majority) and
  `annotated_span` follows; the model's spans stay in `model_labels`; `soft_labels` (share
  of annotators per character) and `annotations` (each annotator's spans) as in Mu-SHROOM.
- Agreement: character level over the answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dsbuild.labelstudio.hooks import AnnotationRounds, Unit, Values
from dsbuild.labelstudio.interfaces import (
    Interface,
    add_comment,
    add_text,
    element,
    field_help,
    finish,
    start,
)

__all__ = ["ROUNDS", "PsiloqaRounds"]

_PREFILLED = "Pre-selected spans come from a model: delete or resize them when they are wrong."


class PsiloqaRounds(AnnotationRounds):
    display = ("passage", "question", "golden_answer", "answer")
    prediction_step = "annotate"

    def interface(self) -> Interface:
        from dsbuild.schemas.psiloqa import PsiloQARecord

        lines = [
            "Read the passage, the question and the gold answer written from the passage.",
            (
                "Then select, in the model answer, every stretch of text that the passage "
                "contradicts or does not support: wrong numbers, names, dates, places, invented "
                "details."
            ),
            (
                "Select as little as needed (a wrong number, not the whole sentence); leave "
                "correct and merely vague wording unmarked. If nothing is wrong, submit with no "
                "span."
            ),
            _PREFILLED,
        ]
        root = start(lines)
        add_text(
            root,
            "Passage — " + field_help(PsiloQARecord, "wiki_passage", "the passage"),
            "passage",
            "$passage",
        )
        add_text(root, "Question", "question", "$question")
        add_text(
            root,
            "Gold answer — " + field_help(PsiloQARecord, "golden_answer", "from the passage"),
            "gold",
            "$golden_answer",
        )
        element(root, "Header", value="Model answer: select the hallucinated spans", size="5")
        labels = element(root, "Labels", name="hallucination", toName="answer")
        element(labels, "Label", value="Hallucination", background="#ff8a80", hotkey="h")
        element(root, "Text", name="answer", value="$answer", granularity="symbol")
        add_comment(root, "answer")
        return finish("psiloqa", root, lines, prefilled=(_PREFILLED,))

    def task(self, unit: Unit) -> tuple[dict, list[dict]]:
        from dsbuild.labelstudio.tasks import span_to_ls

        r = unit.record
        answer = r["llm_answer"]
        data = {
            "passage": r.get("wiki_passage", ""),
            "question": r.get("question", ""),
            "golden_answer": r.get("golden_answer", ""),
            "answer": answer,
            "lang": r.get("lang", ""),
            "wiki_title": r.get("wiki_title", ""),
        }
        result = []
        for i, (start_, end) in enumerate(r.get("labels") or []):
            s16, e16 = span_to_ls(answer, start_, end, where=f"record {unit.record_id} label {i}")
            result.append(
                {
                    "id": f"dsb{i}",
                    "from_name": "hallucination",
                    "to_name": "answer",
                    "type": "labels",
                    "origin": "prediction",
                    "value": {
                        "start": s16,
                        "end": e16,
                        "text": answer[start_:end],
                        "labels": ["Hallucination"],
                    },
                }
            )
        return data, result

    def prediction_source(
        self, record: Mapping[str, Any], translation: int | None
    ) -> tuple[Mapping[str, Any], str]:
        prov, _ = super().prediction_source(record, translation)
        return prov, str(record.get("llm_checkpoint") or "")

    def parse_result(
        self, unit: Unit, result: Sequence[Mapping[str, Any]], where: str
    ) -> dict[str, Any]:
        from dsbuild.labelstudio.results import text_of
        from dsbuild.labelstudio.tasks import span_from_ls

        text = unit.record["llm_answer"]
        spans: list[list[int]] = []
        comment = None
        for item in result:
            name = item.get("from_name")
            if name == "hallucination":
                value = item.get("value") or {}
                s, e = span_from_ls(
                    text, int(value["start"]), int(value["end"]), value.get("text"), where=where
                )
                spans.append([s, e])
            elif name == "comment":
                comment = text_of(item)
        return {"spans": sorted(spans), "comment": comment}

    def reconcile(self, unit: Unit, values: Values, method: str) -> tuple[dict, list[dict]]:
        from dsbuild.labelstudio.reconcile import disagreement, reconcile_spans
        from dsbuild.span_labels import chars_of, normalize_spans, spans_of
        from dsbuild.spans import insert_markers

        record = dict(unit.record)
        spans = {a: v["spans"] for a, v in values.items()}
        rec = reconcile_spans(spans)
        text = record["llm_answer"]
        chosen = rec[method]
        record.setdefault("model_labels", record.get("labels"))
        record["labels"] = chosen
        record["annotated_span"] = insert_markers(text, chosen)
        record["soft_labels"] = rec["soft"]
        record["hard_labels"] = rec["majority"]
        record["annotations"] = {a: normalize_spans(s) for a, s in spans.items()}
        disputed = chars_of(rec["union"]) - chars_of(rec["intersection"])
        disagreements = []
        if disputed:
            disagreements.append(
                disagreement(
                    unit,
                    "labels",
                    {a: normalize_spans(s) for a, s in spans.items()},
                    disputed_chars=len(disputed),
                    disputed_spans=spans_of(disputed),
                    surfaces=[text[s:e] for s, e in spans_of(disputed)],
                )
            )
        return record, disagreements

    def unit_info(self, unit: Unit) -> Any:
        return len(unit.record["llm_answer"])

    def agreement(self, units: Sequence[tuple[Any, Values]], raters: list[str]) -> dict[str, Any]:
        from dsbuild.labelstudio.agreement import span_agreement

        return {"labels (characters)": span_agreement(units, raters)}


ROUNDS = PsiloqaRounds()
