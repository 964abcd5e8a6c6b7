"""Entity code-switching as EntityCS does it: every linked entity of an English sentence is
replaced by its label in a target language, with language tags around entities.

    en_sentence  "The <en>Danube</en> flows into the <en>Black Sea</en>."
    cs_sentence  "The <de>Donau</de> flows into the <de>Schwarzes Meer</de>."

Each row also lists its entities with code-point offsets of the entity's own text (tags
excluded) in both sentences, so `cs_sentence[cs_start:cs_end]` is the label and users can
mask entities without parsing tags. Pure functions: no I/O, deterministic given a seed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "EntityLink",
    "XLMR_LANGUAGES",
    "candidate_languages",
    "choose_languages",
    "english_row",
    "english_tagged",
    "switch",
]

# XLM-R's 100 training languages less English, the five romanised variants and Burmese
# Zawgyi, as Wikidata label codes (Norwegian as nb, Chinese as zh and zh-hant): 93 targets.
XLMR_LANGUAGES: tuple[str, ...] = (
    "af",
    "sq",
    "am",
    "ar",
    "hy",
    "as",
    "az",
    "eu",
    "be",
    "bn",
    "bs",
    "br",
    "bg",
    "my",
    "ca",
    "zh",
    "zh-hant",
    "hr",
    "cs",
    "da",
    "nl",
    "eo",
    "et",
    "tl",
    "fi",
    "fr",
    "gl",
    "ka",
    "de",
    "el",
    "gu",
    "ha",
    "he",
    "hi",
    "hu",
    "is",
    "id",
    "ga",
    "it",
    "ja",
    "jv",
    "kn",
    "kk",
    "km",
    "ko",
    "ku",
    "ky",
    "lo",
    "la",
    "lv",
    "lt",
    "mk",
    "mg",
    "ms",
    "ml",
    "mr",
    "mn",
    "ne",
    "nb",
    "or",
    "om",
    "ps",
    "fa",
    "pl",
    "pt",
    "pa",
    "ro",
    "ru",
    "sa",
    "gd",
    "sr",
    "sd",
    "si",
    "sk",
    "sl",
    "so",
    "es",
    "su",
    "sw",
    "sv",
    "ta",
    "te",
    "th",
    "tr",
    "uk",
    "ur",
    "ug",
    "uz",
    "vi",
    "cy",
    "fy",
    "xh",
    "yi",
)


@dataclass(frozen=True, slots=True)
class EntityLink:
    """A linked entity in the English sentence: [start, end) of its anchor text."""

    start: int
    end: int
    title: str
    qid: str | None


def candidate_languages(
    links: Sequence[EntityLink], labels: Mapping[str, Mapping[str, str]], languages: Sequence[str]
) -> list[str]:
    """Target languages in which every linked entity that has a QID has a label."""
    qids = {link.qid for link in links if link.qid}
    if not qids:
        return []
    common = set.intersection(*(set(labels.get(q, ())) for q in qids))
    return [lang for lang in languages if lang in common]


def _rng(seed: int, sentence_id: str) -> random.Random:
    digest = hashlib.blake2b(f"{seed}\x1f{sentence_id}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def choose_languages(
    candidates: Sequence[str], k: int, *, seed: int, sentence_id: str
) -> list[str]:
    """Up to `k` of the candidates, sampled with a seed that depends only on the sentence
    id (not on order, worker count or engine), returned in candidate order."""
    if len(candidates) <= k:
        return list(candidates)
    picked = set(_rng(seed, sentence_id).sample(list(candidates), k))
    return [c for c in candidates if c in picked]


def _tagged(
    text: str, links: Sequence[EntityLink], replacement
) -> tuple[str, list[tuple[int, int]]]:
    """`text` with each link's text replaced by `replacement(link)` -> (lang, surface) and
    wrapped in <lang>…</lang>; returns the new text and the surfaces' offsets."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    length = 0
    for link in links:
        before = text[pos : link.start]
        lang, surface = replacement(link)
        open_tag = f"<{lang}>"
        parts.extend((before, open_tag, surface, f"</{lang}>"))
        start = length + len(before) + len(open_tag)
        spans.append((start, start + len(surface)))
        length = start + len(surface) + len(lang) + 3
        pos = link.end
    parts.append(text[pos:])
    return "".join(parts), spans


def english_tagged(text: str, links: Sequence[EntityLink]) -> tuple[str, list[tuple[int, int]]]:
    """`text` with every link's anchor inside <en> tags, and the anchors' offsets in it: the
    `en_sentence` of a sentence's English row and of each of its code-switched rows (made
    once per sentence and passed to `english_row` and `switch`)."""
    return _tagged(text, links, lambda link: ("en", text[link.start : link.end]))


def english_row(
    sentence_id: str,
    text: str,
    links: Sequence[EntityLink],
    *,
    english: tuple[str, list[tuple[int, int]]] | None = None,
) -> dict:
    """The English-only row: entities tagged <en>, offsets of their anchors (`english`:
    `english_tagged(text, links)`, if already made)."""
    en_sentence, spans = english or english_tagged(text, links)
    entities = [
        {
            "qid": link.qid,
            "title": link.title,
            "language": "en",
            "en_start": s,
            "en_end": e,
            "cs_start": s,
            "cs_end": e,
        }
        for link, (s, e) in zip(links, spans)
    ]
    return {
        "id": f"{sentence_id}-en",
        "sentence_id": sentence_id,
        "language": "en",
        "en_sentence": en_sentence,
        "cs_sentence": en_sentence,
        "entities": entities,
    }


def switch(
    sentence_id: str,
    text: str,
    links: Sequence[EntityLink],
    labels: Mapping[str, Mapping[str, str]],
    language: str,
    *,
    fraction: float = 1.0,
    seed: int = 0,
    english: tuple[str, list[tuple[int, int]]] | None = None,
) -> dict:
    """One code-switched row: each entity (or a seeded `fraction` of them) in `language`.

    Entities without a QID, and those left out by `fraction`, stay English inside <en> tags.
    `english`: `english_tagged(text, links)`, if already made (it is the same for every
    language of a sentence).
    """
    switched = [bool(link.qid) for link in links]
    if fraction < 1.0:
        rng = _rng(seed, f"{sentence_id}\x1f{language}")
        switched = [s and rng.random() < fraction for s in switched]
    en_sentence, en_spans = english or english_tagged(text, links)
    decisions = iter(switched)

    def replace(link: EntityLink) -> tuple[str, str]:
        if next(decisions):
            return language, labels[link.qid][language]
        return "en", text[link.start : link.end]

    cs_sentence, cs_spans = _tagged(text, links, replace)
    entities = [
        {
            "qid": link.qid,
            "title": link.title,
            "language": language if sw else "en",
            "en_start": es,
            "en_end": ee,
            "cs_start": cs,
            "cs_end": ce,
        }
        for link, sw, (es, ee), (cs, ce) in zip(links, switched, en_spans, cs_spans)
    ]
    return {
        "id": f"{sentence_id}-{language}",
        "sentence_id": sentence_id,
        "language": language,
        "en_sentence": en_sentence,
        "cs_sentence": cs_sentence,
        "entities": entities,
    }
