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

A vignette already holds every number and finding of the question, so a record built on
the stem keeps them by construction, and a wrong-choice record differs from the correct one
in exactly one sentence, the one that states the decision (MEDEC's layout: the erroneous
and the corrected text differ in one sentence; MedRECT: each wrong choice gives a record
with exactly one clinically wrong sentence). This works with the embedded 135M model too:
the closing sentence's schema carries a grammar pattern (a schema extension) that forces the
choice into it as whole words, and the wrong sentence copies the correct one up to the
choice; `max_tokens` is sized from the script (Japanese costs ~2 tokens a character on small
tokenizers) so the grammar-bounded JSON always closes. Backends that decode with a grammar
(the local model, servers taking `json_object`+schema or `guided_json`) enforce the pattern;
endpoints taking plain JSON Schema never see it, and `check` rejects sentences that do not
state their choice.

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
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsbuild.datasets import BuildOption, DatasetSpec
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

from dsbuild.medrect import MEDRECT_KEYS  # noqa: E402 - the record fields, defined with the format
REASON_CHARS = 160  # the screen judge's reason, at most
SCREEN_FLAGS = ("ambiguous_error", "extra_elements", "multiple_errors", "numerical_error",
                "inconsistent_synthesis")


def _opt(ctx: StageContext, key: str) -> Any:
    from dsbuild.builder_options import options_of
    from dsbuild.medrect.options import Options

    return getattr(options_of(ctx, Options), key)


def _specs(value: Any) -> list[str | None]:
    """A roster option as a list of specs; empty or None means the run's model."""
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    return list(value) if value else [None]


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


# -- sources ------------------------------------------------------------------------------
def _sources(ctx: StageContext):
    """Usable questions (a record each) and the skipped ones (a reject each, with the reason)."""
    from dsbuild.medrect.jmle import load_embedded_vignettes, load_questions

    path = _opt(ctx, "questions")
    loaded = load_questions(Path(path)) if path else load_embedded_vignettes()
    per_lang = _opt(ctx, "per_language")
    if per_lang is None and not path:
        per_lang = _opt(ctx, "sample_per_language")
    languages = list(ctx.config.get("languages") or [])
    limit = ctx.config.get("limit")
    counts: dict[str, int] = {}
    total = 0
    for q in loaded.questions:
        if languages and q.lang not in languages:
            continue
        if per_lang is not None and counts.get(q.lang, 0) >= per_lang:
            continue
        if limit is not None and total >= int(limit):
            break
        counts[q.lang] = counts.get(q.lang, 0) + 1
        total += 1
        yield q.to_dict()
    for skip in loaded.skipped:
        yield Reject(skip.id, "sources", skip.reason, skip.detail)


# -- synthesize ---------------------------------------------------------------------------
def _base(q: dict, choice: str, label: str) -> dict[str, Any]:
    return {
        "id": f"{q['id']}-{choice}-{_short(label)}",
        "sample_id": f"{q['id']}-{choice}",
        "metadata": {"question_id": q["id"], "choice": choice, "choice_text": q["choices"][choice],
                     "answer": q["answer"], "answer_text": q["choices"][q["answer"]], "lang": q["lang"],
                     "source": q.get("source") or None, "source_model": label, "question": q["question"]},
    }


def _failed(q: dict, choice: str, label: str, step: str, result=None, *, code: str | None = None,
            detail: str = "") -> dict[str, Any]:
    """A record standing for a failed step; `check` rejects it with `code`, or with
    `llm_<reason>` for a call (`result`) failed for its content. A call failed because of
    the endpoint raises `Pending` instead: the question is retried by the next run."""
    if result is not None:
        result.raise_if_pending(step)
    error = {"step": step, **result.error} if result is not None else {"step": step, "code": code,
                                                                         "detail": detail}
    return {**_base(q, choice, label), "sentences": "", "error_flag": 0 if choice == q["answer"] else 1,
            "synthesis_error": error}


def _format(template, *, lengths: dict[str, int] | None = None, patterns: dict[str, str | None] | None = None,
            max_id: int | None = None) -> dict[str, Any] | None:
    """The template's response format with per-record bounds: string `maxLength`s, grammar
    patterns and `error_sentence_id`'s maximum. The patterns are dsbuild's schema extension
    (`GRAMMAR_PATTERN`): a backend that decodes with a grammar enforces them (the closing
    sentence states the choice; every other bounded string holds no raw line break), one that
    takes plain JSON Schema never sees them."""
    from dsbuild.llm.structured import GRAMMAR_PATTERN
    from dsbuild.medrect.stem import text_pattern

    fmt = template.response_format()
    if fmt is None:
        return None
    fmt = copy.deepcopy(fmt)
    props = fmt["json_schema"]["schema"].get("properties", {})
    for name, n in (lengths or {}).items():
        if isinstance(props.get(name), dict):
            props[name]["maxLength"] = max(int(props[name].get("minLength", 0)), int(n))
    for name, pattern in (patterns or {}).items():
        if pattern and isinstance(props.get(name), dict):
            props[name][GRAMMAR_PATTERN] = pattern
    for prop in props.values():
        if isinstance(prop, dict) and prop.get("type") == "string" and "maxLength" in prop \
                and GRAMMAR_PATTERN not in prop and "enum" not in prop:
            prop[GRAMMAR_PATTERN] = text_pattern(prop["maxLength"])
    prop = props.get("error_sentence_id")
    if max_id is not None and isinstance(prop, dict):
        prop["maximum"] = max(int(prop.get("minimum", 0)), max_id)
    return fmt


# Failures of the rewrite that mean "this answer is unusable", not "the model is unusable":
# the stem's own sentences are used instead.
_REWRITE_FALLBACK = ("invalid_json", "schema_mismatch")


def make_synthesize(record_t, conclude_t, inject_t):
    async def synthesize(q: dict, ctx: StageContext) -> Any:
        """One record per choice (and per synthesis model) from the question."""
        outs = await asyncio.gather(*(_synthesize_one(q, spec, ctx) for spec in _specs(_opt(ctx, "models"))))
        return [r for out in outs for r in out]

    async def _body(q: dict, engine, sampling: dict, stem: list[str], ctx: StageContext):
        """The record's body: the model's rewrite of the stem when it keeps every number and
        enough sentences, else the stem's sentences verbatim. Returns (sentences, verbatim,
        why the rewrite was not used, the call's provenance, a failed result or None)."""
        from dsbuild.medrect.stem import split_sentences, stem_sentences, token_budget
        from dsbuild.medrect.synthesis import clean_sentences, stem_numbers

        if not _opt(ctx, "rewrite_stem") or not stem:
            return stem, True, None, None, None
        from dsbuild.languages import language_name

        text = " ".join(stem)
        limit = int(len(text) * 1.2) + 20
        res = await engine.complete(engine.request(
            record_t.render(language=language_name(q["lang"]), stem=text),
            response_format=_format(record_t, lengths={"record": limit}),
            sampling={**sampling, "max_tokens": token_budget(text, limit)},
            id=f"{q['id']}/record", template=record_t))
        if not res.ok:
            if res.error["reason"] in _REWRITE_FALLBACK:
                return stem, True, f"llm_{res.error['reason']}: {res.error['detail']}"[:300], res.provenance(), None
            return stem, True, None, None, res
        rewritten = clean_sentences(split_sentences(str(res.json.get("record") or "")))
        kept = stem_sentences(" ".join(rewritten))
        numbers = stem_numbers(text)
        have = set(stem_numbers(" ".join(kept)))
        missing = [n for n in numbers if n not in have]
        share = 1 - len(missing) / len(numbers) if numbers else 1.0
        if share < _opt(ctx, "min_numbers_kept"):
            return stem, True, f"the rewrite lost {', '.join(missing[:8])}", res.provenance(), None
        if len(kept) < min(len(stem), _opt(ctx, "min_sentences")) or len(kept) != len(rewritten):
            return stem, True, "the rewrite has too few sentences or asks a question", res.provenance(), None
        return kept, False, None, res.provenance(), None

    async def _synthesize_one(q: dict, spec: str | None, ctx: StageContext) -> list[dict]:
        from dsbuild.languages import language_name
        from dsbuild.medrect.sentences import join_sentences, number_sentences
        from dsbuild.medrect.stem import (
            choice_pattern,
            question_sentences,
            stem_sentences,
            token_budget,
            tokens_per_char,
        )
        from dsbuild.medrect.synthesis import clean_sentences

        engine = ctx.llm.get(spec)
        label = ctx.llm.spec_label(spec)
        language = language_name(q["lang"])
        answer_text = q["choices"][q["answer"]]
        sampling = {"temperature": _opt(ctx, "temperature"), "seed": ctx.seed}
        stem = stem_sentences(q["question"])
        body, verbatim, why, body_prov, failed = await _body(q, engine, sampling, stem, ctx)
        if failed is not None:
            return [_failed(q, c, label, "record", failed) for c in q["choices"]]
        asked = " ".join(question_sentences(q["question"])) or "the diagnosis or the next step"
        margin = max(8, round(_opt(ctx, "choice_margin_tokens") / tokens_per_char(q["question"])))

        def fmt(template, choice_text: str, lead: str | None = None, extra: int = 0) -> tuple[dict | None, int]:
            limit = len(choice_text) + 2 * margin + extra
            pattern = choice_pattern(choice_text, margin, margin, lead=lead)
            return (_format(template, lengths={"sentence": limit}, patterns={"sentence": pattern}),
                    token_budget(q["question"], limit))

        def one(text: Any) -> str:
            return " ".join(clean_sentences([str(text or "")]) or [""])

        numbered = number_sentences(body)
        response_format, budget = fmt(conclude_t, answer_text)
        res = await engine.complete(engine.request(
            conclude_t.render(language=language, record=numbered, asked=asked, choice=answer_text),
            response_format=response_format, sampling={**sampling, "max_tokens": budget},
            id=f"{q['id']}/conclude", template=conclude_t))
        if not res.ok:
            return [_failed(q, c, label, "conclude", res) for c in q["choices"]]
        closing = one(res.json.get("sentence"))
        if not closing:
            return [_failed(q, c, label, "conclude", code="no_closing_sentence",
                            detail="the model wrote an empty closing sentence") for c in q["choices"]]
        correct = [*body, closing]
        clean_text = join_sentences(correct)
        prov = {"conclude": res.provenance()}
        if body_prov is not None:
            prov = {"record": body_prov, **prov}
        stem_meta = {"stem_verbatim": verbatim, **({"stem_rewrite_rejected": why} if why and body_prov else {})}

        def base(choice: str) -> dict[str, Any]:
            out = _base(q, choice, label)
            out["metadata"].update(stem_meta)
            return out

        clean = {**base(q["answer"]), "sentences": number_sentences(correct), "error_flag": 0,
                 **{k: None for k in MEDRECT_KEYS[3:]}, "provenance": prov}
        wrong = [c for c in q["choices"] if c != q["answer"]]

        found = re.search(re.escape(" ".join(answer_text.split())), closing, re.IGNORECASE)
        lead = closing[:found.start()] if found else None  # grammar backends keep the sentence up to the choice

        async def inject(choice: str) -> dict:
            wrong_text = q["choices"][choice]
            response_format, budget = fmt(inject_t, wrong_text, lead, extra=len(closing))
            r = await engine.complete(engine.request(
                inject_t.render(language=language, record=number_sentences(correct), sentence=closing,
                                answer=answer_text, wrong=wrong_text),
                response_format=response_format, sampling={**sampling, "max_tokens": budget},
                id=f"{q['id']}/{choice}", template=inject_t))
            if not r.ok:
                return _failed(q, choice, label, "inject", r)
            new = one(r.json.get("sentence"))
            return {**base(choice), "sentences": number_sentences([*body, new]), "error_flag": 1,
                    "error_type": r.json.get("error_type"), "error_sentence_id": len(body) + 1,
                    "error_sentence": new, "corrected_sentence": closing, "corrected_text": clean_text,
                    "provenance": {**prov, "inject": r.provenance()}}

        injected = await asyncio.gather(*(inject(c) for c in wrong))
        by_choice = {q["answer"]: clean, **dict(zip(wrong, injected))}
        return [by_choice[c] for c in q["choices"]]

    return synthesize


# -- check --------------------------------------------------------------------------------
def _check(record: dict, ctx: StageContext) -> Any:
    """Structure (verify_record), then content (numbers, the choice stated, no signposts)."""
    from dsbuild.medrect.sentences import verify_record
    from dsbuild.medrect.stem import stem_sentences
    from dsbuild.medrect.synthesis import content_problems

    failed = record.get("synthesis_error")
    if failed:
        return reject(failed.get("code") or f"llm_{failed['reason']}", f"{failed['step']}: {failed['detail']}")
    problems = verify_record(record)
    if not problems:
        meta = record["metadata"]
        problems = content_problems(
            record, question=meta["question"], stem=" ".join(stem_sentences(meta["question"])),
            choice_text=meta["choice_text"], answer_text=meta["answer_text"],
            min_sentences=_opt(ctx, "min_sentences"), min_numbers_kept=_opt(ctx, "min_numbers_kept"),
            min_choice_overlap=_opt(ctx, "min_choice_overlap"))
    if problems:
        return reject(problems[0][0], "; ".join(f"{code}: {detail}" for code, detail in problems)[:600])
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

        meta = record["metadata"]
        texts = sentence_texts(record["sentences"])
        n = len(texts)
        limit = min(300, int(max(map(len, texts), default=80) * 1.2) + 10)
        budget = token_budget(meta["question"], limit)
        panel = _specs(_opt(ctx, "validators"))

        async def ask(spec: str | None):
            engine = ctx.llm.get(spec)
            res = await engine.complete(engine.request(
                template.render(language=language_name(meta["lang"]), record=record["sentences"]),
                response_format=_format(template, lengths={"corrected_sentence": limit}, max_id=n),
                sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": budget},
                id=record["id"], template=template))
            return ctx.llm.spec_label(spec), res

        answers = await asyncio.gather(*(ask(spec) for spec in panel))
        for label, res in answers:
            if not res.ok:
                return res.rejection(f"validator {label}")
        min_rouge = _opt(ctx, "correction_min_rouge")
        scored = [{"model": label, **score_answer(record, res.json, correction_min_rouge=min_rouge,
                                                   answer_text=meta["answer_text"])}
                  for label, res in answers]
        bounds = thresholds_for(record.get("error_type"), {k: _opt(ctx, k) for k in
                                                           ("min_correct", "max_correct", "max_mislocated_share")},
                                parse_by_type(_opt(ctx, "difficulty_by_type")))
        verdict = decide(record, scored, bounds)
        if verdict is not None:
            return reject(*verdict)
        detected = sum(s["detected"] for s in scored)
        summary = {"panel": len(scored), "correct": sum(s["correct"] for s in scored), "detected": detected,
                   "mislocated": sum(s["detected"] and not s["located"] for s in scored)
                   if record["error_flag"] == 1 else 0}
        return {**record, "metadata": {**meta, "validators": scored, "difficulty": summary},
                "provenance": {**record.get("provenance", {}),
                               "validators": [res.provenance() for _, res in answers]}}

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
            order = models[k % len(models):] + models[: k % len(models)]
            pick = min(group, key=lambda r: order.index(r["metadata"]["source_model"]))
            for r in group:
                if r is not pick:
                    rejects.append(Reject(r["id"], "dedup", "duplicate_choice",
                                          f"kept {pick['id']} from {pick['metadata']['source_model']}"))
        key = " ".join(pick["sentences"].split())
        if key in texts:
            rejects.append(Reject(pick["id"], "dedup", "duplicate_text", f"same text as {texts[key]}"))
            continue
        texts[key] = pick["id"]
        kept.append(pick)
    return kept, rejects


# -- screen -------------------------------------------------------------------------------
def _intended(record: dict) -> str:
    meta = record["metadata"]
    if record["error_flag"] != 1:
        return f"no error; the record states the correct answer ({meta['answer_text']})."
    return (f"exactly one error, in sentence {record['error_sentence_id']} ({record['error_type']}): it states "
            f"{meta['choice_text']!r} where the correct answer is {meta['answer_text']!r}; corrected, it reads: "
            f"{record['corrected_sentence']}")


def _row(record: dict, screening: dict | None) -> dict:
    """The output row: id, the MedRECT fields, metadata, screening_results, provenance."""
    row = {"id": record["id"], **{k: record.get(k) for k in MEDRECT_KEYS}}
    row.update(metadata=record["metadata"], screening_results=screening, provenance=record.get("provenance", {}))
    return row


def make_screen(template):
    async def screen(record: dict, ctx: StageContext) -> Any:
        """The judge's five flags; any "yes" rejects as screen_<flag>, the reason kept."""
        from dsbuild.languages import language_name
        from dsbuild.medrect.stem import token_budget

        if not _opt(ctx, "screen"):
            return _row(record, None)
        meta = record["metadata"]
        spec = _opt(ctx, "judge_model")
        engine = ctx.llm.get(spec)
        res = await engine.complete(engine.request(
            template.render(language=language_name(meta["lang"]), question=meta["question"],
                            answer=meta["answer_text"], record=record["sentences"], intended=_intended(record)),
            response_format=_format(template, lengths={"reason": REASON_CHARS}),
            sampling={"temperature": 0.0, "seed": ctx.seed,
                      "max_tokens": token_budget(meta["question"], REASON_CHARS, overhead=80)},
            id=record["id"], template=template))
        if not res.ok:
            return res.rejection("judge")
        verdict = res.json
        flags = {f: str(verdict.get(f, "no")).strip().lower() in ("yes", "true", "1") for f in SCREEN_FLAGS}
        raised = [f for f in SCREEN_FLAGS if flags[f]]
        reason = str(verdict.get("reason") or "").strip()
        if raised:
            return reject(f"screen_{raised[0]}", f"flags: {', '.join(raised)}; judge: {reason}"[:600])
        screening = {"is_valid": True, "total_issues": 0, "flags": flags, "reason": reason,
                     "model": ctx.llm.spec_label(spec)}
        return _row({**record, "provenance": {**record.get("provenance", {}), "screen": res.provenance()}},
                    screening)

    return screen


def model_specs(settings: Settings) -> list[str | None]:
    """Every model the build will ask (None: the run's model), checked before it starts."""
    opts = SPEC.validate_options(settings.options)
    return [*_specs(opts.models), *_specs(opts.validators), opts.judge_model]


def make_builder(settings: Settings) -> Builder:
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.langid import LangIdGate
    from dsbuild.gates.stage import dedup_stage, gate_stage
    from dsbuild.llm.prompts import load_prompts

    from dsbuild.builder_options import check_languages
    from dsbuild.medrect.options import SUPPORTED_LANGUAGES

    SPEC.validate_options(settings.options)
    check_languages(settings.languages, SUPPORTED_LANGUAGES, "medrect")
    prompts = load_prompts("medrect", settings.prompts_dir)
    concurrency = max(1, settings.concurrency)

    def version(*names: str) -> str:
        return "1+" + "+".join(prompts[n].hash[:12] for n in names)

    return Builder("medrect", "1", (
        source_stage("sources", _sources, description="clinical questions (file or embedded vignettes)"),
        # serial exam questions share one vignette: near-duplicate sources make near-duplicate records
        dedup_stage("dedup_sources", field="question", lang_field="lang", per_language=True),
        map_stage("synthesize", make_synthesize(prompts["record"], prompts["conclude"], prompts["inject"]),
                  concurrency, version=version("record", "conclude", "inject"), description="a record per choice: correct or one error"),
        map_stage("check", _check, description="numbering, error sentence, corrected text, content checks"),
        gate_stage("hygiene_record", HygieneGate, field="sentences", lang_field="metadata.lang"),
        gate_stage("langid_record", LangIdGate, field="sentences", lang_field="metadata.lang"),
        map_stage("difficulty", make_difficulty(prompts["validate"]), concurrency, version=version("validate"),
                  description="validator panel; keep records within the difficulty bounds"),
        batch_stage("dedup", _dedup, description="one record per (question, choice), models alternating"),
        map_stage("screen", make_screen(prompts["screen"]), concurrency, version=version("screen"),
                  description="LLM judge flags; any flag rejects"),
    ), description="MedRECT clinical error detection and correction records")


# -- export -------------------------------------------------------------------------------
def medrect_rows(rows: list[dict]) -> list[dict]:
    """Output rows as MedRECT records: the MedRECT fields, `metadata` (with `provenance`
    moved into it) and `screening_results`; the run's `id` is `sample_id`'s variant and dropped."""
    out = []
    for r in rows:
        meta = dict(r.get("metadata") or {})
        if r.get("provenance"):
            meta["provenance"] = r["provenance"]
        out.append({**{k: r.get(k) for k in MEDRECT_KEYS}, "metadata": meta,
                    "screening_results": r.get("screening_results")})
    return out


def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """The rows as `medrect.json` (MedRECT JSON) and `medec.csv` (MEDEC CSV); the option
    `labels` (en, ja) names the error types in that language (MedRECT-ja writes Japanese)."""
    from dsbuild.medrect.formats import medrect_to_medec_row, relabel, write_medec, write_medrect

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(result.records_path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    labels = SPEC.validate_options(options).labels
    records = [relabel(r, labels) for r in medrect_rows(rows)]
    write_medrect(records, out_dir / "medrect.json")
    write_medec([medrect_to_medec_row(r) for r in records], out_dir / "medec.csv")
    return {"medrect.json": len(records), "medec.csv": len(records)}


SPEC = DatasetSpec(
    name='medrect',
    title='MedRECT/MEDEC-style medical error texts',
    description='Clinical records with exactly one erroneous sentence (or none), for error detection, localisation and correction.',
    method='MEDEC (Ben Abacha et al., 2024); MedRECT (2025)',
    formats=('medrect', 'medec', 'jmle'),
    options="dsbuild.medrect.options:Options",
    make_builder=make_builder,
    model_specs=model_specs,
    finalize=finalize,
    export="dsbuild.medrect.export:EXPORT",
    annotation="dsbuild.medrect.rounds:ROUNDS",
    stats="dsbuild.medrect.stats:STATS",
    commands="dsbuild.cli.medrect_commands:add_commands",
    build_options=(
        BuildOption('--questions', 'questions', 'JMLE-style JSON or MedQA-style JSONL of clinical questions [default: the 12 embedded vignettes, 1 per language]', 'path', 'FILE'),
        BuildOption('--per-language', 'per_language', 'at most N questions per language [default: all; 1 for the embedded sample]', 'int', 'N'),
        BuildOption('--models', 'models', 'comma-separated synthesis models; each question is synthesised by each, dedup alternates [default: --model]', 'list', 'LIST'),
        BuildOption('--validators', 'validators', 'comma-separated difficulty panel [default: --model]', 'list', 'LIST'),
        BuildOption('--judge-model', 'judge_model', 'screening judge [default: --model]', 'str', 'SPEC'),
        BuildOption('--min-correct', 'min_correct', 'keep records at least N validators get completely right [default: 0]', 'int', 'N'),
        BuildOption('--max-correct', 'max_correct', 'keep records at most N validators get completely right [default: the panel size]', 'int', 'N'),
        BuildOption('--max-mislocated-share', 'max_mislocated_share', 'drop records where more than this share of the panel flags an error in the wrong sentence [default: 1.0, off]', 'float', 'P'),
        BuildOption('--difficulty-by-type', 'difficulty_by_type', 'per-type bounds as JSON, e.g. \'{"diagnosis": {"min_correct": 1}, "clean": {...}}\'', 'str', 'JSON'),
        BuildOption('--min-numbers-kept', 'min_numbers_kept', "share of the question's numbers a record must keep [default: 1.0]", 'float', 'P'),
        BuildOption('--no-screen', 'screen', 'skip the LLM judge', 'flag', flag_value=False),
        BuildOption('--out', 'settings.out', 'folder for medrect.json and medec.csv [default: RUN/export]', 'path', 'DIR'),
    ),
)
