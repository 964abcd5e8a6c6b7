"""MedRECT: clinical records with one medical error or none (Iwase et al., 2025), MEDEC ready.

    sources     clinical multiple-choice questions: JMLE JSON or MedQA JSONL (--questions),
                else the embedded vignettes; unusable questions are rejected with the reason
    synthesize  per question and synthesis model: a correct record stating the right answer
                (error_flag 0), then for each wrong choice the same record with the one
                sentence that states the answer rewritten to state that choice (error_flag 1),
                the error type chosen by the model from the 8 MedRECT classes
    check       structure (numbering, error sentence, corrected text) and content (numbers of
                the question kept, the choice stated, the error not signposted)
    difficulty  a panel of validator models answers each record; keep what between
                min_correct and max_correct of them get completely right, drop records many
                detect but mislocate; bounds per error type
    dedup       one record per (question, choice), alternating the synthesis models
    screen      an LLM judge flags ambiguous errors, extra elements, multiple errors,
                numerical errors and inconsistent synthesis; any flag rejects

Building a wrong-choice record from the correct one (MEDEC's layout: the erroneous and the
corrected text differ in exactly one sentence) makes "exactly one error" true by
construction and keeps every other sentence, numbers included. Every LLM call goes through
the run's `ModelPool` (`ctx.llm`); a failed call rejects its record with `llm_<reason>`.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

__all__ = ["DEFAULTS", "MEDRECT_KEYS", "SCREEN_FLAGS", "finalize", "make_builder", "medrect_rows"]

DEFAULTS: dict[str, Any] = {
    "questions": None,           # JMLE JSON / MedQA JSONL file; None: the embedded vignettes
    "per_language": None,        # at most N questions per language
    "sample_per_language": 1,    # the embedded sample's default per_language (the local model is slow)
    "models": None,              # synthesis roster (list or comma-separated); None: --model
    "validators": None,          # difficulty panel; None: --model
    "judge_model": None,         # screen judge; None: --model
    "screen": True,
    "temperature": 0.7,
    "record_max_tokens": 500,
    "min_sentences": 3,
    "min_numbers_kept": 1.0,
    "min_choice_overlap": 0.5,
    "min_correct": 0,
    "max_correct": None,         # None: the panel size
    "max_mislocated_share": 1.0,
    "difficulty_by_type": None,  # {error_type or "clean": {bound: value}}
    "correction_min_rouge": 0.5,
}
MEDRECT_KEYS = ("sample_id", "sentences", "error_flag", "error_type", "error_sentence_id", "error_sentence",
                "corrected_sentence", "corrected_text")
SCREEN_FLAGS = ("ambiguous_error", "extra_elements", "multiple_errors", "numerical_error",
                "inconsistent_synthesis")


def _opt(ctx: StageContext, key: str) -> Any:
    value = ctx.options.get(key)
    return DEFAULTS[key] if value is None else value


def _engine(ctx: StageContext, spec: str | None):
    """The pool's engine for a model spec (None: the run's --model), counted in the run."""
    ctx.llm.bind_run_info(getattr(ctx, "run_info", None))
    return ctx.llm.get(spec)


def _specs(value: Any) -> list[str | None]:
    """A roster option as a list of specs; empty or None means the run's model."""
    if isinstance(value, str):
        value = [s.strip() for s in value.split(",") if s.strip()]
    return list(value) if value else [None]


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def _with_max_id(template, n: int) -> dict[str, Any] | None:
    """The template's response format with `error_sentence_id` bounded by the record's size."""
    fmt = template.response_format()
    if fmt is None:
        return None
    fmt = copy.deepcopy(fmt)
    prop = fmt["json_schema"]["schema"].get("properties", {}).get("error_sentence_id")
    if isinstance(prop, dict):
        prop["maximum"] = max(int(prop.get("minimum", 0)), n)
    return fmt


# -- sources ------------------------------------------------------------------------------
def _sources(ctx: StageContext):
    """Usable questions (a record each) and the skipped ones (a reject each, with the reason)."""
    from dsbuild.medrect.jmle import load_embedded_vignettes, load_questions

    path = ctx.options.get("questions")
    loaded = load_questions(Path(path)) if path else load_embedded_vignettes()
    per_lang = ctx.options.get("per_language")
    if per_lang is None and not path:
        per_lang = DEFAULTS["sample_per_language"]
    languages = list(ctx.config.get("languages") or [])
    limit = ctx.config.get("limit")
    counts: dict[str, int] = {}
    total = 0
    for q in loaded.questions:
        if languages and q.lang not in languages:
            continue
        if per_lang is not None and counts.get(q.lang, 0) >= int(per_lang):
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


def _failed(q: dict, choice: str, label: str, step: str, result) -> dict[str, Any]:
    """A record standing for a failed call; `check` rejects it with `llm_<reason>`."""
    return {**_base(q, choice, label), "sentences": "", "error_flag": 0 if choice == q["answer"] else 1,
            "synthesis_error": {"step": step, **result.error}}


def make_synthesize(record_t, inject_t):
    async def synthesize(q: dict, ctx: StageContext) -> Any:
        """One record per choice (and per synthesis model) from the question."""
        outs = await asyncio.gather(*(_synthesize_one(q, spec, ctx) for spec in _specs(_opt(ctx, "models"))))
        return [r for out in outs for r in out]

    async def _synthesize_one(q: dict, spec: str | None, ctx: StageContext) -> list[dict]:
        from dsbuild.languages import language_name
        from dsbuild.medrect.sentences import join_sentences, number_sentences
        from dsbuild.medrect.synthesis import clean_sentences, find_choice_sentence

        engine = _engine(ctx, spec)
        label = ctx.llm.spec_label(spec)
        language = language_name(q["lang"])
        answer_text = q["choices"][q["answer"]]
        sampling = {"temperature": float(_opt(ctx, "temperature")), "seed": ctx.seed}
        result = await engine.complete(engine.request(
            record_t.render(language=language, question=q["question"], answer=answer_text),
            response_format=record_t.response_format(),
            sampling={**sampling, "max_tokens": int(_opt(ctx, "record_max_tokens"))},
            id=f"{q['id']}/record", template=record_t))
        if not result.ok:
            return [_failed(q, c, label, "record", result) for c in q["choices"]]
        sentences = clean_sentences(result.json.get("sentences") or [])
        numbered = number_sentences(sentences)
        clean_text = join_sentences(sentences)
        record_prov = result.provenance()
        clean = {**_base(q, q["answer"], label), "sentences": numbered, "error_flag": 0,
                 **{k: None for k in MEDRECT_KEYS[3:]}}
        clean["provenance"] = {"record": record_prov}
        wrong = [c for c in q["choices"] if c != q["answer"]]
        if not sentences:  # `check` rejects every record of an empty text as no_sentences
            return [clean] + [{**_base(q, c, label), "sentences": "", "error_flag": 1,
                               "provenance": {"record": record_prov}} for c in wrong]
        at = find_choice_sentence(sentences, answer_text)
        hint = f"Sentence {at} states the correct answer." if at else ""

        async def inject(choice: str) -> dict:
            res = await engine.complete(engine.request(
                inject_t.render(language=language, record=numbered, answer=answer_text,
                                wrong=q["choices"][choice], hint=hint),
                response_format=_with_max_id(inject_t, len(sentences)),
                sampling={**sampling, "max_tokens": 200}, id=f"{q['id']}/{choice}", template=inject_t))
            if not res.ok:
                return _failed(q, choice, label, "inject", res)
            k = res.json.get("error_sentence_id")
            new = (clean_sentences([res.json.get("wrong_sentence") or ""]) or [""])[0]
            inside = isinstance(k, int) and 1 <= k <= len(sentences)
            changed = [new if i == k else s for i, s in enumerate(sentences, 1)] if inside else sentences
            return {**_base(q, choice, label), "sentences": number_sentences(changed), "error_flag": 1,
                    "error_type": res.json.get("error_type"), "error_sentence_id": k, "error_sentence": new,
                    "corrected_sentence": sentences[k - 1] if inside else answer_text,
                    "corrected_text": clean_text,
                    "provenance": {"record": record_prov, "inject": res.provenance()}}

        injected = await asyncio.gather(*(inject(c) for c in wrong))
        by_choice = {q["answer"]: clean, **dict(zip(wrong, injected))}
        return [by_choice[c] for c in q["choices"]]

    return synthesize


# -- check --------------------------------------------------------------------------------
def _check(record: dict, ctx: StageContext) -> Any:
    """Structure (verify_record), then content (numbers, the choice stated, no signposts)."""
    from dsbuild.medrect.sentences import verify_record
    from dsbuild.medrect.synthesis import content_problems

    failed = record.get("synthesis_error")
    if failed:
        return reject(f"llm_{failed['reason']}", f"{failed['step']}: {failed['detail']}")
    problems = verify_record(record)
    if not problems:
        meta = record["metadata"]
        problems = content_problems(
            record, question=meta["question"], choice_text=meta["choice_text"], answer_text=meta["answer_text"],
            min_sentences=int(_opt(ctx, "min_sentences")), min_numbers_kept=float(_opt(ctx, "min_numbers_kept")),
            min_choice_overlap=float(_opt(ctx, "min_choice_overlap")))
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

        meta = record["metadata"]
        n = len(sentence_texts(record["sentences"]))
        panel = _specs(_opt(ctx, "validators"))

        async def ask(spec: str | None):
            engine = _engine(ctx, spec)
            res = await engine.complete(engine.request(
                template.render(language=language_name(meta["lang"]), record=record["sentences"]),
                response_format=_with_max_id(template, n),
                sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 256},
                id=record["id"], template=template))
            return ctx.llm.spec_label(spec), res

        answers = await asyncio.gather(*(ask(spec) for spec in panel))
        for label, res in answers:
            if not res.ok:
                return reject(f"llm_{res.error['reason']}", f"validator {label}: {res.error['detail']}")
        min_rouge = float(_opt(ctx, "correction_min_rouge"))
        scored = [{"model": label, **score_answer(record, res.json, correction_min_rouge=min_rouge,
                                                   answer_text=meta["answer_text"])}
                  for label, res in answers]
        bounds = thresholds_for(record.get("error_type"), {k: ctx.options.get(k) for k in
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

        if not _opt(ctx, "screen"):
            return _row(record, None)
        meta = record["metadata"]
        spec = ctx.options.get("judge_model")
        engine = _engine(ctx, spec)
        res = await engine.complete(engine.request(
            template.render(language=language_name(meta["lang"]), question=meta["question"],
                            answer=meta["answer_text"], record=record["sentences"], intended=_intended(record)),
            response_format=template.response_format(),
            sampling={"temperature": 0.0, "seed": ctx.seed, "max_tokens": 320},
            id=record["id"], template=template))
        if not res.ok:
            return reject(f"llm_{res.error['reason']}", f"judge: {res.error['detail']}")
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


def make_builder(settings: Settings) -> Builder:
    from dsbuild.llm.prompts import load_prompts

    prompts = load_prompts("medrect", settings.prompts_dir)
    concurrency = max(1, settings.concurrency)

    def version(*names: str) -> str:
        return "1+" + "+".join(prompts[n].hash[:12] for n in names)

    return Builder("medrect", "1", (
        source_stage("sources", _sources, description="clinical questions (file or embedded vignettes)"),
        map_stage("synthesize", make_synthesize(prompts["record"], prompts["inject"]), concurrency,
                  version=version("record", "inject"), description="a record per choice: correct or one error"),
        map_stage("check", _check, description="numbering, error sentence, corrected text, content checks"),
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


def finalize(result, out_dir: Path) -> dict[str, int]:
    """The rows as `medrect.json` (MedRECT JSON) and `medec.csv` (MEDEC CSV)."""
    from dsbuild.medrect.formats import medrect_to_medec_row, write_medec, write_medrect

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(result.records_path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    records = medrect_rows(rows)
    write_medrect(records, out_dir / "medrect.json")
    write_medec([medrect_to_medec_row(r) for r in records], out_dir / "medec.csv")
    return {"medrect.json": len(records), "medec.csv": len(records)}
