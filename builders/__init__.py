"""The datasets dsbuild builds, their planned stages, and lazy access to their builders.

This module is imported by `dsbuild --help`, so it holds plain data only. A builder lives in
its own module (`dsbuild.builders.<dataset>`) exposing `make_builder(settings) -> Builder`;
until that module exists the dataset can be validated and described but not built.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.errors import ConfigError, NotAvailableError

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = ["DATASETS", "BuildOption", "DatasetInfo", "StagePlan", "dataset_info", "is_available",
           "load_builder", "model_specs"]


@dataclass(frozen=True)
class StagePlan:
    name: str
    description: str


@dataclass(frozen=True)
class BuildOption:
    """A dataset-specific flag of `dsbuild <dataset> build`: it sets `options[key]`, or the
    setting named after `settings.` (e.g. `settings.languages`)."""

    flag: str
    key: str
    help: str
    type: str = "str"  # str | int | float | path | list (comma-separated) | flag
    metavar: str | None = None
    flag_value: Any = True  # what a `flag` sets when given


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    description: str
    method: str
    formats: tuple[str, ...]
    stages: tuple[StagePlan, ...]
    issue: int
    build_options: tuple[BuildOption, ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    "psiloqa": DatasetInfo(
        name="psiloqa",
        title="PsiloQA span-level hallucination data",
        description="Wikipedia passages -> QA pairs -> closed-book answers -> "
        "hallucinated spans (character offsets) marked by an annotator LLM, filtered.",
        method="Rykov et al., 2025 (PsiloQA); compatible with Mu-SHROOM (SemEval-2025 Task 3)",
        formats=("psiloqa", "mushroom"),
        stages=(
            StagePlan("contexts", "passages per language: embedded sample, file, dump or API"),
            StagePlan("qa", "LLM writes easy/medium/hard QA pairs from each passage"),
            StagePlan("roster", "answer models per question, drawn per language (seeded)"),
            StagePlan("answers", "answer models reply without the passage"),
            StagePlan("annotate", "annotator LLM tags hallucinated spans; strict offsets"),
            StagePlan("filter", "heuristic and LLM filters: refusals, incomplete questions"),
        ),
        issue=5,
        build_options=(
            BuildOption("--passages", "passages", "JSONL of passages {id, lang, title, url, "
                        "text} [default: the embedded sample, 6 languages]", "path", "FILE"),
            BuildOption("--wikipedia", "wikipedia", "pages-articles XML dump of one language "
                        "(give --lang)", "path", "DUMP"),
            BuildOption("--online", "online", "draw N random pages per --lang through the "
                        "MediaWiki API (network)", "int", "N"),
            BuildOption("--llm", "settings.model", "model writing questions, annotating and "
                        "judging (same as --model)", "str", "SPEC"),
            BuildOption("--answer-models", "answer_models", "comma-separated roster of answer "
                        "models; SPEC@URL for another endpoint [default: --model]", "list",
                        "LIST"),
            BuildOption("--answers-per-question", "answers_per_question", "answer models "
                        "drawn per question [default: 1]", "int", "K"),
            BuildOption("--annotator-model", "annotator_model", "model marking spans "
                        "[default: --model]", "str", "SPEC"),
            BuildOption("--passages-per-language", "passages_per_language", "at most N "
                        "passages per language [default: all; 1 for the embedded sample]",
                        "int", "N"),
            BuildOption("--long-answer-share", "long_answer_share", "share of questions asking "
                        "for a long answer [default: 0.5]", "float", "P"),
            BuildOption("--chunk", "chunk", "split long articles into several passages "
                        "[default: the lead section only]", "flag"),
            BuildOption("--no-llm-filter", "llm_filter", "skip the LLM judge (heuristic "
                        "filters only)", "flag", flag_value=False),
            BuildOption("--out", "settings.out", "folder for psiloqa.jsonl and mushroom.jsonl "
                        "[default: RUN/export]", "path", "DIR"),
        ),
    ),
    "entitycs": DatasetInfo(
        name="entitycs",
        title="EntityCS entity code-switched corpora",
        description="English Wikipedia sentences whose wikilinked entities are replaced by "
        "their Wikidata labels in other languages.",
        method="Whitehouse et al., 2022 (EntityCS)",
        formats=("entitycs",),
        stages=(
            StagePlan("read_wikipedia", "stream a dump; keep sentences with 1-10 wikilinks"),
            StagePlan("link_entities", "Wikidata QIDs and labels; up to K languages per sentence"),
            StagePlan("code_switch", "replace entities by target-language labels, tagged"),
        ),
        issue=4,
        build_options=(
            BuildOption("--wikipedia", "wikipedia", "pages-articles XML dump (.bz2/.gz/.xml); "
                        "default: the embedded mini-Wikipedia", "path", "DUMP"),
            BuildOption("--wikidata", "wikidata", "Wikidata JSON dump (.bz2/.gz/.json); "
                        "default: the embedded excerpt", "path", "DUMP"),
            BuildOption("--languages", "settings.languages", "target languages, comma-separated "
                        "[default: the 93 XLM-R languages]", "list", "LIST"),
            BuildOption("--max-languages", "max_languages", "languages per sentence at most "
                        "[default: 5]", "int", "K"),
            BuildOption("--workers", "settings.workers", "processes for the text stage "
                        "[default: 1]; output is identical for any number", "int", "N"),
            BuildOption("--engine", "settings.engine", "local or ray [default: local]", "str",
                        "local|ray"),
            BuildOption("--out", "settings.out", "folder for one JSONL + Parquet file per "
                        "language [default: RUN/export]", "path", "DIR"),
        ),
    ),
    "medrect": DatasetInfo(
        name="medrect",
        title="MedRECT/MEDEC-style medical error texts",
        description="Clinical records with exactly one erroneous sentence (or none), for "
        "error detection, localisation and correction.",
        method="MEDEC (Ben Abacha et al., 2024); MedRECT (2025)",
        formats=("medrect", "medec", "jmle"),
        stages=(
            StagePlan("sources", "clinical questions: JMLE JSON, MedQA JSONL or the embedded "
                      "vignettes; unusable ones rejected with the reason"),
            StagePlan("synthesize", "a record per choice: the stem's sentences (a model rewrite "
                      "kept only if every number survives) + one closing sentence stating the "
                      "choice; a wrong choice makes that sentence the error (8 error types)"),
            StagePlan("check", "numbering, error sentence, corrected text; stem numbers kept, "
                      "choice stated, error not signposted"),
            StagePlan("difficulty", "validator panel answers; keep records within the bounds "
                      "(per error type), drop ambiguous locations"),
            StagePlan("dedup", "one record per (question, choice), synthesis models alternating"),
            StagePlan("screen", "LLM judge: ambiguous, extra elements, multiple or numerical "
                      "errors, inconsistent synthesis; any flag rejects"),
        ),
        issue=6,
        build_options=(
            BuildOption("--questions", "questions", "JMLE-style JSON or MedQA-style JSONL of "
                        "clinical questions [default: the 12 embedded vignettes, 1 per language]",
                        "path", "FILE"),
            BuildOption("--per-language", "per_language", "at most N questions per language "
                        "[default: all; 1 for the embedded sample]", "int", "N"),
            BuildOption("--models", "models", "comma-separated synthesis models; each question "
                        "is synthesised by each, dedup alternates [default: --model]", "list",
                        "LIST"),
            BuildOption("--validators", "validators", "comma-separated difficulty panel "
                        "[default: --model]", "list", "LIST"),
            BuildOption("--judge-model", "judge_model", "screening judge [default: --model]",
                        "str", "SPEC"),
            BuildOption("--min-correct", "min_correct", "keep records at least N validators get "
                        "completely right [default: 0]", "int", "N"),
            BuildOption("--max-correct", "max_correct", "keep records at most N validators get "
                        "completely right [default: the panel size]", "int", "N"),
            BuildOption("--max-mislocated-share", "max_mislocated_share", "drop records where "
                        "more than this share of the panel flags an error in the wrong sentence "
                        "[default: 1.0, off]", "float", "P"),
            BuildOption("--difficulty-by-type", "difficulty_by_type", "per-type bounds as JSON, "
                        'e.g. \'{"diagnosis": {"min_correct": 1}, "clean": {...}}\'', "str",
                        "JSON"),
            BuildOption("--min-numbers-kept", "min_numbers_kept", "share of the question's "
                        "numbers a record must keep [default: 1.0]", "float", "P"),
            BuildOption("--no-screen", "screen", "skip the LLM judge", "flag",
                        flag_value=False),
            BuildOption("--out", "settings.out", "folder for medrect.json and medec.csv "
                        "[default: RUN/export]", "path", "DIR"),
        ),
    ),
    "cultural": DatasetInfo(
        name="cultural",
        title="Cultural-nuance translation segments",
        description="Idioms, puns, holidays and cultural concepts in source texts, localised "
        "by several models for several locales, aligned, and rated 0-3 or NA by native speakers.",
        method='"Be My Cheese?" cultural nuance in localisation (Van Doren et al., 2026)',
        formats=("cultural",),
        stages=(
            StagePlan("sources", "source texts: embedded sample emails or --sources FILE"),
            StagePlan("segments", "given, lexicon and LLM segments with exact offsets, merged"),
            StagePlan("targets", "one record per text x model x locale (no LLM)"),
            StagePlan("translate", "each model localises each text for each locale"),
            StagePlan("align", "each segment's counterpart in the translation, or omitted"),
        ),
        issue=7,
        build_options=(
            BuildOption("--sources", "sources", "JSONL/CSV of texts {id, text, lang, segments: "
                        "[{surface, category}]} [default: the 5 embedded emails]", "path", "FILE"),
            BuildOption("--lexicon", "lexicon", "JSONL/CSV/TSV of {surface, category, note} "
                        "matched in every text", "path", "FILE"),
            BuildOption("--models", "models", "comma-separated roster of translating models; "
                        "SPEC@URL for another endpoint [default: --model]", "list", "LIST"),
            BuildOption("--locales", "locales", "target language-locales, comma-separated "
                        "[default: ja-JP,es-MX]", "list", "LIST"),
            BuildOption("--categories", "categories", "segment categories the LLM looks for "
                        "[default: idiom,pun,holiday,cultural_concept]", "list", "LIST"),
            BuildOption("--no-llm-segments", "llm_segments", "use only given and lexicon "
                        "segments (no LLM segment finder)", "flag", flag_value=False),
            BuildOption("--out", "settings.out", "folder for cultural.jsonl and the rating sheet "
                        "(rating-sheet.jsonl/.csv/.xlsx) [default: RUN/export]", "path", "DIR"),
        ),
    ),
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset '{name}'",
            f"use one of: {', '.join(DATASETS)}",
            code="DSB105",
        ) from None


def is_available(name: str) -> bool:
    """True when the dataset's builder module is part of this installation."""
    return importlib.util.find_spec(f"dsbuild.builders.{name}") is not None


def finalize_run(name: str, result, settings: Settings) -> tuple[Path, dict[str, int]] | None:
    """Export a finished run's records as the dataset's files, if its builder does that:
    returns (folder, rows per file) or None."""
    if not is_available(name):
        return None
    module = importlib.import_module(f"dsbuild.builders.{name}")
    if not hasattr(module, "finalize"):
        return None
    out = Path(settings.out) if settings.out else Path(result.run_dir) / "export"
    return out, module.finalize(result, out)


def model_specs(name: str, settings: Settings) -> list[str | None]:
    """The model specs a dataset's build will use (its builder's `model_specs`), or none."""
    module = importlib.import_module(f"dsbuild.builders.{name}")
    return list(getattr(module, "model_specs", lambda s: [])(settings))


def load_builder(name: str, settings: Settings):
    """The dataset's `Builder` for these settings, or a clear error if it has not landed."""
    info = dataset_info(name)
    if not is_available(name):
        raise NotAvailableError(
            f"the {name} builder (stages: {', '.join(s.name for s in info.stages)}) "
            f"is not in this version yet (tracked as issue #{info.issue})",
            f"for now `dsbuild {name} validate PATH` and `dsbuild {name} stats PATH` work on "
            f"{'/'.join(info.formats)} files",
        )
    module = importlib.import_module(f"dsbuild.builders.{name}")
    return module.make_builder(settings)
