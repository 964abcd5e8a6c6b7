"""The align request: an LLM quotes each segment's counterpart in a translation.

`align_translation` lists the source text's segments for the model, asks for exactly one
counterpart per segment, and hands the answers to `dsbuild.cultural.records.aligned_record`,
which locates them (`dsbuild.cultural.segments.align_counterparts`) and builds the record.
"""

from __future__ import annotations

from typing import Any

from dsbuild.builder_kit import ask, response_format
from dsbuild.cultural.records import aligned_record
from dsbuild.cultural.segments import segment_listing
from dsbuild.cultural.sources import locale_parts
from dsbuild.languages import language_name

__all__ = ["align_translation"]


async def align_translation(record: dict, engine: Any, template: Any, *, seed: Any) -> Any:
    """The translated record with each segment's counterpart located, omitted or not
    located (its one `translations` entry), or a rejection."""
    language, _ = locale_parts(record["target_lang"])
    count = len(record["nuances"])
    result = await ask(
        engine,
        template,
        source_language=language_name(record["lang"]),
        language=language,
        source=record["text"],
        translation=record["translation"],
        segments=segment_listing(record["nuances"]),
        count=count,
        # exactly one counterpart per segment, where the schema describes their items
        response_format=response_format(
            template, {"counterparts": {"minItems": count, "maxItems": count}}
        ),
        sampling={"temperature": 0.0, "seed": seed, "max_tokens": 48 + 40 * count},
        id=record["id"],
    )
    if not result.ok:
        return result.rejection()
    return aligned_record(record, result.json.get("counterparts"), result.provenance())
