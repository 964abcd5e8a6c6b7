"""Cultural-nuance translation records and native-speaker ratings ("Be My Cheese?" design).

A record is a short source text (`text`, in `lang`; a marketing email, say) holding
culture-bound material, marked as `nuances`: character spans `[start, end)` with a category
(idiom, pun, holiday, cultural concept) and the `surface` they cover. Several systems (LLMs
named by their model spec, or `human`) translate the text for a target language-locale;
native speakers of that locale rate every translation on a 0-3 ordinal scale:

    score  full text (four criteria)                  one segment (a nuance span)
    3      publishable as is                           carried over naturally (an apt equivalent)
    2      good, needs light editing                   meaning kept, cultural flavour flattened
    1      poor, needs heavy editing                   too literal: a reader would misread it
    0      unusable                                    wrong, offensive or lost
    "NA"   (not allowed)                               not translated: the translation left the
                                                       segment out (an answer, not missing data)

The full-text criteria are: faithful to content, faithful to style, appropriate to the
audience, and overall quality. A missing rating (a rater who did not rate something) is
simply absent, never "NA".

Ratings come in two shapes:

- nested, inside a `CulturalRecord` (`Translation.ratings`, one `Rating` per rater and
  nuance; `nuance` null means the full text, whose `score` is the overall rating);
- long, one flat `RatingRow` per rater x text x model x segment plus one full-text row per
  rater x text x model (`dsbuild.cultural.ratings` reads and writes these as JSONL, CSV or
  Parquet). Table columns have one type each, so a row spells NA as `na: true` with a null
  `score`; `score: "NA"` is accepted on input and read that way.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from dsbuild.spans import check_spans

from ._common import Problems, RecordId, RecordModel

__all__ = [
    "FULL_TEXT_CRITERIA",
    "NUANCE_CATEGORIES",
    "CulturalRecord",
    "Nuance",
    "Rating",
    "RatingRow",
    "Translation",
]

NuanceCategory = Literal["idiom", "pun", "holiday", "cultural_concept", "other"]
NUANCE_CATEGORIES: tuple[str, ...] = NuanceCategory.__args__  # type: ignore[attr-defined]
Score = Literal[0, 1, 2, 3, "NA"]
Grade = Annotated[int, Field(ge=0, le=3)]

FULL_TEXT_CRITERIA: dict[str, str] = {
    "content": "faithful to content",
    "style": "faithful to style",
    "audience": "appropriate to audience",
    "overall": "overall quality",
}
"""Full-text criteria: column name -> what the rater judged."""


def _meta_to_str(value: Any) -> Any:
    """Rater metadata values are strings (so they survive a spreadsheet); numbers are read as
    text."""
    if isinstance(value, dict):
        return {
            k: str(v).lower()
            if isinstance(v, bool)
            else str(v)
            if isinstance(v, int | float)
            else v
            for k, v in value.items()
        }
    return value


RaterMeta = Annotated[dict[str, str], BeforeValidator(_meta_to_str)]


class Nuance(BaseModel):
    """A culture-bound span of the source text."""

    start: int = Field(description="Start offset in `text` (code points, inclusive).")
    end: int = Field(description="End offset in `text` (code points, exclusive).")
    category: NuanceCategory
    surface: str = Field(
        min_length=1, description="text[start:end], repeated so it can be checked."
    )
    note: str | None = Field(default=None, description="What a translator needs to know about it.")


class Rating(BaseModel):
    """One native speaker's rating of a translation: the full text, or one nuance in it."""

    annotator: str = Field(min_length=1, description="Pseudonymous rater id.")
    nuance: int | None = Field(
        default=None, ge=0, description="Index into `nuances`; null rates the whole translation."
    )
    score: Score = Field(
        description="0-3. For the full text: overall quality (NA not allowed). "
        "For a nuance: 0-3, or NA when the translation left the segment untranslated."
    )
    content: Grade | None = Field(
        default=None, description="Full text only: faithful to content, 0-3."
    )
    style: Grade | None = Field(default=None, description="Full text only: faithful to style, 0-3.")
    audience: Grade | None = Field(
        default=None, description="Full text only: appropriate to audience, 0-3."
    )
    comment: str | None = None
    rater_meta: RaterMeta | None = Field(
        default=None,
        description="What the study records about the rater (locale, background), as text.",
    )


class Translation(BaseModel):
    """One system's translation of the text, with its ratings."""

    system: str = Field(
        min_length=1, description="Model spec (e.g. openai:gpt-4o-mini) or `human`."
    )
    target_lang: str = Field(
        min_length=2, description="Language (or language-locale, e.g. ja-JP) of `text`."
    )
    text: str = Field(min_length=1)
    ratings: list[Rating] = Field(default_factory=list)


class CulturalRecord(RecordModel):
    """A source text with its culture-bound spans, translations and native-speaker ratings."""

    id: str = Field(min_length=1)
    lang: str = Field(min_length=2, description="Language of the source text.")
    text: str = Field(min_length=1, description="The source text.")
    source: str | None = Field(
        default=None, description="Where the text comes from (URL, corpus, author)."
    )
    nuances: list[Nuance] = Field(
        min_length=1, description="Sorted, non-overlapping spans of `text`."
    )
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
                loc = ("translations", t, "ratings", r)
                if rating.nuance is not None and rating.nuance >= len(self.nuances):
                    problems.add(
                        (*loc, "nuance"),
                        "nuance_index_out_of_range",
                        f"there are {len(self.nuances)} nuances, "
                        f"so there is no nuance {rating.nuance}",
                        rating.nuance,
                    )
                if rating.nuance is None and rating.score == "NA":
                    message = "NA means a segment was not translated; a full-text rating needs 0-3"
                    problems.add((*loc, "score"), "na_on_full_text", message, rating.score)
                if rating.nuance is not None:
                    for name in ("content", "style", "audience"):
                        if getattr(rating, name) is not None:
                            message = (
                                f"`{name}` is a full-text criterion; drop it from nuance ratings"
                            )
                            problems.add((*loc, name), "criterion_on_segment", message)
                if (rating.annotator, rating.nuance) in rated:
                    what = (
                        "this translation"
                        if rating.nuance is None
                        else f"nuance {rating.nuance} here"
                    )
                    message = f"{rating.annotator} already rated {what}"
                    problems.add(loc, "duplicate_rating", message)
                rated.add((rating.annotator, rating.nuance))
        problems.raise_if_any()
        return self


class RatingRow(BaseModel):
    """One row of the long ratings table: a rater's rating of one segment of one model's
    translation of one text into one locale, or (`segment` null) of the full translation.

    A row with neither a score nor `na` is a missing rating (kept so its comment or
    translation survives a round trip); analyses skip it.
    """

    text_id: RecordId = Field(description="Id of the source text.")
    source_lang: str = Field(default="en", min_length=2, description="Language of the source text.")
    target: str = Field(
        min_length=2, description="Target language-locale tag, e.g. ja-JP, es-MX, ru-KZ."
    )
    model: str = Field(
        min_length=1, description="The system that translated (model spec, or `human`)."
    )
    rater: str = Field(min_length=1, description="Pseudonymous rater id.")
    rater_meta: RaterMeta = Field(default_factory=dict, description="Rater metadata, as text.")
    segment: int | None = Field(
        default=None,
        ge=1,
        description="Segment number in the text (from 1); null for the full text.",
    )
    category: NuanceCategory | None = Field(
        default=None, description="Segment rows: the segment's category."
    )
    surface: str | None = Field(
        default=None, description="Segment rows: the source segment (text[start:end])."
    )
    start: int | None = Field(
        default=None, ge=0, description="Segment rows, optional: offset in the source text."
    )
    end: int | None = Field(
        default=None, ge=0, description="Segment rows, optional: end offset (exclusive)."
    )
    translation: str | None = Field(
        default=None,
        description="Segment rows: the segment's counterpart; "
        "full-text rows: the whole translation.",
    )
    score: Grade | None = Field(
        default=None, description="Segment rows: 0-3 (null when NA or not rated)."
    )
    na: bool = Field(
        default=False, description="Segment rows: true = the segment was not translated (NA)."
    )
    content: Grade | None = Field(
        default=None, description="Full-text rows: faithful to content, 0-3."
    )
    style: Grade | None = Field(default=None, description="Full-text rows: faithful to style, 0-3.")
    audience: Grade | None = Field(
        default=None, description="Full-text rows: appropriate to audience, 0-3."
    )
    overall: Grade | None = Field(default=None, description="Full-text rows: overall quality, 0-3.")
    comment: str | None = None
    final_comment: str | None = Field(
        default=None,
        description="Full-text rows, optional: a last free comment "
        "(a study's `any parting thoughts?`).",
    )
    language: str | None = Field(
        default=None,
        description="Optional: the target language as the study names it (e.g. Spanish); "
        "analyses group by it.",
    )
    locale: str | None = Field(
        default=None,
        description="Optional: the target locale or region as the study names it (e.g. Mexico).",
    )
    unit: str | None = Field(
        default=None,
        description="Optional: the study's id of the rated translation (text x model x locale), "
        "the agreement unit of full-text ratings; default: text_id, target and model.",
    )
    segment_id: str | None = Field(
        default=None,
        description="Segment rows, optional: the study's id of the rated segment, the agreement "
        "unit of segment ratings; default: the full-text unit and `segment`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _na_spelling(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and isinstance(data.get("score"), str)
            and data["score"].strip().upper() == "NA"
        ):
            data = {**data, "score": None, "na": True}
        return data

    @model_validator(mode="after")
    def _check(self) -> RatingRow:
        problems = Problems(type(self).__name__)
        if self.segment is None:
            for name in ("category", "surface", "start", "end", "score", "segment_id"):
                if getattr(self, name) is not None:
                    problems.add(
                        (name,),
                        "segment_field_on_full_text",
                        f"`{name}` belongs to segment rows; this row has no `segment`",
                    )
            if self.na:
                problems.add(
                    ("na",),
                    "na_on_full_text",
                    "NA means a segment was not translated; a full-text rating needs 0-3",
                )
        else:
            for name in (*FULL_TEXT_CRITERIA, "final_comment"):
                if getattr(self, name) is not None:
                    problems.add(
                        (name,),
                        "criterion_on_segment",
                        f"`{name}` belongs to full-text rows; "
                        "use `score` and `comment` on segment rows",
                    )
            if self.category is None:
                problems.add(("category",), "missing", "segment rows need the segment's category")
            if not self.surface:
                problems.add(
                    ("surface",), "missing", "segment rows need the source segment (`surface`)"
                )
            if self.na and self.score is not None:
                problems.add(
                    ("score",), "score_and_na", f"score {self.score} and NA at once; keep one"
                )
            if (self.start is None) != (self.end is None):
                problems.add(("end",), "half_span", "give both `start` and `end`, or neither")
            elif (
                self.start is not None
                and self.end is not None
                and self.surface
                and self.end - self.start != len(self.surface)
            ):
                message = (
                    f"[{self.start}, {self.end}) covers {self.end - self.start} characters, "
                    f"the surface has {len(self.surface)}"
                )
                problems.add(("end",), "span_length_mismatch", message)
        problems.raise_if_any()
        return self
