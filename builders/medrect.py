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

`dsbuild.medrect.synthesizer` says how a record keeps the question's numbers and differs
from the correct one in exactly one sentence (the grammar-bounded closing sentence).

Every LLM call goes through the run's `ModelPool` (`ctx.llm`); a call failed for its content
rejects its record with `llm_<reason>`, one failed because of the endpoint leaves the question
pending for the next run (a rewrite that is not valid JSON only falls back to the stem).
Prompts are the `medrect` templates (`dsbuild medrect prompts`); their hashes are part of
the stage versions. Output rows are MedRECT records (1-based sentence ids, nulls when
clean) plus `id`, `metadata` (question, choice, source model, validator answers) and
`provenance`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.builder_kit import ask, options, per_language, prompt_version, read_records, spec_list
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.medrect import MEDRECT_KEYS
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

REASON_CHARS = 160  # the screen judge's reason, at most
SCREEN_FLAGS = (
    "ambiguous_error",
    "extra_elements",
    "multiple_errors",
    "numerical_error",
    "inconsistent_synthesis",
)


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


# -- synthesize ---------------------------------------------------------------------------
def make_synthesize(record_t, conclude_t, inject_t):
    """One record per choice (and per synthesis model): `dsbuild.medrect.synthesizer`."""
    from dsbuild.medrect.synthesizer import Synthesizer

    return Synthesizer(record_t, conclude_t, inject_t)


# -- check --------------------------------------------------------------------------------
def _check(record: dict, ctx: StageContext) -> Any:
    """Structure (verify_record), then content (numbers, the choice stated, no signposts)."""
    from dsbuild.medrect.sentences import verify_record
    from dsbuild.medrect.stem import stem_sentences
    from dsbuild.medrect.synthesis import content_problems

    failed = record.get("synthesis_error")
    if failed:
        return reject(
            failed.get("code") or f"llm_{failed['reason']}", f"{failed['step']}: {failed['detail']}"
        )
    problems = verify_record(record)
    if not problems:
        meta = record["metadata"]
        problems = content_problems(
            record,
            question=meta["question"],
            stem=" ".join(stem_sentences(meta["question"])),
            choice_text=meta["choice_text"],
            answer_text=meta["answer_text"],
            min_sentences=_opt(ctx, "min_sentences"),
            min_numbers_kept=_opt(ctx, "min_numbers_kept"),
            min_choice_overlap=_opt(ctx, "min_choice_overlap"),
        )
    if problems:
        return reject(
            problems[0][0], "; ".join(f"{code}: {detail}" for code, detail in problems)[:600]
        )
    return True


# -- difficulty ---------------------------------------------------------------------------
def make_difficulty(template):
    async def difficulty(record: dict, ctx: StageContext) -> Any:
        """The validator panel answers the record; keep it within the configured bounds."""
        from dsbuild.languages import language_name
        from dsbuild.medrect.panel import (
            decide,
            parse_by_type,
            score_answer,
            thresholds_for,
        )
        from dsbuild.medrect.sentences import sentence_texts
        from dsbuild.medrect.stem import token_budget
        from dsbuild.medrect.synthesizer import bounded_format

        meta = record["metadata"]
        texts = sentence_texts(record["sentences"])
        n = len(texts)
        limit = min(300, int(max(map(len, texts), default=80) * 1.2) + 10)
        budget = token_budget(meta["question"], limit)

        async def answer(spec: str | None):
            fmt = bounded_format(template, lengths={"corrected_sentence": limit}, max_id=n)
            res = await ask(
                ctx.llm.get(spec),
                template,
                language=language_name(meta["lang"]),
                record=record["sentences"],
                response_format=fmt,
                id=record["id"],
                sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": budget},
            )
            return ctx.llm.spec_label(spec), res

        answers = await asyncio.gather(
            *(answer(spec) for spec in spec_list(_opt(ctx, "validators")))
        )
        for label, res in answers:
            if not res.ok:
                return res.rejection(f"validator {label}")
        min_rouge = _opt(ctx, "correction_min_rouge")
        scored = [
            {
                "model": label,
                **score_answer(
                    record,
                    res.json,
                    correction_min_rouge=min_rouge,
                    answer_text=meta["answer_text"],
                ),
            }
            for label, res in answers
        ]
        bounds = thresholds_for(
            record.get("error_type"),
            {k: _opt(ctx, k) for k in ("min_correct", "max_correct", "max_mislocated_share")},
            parse_by_type(_opt(ctx, "difficulty_by_type")),
        )
        verdict = decide(record, scored, bounds)
        if verdict is not None:
            return reject(*verdict)
        detected = sum(s["detected"] for s in scored)
        summary = {
            "panel": len(scored),
            "correct": sum(s["correct"] for s in scored),
            "detected": detected,
            "mislocated": sum(s["detected"] and not s["located"] for s in scored)
            if record["error_flag"] == 1
            else 0,
        }
        return {
            **record,
            "metadata": {**meta, "validators": scored, "difficulty": summary},
            "provenance": {
                **record.get("provenance", {}),
                "validators": [res.provenance() for _, res in answers],
            },
        }

    return difficulty


# -- dedup --------------------------------------------------------------------------------
def _dedup(records: list[dict], ctx: StageContext) -> tuple[list[dict], list[Reject]]:
    """One record per (question, choice): the k-th pair prefers the k-th synthesis model in
    turn (next in the roster when it has none); then one record per distinct text."""
    groups: dict[tuple[str, str], list[dict]] = {}
    models: list[str] = []
    for r in records:
        meta = r["metadata"]
        groups.setdefault((meta["question_id"], meta["choice"]), []).append(r)
        if meta["source_model"] not in models:
            models.append(meta["source_model"])
    kept: list[dict] = []
    rejects: list[Reject] = []
    texts: dict[str, str] = {}
    for k, group in enumerate(groups.values()):
        pick = group[0]
        if len(group) > 1:
            order = models[k % len(models) :] + models[: k % len(models)]
            pick = min(group, key=lambda r: order.index(r["metadata"]["source_model"]))
            for r in group:
                if r is not pick:
                    rejects.append(
                        Reject(
                            r["id"],
                            "dedup",
                            "duplicate_choice",
                            f"kept {pick['id']} from {pick['metadata']['source_model']}",
                        )
                    )
        key = " ".join(pick["sentences"].split())
        if key in texts:
            rejects.append(
                Reject(pick["id"], "dedup", "duplicate_text", f"same text as {texts[key]}")
            )
            continue
        texts[key] = pick["id"]
        kept.append(pick)
    return kept, rejects


# -- screen -------------------------------------------------------------------------------
def _intended(record: dict) -> str:
    meta = record["metadata"]
    if record["error_flag"] != 1:
        return f"no error; the record states the correct answer ({meta['answer_text']})."
    return (
        f"exactly one error, in sentence {record['error_sentence_id']} ({record['error_type']}): "
        f"it states {meta['choice_text']!r} where the correct answer is "
        f"{meta['answer_text']!r}; corrected, it reads: {record['corrected_sentence']}"
    )


def _row(record: dict, screening: dict | None) -> dict:
    """The output row: id, the MedRECT fields, metadata, screening_results, provenance."""
    row = {"id": record["id"], **{k: record.get(k) for k in MEDRECT_KEYS}}
    row.update(
        metadata=record["metadata"],
        screening_results=screening,
        provenance=record.get("provenance", {}),
    )
    return row


def make_screen(template):
    async def screen(record: dict, ctx: StageContext) -> Any:
        """The judge's five flags; any "yes" rejects as screen_<flag>, the reason kept."""
        from dsbuild.languages import language_name
        from dsbuild.medrect.stem import token_budget
        from dsbuild.medrect.synthesizer import bounded_format

        if not _opt(ctx, "screen"):
            return _row(record, None)
        meta = record["metadata"]
        spec = _opt(ctx, "judge_model")
        res = await ask(
            ctx.llm.get(spec),
            template,
            language=language_name(meta["lang"]),
            question=meta["question"],
            answer=meta["answer_text"],
            record=record["sentences"],
            intended=_intended(record),
            response_format=bounded_format(template, lengths={"reason": REASON_CHARS}),
            sampling={
                "temperature": 0.0,
                "seed": ctx.seed,
                "max_tokens": token_budget(meta["question"], REASON_CHARS, overhead=80),
            },
            id=record["id"],
        )
        if not res.ok:
            return res.rejection("judge")
        verdict = res.json
        flags = {
            f: str(verdict.get(f, "no")).strip().lower() in ("yes", "true", "1")
            for f in SCREEN_FLAGS
        }
        raised = [f for f in SCREEN_FLAGS if flags[f]]
        reason = str(verdict.get("reason") or "").strip()
        if raised:
            return reject(
                f"screen_{raised[0]}", f"flags: {', '.join(raised)}; judge: {reason}"[:600]
            )
        screening = {
            "is_valid": True,
            "total_issues": 0,
            "flags": flags,
            "reason": reason,
            "model": ctx.llm.spec_label(spec),
        }
        return _row(
            {**record, "provenance": {**record.get("provenance", {}), "screen": res.provenance()}},
            screening,
        )

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

    def version(*names: str) -> str:
        return prompt_version(prompts, *names)

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
            map_stage(
                "synthesize",
                make_synthesize(prompts["record"], prompts["conclude"], prompts["inject"]),
                concurrency,
                version=version("record", "conclude", "inject"),
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
            map_stage(
                "difficulty",
                make_difficulty(prompts["validate"]),
                concurrency,
                version=version("validate"),
                description="validator panel; keep records within the difficulty bounds",
            ),
            batch_stage(
                "dedup", _dedup, description="one record per (question, choice), models alternating"
            ),
            map_stage(
                "screen",
                make_screen(prompts["screen"]),
                concurrency,
                version=version("screen"),
                description="LLM judge flags; any flag rejects",
            ),
        ),
        description="MedRECT clinical error detection and correction records",
    )


# -- export -------------------------------------------------------------------------------
def medrect_rows(rows: list[dict]) -> list[dict]:
    """Output rows as MedRECT records: the MedRECT fields, `metadata` (with `provenance`
    moved into it) and `screening_results`; the run's `id` is `sample_id`'s variant and dropped."""
    out = []
    for r in rows:
        meta = dict(r.get("metadata") or {})
        if r.get("provenance"):
            meta["provenance"] = r["provenance"]
        out.append(
            {
                **{k: r.get(k) for k in MEDRECT_KEYS},
                "metadata": meta,
                "screening_results": r.get("screening_results"),
            }
        )
    return out


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
