"""Cultural-nuance translation records: one source segment, its translations, their ratings.

A record is a short source text (`text`, in `lang`) chosen because it holds culture-bound
material, marked as `nuances`: character spans `[start, end)` with a category and the
`surface` they cover. Several systems (LLMs named by their model spec, or `human`)
translate the segment; native speakers of each target language rate every translation:

    score  meaning
    3      the nuance is carried over naturally (an apt equivalent, or explained gracefully)
    2      the meaning is kept but the cultural flavour is flattened
    1      too literal: a reader would miss or misread the nuance
    0      wrong or lost: the nuance is mistranslated, dropped or offensive
    "NA"   the rater cannot judge (does not know the reference, or the segment is broken)

A rating is about the whole translation unless `nuance` gives the index of the nuance span
it judges. Each annotator rates a (translation, nuance) pair at most once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from dsbuild.spans import check_spans

from ._common import Problems, RecordModel

__all__ = ["NUANCE_CATEGORIES", "CulturalRecord", "Nuance", "Rating", "Translation"]

NuanceCategory = Literal["idiom", "pun", "holiday", "cultural_concept", "other"]
NUANCE_CATEGORIES: tuple[str, ...] = NuanceCategory.__args__  # type: ignore[attr-defined]
Score = Literal[0, 1, 2, 3, "NA"]


class Nuance(BaseModel):
    """A culture-bound span of the source text."""

    start: int = Field(description="Start offset in `text` (code points, inclusive).")
    end: int = Field(description="End offset in `text` (code points, exclusive).")
    category: NuanceCategory
    surface: str = Field(min_length=1, description="text[start:end], repeated so it can be checked.")
    note: str | None = Field(default=None, description="What a translator needs to know about it.")


class Rating(BaseModel):
    """One native speaker's score for a translation (or for one nuance in it)."""

    annotator: str = Field(min_length=1, description="Pseudonymous annotator id.")
    score: Score = Field(description="0-3 (see the module docs) or NA when the rater cannot judge.")
    nuance: int | None = Field(
        default=None, ge=0, description="Index into `nuances`; null rates the whole translation."
    )
    comment: str | None = None


class Translation(BaseModel):
    """One system's translation of the segment, with its ratings."""

    system: str = Field(min_length=1, description="Model spec (e.g. openai:gpt-4o-mini) or `human`.")
    target_lang: str = Field(min_length=2, description="Language of `text`.")
    text: str = Field(min_length=1)
    ratings: list[Rating] = Field(default_factory=list)


class CulturalRecord(RecordModel):
    """A source segment with its culture-bound spans, translations and native-speaker ratings."""

    id: str = Field(min_length=1)
    lang: str = Field(min_length=2, description="Language of the source text.")
    text: str = Field(min_length=1, description="The source segment.")
    source: str | None = Field(
        default=None, description="Where the segment comes from (URL, corpus, author)."
    )
    nuances: list[Nuance] = Field(min_length=1, description="Sorted, non-overlapping spans of `text`.")
    translations: list[Translation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> CulturalRecord:
        problems = Problems(type(self).__name__)
        spans = [(n.start, n.end) for n in self.nuances]
        found = check_spans(self.text, spans, surfaces=[n.surface for n in self.nuances])
        problems.add_spans(("nuances",), found, spans)
        seen: set[tuple[str, str]] = set()
        for t, tr in enumerate(self.translations):
            key = (tr.system, tr.target_lang)
            if key in seen:
                message = f"{tr.system} already translated into {tr.target_lang}"
                problems.add(("translations", t), "duplicate_translation", message)
            seen.add(key)
            if tr.target_lang.lower() == self.lang.lower():
                message = f"the source is already in {self.lang}"
                problems.add(("translations", t, "target_lang"), "same_language", message)
            rated: set[tuple[str, int | None]] = set()
            for r, rating in enumerate(tr.ratings):
                if rating.nuance is not None and rating.nuance >= len(self.nuances):
                    problems.add(
                        ("translations", t, "ratings", r, "nuance"),
                        "nuance_index_out_of_range",
                        f"there are {len(self.nuances)} nuances, so there is no nuance {rating.nuance}",
                        rating.nuance,
                    )
                if (rating.annotator, rating.nuance) in rated:
                    what = "this translation" if rating.nuance is None else f"nuance {rating.nuance} here"
                    message = f"{rating.annotator} already rated {what}"
                    problems.add(("translations", t, "ratings", r), "duplicate_rating", message)
                rated.add((rating.annotator, rating.nuance))
        problems.raise_if_any()
        return self
