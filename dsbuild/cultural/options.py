"""The cultural builder's options: one validated model read by every stage and gate of a run."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BeforeValidator, Field, field_validator

from dsbuild.builder_options import BuilderOptions, comma_list

__all__ = ["DEFAULT_LOCALES", "Options", "category_names"]

DEFAULT_LOCALES = ("ja-JP", "es-MX")  # the sample's default; ru-KZ etc. with --locales


class Options(BuilderOptions):
    """The cultural builder's options (`--option KEY=VALUE`, the build flags, or `options:`)."""

    gate_names: ClassVar[tuple[str, ...]] = ("hygiene_translation", "langid_translation")

    sources: str | None = Field(
        None, description="JSONL/CSV of texts (default: the embedded sample emails)"
    )
    lexicon: str | None = Field(None, description="JSONL/CSV/TSV of {surface, category, note}")
    categories: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        ["idiom", "pun", "holiday", "cultural_concept"],
        description="categories the LLM is asked for",
    )
    llm_segments: bool = Field(
        True, description="ask the LLM for segments beyond the given and the lexicon's"
    )
    models: Annotated[list[str] | None, BeforeValidator(comma_list)] = Field(
        None, description="roster of translating models (default: --model)"
    )
    locales: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        list(DEFAULT_LOCALES), description="target language-region tags, e.g. ja-JP,es-MX,ru-KZ"
    )
    temperature: float = Field(0.3, ge=0.0, le=2.0, description="sampling temperature")
    raters: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        ["rater-1"], min_length=1, description="rows of the rating sheet per translation"
    )

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        return category_names(value)

    @field_validator("locales")
    @classmethod
    def _locale_tags(cls, value: list[str]) -> list[str]:
        from dsbuild.cultural.sources import parse_locales

        return parse_locales(value) if value else list(DEFAULT_LOCALES)


def category_names(names: list[str]) -> list[str]:
    """The categories the LLM is asked for, as scheme names (checked against the schema's)."""
    from dsbuild.cultural.sources import category_name
    from dsbuild.errors import ConfigError
    from dsbuild.schemas.cultural import NUANCE_CATEGORIES

    out = []
    for raw in names:
        name = category_name(raw)
        if name is None:
            raise ConfigError(
                f"option categories: {raw!r} is not one of {', '.join(NUANCE_CATEGORIES)}",
                "write e.g. --categories idiom,pun,holiday,cultural_concept",
                code="DSB103",
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("option categories is empty", "name at least one category", code="DSB103")
    return out
