"""EntityCS records: an English sentence and its entity code-switched twin.

As in the EntityCS release, entities are wrapped in language tags inside both sentences:
`<en>`…`</en>` in `en_sentence`, and in `cs_sentence` the target language's tag around a
switched entity (`<de>Donau</de>`) or `<en>` around one left in English. `language` is the
target language, or `en` for the English-only set. Our rows add `entities`: for each
entity, its QID (null when the link has no Wikidata item), title, the language its
`cs_sentence` text is in, and code-point offsets of the entity's own text (tags excluded)
in both sentences, so `cs_sentence[cs_start:cs_end]` is the label.

Checked: tags balanced and not nested, the same number of entities in both sentences, the
same text between them; and, with `entities`, one per tagged entity, in order, each span
exactly the text inside its tags, and its language either the row's or `en`.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, model_validator

from ._common import Problems, RecordId, RecordModel

__all__ = ["Entity", "EntityCSRecord"]

_TAG = re.compile(r"<(/?)([A-Za-z]{1,3}(?:[-_][A-Za-z0-9]{1,8})?)>")


class Entity(BaseModel):
    """One entity of the sentence: where its text is in each sentence, and in which language."""

    qid: str | None = Field(
        default=None,
        pattern=r"^Q[1-9][0-9]*$",
        description="Wikidata item id; null when the link has no item.",
    )
    title: str | None = Field(default=None, description="English Wikipedia title of the entity.")
    language: str = Field(min_length=2, description="Language of the entity's text in cs_sentence.")
    en_start: int = Field(ge=0)
    en_end: int = Field(ge=0)
    cs_start: int = Field(ge=0)
    cs_end: int = Field(ge=0)


class EntityCSRecord(RecordModel):
    """One EntityCS row: a tagged English sentence, its code-switched version, its entities."""

    id: RecordId = Field(description="Row id: the sentence id and the language, e.g. 1234-5-de.")
    sentence_id: str | None = Field(default=None, description="Id of the English sentence.")
    language: str = Field(min_length=2, description="Target language (en: the English-only set).")
    en_sentence: str
    cs_sentence: str
    entities: list[Entity] | None = Field(
        default=None, description="Entities in sentence order; absent in the public release form."
    )

    @model_validator(mode="after")
    def _check(self) -> EntityCSRecord:
        problems = Problems(type(self).__name__)
        names = {"e", "en", self.language.lower()}
        en = _markers(self.en_sentence, names)
        cs = _markers(self.cs_sentence, names)
        _check_markers(en, cs, problems)
        if self.entities is not None and not problems.items:
            _check_entities(self, en, cs, problems)
        problems.raise_if_any()
        return self


def _check_entities(row: EntityCSRecord, en: tuple, cs: tuple, problems: Problems) -> None:
    en_spans, cs_spans = en[3], cs[3]
    if len(row.entities) != len(en_spans):
        problems.add(
            ("entities",),
            "entity_count_mismatch",
            f"{len(row.entities)} entities listed but {len(en_spans)} tagged",
        )
        return
    for i, (e, (es, ee, _), (cs_s, cs_e, cs_tag)) in enumerate(
        zip(row.entities, en_spans, cs_spans)
    ):
        if (e.en_start, e.en_end) != (es, ee):
            problems.add(
                ("entities", i, "en_start"),
                "span_misaligned",
                f"the entity's text is at [{es}, {ee}) of en_sentence, "
                f"not [{e.en_start}, {e.en_end})",
            )
        if (e.cs_start, e.cs_end) != (cs_s, cs_e):
            problems.add(
                ("entities", i, "cs_start"),
                "span_misaligned",
                f"the entity's text is at [{cs_s}, {cs_e}) of cs_sentence, "
                f"not [{e.cs_start}, {e.cs_end})",
            )
        if e.language.lower() not in (row.language.lower(), "en") or cs_tag not in (
            e.language.lower(),
            "e",
        ):
            problems.add(
                ("entities", i, "language"),
                "language_mismatch",
                f"entity language {e.language!r} but its cs_sentence tag is <{cs_tag}> "
                f"in a {row.language!r} row",
            )


def _markers(
    text: str, names: set[str]
) -> tuple[list[str], int, str | None, list[tuple[int, int, str]]]:
    """Split a tagged sentence: (text between entities, entity count, error, inner spans)."""
    pieces: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    opened: tuple[str, int, int] | None = None
    count = 0
    for m in _TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in names:
            continue
        if not closing:
            if opened is not None:
                return (
                    pieces,
                    count,
                    f"<{name}> at character {m.start()} opens inside <{opened[0]}>",
                    spans,
                )
            pieces.append(text[pos : m.start()])
            opened = (name, m.start(), m.end())
        else:
            if opened is None:
                return pieces, count, f"</{name}> at character {m.start()} closes nothing", spans
            if opened[0] != name:
                return (
                    pieces,
                    count,
                    f"</{name}> at character {m.start()} closes <{opened[0]}>",
                    spans,
                )
            spans.append((opened[2], m.start(), name))
            opened = None
            count += 1
        pos = m.end()
    if opened is not None:
        return pieces, count, f"<{opened[0]}> at character {opened[1]} is never closed", spans
    pieces.append(text[pos:])
    return pieces, count, None, spans


def _check_markers(en: tuple, cs: tuple, problems: Problems) -> None:
    en_pieces, en_count, en_error, _ = en
    cs_pieces, cs_count, cs_error, _ = cs
    if en_error:
        problems.add(("en_sentence",), "markers_unbalanced", en_error)
    if cs_error:
        problems.add(("cs_sentence",), "markers_unbalanced", cs_error)
    if en_error or cs_error:
        return
    if en_count == 0:
        problems.add(("en_sentence",), "no_entities", "no tagged entity in en_sentence")
        return
    if en_count != cs_count:
        problems.add(
            ("cs_sentence",),
            "entity_count_mismatch",
            f"en_sentence marks {en_count} entities but cs_sentence marks {cs_count}",
        )
        return
    for i, (a, b) in enumerate(zip(en_pieces, cs_pieces)):
        if a != b:
            problems.add(
                ("cs_sentence",),
                "context_mismatch",
                (
                    f"the text before entity {i + 1} differs between the sentences: "
                    f"{a[-40:]!r} vs {b[-40:]!r}"
                )
                if i < en_count
                else f"the text after the last entity differs: {a[:40]!r} vs {b[:40]!r}",
            )
            return
