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

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.builder_kit import (
    ask,
    options,
    per_language,
    prompt_version,
    read_records,
    response_format,
    spec_list,
    write_records,
)
from dsbuild.cultural.records import merge_by_text, rating_rows
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.stages import Builder, StageContext, map_stage, reject, source_stage

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
    yield from per_language(
        read_sources(Path(path) if path else None),
        limit=ctx.config.get("limit"),
        lang_of=lambda record: "",
    )  # every text counts, whatever its language


# -- segments -----------------------------------------------------------------------------
def make_segments(template):
    async def segments(record: dict, ctx: StageContext) -> Any:
        """Given, lexicon and LLM segments, located and merged (given > lexicon > LLM)."""
        from dsbuild.cultural import segments as seg
        from dsbuild.cultural.locate import normalize
        from dsbuild.languages import language_name

        text = record["text"]
        norm = normalize(text)
        candidates, failed = seg.given_candidates(record, norm)
        if failed is not None:
            return failed
        stats = seg.new_stats(len(candidates))
        candidates += seg.lexicon_candidates(text, seg.lexicon(_opt(ctx, "lexicon")), norm, stats)
        provenance = dict(record.get("provenance") or {})
        if _opt(ctx, "llm_segments"):
            categories = _opt(ctx, "categories")
            result = await ask(
                ctx.llm.get(None),
                template,
                language=language_name(record["lang"]),
                text=text,
                categories=seg.category_listing(categories),
                # the categories asked for, where the schema has a category enum
                response_format=response_format(
                    template, {"segments.items.category": {"enum": categories}}
                ),
                sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 600},
                id=record["id"],
            )
            if not result.ok:
                return result.rejection()
            provenance["segments"] = result.provenance()
            items = result.json.get("segments") or []
            candidates += seg.llm_candidates(items, text, norm, categories, stats)
        return seg.segment_record(record, candidates, stats, provenance)

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
def _clean_translation(content: str) -> str:
    """The reply without a code fence or quotation marks wrapped around all of it."""
    import re

    text = (content or "").strip()
    fenced = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    for a, b in (('"', '"'), ("\u201c", "\u201d"), ("\u00ab", "\u00bb"), ("\u300c", "\u300d")):
        if (
            len(text) > 2
            and text.startswith(a)
            and text.endswith(b)
            and a not in text[1:-1]
            and b not in text[1:-1]
        ):
            text = text[1:-1].strip()
    return text


def make_translate(template):
    async def translate(record: dict, ctx: StageContext) -> Any:
        """The model localises the source text for its locale."""
        from dsbuild.cultural.locate import normalize
        from dsbuild.cultural.sources import locale_parts
        from dsbuild.languages import language_name

        language, region = locale_parts(record["target_lang"])
        engine = ctx.llm.get(record["system"])
        text = record["text"]
        sampling = {
            "temperature": _opt(ctx, "temperature"),
            "seed": ctx.seed,
            "max_tokens": min(4096, 64 + 3 * len(text) // 2),
        }
        if "\n\n" not in text.strip():
            # One paragraph in, one out: a blank line ends the translation (what follows is
            # a translator's note, or a small model running on).
            sampling["stop"] = ["\n\n"]
        result = await ask(
            engine,
            template,
            source_language=language_name(record["lang"]),
            language=language,
            region=region,
            locale=record["target_lang"],
            text=text,
            sampling=sampling,
            id=record["id"],
        )
        if not result.ok:
            return result.rejection()
        translation = _clean_translation(result.content or "")
        if not translation:
            return reject("empty_translation", f"{record['system']} returned no text")
        if normalize(translation).text == normalize(text).text:
            return reject(
                "same_as_source", f"{record['system']} returned the source text unchanged"
            )
        return {
            **record,
            "translation": translation,
            "model_answered": result.model_answered or engine.model or record["system"],
            "provenance": {**record.get("provenance", {}), "translate": result.provenance()},
        }

    return translate


# -- align --------------------------------------------------------------------------------
def make_align(template):
    async def align(record: dict, ctx: StageContext) -> Any:
        """Each segment's counterpart in the translation: located, omitted or not located."""
        from dsbuild.cultural.segments import align_counterparts
        from dsbuild.cultural.sources import locale_parts
        from dsbuild.languages import language_name

        nuances, translation = record["nuances"], record["translation"]
        language, _ = locale_parts(record["target_lang"])
        listing = "\n".join(
            f"{i}. [{n['category']}] {n['surface']}" for i, n in enumerate(nuances, 1)
        )
        count = len(nuances)
        result = await ask(
            ctx.llm.get(None),
            template,
            source_language=language_name(record["lang"]),
            language=language,
            source=record["text"],
            translation=translation,
            segments=listing,
            count=count,
            # exactly one counterpart per segment, where the schema describes their items
            response_format=response_format(
                template, {"counterparts": {"minItems": count, "maxItems": count}}
            ),
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 48 + 40 * count},
            id=record["id"],
        )
        if not result.ok:
            return result.rejection()
        answers = list(result.json.get("counterparts") or [])
        if len(answers) != len(nuances):
            return reject(
                "align_count_mismatch", f"{len(answers)} counterparts for {len(nuances)} segments"
            )
        alignments, counts = align_counterparts(nuances, answers, translation)
        provenance = dict(record.get("provenance") or {})
        segment_provenance = provenance.pop("segments", None)
        tr = {
            "system": record["system"],
            "target_lang": record["target_lang"],
            "text": translation,
            "model_answered": record.get("model_answered"),
            "alignments": alignments,
            "align_stats": counts,
            "provenance": {**provenance, "align": result.provenance()},
        }
        out = {
            k: v
            for k, v in record.items()
            if k not in ("system", "target_lang", "translation", "model_answered", "provenance")
        }
        out["translations"] = [tr]
        out["provenance"] = {"segments": segment_provenance} if segment_provenance else {}
        return out

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

    def version(name: str) -> str:
        return prompt_version(prompts, name)

    return Builder(
        "cultural",
        "1",
        (
            source_stage("sources", _sources, description="source texts (file or embedded emails)"),
            map_stage(
                "segments",
                make_segments(prompts["segments"]),
                concurrency,
                version=version("segments"),
                description="given, lexicon and LLM segments with exact offsets",
            ),
            map_stage("targets", _targets, description="one record per text x model x locale"),
            map_stage(
                "translate",
                make_translate(prompts["translate"]),
                concurrency,
                version=version("translate"),
                description="localise for each locale",
            ),
            *_translation_gates(),
            map_stage(
                "align",
                make_align(prompts["align"]),
                concurrency,
                version=version("align"),
                description="each segment's counterpart in the translation, or omitted",
            ),
        ),
        description="cultural-nuance segments, localised translations and their alignment",
    )


# -- export -------------------------------------------------------------------------------
def _raters(run_dir: Path) -> list[str]:
    import yaml

    path = Path(run_dir) / "config.yaml"
    options = {}
    if path.is_file():
        options = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("options") or {}
    return SPEC.validate_options(options).raters


def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """`cultural.jsonl` (one record per source text, all translations and alignments) and
    the rating sheet: `rating-sheet.jsonl` (long) and `rating-sheet.csv`/`.xlsx` (wide)."""
    from dsbuild.cultural.ratings import frame_from_rows, save_ratings
    from dsbuild.cultural.spreadsheet import long_to_wide, write_wide

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = merge_by_text(read_records(result.records_path))
    write_records(out_dir / "cultural.jsonl", records)
    table = frame_from_rows(rating_rows(records, _raters(result.run_dir)), origin="rating sheet")
    save_ratings(table, out_dir / "rating-sheet.jsonl")
    wide = long_to_wide(table)
    write_wide(wide, out_dir / "rating-sheet.csv")
    write_wide(wide, out_dir / "rating-sheet.xlsx")
    return {
        "cultural.jsonl": len(records),
        "rating-sheet.jsonl": table.height,
        "rating-sheet.csv": wide.height,
        "rating-sheet.xlsx": wide.height,
    }


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
