"""EntityCS records: an English sentence and its entity-level code-switched twin.

Our rows list the switched entities with offsets into both sentences: the English anchor
`en_sentence[en_start:en_end]` is replaced by the Wikidata label in `language`, which sits at
`cs_sentence[cs_start:cs_end]`. Everything outside the entities is the same in both
sentences, so `cs_sentence` must be exactly `en_sentence` with each anchor replaced by its
label, in order.

The public release instead wraps entities in markers inside the sentences: `<en>`…`</en>`
in the English sentence and `<en>`, `<e>` or the language's own tag (`<de>`…`</de>`) in the
code-switched one. Rows without `entities` are checked in that form: markers balanced and
not nested, the same number of entities in both sentences, and the same text between them.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, model_validator

from dsbuild.spans import check_spans

from ._common import Problems, RecordId, RecordModel, first_difference

__all__ = ["Entity", "EntityCSRecord"]

_TAG = re.compile(r"<(/?)([A-Za-z]{1,3}(?:[-_][A-Za-z0-9]{1,8})?)>")


class Entity(BaseModel):
    """One code-switched entity: where it is in each sentence and what it became."""

    qid: str = Field(pattern=r"^Q[1-9][0-9]*$", description="Wikidata item id.")
    title: str | None = Field(default=None, description="English Wikipedia title of the entity.")
    anchor: str | None = Field(
        default=None, description="The English surface; when given, must equal en_sentence[en_start:en_end]."
    )
    en_start: int
    en_end: int
    cs_start: int
    cs_end: int
    label: str = Field(min_length=1, description="The entity's label in the target language.")


class EntityCSRecord(RecordModel):
    """One EntityCS row: an English sentence, its code-switched version and the entities switched."""

    id: RecordId = Field(description="Sentence id; the same English sentence keeps its id across languages.")
    language: str = Field(min_length=2, description="Target language of the switched entities (e.g. de).")
    en_sentence: str
    cs_sentence: str
    entities: list[Entity] | None = Field(
        default=None, description="Switched entities in sentence order; absent in the public marker form."
    )

    @model_validator(mode="after")
    def _check(self) -> EntityCSRecord:
        problems = Problems(type(self).__name__)
        if self.language.lower() == "en":
            problems.add(("language",), "same_language", "the target language must not be English")
        if self.entities is None:
            _check_markers(self, problems)
        elif not self.entities:
            problems.add(("entities",), "no_entities", "a code-switched sentence needs at least one entity")
        else:
            _check_entities(self, self.entities, problems)
        problems.raise_if_any()
        return self


def _check_entities(row: EntityCSRecord, entities: list[Entity], problems: Problems) -> None:
    en_spans = [(e.en_start, e.en_end) for e in entities]
    cs_spans = [(e.cs_start, e.cs_end) for e in entities]
    en_problems = check_spans(row.en_sentence, en_spans, surfaces=[e.anchor for e in entities])
    cs_problems = check_spans(row.cs_sentence, cs_spans, surfaces=[e.label for e in entities])
    for p in en_problems:
        field = "anchor" if p.code == "surface_mismatch" else "en_start"
        problems.add(("entities", p.index, field), p.code, f"in en_sentence: {p.message}")
    for p in cs_problems:
        field = "label" if p.code == "surface_mismatch" else "cs_start"
        problems.add(("entities", p.index, field), p.code, f"in cs_sentence: {p.message}")
    if en_problems or cs_problems:
        return
    rebuilt: list[str] = []
    expected: list[tuple[int, int]] = []
    pos = length = 0
    for e in entities:
        before = row.en_sentence[pos : e.en_start]
        rebuilt += [before, e.label]
        length += len(before)
        expected.append((length, length + len(e.label)))
        length += len(e.label)
        pos = e.en_end
    rebuilt.append(row.en_sentence[pos:])
    text = "".join(rebuilt)
    if text != row.cs_sentence:
        at = first_difference(text, row.cs_sentence)
        problems.add(
            ("cs_sentence",),
            "cs_sentence_mismatch",
            f"cs_sentence should be en_sentence with each anchor replaced by its label; "
            f"they part at character {at}",
        )
        return
    for i, (e, (start, end)) in enumerate(zip(entities, expected)):
        if (e.cs_start, e.cs_end) != (start, end):
            problems.add(
                ("entities", i, "cs_start"),
                "span_misaligned",
                f"the label sits at [{start}, {end}) of cs_sentence, not [{e.cs_start}, {e.cs_end})",
            )


def _markers(text: str, names: set[str]) -> tuple[list[str], int, str | None]:
    """Split a marked sentence into the text between entities; (pieces, entity count, error)."""
    pieces: list[str] = []
    pos = 0
    opened: tuple[str, int] | None = None
    count = 0
    for m in _TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in names:
            continue
        if not closing:
            if opened is not None:
                return pieces, count, f"<{name}> at character {m.start()} opens inside <{opened[0]}>"
            pieces.append(text[pos : m.start()])
            opened = (name, m.start())
        else:
            if opened is None:
                return pieces, count, f"</{name}> at character {m.start()} closes nothing"
            if opened[0] != name:
                return pieces, count, f"</{name}> at character {m.start()} closes <{opened[0]}>"
            opened = None
            count += 1
        pos = m.end()
    if opened is not None:
        return pieces, count, f"<{opened[0]}> at character {opened[1]} is never closed"
    pieces.append(text[pos:])
    return pieces, count, None


def _check_markers(row: EntityCSRecord, problems: Problems) -> None:
    names = {"e", "en", row.language.lower()}
    en_pieces, en_count, en_error = _markers(row.en_sentence, names)
    cs_pieces, cs_count, cs_error = _markers(row.cs_sentence, names)
    if en_error:
        problems.add(("en_sentence",), "markers_unbalanced", en_error)
    if cs_error:
        problems.add(("cs_sentence",), "markers_unbalanced", cs_error)
    if en_error or cs_error:
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
                f"the text before entity {i + 1} differs between the sentences: {a[-40:]!r} vs {b[-40:]!r}"
                if i < en_count
                else f"the text after the last entity differs: {a[:40]!r} vs {b[:40]!r}",
            )
            return
