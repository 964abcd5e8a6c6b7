"""PsiloQA: multilingual span-level hallucination data (Rykov et al., 2025), Mu-SHROOM ready.

    contexts  passages per language (embedded sample, passages file, dump, or random API pages)
    qa        an LLM writes easy/medium/hard question-answer pairs from each passage
    question gates: hygiene, language, not lifted from the passage, no duplicates
    roster    each question gets its answer models, drawn per language from the roster (seeded)
    answers   each answer model answers the question without the passage
    answer gates: hygiene (incl. truncated generations), language, not the question again
    annotate  an annotator LLM tags the unsupported spans inline; a strict parser makes offsets
    filter    heuristic filters, then an LLM judge (incomplete/subjective questions, refusals)

Every LLM call goes through the run's `ModelPool` (`ctx.llm`): cached, budgeted, retried; a
call that fails for its content rejects its record with `llm_<reason>`; one that fails
because of the endpoint leaves it pending for the next run (`LLMResult.rejection`). Prompts
are the `psiloqa` templates (`dsbuild psiloqa prompts`); their hashes are part of the stage
versions, so an edited prompt never resumes an old run. Output rows have the PsiloQA fields
plus `provenance` (model, prompt id and hash, sampling, request hash per LLM step).

The stage bodies live in `dsbuild.psiloqa.stage_*` (qa, roster, answers, annotate, filter;
`stage_context`: options, engines, sampling) and the gate stages in `dsbuild.psiloqa.gates`;
this module is the stage list and the `SPEC`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dsbuild.builder_kit import llm_stage, per_language, read_records, spec_list, write_records
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.psiloqa.gates import answer_gates, question_gates
from dsbuild.psiloqa.stage_annotate import make_annotate
from dsbuild.psiloqa.stage_answers import make_answers, row_id
from dsbuild.psiloqa.stage_context import run_options
from dsbuild.psiloqa.stage_filter import make_filter
from dsbuild.psiloqa.stage_qa import make_qa
from dsbuild.psiloqa.stage_roster import draw_roster, roster_for
from dsbuild.stages import Builder, StageContext, map_stage, source_stage

if TYPE_CHECKING:
    from dsbuild.config import Settings

# roster_for and row_id: the stage helpers' old home, for existing imports
__all__ = ["SPEC", "finalize", "make_builder", "roster_for", "row_id"]

# The embedded sample has 5 passages per language; with the local model (~50 tokens/s) one
# per language keeps the no-argument build to a few minutes. --passages-per-language N
# asks for more.
SAMPLE_PER_LANGUAGE = 1


def _contexts(ctx: StageContext):
    """Passages per language from the configured source."""
    from dsbuild.psiloqa.contexts import configured_passages

    opts = run_options(ctx)
    languages = list(ctx.config.get("languages") or [])
    if opts.online:
        ctx.workdir.mkdir(parents=True, exist_ok=True)  # the drawn titles, kept for a resume
    items = configured_passages(opts, languages, ctx.workdir)
    per_lang = opts.passages_per_language
    if per_lang is None and not (opts.wikipedia or opts.online or opts.passages):
        per_lang = SAMPLE_PER_LANGUAGE
    yield from per_language(items, languages, per_lang, ctx.config.get("limit"))


def model_specs(settings: Settings) -> list[str | None]:
    """Every model the build will ask (None: the run's model), checked before it starts."""
    opts = SPEC.validate_options(settings.options)
    roster = opts.answer_models
    answer = (
        [m for ms in roster.values() for m in ms] if isinstance(roster, dict) else spec_list(roster)
    )
    return [opts.qa_model, *(opts.annotators or [opts.annotator_model]), opts.judge_model, *answer]


def make_builder(settings: Settings) -> Builder:
    from dsbuild.builder_options import check_languages
    from dsbuild.llm.prompts import load_prompts
    from dsbuild.psiloqa.options import SUPPORTED_LANGUAGES

    opts = SPEC.validate_options(settings.options)
    check_languages(settings.languages, SUPPORTED_LANGUAGES, "psiloqa")
    prompts = load_prompts("psiloqa", settings.prompts_dir)
    concurrency = max(1, settings.concurrency)

    return Builder(
        "psiloqa",
        "1",
        (
            source_stage("contexts", _contexts, description="passages per language"),
            llm_stage(
                "qa",
                make_qa,
                prompts,
                "qa",
                concurrency=concurrency,
                description="LLM writes easy/medium/hard QA pairs from each passage",
            ),
            *question_gates(),
            map_stage("roster", draw_roster, description="answer models per question (seeded)"),
            llm_stage(
                "answers",
                make_answers,
                prompts,
                "answer",
                concurrency=concurrency,
                description="answers without the passage",
            ),
            *answer_gates(opts),
            llm_stage(
                "annotate",
                make_annotate,
                prompts,
                "annotate",
                concurrency=concurrency,
                description="hallucinated spans as offsets",
            ),
            llm_stage(
                "filter",
                make_filter,
                prompts,
                "judge",
                concurrency=concurrency,
                description="heuristic and LLM filters",
            ),
        ),
        description="PsiloQA span-level hallucination data",
    )


def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """The rows as `psiloqa.jsonl` (our layout, with provenance) and `mushroom.jsonl`
    (Mu-SHROOM layout: hard and soft labels; a panel's `annotations` per annotator); with a
    panel of annotators, `panel-agreement.json` (the `psiloqa agreement` figures)."""
    import logging

    from dsbuild.psiloqa.mushroom import row_to_mushroom
    from dsbuild.psiloqa.panel import panel_agreement
    from dsbuild.runs.jsonl import atomic_write_json

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = read_records(result.records_path)
    written = {
        "psiloqa.jsonl": write_records(out_dir / "psiloqa.jsonl", rows),
        "mushroom.jsonl": write_records(
            out_dir / "mushroom.jsonl", [row_to_mushroom(r, keep_row_fields=False) for r in rows]
        ),
    }
    report = panel_agreement(rows, result.records_path)
    if report is not None:
        path = out_dir / "panel-agreement.json"
        atomic_write_json(path, report)
        written["panel-agreement.json"] = report["items"]
        a = report["alpha"]
        logging.getLogger("dsbuild.psiloqa").info(
            "annotation panel of %d: Krippendorff's alpha %s over %d items (%s)",
            a["sources"],
            "undefined" if a["value"] is None else f"{a['value']:.3f}",
            a["items"],
            path,
        )
    return written


SPEC = DatasetSpec(
    name="psiloqa",
    title="PsiloQA span-level hallucination data",
    description=(
        "Wikipedia passages -> QA pairs -> closed-book answers -> hallucinated spans "
        "(character offsets) marked by an annotator LLM, filtered."
    ),
    method="Rykov et al., 2025 (PsiloQA); compatible with Mu-SHROOM (SemEval-2025 Task 3)",
    formats=("psiloqa", "mushroom"),
    options="dsbuild.psiloqa.options:Options",
    make_builder=make_builder,
    model_specs=model_specs,
    finalize=finalize,
    export="dsbuild.psiloqa.export:EXPORT",
    annotation="dsbuild.psiloqa.rounds:ROUNDS",
    stats="dsbuild.psiloqa.stats:STATS",
    commands="dsbuild.cli.psiloqa_commands:add_commands",
    build_options=(
        BuildOption(
            "--passages",
            "passages",
            "JSONL of passages {id, lang, title, url, text} "
            "[default: the embedded sample, 6 languages]",
            "path",
            "FILE",
        ),
        BuildOption(
            "--wikipedia",
            "wikipedia",
            "pages-articles XML dump of one language (give --lang)",
            "path",
            "DUMP",
        ),
        BuildOption(
            "--online",
            "online",
            "draw N random pages per --lang through the MediaWiki API (network)",
            "int",
            "N",
        ),
        BuildOption(
            "--llm",
            "settings.model",
            "model writing questions, annotating and judging (same as --model)",
            "str",
            "SPEC",
        ),
        BuildOption(
            "--answer-models",
            "answer_models",
            "comma-separated roster of answer models; SPEC@URL for another endpoint "
            "[default: --model]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--answers-per-question",
            "answers_per_question",
            "answer models drawn per question [default: 1]",
            "int",
            "K",
        ),
        BuildOption(
            "--annotator-model",
            "annotator_model",
            "model marking spans [default: --model]",
            "str",
            "SPEC",
        ),
        BuildOption(
            "--annotators",
            "annotators",
            "comma-separated panel of annotator models: each one's spans kept as its "
            "annotations, soft labels their share, labels above 0.5, agreement reported",
            "list",
            "LIST",
        ),
        BuildOption(
            "--passages-per-language",
            "passages_per_language",
            "at most N passages per language [default: all; 1 for the embedded sample]",
            "int",
            "N",
        ),
        BuildOption(
            "--long-answer-share",
            "long_answer_share",
            "share of questions asking for a long answer [default: 0.5]",
            "float",
            "P",
        ),
        BuildOption(
            "--chunk",
            "chunk",
            "split long articles into several passages [default: the lead section only]",
            "flag",
        ),
        BuildOption(
            "--no-llm-filter",
            "llm_filter",
            "skip the LLM judge (heuristic filters only)",
            "flag",
            flag_value=False,
        ),
        BuildOption(
            "--out",
            "settings.out",
            "folder for psiloqa.jsonl and mushroom.jsonl [default: RUN/export]",
            "path",
            "DIR",
        ),
    ),
)
