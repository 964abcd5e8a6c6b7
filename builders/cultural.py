"""Cultural nuance in localisation ("Be My Cheese?", Van Doren et al., 2026): segments,
translations by several models for several locales, and their alignment, ready for raters.

    sources    source texts (the embedded marketing emails, or --sources FILE), each with an id
    segments   culturally loaded segments with exact offsets: hand-given ones (checked), a
               user lexicon, and an LLM's list (located by us); overlaps resolved by origin
    targets    one record per text x model x locale (the roster; no LLM call)
    translate  each model localises the text for its locale
    align      an LLM quotes each segment's counterpart in the translation; we locate it
               (offsets), or mark it `omitted` (the model said nothing corresponds) or
               `not_located` (the quote is not in the translation: kept, offsets null)

Every LLM call goes through the run's `ModelPool` (`ctx.llm`); a call failed for its content
rejects its record with `llm_<reason>`, one failed because of the endpoint leaves it pending.
Offsets are always computed here, never taken from a model: a surface is looked up exactly,
then after normalisation (case, whitespace, quotes), see `dsbuild.cultural.locate`. The
translator is not shown the segments, so the ratings measure how a model handles cultural
material on its own.

Records of the run are `CulturalRecord`s (one translation each, with `alignments`);
`finalize` merges them per source text into `cultural.jsonl` and writes the rating sheet
(long JSONL and the wide CSV/XLSX layout of `dsbuild.cultural.spreadsheet`) with empty
rating cells.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.builder_kit import (
    llm_stage,
    options,
    spec_list,
)
from dsbuild.cultural.records import merge_by_text, rating_rows
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.stages import Builder, StageContext, map_stage, source_stage

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = ["SPEC", "finalize", "make_builder", "merge_by_text", "rating_rows"]


def _opt(ctx: StageContext, key: str) -> Any:
    return getattr(options(ctx, SPEC), key)


# -- sources ------------------------------------------------------------------------------
def _sources(ctx: StageContext):
    """Source texts from --sources FILE, else the embedded sample emails."""
    from dsbuild.cultural.sources import read_sources

    path = _opt(ctx, "sources")
    limit = ctx.config.get("limit")  # every text counts, whatever its language
    yield from islice(
        read_sources(Path(path) if path else None), None if limit is None else int(limit)
    )


# -- segments -----------------------------------------------------------------------------
def make_segments(template):
    async def segments(record: dict, ctx: StageContext) -> Any:
        """Given, lexicon and LLM segments, located and merged (given > lexicon > LLM)."""
        from dsbuild.cultural.segments import find_segments

        return await find_segments(
            record,
            template,
            llm=ctx.llm,
            lexicon_path=_opt(ctx, "lexicon"),
            llm_segments=_opt(ctx, "llm_segments"),
            categories=_opt(ctx, "categories"),
            seed=ctx.seed,
        )

    return segments


# -- targets ------------------------------------------------------------------------------
def _targets(record: dict, ctx: StageContext) -> Any:
    """One record per model of the roster and target locale."""
    models = [ctx.llm.spec_label(m) for m in spec_list(_opt(ctx, "models"))]
    out = []
    for locale in _opt(ctx, "locales"):
        for model in dict.fromkeys(models):
            out.append(
                {
                    **record,
                    "id": f"{record['id']}/{locale}/{model}",
                    "text_id": record["id"],
                    "system": model,
                    "target_lang": locale,
                }
            )
    return out


# -- translate ----------------------------------------------------------------------------
def make_translate(template):
    async def translate(record: dict, ctx: StageContext) -> Any:
        """The model localises the source text for its locale."""
        from dsbuild.cultural.translation import translate_record

        return await translate_record(
            record,
            ctx.llm.get(record["system"]),
            template,
            temperature=_opt(ctx, "temperature"),
            seed=ctx.seed,
        )

    return translate


# -- align --------------------------------------------------------------------------------
def make_align(template):
    async def align(record: dict, ctx: StageContext) -> Any:
        """Each segment's counterpart in the translation: located, omitted or not located."""
        from dsbuild.cultural.alignment import align_translation

        return await align_translation(record, ctx.llm.get(None), template, seed=ctx.seed)

    return align


def _translation_gates():
    """Quality gates on the translations (each switchable: `--option gate.NAME=false`):
    hygiene (incl. truncated generations) and the locale's language (ja-JP → ja)."""
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import gate_stage

    return (
        gate_stage(
            "hygiene_translation", HygieneGate, field="translation", lang_field="target_lang"
        ),
        gate_stage("langid_translation", LangIdGate, field="translation", lang_field="target_lang"),
    )


def model_specs(settings: Settings) -> list[str | None]:
    """Every model the build will ask (None: the run's model), checked before it starts."""
    return [None, *(SPEC.validate_options(settings.options).models or [])]


def make_builder(settings: Settings) -> Builder:
    from dsbuild.llm.prompts import load_prompts

    options = SPEC.validate_options(settings.options)  # errors before the run
    if options.lexicon:
        from dsbuild.cultural.sources import read_lexicon

        read_lexicon(Path(options.lexicon))
    prompts = load_prompts("cultural", settings.prompts_dir)
    concurrency = max(1, settings.concurrency)

    return Builder(
        "cultural",
        "1",
        (
            source_stage("sources", _sources, description="source texts (file or embedded emails)"),
            llm_stage(
                "segments",
                make_segments,
                prompts,
                "segments",
                concurrency=concurrency,
                description="given, lexicon and LLM segments with exact offsets",
            ),
            map_stage("targets", _targets, description="one record per text x model x locale"),
            llm_stage(
                "translate",
                make_translate,
                prompts,
                "translate",
                concurrency=concurrency,
                description="localise for each locale",
            ),
            *_translation_gates(),
            llm_stage(
                "align",
                make_align,
                prompts,
                "align",
                concurrency=concurrency,
                description="each segment's counterpart in the translation, or omitted",
            ),
        ),
        description="cultural-nuance segments, localised translations and their alignment",
    )


# -- export -------------------------------------------------------------------------------
def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """`cultural.jsonl` (one record per source text, all translations and alignments) and
    the rating sheet: `rating-sheet.jsonl` (long) and `rating-sheet.csv`/`.xlsx` (wide)."""
    from dsbuild.cultural.records import write_outputs

    return write_outputs(result.records_path, result.run_dir, out_dir)


SPEC = DatasetSpec(
    name="cultural",
    title="Cultural-nuance translation segments",
    description=(
        "Idioms, puns, holidays and cultural concepts in source texts, localised by several "
        "models for several locales, aligned, and rated 0-3 or NA by native speakers."
    ),
    method='"Be My Cheese?" cultural nuance in localisation (Van Doren et al., 2026)',
    formats=("cultural",),
    options="dsbuild.cultural.options:Options",
    make_builder=make_builder,
    model_specs=model_specs,
    finalize=finalize,
    export="dsbuild.cultural.export:EXPORT",
    annotation="dsbuild.cultural.rounds:ROUNDS",
    stats="dsbuild.cultural.stats:STATS",
    commands="dsbuild.cli.cultural_commands:add_commands",
    build_options=(
        BuildOption(
            "--sources",
            "sources",
            "JSONL/CSV of texts {id, text, lang, segments: [{surface, category}]} "
            "[default: the 5 embedded emails]",
            "path",
            "FILE",
        ),
        BuildOption(
            "--lexicon",
            "lexicon",
            "JSONL/CSV/TSV of {surface, category, note} matched in every text",
            "path",
            "FILE",
        ),
        BuildOption(
            "--models",
            "models",
            "comma-separated roster of translating models; SPEC@URL for another endpoint "
            "[default: --model]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--locales",
            "locales",
            "target language-locales, comma-separated [default: ja-JP,es-MX]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--categories",
            "categories",
            "segment categories the LLM looks for [default: idiom,pun,holiday,cultural_concept]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--no-llm-segments",
            "llm_segments",
            "use only given and lexicon segments (no LLM segment finder)",
            "flag",
            flag_value=False,
        ),
        BuildOption(
            "--out",
            "settings.out",
            "folder for cultural.jsonl and the rating sheet (rating-sheet.jsonl/.csv/.xlsx) "
            "[default: RUN/export]",
            "path",
            "DIR",
        ),
    ),
)
