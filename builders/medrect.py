"""MedRECT: clinical records with one medical error or none (Iwase et al., 2025), MEDEC ready.

    sources     clinical multiple-choice questions: JMLE JSON or MedQA JSONL (--questions),
                else the embedded vignettes; unusable questions are rejected with the reason
    synthesize  per question and synthesis model: the record's body is the question stem's own
                sentences (the question itself dropped), rewritten by the model only when
                the rewrite keeps every number (else verbatim, `metadata.stem_verbatim`);
                then one model-written closing sentence states the decision. The correct
                choice gives the correct record (error_flag 0); each wrong choice gives the
                same record whose closing sentence states that choice instead (error_flag 1,
                the error type chosen by the model from the 8 MedRECT classes)
    check       structure (numbering, error sentence, corrected text) and content (numbers of
                the question kept, the choice stated, the error not signposted)
    difficulty  a panel of validator models answers each record; keep what between
                min_correct and max_correct of them get completely right, drop records many
                detect but mislocate; bounds per error type
    dedup       one record per (question, choice), alternating the synthesis models
    screen      an LLM judge flags ambiguous errors, extra elements, multiple errors,
                numerical errors and inconsistent synthesis; any flag rejects

Each stage's logic is a module of `dsbuild.medrect`: `synthesizer` (how a record keeps the
question's numbers), `check`, `difficulty` (with `panel`), `dedup`, `screening`, `rows`.

Every LLM call goes through the run's `ModelPool` (`ctx.llm`); a call failed for its content
rejects its record with `llm_<reason>`, one failed because of the endpoint leaves the question
pending for the next run (a rewrite that is not valid JSON only falls back to the stem).
Prompts are the `medrect` templates (`dsbuild medrect prompts`); their hashes are part of
the stage versions. Output rows are MedRECT records (1-based sentence ids, nulls when
clean) plus `id`, `metadata` (question, choice, source model, validator answers) and
`provenance`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.builder_kit import llm_stage, options, per_language, read_records, spec_list
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.medrect import MEDRECT_KEYS
from dsbuild.medrect.rows import medrect_rows
from dsbuild.medrect.screening import SCREEN_FLAGS
from dsbuild.stages import (
    Builder,
    Reject,
    StageContext,
    batch_stage,
    map_stage,
    reject,
    source_stage,
)

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = ["MEDRECT_KEYS", "SPEC", "SCREEN_FLAGS", "finalize", "make_builder", "medrect_rows"]


def _opt(ctx: StageContext, key: str) -> Any:
    return getattr(options(ctx, SPEC), key)


# -- sources ------------------------------------------------------------------------------
def _sources(ctx: StageContext):
    """Usable questions (a record each) and the skipped ones (a reject each, with the reason)."""
    from dsbuild.medrect.jmle import load_embedded_vignettes, load_questions

    path = _opt(ctx, "questions")
    loaded = load_questions(Path(path)) if path else load_embedded_vignettes()
    per_lang = _opt(ctx, "per_language")
    if per_lang is None and not path:
        per_lang = _opt(ctx, "sample_per_language")
    for q in per_language(
        loaded.questions,
        ctx.config.get("languages"),
        per_lang,
        ctx.config.get("limit"),
        lang_of=lambda q: q.lang,
    ):
        yield q.to_dict()
    for skip in loaded.skipped:
        yield Reject(skip.id, "sources", skip.reason, skip.detail)


# -- synthesize, check, difficulty, dedup, screen: dsbuild.medrect.<concept> ---------------
def make_synthesize(record_t, conclude_t, inject_t):
    """One record per choice (and per synthesis model): `dsbuild.medrect.synthesizer`."""
    from dsbuild.medrect.synthesizer import Synthesizer

    return Synthesizer(record_t, conclude_t, inject_t)


def _check(record: dict, ctx: StageContext) -> Any:
    """Structure, then content: `dsbuild.medrect.check`."""
    from dsbuild.medrect.check import check_record

    verdict = check_record(record, options(ctx, SPEC))
    return True if verdict is None else reject(*verdict)


def make_difficulty(template):
    async def difficulty(record: dict, ctx: StageContext) -> Any:
        """The validator panel: `dsbuild.medrect.difficulty`."""
        from dsbuild.medrect.difficulty import run_panel

        return await run_panel(record, template, ctx, options(ctx, SPEC))

    return difficulty


def _dedup(records: list[dict], ctx: StageContext) -> tuple[list[dict], list[Reject]]:
    """One record per (question, choice), models alternating: `dsbuild.medrect.dedup`."""
    from dsbuild.medrect.dedup import dedup_records

    return dedup_records(records)


def make_screen(template):
    async def screen(record: dict, ctx: StageContext) -> Any:
        """The LLM judge's flags: `dsbuild.medrect.screening`."""
        from dsbuild.medrect.screening import screen_record

        return await screen_record(record, template, ctx, options(ctx, SPEC))

    return screen


def model_specs(settings: Settings) -> list[str | None]:
    """Every model the build will ask (None: the run's model), checked before it starts."""
    opts = SPEC.validate_options(settings.options)
    return [*spec_list(opts.models), *spec_list(opts.validators), opts.judge_model]


def make_builder(settings: Settings) -> Builder:
    from dsbuild.builder_options import check_languages
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import dedup_stage, gate_stage
    from dsbuild.llm.prompts import load_prompts
    from dsbuild.medrect.options import SUPPORTED_LANGUAGES

    SPEC.validate_options(settings.options)
    check_languages(settings.languages, SUPPORTED_LANGUAGES, "medrect")
    prompts = load_prompts("medrect", settings.prompts_dir)
    concurrency = max(1, settings.concurrency)

    return Builder(
        "medrect",
        "1",
        (
            source_stage(
                "sources", _sources, description="clinical questions (file or embedded vignettes)"
            ),
            # serial exam questions share one vignette: near-duplicate sources make
            # near-duplicate records
            dedup_stage("dedup_sources", field="question", lang_field="lang", per_language=True),
            llm_stage(
                "synthesize",
                make_synthesize,
                prompts,
                "record",
                "conclude",
                "inject",
                concurrency=concurrency,
                description="a record per choice: correct or one error",
            ),
            map_stage(
                "check",
                _check,
                description="numbering, error sentence, corrected text, content checks",
            ),
            gate_stage(
                "hygiene_record", HygieneGate, field="sentences", lang_field="metadata.lang"
            ),
            gate_stage("langid_record", LangIdGate, field="sentences", lang_field="metadata.lang"),
            llm_stage(
                "difficulty",
                make_difficulty,
                prompts,
                "validate",
                concurrency=concurrency,
                description="validator panel; keep records within the difficulty bounds",
            ),
            batch_stage(
                "dedup", _dedup, description="one record per (question, choice), models alternating"
            ),
            llm_stage(
                "screen",
                make_screen,
                prompts,
                "screen",
                concurrency=concurrency,
                description="LLM judge flags; any flag rejects",
            ),
        ),
        description="MedRECT clinical error detection and correction records",
    )


# -- export -------------------------------------------------------------------------------
def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """The rows as `medrect.json` (MedRECT JSON) and `medec.csv` (MEDEC CSV); the option
    `labels` (en, ja) names the error types in that language (MedRECT-ja writes Japanese)."""
    from dsbuild.medrect.formats import medrect_to_medec_row, relabel, write_medec, write_medrect

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = read_records(result.records_path)
    labels = SPEC.validate_options(options).labels
    records = [relabel(r, labels) for r in medrect_rows(rows)]
    write_medrect(records, out_dir / "medrect.json")
    write_medec([medrect_to_medec_row(r) for r in records], out_dir / "medec.csv")
    return {"medrect.json": len(records), "medec.csv": len(records)}


SPEC = DatasetSpec(
    name="medrect",
    title="MedRECT/MEDEC-style medical error texts",
    description="Clinical records with exactly one erroneous sentence (or none), for error "
    "detection, localisation and correction.",
    method="MEDEC (Ben Abacha et al., 2024); MedRECT (2025)",
    formats=("medrect", "medec", "jmle"),
    options="dsbuild.medrect.options:Options",
    make_builder=make_builder,
    model_specs=model_specs,
    finalize=finalize,
    export="dsbuild.medrect.export:EXPORT",
    annotation="dsbuild.medrect.rounds:ROUNDS",
    stats="dsbuild.medrect.stats:STATS",
    commands="dsbuild.cli.medrect_commands:add_commands",
    build_options=(
        BuildOption(
            "--questions",
            "questions",
            "JMLE-style JSON or MedQA-style JSONL of clinical questions "
            "[default: the 12 embedded vignettes, 1 per language]",
            "path",
            "FILE",
        ),
        BuildOption(
            "--per-language",
            "per_language",
            "at most N questions per language [default: all; 1 for the embedded sample]",
            "int",
            "N",
        ),
        BuildOption(
            "--models",
            "models",
            "comma-separated synthesis models; each question is synthesised by each, "
            "dedup alternates [default: --model]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--validators",
            "validators",
            "comma-separated difficulty panel [default: --model]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--judge-model", "judge_model", "screening judge [default: --model]", "str", "SPEC"
        ),
        BuildOption(
            "--min-correct",
            "min_correct",
            "keep records at least N validators get completely right [default: 0]",
            "int",
            "N",
        ),
        BuildOption(
            "--max-correct",
            "max_correct",
            "keep records at most N validators get completely right [default: the panel size]",
            "int",
            "N",
        ),
        BuildOption(
            "--max-mislocated-share",
            "max_mislocated_share",
            "drop records where more than this share of the panel flags an error in the "
            "wrong sentence [default: 1.0, off]",
            "float",
            "P",
        ),
        BuildOption(
            "--difficulty-by-type",
            "difficulty_by_type",
            'per-type bounds as JSON, e.g. \'{"diagnosis": {"min_correct": 1}, "clean": {...}}\'',
            "str",
            "JSON",
        ),
        BuildOption(
            "--min-numbers-kept",
            "min_numbers_kept",
            "share of the question's numbers a record must keep [default: 1.0]",
            "float",
            "P",
        ),
        BuildOption("--no-screen", "screen", "skip the LLM judge", "flag", flag_value=False),
        BuildOption(
            "--out",
            "settings.out",
            "folder for medrect.json and medec.csv [default: RUN/export]",
            "path",
            "DIR",
        ),
    ),
)
