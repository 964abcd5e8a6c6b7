"""MedRECT synthesis: one record per choice of a clinical question, for each synthesis model.

The record's body is the question stem's own sentences (the question itself dropped),
rewritten by the model only when the rewrite keeps every number (else verbatim); one
model-written closing sentence states the correct choice (the clean record, error_flag 0);
each wrong choice gives the same record whose closing sentence states that choice instead
(error_flag 1, the error type chosen by the model). The closing and injected sentences'
schemas carry a grammar pattern (`dsbuild.llm.structured.GRAMMAR_PATTERN`, a schema
extension) that a grammar backend enforces and a plain JSON Schema endpoint never sees.

A vignette already holds every number and finding of the question, so a record built on
the stem keeps them by construction, and a wrong-choice record differs from the correct one
in exactly one sentence, the one that states the decision (MEDEC's layout: the erroneous and
the corrected text differ in one sentence). This works with the embedded 135M model too: the
grammar pattern forces the choice into the sentence as whole words, the wrong sentence copies
the correct one up to the choice, and `max_tokens` is sized from the script (Japanese costs
~2 tokens a character on small tokenizers) so the grammar-bounded JSON always closes;
`check` rejects sentences that do not state their choice where no grammar applied.

A step failed for its content gives records carrying `synthesis_error` (the `check` stage
rejects them); one failed because of the endpoint raises `Pending`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from dsbuild.builder_kit import ask, response_format, spec_list
from dsbuild.medrect import MEDRECT_KEYS

__all__ = ["Synthesizer", "bounded_format"]

# Failures of the rewrite that mean "this answer is unusable", not "the model is unusable":
# the stem's own sentences are used instead.
REWRITE_FALLBACK = ("invalid_json", "schema_mismatch")


def bounded_format(
    template,
    *,
    lengths: dict[str, int] | None = None,
    patterns: dict[str, str | None] | None = None,
    max_id: int | None = None,
) -> dict[str, Any] | None:
    """The template's response format with per-record bounds: string `maxLength`s, grammar
    patterns and `error_sentence_id`'s maximum. A backend that decodes with a grammar
    enforces the patterns (the closing sentence states the choice; every other bounded
    string holds no raw line break); one that takes plain JSON Schema never sees them."""
    from dsbuild.llm.structured import GRAMMAR_PATTERN
    from dsbuild.medrect.stem import text_pattern

    changes: dict[str, dict[str, Any]] = {}
    for name, n in (lengths or {}).items():
        changes.setdefault(name, {})["maxLength"] = n
    for name, pattern in (patterns or {}).items():
        changes.setdefault(name, {})[GRAMMAR_PATTERN] = pattern or None
    if max_id is not None:
        changes.setdefault("error_sentence_id", {})["maximum"] = max_id
    return response_format(template, changes, string_default=(GRAMMAR_PATTERN, text_pattern))


def _one(text: Any) -> str:
    """A model's sentence as one clean line ("" when it wrote none)."""
    from dsbuild.medrect.synthesis import clean_sentences

    return " ".join(clean_sentences([str(text or "")]) or [""])


@dataclass
class _Job:
    """One question synthesised by one model."""

    q: dict
    engine: Any
    label: str
    ctx: Any
    opts: Any

    @property
    def sampling(self) -> dict[str, Any]:
        return {"temperature": self.opts.temperature, "seed": self.ctx.seed}

    @property
    def language(self) -> str:
        from dsbuild.languages import language_name

        return language_name(self.q["lang"])

    @property
    def answer_text(self) -> str:
        return self.q["choices"][self.q["answer"]]

    def base(self, choice: str) -> dict[str, Any]:
        q = self.q
        return {
            "id": f"{q['id']}-{choice}-{hashlib.sha256(self.label.encode()).hexdigest()[:6]}",
            "sample_id": f"{q['id']}-{choice}",
            "metadata": {
                "question_id": q["id"],
                "choice": choice,
                "choice_text": q["choices"][choice],
                "answer": q["answer"],
                "answer_text": self.answer_text,
                "lang": q["lang"],
                "source": q.get("source") or None,
                "source_model": self.label,
                "question": q["question"],
            },
        }

    def failed(
        self, choice: str, step: str, result=None, *, code: str | None = None, detail: str = ""
    ) -> dict[str, Any]:
        """A record standing for a failed step; `check` rejects it with `code`, or with
        `llm_<reason>` for a call (`result`) failed for its content. A call failed because
        of the endpoint raises `Pending` instead: the question is retried by the next run."""
        if result is not None:
            result.raise_if_pending(step)
        error = (
            {"step": step, **result.error}
            if result is not None
            else {"step": step, "code": code, "detail": detail}
        )
        return {
            **self.base(choice),
            "sentences": "",
            "error_flag": 0 if choice == self.q["answer"] else 1,
            "synthesis_error": error,
        }

    def all_failed(self, step: str, result=None, **why: Any) -> list[dict]:
        return [self.failed(c, step, result, **why) for c in self.q["choices"]]

    def sentence_format(
        self, template, choice_text: str, lead: str | None = None, extra: int = 0
    ) -> tuple[dict | None, int]:
        """The response format of a sentence stating `choice_text` (grammar-bounded) and the
        max_tokens that always lets it close."""
        from dsbuild.medrect.stem import choice_pattern, token_budget, tokens_per_char

        question = self.q["question"]
        margin = max(8, round(self.opts.choice_margin_tokens / tokens_per_char(question)))
        limit = len(choice_text) + 2 * margin + extra
        pattern = choice_pattern(choice_text, margin, margin, lead=lead)
        return (
            bounded_format(template, lengths={"sentence": limit}, patterns={"sentence": pattern}),
            token_budget(question, limit),
        )


@dataclass
class _Body:
    """The record's body and how it was made."""

    sentences: list[str]
    verbatim: bool = True
    why: str | None = None  # why the rewrite was not used
    provenance: dict | None = None  # the rewrite call's
    failed: Any = None  # the rewrite's result when it failed because of the model


class Synthesizer:
    """The `synthesize` stage: `await Synthesizer(record_t, conclude_t, inject_t)(q, ctx)`
    gives one record per choice (and per synthesis model) of question `q`."""

    def __init__(self, record_t, conclude_t, inject_t) -> None:
        self.record_t, self.conclude_t, self.inject_t = record_t, conclude_t, inject_t

    async def __call__(self, q: dict, ctx: Any) -> list[dict]:
        from dsbuild.builder_options import options_of
        from dsbuild.medrect.options import Options

        opts = options_of(ctx, Options)
        jobs = [
            _Job(q, ctx.llm.get(spec), ctx.llm.spec_label(spec), ctx, opts)
            for spec in spec_list(opts.models)
        ]
        outs = await asyncio.gather(*(self.records(job) for job in jobs))
        return [r for out in outs for r in out]

    async def records(self, job: _Job) -> list[dict]:
        """The records of one question by one model, in the order of its choices."""
        from dsbuild.medrect.sentences import join_sentences, number_sentences
        from dsbuild.medrect.stem import stem_sentences

        q = job.q
        body = await self.body(job, stem_sentences(q["question"]))
        if body.failed is not None:
            return job.all_failed("record", body.failed)
        res = await self.closing(job, body.sentences)
        if not res.ok:
            return job.all_failed("conclude", res)
        closing = _one(res.json.get("sentence"))
        if not closing:
            return job.all_failed(
                "conclude",
                code="no_closing_sentence",
                detail="the model wrote an empty closing sentence",
            )
        correct = [*body.sentences, closing]
        prov = {"conclude": res.provenance()}
        if body.provenance is not None:
            prov = {"record": body.provenance, **prov}
        meta = {
            "stem_verbatim": body.verbatim,
            **({"stem_rewrite_rejected": body.why} if body.why and body.provenance else {}),
        }

        def base(choice: str) -> dict[str, Any]:
            out = job.base(choice)
            out["metadata"].update(meta)
            return out

        clean = {
            **base(q["answer"]),
            "sentences": number_sentences(correct),
            "error_flag": 0,
            **{k: None for k in MEDRECT_KEYS[3:]},
            "provenance": prov,
        }
        wrong = [c for c in q["choices"] if c != q["answer"]]
        injected = await asyncio.gather(*(self.inject(job, c, correct) for c in wrong))
        by_choice = {q["answer"]: clean}
        for choice, (r, new) in zip(wrong, injected):
            by_choice[choice] = (
                job.failed(choice, "inject", r)
                if not r.ok
                else {
                    **base(choice),
                    "sentences": number_sentences([*body.sentences, new]),
                    "error_flag": 1,
                    "error_type": r.json.get("error_type"),
                    "error_sentence_id": len(correct),
                    "error_sentence": new,
                    "corrected_sentence": closing,
                    "corrected_text": join_sentences(correct),
                    "provenance": {**prov, "inject": r.provenance()},
                }
            )
        return [by_choice[c] for c in q["choices"]]

    async def body(self, job: _Job, stem: list[str]) -> _Body:
        """The model's rewrite of the stem when it keeps every number and enough sentences,
        else the stem's sentences verbatim."""
        from dsbuild.medrect.stem import split_sentences, stem_sentences, token_budget
        from dsbuild.medrect.synthesis import clean_sentences, stem_numbers

        if not job.opts.rewrite_stem or not stem:
            return _Body(stem)
        text = " ".join(stem)
        limit = int(len(text) * 1.2) + 20
        res = await ask(
            job.engine,
            self.record_t,
            language=job.language,
            stem=text,
            response_format=bounded_format(self.record_t, lengths={"record": limit}),
            sampling={**job.sampling, "max_tokens": token_budget(text, limit)},
            id=f"{job.q['id']}/record",
        )
        if not res.ok:
            if res.error["reason"] in REWRITE_FALLBACK:
                why = f"llm_{res.error['reason']}: {res.error['detail']}"[:300]
                return _Body(stem, why=why, provenance=res.provenance())
            return _Body(stem, failed=res)
        rewritten = clean_sentences(split_sentences(str(res.json.get("record") or "")))
        kept = stem_sentences(" ".join(rewritten))
        numbers = stem_numbers(text)
        have = set(stem_numbers(" ".join(kept)))
        missing = [n for n in numbers if n not in have]
        share = 1 - len(missing) / len(numbers) if numbers else 1.0
        if share < job.opts.min_numbers_kept:
            return _Body(
                stem, why=f"the rewrite lost {', '.join(missing[:8])}", provenance=res.provenance()
            )
        if len(kept) < min(len(stem), job.opts.min_sentences) or len(kept) != len(rewritten):
            return _Body(
                stem,
                why="the rewrite has too few sentences or asks a question",
                provenance=res.provenance(),
            )
        return _Body(kept, verbatim=False, provenance=res.provenance())

    async def closing(self, job: _Job, body: list[str]):
        """The model's closing sentence stating the correct choice (the call's result)."""
        from dsbuild.medrect.sentences import number_sentences
        from dsbuild.medrect.stem import question_sentences

        asked = " ".join(question_sentences(job.q["question"])) or "the diagnosis or the next step"
        fmt, budget = job.sentence_format(self.conclude_t, job.answer_text)
        return await ask(
            job.engine,
            self.conclude_t,
            language=job.language,
            record=number_sentences(body),
            asked=asked,
            choice=job.answer_text,
            response_format=fmt,
            sampling={**job.sampling, "max_tokens": budget},
            id=f"{job.q['id']}/conclude",
        )

    async def inject(self, job: _Job, choice: str, correct: list[str]) -> tuple[Any, str]:
        """The closing sentence rewritten to state wrong `choice` (the call's result and the
        sentence); grammar backends keep the sentence as it is up to the choice."""
        from dsbuild.medrect.sentences import number_sentences

        closing, wrong_text = correct[-1], job.q["choices"][choice]
        found = re.search(re.escape(" ".join(job.answer_text.split())), closing, re.IGNORECASE)
        lead = closing[: found.start()] if found else None
        fmt, budget = job.sentence_format(self.inject_t, wrong_text, lead, extra=len(closing))
        res = await ask(
            job.engine,
            self.inject_t,
            language=job.language,
            record=number_sentences(correct),
            sentence=closing,
            answer=job.answer_text,
            wrong=wrong_text,
            response_format=fmt,
            sampling={**job.sampling, "max_tokens": budget},
            id=f"{job.q['id']}/{choice}",
        )
        return res, (_one(res.json.get("sentence")) if res.ok else "")
