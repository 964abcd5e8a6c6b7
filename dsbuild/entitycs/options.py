"""EntityCS's build options: one validated model read by every stage and gate of a run."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from dsbuild.builder_options import BuilderOptions, check_relations

__all__ = ["DEFAULTS", "Options"]


class Options(BuilderOptions):
    """EntityCS's options (`--option KEY=VALUE`, the build flags, or `options:` in a config)."""

    gate_names: ClassVar[tuple[str, ...]] = ("label_script",)

    wikipedia: str | None = Field(
        None, description="pages-articles XML dump (default: the embedded mini-Wikipedia)"
    )
    wikidata: str | None = Field(
        None, description="Wikidata JSON dump (default: the embedded excerpt)"
    )
    wikipedia_index: str | None = Field(
        None,
        description="index of a multistream Wikipedia dump (default: the "
        "…-multistream-index.txt.bz2 next to it, when there)",
    )
    max_languages: int = Field(5, ge=1, description="languages a sentence is switched into at most")
    switch_fraction: float = Field(
        1.0, gt=0.0, le=1.0, description="share of a sentence's entities switched"
    )
    splitter: Literal["spacy", "stanza"] = Field("spacy", description="sentence splitter")
    min_links: int = Field(1, ge=0, description="fewest wikilinks a kept sentence has")
    max_links: int = Field(10, ge=1, description="most wikilinks a kept sentence has")
    min_chars: int = Field(20, ge=0, description="a kept sentence is longer than this")
    max_tokens: int = Field(128, ge=1, description="most tokens a kept sentence has")

    @model_validator(mode="after")
    def _relations(self) -> Options:
        check_relations([("min_links", self.min_links, "max_links", self.max_links)])
        return self


DEFAULTS: dict[str, Any] = Options().model_dump(
    exclude={"gates", "gate", "wikipedia", "wikidata", "wikipedia_index"}
)
"""The sentence filter's defaults, as a plain dict (what `sentence_filter` and workers take)."""
