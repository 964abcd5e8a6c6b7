"""Labelling interfaces (Label Studio XML): the building blocks, and `interface_for`.

Each dataset's interface is made by its annotation rounds (`dsbuild.<dataset>.rounds`,
`AnnotationRounds.interface`) from the blocks here, so that all of them look alike: they
open with the annotator instructions (also set as the project's instructions, shown before
the first task), show the record's texts with their whitespace kept, and end with a free
`comment`. The control names are those the dataset's `parse_result` reads back. An ordinal
scale with NA is `Choices` (`add_choices`): `Rating` has no zero and no NA.

Instruction lines about pre-annotations (`finish(..., prefilled=...)`) are kept only when
the pushed tasks carry some (`Interface.for_tasks`): an annotator is never told about
pre-selected spans that are not there.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

__all__ = [
    "Interface",
    "add_choices",
    "add_comment",
    "add_text",
    "element",
    "field_help",
    "finish",
    "interface_for",
    "start",
]


@dataclass(frozen=True)
class Interface:
    """A project's labelling config and the instructions shown to annotators."""

    dataset: str
    label_config: str
    instructions: list[str]
    prefilled: tuple[str, ...] = ()
    """Instruction lines that hold only when tasks come with pre-annotations."""

    def for_tasks(self, *, prefilled: bool) -> Interface:
        """This interface for tasks with (or without) pre-annotations: without, the lines
        about them leave both the instructions and the labelling config's instruction box."""
        if prefilled or not self.prefilled:
            return self
        drop = set(self.prefilled)
        root = ET.fromstring(self.label_config)
        box = root[0] if len(root) else None
        if box is not None:
            for header in [h for h in box if h.tag == "Header" and h.get("value") in drop]:
                box.remove(header)
        return replace(
            self,
            label_config=ET.tostring(root, encoding="unicode"),
            instructions=[line for line in self.instructions if line not in drop],
            prefilled=(),
        )

    @property
    def instructions_html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.instructions)
        return f"<ol>{items}</ol>"


def element(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    """A child element; a trailing `_` in an attribute name is dropped (`for_` → `for`)."""
    return ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})


def start(lines: list[str]) -> ET.Element:
    """The interface's root `View`, opening with the instructions box."""
    root = ET.Element("View")
    box = element(
        root,
        "View",
        style="padding: 8px 12px; margin-bottom: 12px; background: #f4f6fb; border-radius: 6px",
    )
    element(box, "Header", value="How to annotate", size="5")
    for line in lines:
        element(box, "Header", value=line, size="6", underline="false")
    return root


def finish(
    dataset: str, root: ET.Element, lines: list[str], *, prefilled: tuple[str, ...] = ()
) -> Interface:
    """The `Interface` of a finished root; `prefilled`: those of `lines` that speak of
    pre-annotations (dropped when a push has none)."""
    return Interface(dataset, ET.tostring(root, encoding="unicode"), lines, tuple(prefilled))


def add_text(root: ET.Element, title: str, name: str, value: str) -> None:
    """A titled text, selectable by character."""
    element(root, "Header", value=title, size="5")
    element(root, "Text", name=name, value=value, granularity="symbol")


def add_choices(
    root: ET.Element, name: str, to: str, options: dict[str, str], **attrs: str
) -> ET.Element:
    """Single-choice radio buttons, one per `value: label`."""
    box = element(
        root, "Choices", name=name, toName=to, choice="single-radio", showInline="false", **attrs
    )
    for value, label in options.items():
        element(box, "Choice", value=value, html=html.escape(label))
    return box


def field_help(model, name: str, default: str) -> str:
    """A record model field's description (`default` without one)."""
    info = model.model_fields.get(name)
    return (info.description or default) if info is not None else default


def add_comment(root: ET.Element, to_name: str, rows: str = "2") -> None:
    """The free comment box every interface ends with."""
    element(
        root,
        "TextArea",
        name="comment",
        toName=to_name,
        placeholder="Comment (optional)",
        maxSubmissions="1",
        editable="true",
        rows=rows,
    )


def interface_for(dataset: str) -> Interface:
    """The labelling interface of `dataset` (UsageError for a dataset without one)."""
    from dsbuild.labelstudio.hooks import rounds_for

    return rounds_for(dataset).interface()
