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
"""

from __future__ import annotations

import hashlib
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
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.stages import Builder, StageContext, map_stage, reject, source_stage

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = ["SPEC", "finalize", "make_builder", "roster_for", "row_id"]


def _options(ctx: StageContext):
    return options(ctx, SPEC)


def _opt(ctx: StageContext, key: str) -> Any:
    return getattr(_options(ctx), key)


# The embedded sample has 5 passages per language; with the local model (~50 tokens/s) one
# per language keeps the no-argument build to a few minutes. --passages-per-language N
# asks for more.
SAMPLE_PER_LANGUAGE = 1


def _engine(ctx: StageContext, key: str):
    """The pool's engine for option `key` (a model spec; None: the run's --model)."""
    return ctx.llm.get(_opt(ctx, key))


def _sampling(ctx: StageContext, **extra: Any) -> dict[str, Any]:
    return {"temperature": _opt(ctx, "temperature"), "seed": ctx.seed, **extra}


def row_id(lang: str, passage: str, question: str, model: str, answer: str) -> str:
    """A stable id from the content that makes a row (same content, same id)."""
    key = "\x1f".join((lang, passage, question, model, answer)).encode()
    return f"psiloqa-{lang}-{hashlib.sha256(key).hexdigest()[:16]}"


# -- contexts -----------------------------------------------------------------------------
def _contexts(ctx: StageContext):
    """Passages per language from the configured source."""
    from dsbuild.psiloqa.contexts import configured_passages

    opts = _options(ctx)
    languages = list(ctx.config.get("languages") or [])
    if opts.online:
        ctx.workdir.mkdir(parents=True, exist_ok=True)  # the drawn titles, kept for a resume
    items = configured_passages(opts, languages, ctx.workdir)
    per_lang = opts.passages_per_language
    if per_lang is None and not (opts.wikipedia or opts.online or opts.passages):
        per_lang = SAMPLE_PER_LANGUAGE
    yield from per_language(items, languages, per_lang, ctx.config.get("limit"))


# -- qa -----------------------------------------------------------------------------------
def _plan(ctx: StageContext, passage_id: str) -> list[tuple[str, str]]:
    """(complexity, answer length) per question to write; lengths drawn with the seed."""
    rng = ctx.rng(passage_id)
    share = _opt(ctx, "long_answer_share")
    return [(c, "long" if rng.random() < share else "short") for c in _opt(ctx, "complexities")]


def make_qa(template):
    async def qa(passage: dict, ctx: StageContext) -> Any:
        """Question/answer pairs of graded complexity from the passage."""
        from dsbuild.languages import language_name

        plan = _plan(ctx, passage["id"])
        lines = "\n".join(f"{i}. {c} question, {n} answer" for i, (c, n) in enumerate(plan, 1))
        result = await ask(
            _engine(ctx, "qa_model"),
            template,
            language=language_name(passage["lang"]),
            title=passage["title"],
            passage=passage["text"],
            plan=lines,
            response_format=template.response_format(),
            sampling=_sampling(ctx, max_tokens=900),
            id=passage["id"],
        )
        if not result.ok:
            return result.rejection()
        out, seen = [], set()
        for i, pair in enumerate(result.json["pairs"][: len(plan)], 1):
            question, answer = pair["question"].strip(), pair["answer"].strip()
            if not question or not answer or question.casefold() in seen:
                continue
            seen.add(question.casefold())
            out.append(
                {
                    "id": f"{passage['id']}/q{i}",
                    "passage_id": passage["id"],
                    "lang": passage["lang"],
                    "wiki_title": passage["title"],
                    "wiki_url": passage["url"],
                    "wiki_passage": passage["text"],
                    "source": passage.get("source"),
                    "question": question,
                    "golden_answer": answer,
                    "complexity": pair["complexity"],
                    "answer_length": plan[i - 1][1],
                    "provenance": {"qa": result.provenance()},
                }
            )
        return out or reject("no_questions", "the model's pairs were all empty or repeated")

    return qa


# -- roster -------------------------------------------------------------------------------
def roster_for(lang: str, roster: Any, default: str) -> list[str]:
    """The answer models for `lang`: a list applies to every language; a mapping gives
    per-language lists with `*` as the fallback; None means the run's model."""
    if isinstance(roster, dict):
        chosen = roster.get(lang) or roster.get(lang.split("-")[0]) or roster.get("*")
        return list(chosen) if chosen else [default]
    return spec_list(roster, default)  # type: ignore[return-value]


def _roster(record: dict, ctx: StageContext) -> Any:
    """One record per answer model drawn for the question (seeded by the question id)."""
    models = [
        ctx.llm.spec_label(m)
        for m in roster_for(record["lang"], _opt(ctx, "answer_models"), ctx.llm.spec_label(None))
    ]
    k = min(_opt(ctx, "answers_per_question"), len(models))
    picked = sorted(ctx.rng(record["id"]).sample(range(len(models)), k))
    return [{**record, "id": f"{record['id']}/m{i}", "answer_model": models[i]} for i in picked]


# -- answers ------------------------------------------------------------------------------
def make_answers(template):
    async def answers(record: dict, ctx: StageContext) -> Any:
        """The answer model answers the question without the passage."""
        from dsbuild.languages import language_name

        engine = ctx.llm.get(record["answer_model"])
        result = await ask(
            engine,
            template,
            language=language_name(record["lang"]),
            question=record["question"],
            id=record["id"],
            sampling=_sampling(ctx, max_tokens=_opt(ctx, "answer_max_tokens")),
        )
        if not result.ok:
            return result.rejection()
        answer = (result.content or "").strip()
        checkpoint = result.model_answered or engine.model or record["answer_model"]
        return {
            **record,
            "id": row_id(
                record["lang"],
                record["wiki_passage"],
                record["question"],
                record["answer_model"],
                answer,
            ),
            "llm_checkpoint": checkpoint,
            "llm_answer": answer,
            "provenance": {**record["provenance"], "answer": result.provenance()},
        }

    return answers


# -- annotate -----------------------------------------------------------------------------
def make_annotate(template):
    async def annotate(record: dict, ctx: StageContext) -> Any:
        """Inline [HAL] tags from the annotator, parsed strictly into character offsets."""
        from dsbuild.languages import language_name
        from dsbuild.llm.structured import copy_of
        from dsbuild.psiloqa.annotation import AnnotationError, parse_annotation
        from dsbuild.spans import HAL_CLOSE, HAL_OPEN, insert_markers

        if not record["llm_answer"]:
            return reject("empty_answer", "the answer model returned no text")
        answer = record["llm_answer"]
        # Grammar backends (the local model) can only copy the answer with tags between its
        # pieces; endpoints get the plain schema and the strict parser checks the copy.
        copy = copy_of(answer, (HAL_OPEN, HAL_CLOSE))
        result = await ask(
            _engine(ctx, "annotator_model"),
            template,
            language=language_name(record["lang"]),
            passage=record["wiki_passage"],
            question=record["question"],
            golden_answer=record["golden_answer"],
            answer=answer,
            response_format=response_format(template, replace={"annotated_answer": copy}),
            # room for the copy (a CJK character can be a token) and a few tags
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 64 + len(answer)},
            id=record["id"],
        )
        if not result.ok:
            return result.rejection()
        try:
            labels = parse_annotation(result.json["annotated_answer"], record["llm_answer"])
        except AnnotationError as exc:
            return reject(exc.reason, exc.detail)
        return {
            **record,
            "labels": [list(s) for s in labels],
            "annotated_span": insert_markers(record["llm_answer"], labels),
            "provenance": {**record["provenance"], "annotate": result.provenance()},
        }

    return annotate


# -- filter -------------------------------------------------------------------------------
def make_filter(template):
    async def filter_(record: dict, ctx: StageContext) -> Any:
        """Heuristic filters, then the LLM judge; keeps the row in the PsiloQA layout."""
        from dsbuild.languages import language_name
        from dsbuild.psiloqa.filters import run_filters
        from dsbuild.psiloqa.mushroom import PSILOQA_FIELDS

        verdict = run_filters(record, max_answer_chars=_opt(ctx, "max_answer_chars"))
        if verdict is not None:
            return reject(*verdict)
        provenance = dict(record["provenance"])
        if _opt(ctx, "llm_filter"):
            result = await ask(
                _engine(ctx, "judge_model"),
                template,
                language=language_name(record["lang"]),
                question=record["question"],
                answer=record["llm_answer"],
                response_format=template.response_format(),
                sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 200},
                id=record["id"],
            )
            if not result.ok:
                return result.rejection()
            judged = result.json
            for flag, reason in (
                ("incomplete_question", "incomplete_question"),
                ("subjective_question", "subjective_question"),
                ("refusal", "judged_refusal"),
            ):
                if judged.get(flag):
                    return reject(reason, f"judge: {judged.get('reason', '')}".strip())
            provenance["judge"] = result.provenance()
        row = {key: record.get(key) for key in PSILOQA_FIELDS}
        row.update(
            passage_id=record["passage_id"],
            answer_model=record["answer_model"],
            answer_length=record["answer_length"],
            source=record["source"],
            provenance=provenance,
        )
        return row

    return filter_


def _question_gates():
    """Quality gates on the written questions (each switchable: `--option gate.NAME=false`)."""
    from dsbuild.gates.copying import CopiedFromPassage
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import dedup_stage, gate_stage

    return (
        gate_stage("hygiene_question", HygieneGate, field="question", lang_field="lang"),
        gate_stage("langid_question", LangIdGate, field="question", lang_field="lang"),
        gate_stage("copied_question", CopiedFromPassage, field="question"),
        dedup_stage("dedup_questions", field="question", lang_field="lang", per_language=True),
    )


def _answer_gates(opts):
    """Quality gates on the closed-book answers (the answer-length limit is the option's,
    as in the filter)."""
    from functools import partial

    from dsbuild.gates.copying import AnswerRepeatsQuestion
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import gate_stage

    return (
        gate_stage(
            "hygiene_answer",
            partial(HygieneGate, max_chars=opts.max_answer_chars),
            field="llm_answer",
            lang_field="lang",
        ),
        gate_stage("langid_answer", LangIdGate, field="llm_answer", lang_field="lang"),
        gate_stage("answer_repeats_question", AnswerRepeatsQuestion, field="llm_answer"),
    )


def model_specs(settings: Settings) -> list[str | None]:
    """Every model the build will ask (None: the run's model), checked before it starts."""
    opts = SPEC.validate_options(settings.options)
    roster = opts.answer_models
    answer = (
        [m for ms in roster.values() for m in ms] if isinstance(roster, dict) else spec_list(roster)
    )
    return [opts.qa_model, opts.annotator_model, opts.judge_model, *answer]


def make_builder(settings: Settings) -> Builder:
    from dsbuild.builder_options import check_languages
    from dsbuild.llm.prompts import load_prompts
    from dsbuild.psiloqa.options import SUPPORTED_LANGUAGES

    opts = SPEC.validate_options(settings.options)
    check_languages(settings.languages, SUPPORTED_LANGUAGES, "psiloqa")
    prompts = load_prompts("psiloqa", settings.prompts_dir)
    concurrency = max(1, settings.concurrency)

    def version(name: str) -> str:
        return prompt_version(prompts, name)

    return Builder(
        "psiloqa",
        "1",
        (
            source_stage("contexts", _contexts, description="passages per language"),
            map_stage(
                "qa",
                make_qa(prompts["qa"]),
                concurrency,
                version=version("qa"),
                description="LLM writes easy/medium/hard QA pairs from each passage",
            ),
            *_question_gates(),
            map_stage("roster", _roster, description="answer models per question (seeded)"),
            map_stage(
                "answers",
                make_answers(prompts["answer"]),
                concurrency,
                version=version("answer"),
                description="answers without the passage",
            ),
            *_answer_gates(opts),
            map_stage(
                "annotate",
                make_annotate(prompts["annotate"]),
                concurrency,
                version=version("annotate"),
                description="hallucinated spans as offsets",
            ),
            map_stage(
                "filter",
                make_filter(prompts["judge"]),
                concurrency,
                version=version("judge"),
                description="heuristic and LLM filters",
            ),
        ),
        description="PsiloQA span-level hallucination data",
    )


def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """The rows as `psiloqa.jsonl` (our layout, with provenance) and `mushroom.jsonl`
    (Mu-SHROOM layout: hard and soft labels)."""
    from dsbuild.psiloqa.mushroom import row_to_mushroom

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = read_records(result.records_path)
    return {
        "psiloqa.jsonl": write_records(out_dir / "psiloqa.jsonl", rows),
        "mushroom.jsonl": write_records(
            out_dir / "mushroom.jsonl", [row_to_mushroom(r, keep_row_fields=False) for r in rows]
        ),
    }


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
