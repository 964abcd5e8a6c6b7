"""Labelling interfaces (Label Studio XML) per dataset, generated from the record schemas.

Each interface opens with the annotator instructions (also set as the project's
instructions, shown before the first task), shows the record's texts with their whitespace
kept, and names its controls as `dsbuild.labelstudio.results` reads them back:

- PsiloQA: `hallucination` spans (Labels) on the `answer`; passage, question and gold
  answer shown; a `comment`.
- MedRECT: `error_flag` (error / no_error), `error_sentence` (one of the numbered
  sentences, from the task data), `corrected_sentence`, `error_type` (the schema's types).
- cultural: per segment (Repeater over the task's segments) `seg_score_{i}` 0-3 or NA
  with the source and translated segment highlighted; full-text `content`, `style`,
  `audience`, `overall` (0-3) and a `comment`. An ordinal scale with NA is `Choices`:
  `Rating` has no zero and no NA.
- EntityCS: per switched entity `verdict_{i}`: correct / wrong_label / wrong_inflection.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = ["SCORE_MEANINGS", "VERDICTS", "Interface", "interface_for"]

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
VERDICTS: dict[str, str] = {
    "correct": "correct: the entity's name in this language, correctly inflected",
    "wrong_label": "wrong label: not this entity's name in this language (another entity, a "
                   "mistranslation, an English leftover)",
    "wrong_inflection": "wrong inflection: the right name in the wrong grammatical form for "
                        "the sentence (case, number, gender, article)",
}


@dataclass(frozen=True)
class Interface:
    """A project's labelling config and the instructions shown to annotators."""

    dataset: str
    label_config: str
    instructions: list[str]

    @property
    def instructions_html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.instructions)
        return f"<ol>{items}</ol>"


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})


def _instructions(root: ET.Element, lines: list[str]) -> None:
    box = _el(root, "View", style="padding: 8px 12px; margin-bottom: 12px; "
              "background: #f4f6fb; border-radius: 6px")
    _el(box, "Header", value="How to annotate", size="5")
    for line in lines:
        _el(box, "Header", value=line, size="6", underline="false")


def _text(root: ET.Element, title: str, name: str, value: str) -> None:
    _el(root, "Header", value=title, size="5")
    _el(root, "Text", name=name, value=value, granularity="symbol")


def _choices(root: ET.Element, name: str, to: str, options: dict[str, str], **attrs: str) -> ET.Element:
    box = _el(root, "Choices", name=name, toName=to, choice="single-radio", showInline="false", **attrs)
    for value, label in options.items():
        _el(box, "Choice", value=value, html=html.escape(label))
    return box


def _field_help(model, name: str, default: str) -> str:
    info = model.model_fields.get(name)
    return (info.description or default) if info is not None else default


def _comment(root: ET.Element, to_name: str, rows: str = "2") -> None:
    """The free comment box every interface ends with."""
    _el(root, "TextArea", name="comment", toName=to_name, placeholder="Comment (optional)",
        maxSubmissions="1", editable="true", rows=rows)


def psiloqa() -> Interface:
    from dsbuild.schemas.psiloqa import PsiloQARecord

    lines = [
        "Read the passage, the question and the gold answer written from the passage.",
        ("Then select, in the model answer, every stretch of text that the passage contradicts "
         "or does not support: wrong numbers, names, dates, places, invented details."),
        ("Select as little as needed (a wrong number, not the whole sentence); leave correct "
         "and merely vague wording unmarked. If nothing is wrong, submit with no span."),
        "Pre-selected spans come from a model: delete or resize them when they are wrong.",
    ]
    root = ET.Element("View")
    _instructions(root, lines)
    _text(root, "Passage — " + _field_help(PsiloQARecord, "wiki_passage", "the passage"), "passage", "$passage")
    _text(root, "Question", "question", "$question")
    _text(root, "Gold answer — " + _field_help(PsiloQARecord, "golden_answer", "from the passage"),
          "gold", "$golden_answer")
    _el(root, "Header", value="Model answer: select the hallucinated spans", size="5")
    labels = _el(root, "Labels", name="hallucination", toName="answer")
    _el(labels, "Label", value="Hallucination", background="#ff8a80", hotkey="h")
    _el(root, "Text", name="answer", value="$answer", granularity="symbol")
    _comment(root, "answer")
    return Interface("psiloqa", ET.tostring(root, encoding="unicode"), lines)


def medrect() -> Interface:
    from dsbuild.schemas.medrect import MEDRECT_ERROR_TYPES

    lines = [
        ("Read the numbered clinical text. It holds at most one medical error "
         "(a wrong diagnosis, drug, dose, finding, test reading or management step)."),
        ("Say whether there is an error. If there is, choose the sentence that holds it, write "
         "that sentence corrected (change only what is wrong), and choose the error type."),
        "A pre-filled answer comes from a model: check it and change what is wrong.",
    ]
    root = ET.Element("View")
    _instructions(root, lines)
    _text(root, "Clinical text", "text", "$text")
    _el(root, "Header", value="Does the text hold a medical error?", size="5")
    _choices(root, "error_flag", "text", {"error": "Yes: one sentence is wrong",
                                          "no_error": "No: the text is correct"}, required="true")
    when = {"visibleWhen": "choice-selected", "whenTagName": "error_flag", "whenChoiceValue": "error"}
    box = _el(root, "View", **when)
    _el(box, "Header", value="Which sentence is wrong?", size="5")
    _el(box, "Choices", name="error_sentence", toName="text", value="$sentence_choices",
        choice="single-radio")
    _el(box, "Header", value="The sentence, corrected", size="5")
    _el(box, "TextArea", name="corrected_sentence", toName="text", maxSubmissions="1",
        editable="true", rows="2")
    _el(box, "Header", value="Error type", size="5")
    _choices(box, "error_type", "text", {t: t.replace("_", " ") for t in MEDRECT_ERROR_TYPES})
    _comment(root, "text")
    return Interface("medrect", ET.tostring(root, encoding="unicode"), lines)


def cultural() -> Interface:
    from dsbuild.schemas.cultural import FULL_TEXT_CRITERIA

    lines = [
        ("You are a native speaker of the target language. Read the source text and its "
         "translation; the culture-bound segments are highlighted in both."),
        "Rate each segment: " + "; ".join(f"{k} = {v}" for k, v in SCORE_MEANINGS.items()) + ".",
        "NA is an answer (the translation left the segment out), not 'I do not know'.",
        ("Then rate the whole translation 0-3 on each criterion: "
         + "; ".join(f"{k} = {v}" for k, v in FULL_TEXT_MEANINGS.items()) + "."),
        "Add a comment when a rating needs explaining (what a reader would misunderstand).",
    ]
    root = ET.Element("View")
    _instructions(root, lines)
    _text(root, "Source text", "source", "$source_text")
    _text(root, "Translation", "translation", "$translation_text")
    repeat = _el(root, "Repeater", on="$segments", indexFlag="{{idx}}")
    seg = _el(repeat, "View", style="border-top: 1px solid #ddd; margin-top: 10px; padding-top: 6px")
    _el(seg, "Header", value="$segments[{{idx}}].title", size="5")
    _el(seg, "HyperText", name="seg_src_{{idx}}", value="$segments[{{idx}}].source_html", inline="true")
    _el(seg, "HyperText", name="seg_tr_{{idx}}", value="$segments[{{idx}}].translation_html", inline="true")
    _choices(seg, "seg_score_{{idx}}", "seg_tr_{{idx}}",
             {k: f"{k} — {v}" for k, v in SCORE_MEANINGS.items()}, required="true")
    _el(root, "Header", value="The whole translation", size="4")
    for name, what in FULL_TEXT_CRITERIA.items():
        _el(root, "Header", value=what.capitalize(), size="5")
        _choices(root, name, "translation", {k: f"{k} — {v}" for k, v in FULL_TEXT_MEANINGS.items()},
                 required="true")
    _comment(root, "translation", rows="3")
    return Interface("cultural", ET.tostring(root, encoding="unicode"), lines)


def entitycs() -> Interface:
    lines = [
        ("The second sentence is the first with some entity names switched into another "
         "language. Judge each switched entity (highlighted) on its own:"),
        *[f"{v}." for v in VERDICTS.values()],
    ]
    root = ET.Element("View")
    _instructions(root, lines)
    _text(root, "English sentence", "en", "$en_text")
    _text(root, "Code-switched sentence", "cs", "$cs_text")
    repeat = _el(root, "Repeater", on="$entities", indexFlag="{{idx}}")
    ent = _el(repeat, "View", style="border-top: 1px solid #ddd; margin-top: 10px; padding-top: 6px")
    _el(ent, "Header", value="$entities[{{idx}}].title", size="5")
    _el(ent, "HyperText", name="ent_{{idx}}", value="$entities[{{idx}}].cs_html", inline="true")
    _choices(ent, "verdict_{{idx}}", "ent_{{idx}}", {k: v.split(":")[0] for k, v in VERDICTS.items()},
             required="true")
    _comment(root, "cs")
    return Interface("entitycs", ET.tostring(root, encoding="unicode"), lines)


_FACTORIES = {"psiloqa": psiloqa, "medrect": medrect, "cultural": cultural, "entitycs": entitycs}


def interface_for(dataset: str) -> Interface:
    """The labelling interface of `dataset` (UsageError for a dataset without one)."""
    from dsbuild.errors import UsageError

    try:
        return _FACTORIES[dataset]()
    except KeyError:
        raise UsageError(f"dataset {dataset!r} has no Label Studio interface",
                         f"use one of {', '.join(_FACTORIES)}", code="DSB105") from None
