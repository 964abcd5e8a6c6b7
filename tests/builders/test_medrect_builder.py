"""The MedRECT builder end to end with fake models: every stage, every reject reason, resume,
roster alternation, export, and the CLI no-argument path."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from dsbuild.builders.medrect import SCREEN_FLAGS, make_builder
from dsbuild.config import Settings
from dsbuild.errors import DsbuildError
from dsbuild.llm.pool import ModelPool
from dsbuild.llm.types import BackendError
from dsbuild.runs import run_builder
from dsbuild.testing import FakeLLM, installed
from dsbuild.validation import validate_path


class ClinicalFake(FakeLLM):
    """A fake that answers each medrect prompt sensibly from its text: the rewrite repeats
    the stem; the closing sentence is `Plan: <decision>.`; the injected sentence swaps the
    answer for the wrong choice. `record`/`conclude`/`inject`/`validate`/`screen` override
    replies (a value, an exception, or a function of the prompt's user text)."""

    def __init__(self, name: str = "fake-model", **overrides: Any) -> None:
        super().__init__(name)
        self.overrides = overrides

    def _reply(self, kind: str, user: str, default: Any) -> Any:
        over = self.overrides.get(kind)
        if callable(over) and not isinstance(over, type):
            over = over(user)
        return default if over is None else over

    async def complete(self, payload: dict[str, Any], *, timeout: float):
        system = payload["messages"][0]["content"]
        user = next(m["content"] for m in payload["messages"] if m["role"] == "user")
        kind = (
            "record"
            if "You write clinical records" in system
            else "conclude"
            if "You finish clinical records" in system
            else "inject"
            if "You make test items" in system
            else "validate"
            if "senior physician" in system
            else "screen"
            if "You check items" in system
            else None
        )
        if kind and not self.queue:
            reply = self._reply(kind, user, getattr(self, f"_{kind}")(user))
            self.queue.append(reply)
        return await super().complete(payload, timeout=timeout)

    @staticmethod
    def _record(user: str) -> dict:
        return {"record": user}

    @staticmethod
    def _conclude(user: str) -> dict:
        return {"sentence": f"Plan: {re.search(r'Decision taken: (.*)', user).group(1).strip()}."}

    @staticmethod
    def _inject(user: str) -> dict:
        sentence = re.search(r"Closing sentence: (.*)", user).group(1).strip()
        answer = re.search(r"Correct decision: (.*)", user).group(1).strip()
        wrong = re.search(r"Wrong decision to put in: (.*)", user).group(1).strip()
        return {"sentence": sentence.replace(answer, wrong), "error_type": "procedure_intervention"}

    @staticmethod
    def _validate(user: str) -> dict:
        return {"error_flag": 0, "error_sentence_id": 0, "corrected_sentence": ""}

    @staticmethod
    def _screen(user: str) -> dict:
        return {"reason": "fine", **{f: "no" for f in SCREEN_FLAGS}}


def build(
    tmp_path: Path,
    run: str = "run",
    limit: int | None = None,
    languages=(),
    concurrency: int = 16,
    cache: str | None = None,
    **options,
):
    """Run the builder; each run directory has its own LLM cache unless `cache` names one."""
    settings = Settings(
        model="fake:default",
        cache_dir=tmp_path / "cache" / (cache or run),
        limit=limit,
        languages=list(languages),
        concurrency=concurrency,
        options=options,
    )
    pool = ModelPool(settings)
    with asyncio.Runner() as loop:
        try:
            return run_builder(
                make_builder(settings),
                tmp_path / run,
                settings.public_dict(),
                context_extras={"settings": settings, "llm": pool},
                loop=loop,
            )
        finally:
            loop.run(pool.aclose())


def rows(result) -> list[dict]:
    return [json.loads(line) for line in Path(result.records_path).read_text("utf-8").splitlines()]


def rejects(result, stage: str | None = None) -> Counter:
    return Counter(
        s
        for st in result.stages
        if stage in (None, st.name)
        for s, n in st.rejects_by_reason.items()
        for _ in range(n)
    )


def stage(result, name: str):
    return next(s for s in result.stages if s.name == name)


# -- the whole pipeline -------------------------------------------------------------------
def test_embedded_sample_builds_valid_medrect_and_medec(tmp_path):
    from dsbuild.builders.medrect import finalize
    from dsbuild.medrect.formats import read_medec, read_medrect

    with installed(ClinicalFake()):
        result = build(tmp_path)
    assert {s.name: s.n_out for s in result.stages} == {
        "sources": 2,
        "dedup_sources": 2,
        "synthesize": 10,
        "check": 10,
        "hygiene_record": 10,
        "langid_record": 10,
        "difficulty": 10,
        "dedup": 10,
        "screen": 10,
    }
    out = rows(result)
    assert validate_path(result.records_path, "medrect").ok
    assert {r["metadata"]["lang"] for r in out} == {"en", "ja"}
    for q in ("vig-en-01", "vig-ja-01"):
        mine = {r["metadata"]["choice"]: r for r in out if r["metadata"]["question_id"] == q}
        assert sorted(mine) == ["a", "b", "c", "d", "e"]
        clean = [r for r in mine.values() if r["error_flag"] == 0]
        assert len(clean) == 1 and clean[0]["metadata"]["choice"] == clean[0]["metadata"]["answer"]
        assert all(
            clean[0][k] is None for k in ("error_type", "error_sentence_id", "corrected_text")
        )
        clean_lines = clean[0]["sentences"].splitlines()
        assert clean_lines[-1].endswith(f"Plan: {clean[0]['metadata']['answer_text']}.")
        for r in mine.values():
            if r["error_flag"] == 0:
                continue
            lines = r["sentences"].splitlines()
            diff = [i for i, (a, b) in enumerate(zip(lines, clean_lines), 1) if a != b]
            assert diff == [r["error_sentence_id"]]  # exactly one sentence differs, 1-based
            assert r["metadata"]["choice_text"] in r["error_sentence"]
            assert r["corrected_sentence"] in clean[0]["sentences"]
            assert r["error_type"] == "procedure_intervention"
            assert r["metadata"]["source_model"] == "fake:default"
            assert r["metadata"]["difficulty"] == {
                "panel": 1,
                "correct": 0,
                "detected": 0,
                "mislocated": 0,
            }
            assert set(r["provenance"]) == {"record", "conclude", "inject", "validators", "screen"}
            assert r["metadata"]["stem_verbatim"] is False  # the fake's rewrite keeps every number
            assert r["error_sentence_id"] == len(lines)  # the closing sentence states the choice
            assert r["screening_results"]["is_valid"] is True
    files = finalize(result, tmp_path / "export")
    assert files == {"medrect.json": 10, "medec.csv": 10}
    medrect = read_medrect(tmp_path / "export" / "medrect.json")
    assert "id" not in medrect[0] and medrect[0]["metadata"]["provenance"]
    medec = read_medec(tmp_path / "export" / "medec.csv")
    by_id = {r["sample_id"]: r for r in medrect}
    for row in medec:
        rec = by_id[row["Text ID"]]
        if rec["error_flag"] == 1:
            assert int(row["Error Sentence ID"]) == rec["error_sentence_id"] - 1
            assert row["Sentences"].startswith("0 ")
        else:
            assert row["Error Sentence ID"] == "-1" and row["Corrected Text"] == "NA"
    # A Japanese build can export the release's own labels (MedRECT-ja writes them in Japanese).
    finalize(result, tmp_path / "ja", options={"labels": "ja"})
    ja_types = {r["error_type"] for r in read_medrect(tmp_path / "ja" / "medrect.json")}
    assert ja_types == {None, "手技・介入エラー"}


def test_rerun_skips_finished_stages_and_a_new_run_reuses_the_cache(tmp_path):
    fake = ClinicalFake()
    with installed(fake):
        first = build(tmp_path)
        calls = len(fake.calls)
        again = build(tmp_path)
        assert len(fake.calls) == calls
        assert rows(again) == rows(first)
        other = build(tmp_path, run="other", cache="run")
    assert len(fake.calls) == calls  # every request answered from the cache
    assert [r["sentences"] for r in rows(other)] == [r["sentences"] for r in rows(first)]


def test_resume_after_a_failure_mid_stage(tmp_path):
    class Crash(ClinicalFake):
        armed = True

        async def complete(self, payload, *, timeout):
            if (
                self.armed
                and "senior physician" in payload["messages"][0]["content"]
                and len(self.calls) > 14
            ):
                raise RuntimeError("killed")
            return await super().complete(payload, timeout=timeout)

    fake = Crash()
    with installed(fake):
        with pytest.raises(DsbuildError, match="killed"):
            build(tmp_path, concurrency=1)
        log = next((tmp_path / "run" / "stages").glob("*-difficulty")) / "log.jsonl"
        done = log.read_text().count("\n")
        assert 0 < done < 10
        fake.armed = False
        sent = len(fake.calls)
        result = build(tmp_path, concurrency=1)
    assert stage(result, "difficulty").status == "resumed"
    assert len(fake.calls) - sent == 10 - done + 10  # the rest of the panel, then the judge
    assert len(rows(result)) == 10


# -- sources ------------------------------------------------------------------------------
def test_sources_from_files_reject_unusable_questions_with_reasons(tmp_path):
    jmle = [
        {
            "id": "118A1",
            "question": "52歳の男性。3日前からの発熱と咳嗽を主訴に来院した。"
            "体温38.5 °C。診断はどれか。",
            "choices": {"a": "肺炎", "b": "気管支喘息", "c": "心不全", "d": "肺癌", "e": "気胸"},
            "answer": ["a"],
        },
        {
            "id": "118A2",
            "question": "計算せよ。",
            "choices": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"},
            "answer": ["c"],
        },
        {
            "id": "118A3",
            "question": "胸部エックス線写真を別に示す。診断はどれか。",
            "choices": {"a": "肺炎", "b": "気胸"},
            "answer": ["a"],
        },
        {
            "id": "118A4",
            "question": "2つ選べ。",
            "choices": {"a": "肺炎", "b": "気胸", "c": "心不全"},
            "answer": ["a", "b"],
        },
    ]
    path = tmp_path / "jmle.json"
    path.write_text(json.dumps(jmle, ensure_ascii=False), "utf-8")
    with installed(ClinicalFake()):
        result = build(tmp_path, questions=str(path))
    assert stage(result, "sources").n_out == 1
    assert rejects(result, "sources") == Counter(
        numeric_choices=1, needs_figure=1, multiple_answers=1
    )
    medqa = tmp_path / "medqa.jsonl"
    medqa.write_text(
        json.dumps(
            {
                "question": "A 30-year-old man has a fever of 39.0 C for 2 days. "
                "He aches all over. Which is the most likely diagnosis?",
                "options": {"A": "Influenza", "B": "Gout"},
                "answer_idx": "A",
            }
        )
        + "\n"
    )
    with installed(ClinicalFake()):
        result = build(tmp_path, run="medqa", questions=str(medqa))
    assert stage(result, "synthesize").n_out == 2 and len(rows(result)) == 2


def test_per_language_limit_and_languages(tmp_path):
    with installed(ClinicalFake()):
        result = build(tmp_path, per_language=2, languages=["ja"])
        assert stage(result, "sources").n_out == 2
        assert {r["metadata"]["lang"] for r in rows(result)} == {"ja"}
        result = build(tmp_path, run="lim", limit=1, per_language=6)
    assert stage(result, "sources").n_out == 1


# -- synthesize / check rejects -------------------------------------------------------------
def _by_wrong(overrides: dict[str, Any]):
    """An inject override answering per wrong choice (a value, an exception or a function)."""

    def inject(user: str):
        wrong = re.search(r"Wrong decision to put in: (.*)", user).group(1).strip()
        over = overrides.get(wrong)
        return over(user) if callable(over) and not isinstance(over, BaseException) else over

    return inject


def _closing(user: str) -> str:
    return re.search(r"Closing sentence: (.*)", user).group(1).strip()


def test_check_rejects_each_defect_with_its_reason(tmp_path):
    en = "vig-en-01"  # answer b: primary PCI, stated by the closing sentence
    inject = _by_wrong(
        {
            "Oral amoxicillin": {
                "sentence": "Plan: oral amoxicillin was incorrectly chosen.",
                "error_type": "medication_selection",
            },
            "Exercise stress test": lambda u: {"sentence": _closing(u), "error_type": "diagnosis"},
            "Outpatient echocardiography in 2 weeks": {
                "sentence": "Plan: rest at home.",
                "error_type": "diagnosis",
            },
            "Intravenous furosemide": BackendError("bad_request", "refused", transient=False),
        }
    )
    with installed(ClinicalFake(inject=inject)):
        result = build(tmp_path, languages=["en"])
    got = {r["id"]: r for r in rows(result)}
    assert sorted(k.split("-")[3] for k in got if k.startswith(en)) == ["b"]
    assert rejects(result, "check") == Counter(
        signposted_error=1, correction_unchanged=1, choice_not_stated=1, llm_bad_request=1
    )
    lines = [json.loads(x) for x in Path(result.rejects_path).read_text().splitlines()]
    bad = next(x for x in lines if x["reason"] == "llm_bad_request")
    assert bad["stage"] == "check" and bad["detail"].startswith("inject: ")


def test_a_clean_record_must_state_the_answer_in_its_closing_sentence(tmp_path):
    with installed(ClinicalFake(conclude={"sentence": "The patient was observed."})):
        result = build(tmp_path, languages=["en"])
    # the clean record misses its answer; the wrong ones then swap nothing into the sentence
    assert rejects(result, "check") == Counter(choice_not_stated=1, correction_unchanged=4)
    with installed(ClinicalFake(conclude={"sentence": " "})):
        result = build(tmp_path, run="empty", languages=["en"])
    assert rejects(result, "check") == Counter(no_closing_sentence=5)


def test_a_rewrite_that_loses_numbers_falls_back_to_the_stem_verbatim(tmp_path):
    stem = [
        "A 67-year-old man has had crushing central chest pain for 40 minutes.",
        "He is sweating and nauseated.",
        "His blood pressure is 138/84 mm Hg and pulse 92/min.",
        "An ECG shows ST-segment elevation in leads II, III and aVF.",
        "The nearest hospital with a catheterisation laboratory is 20 minutes away.",
    ]
    lossy = {"record": "A man has chest pain. His ECG shows ST elevation. He is sweating."}
    with installed(ClinicalFake(record=lossy)):
        result = build(tmp_path, languages=["en"])
        out = rows(result)
        assert len(out) == 5 and rejects(result) == Counter()
        for r in out:
            texts = [line.split(". ", 1)[1] for line in r["sentences"].splitlines()]
            assert texts[:-1] == stem  # every number and finding of the stem, by construction
            assert r["metadata"]["stem_verbatim"] is True
            assert "67" in r["metadata"]["stem_rewrite_rejected"]
        result = build(tmp_path, run="lenient", languages=["en"], min_numbers_kept=0.0)
        out = rows(result)
        assert len(out) == 5 and all(r["metadata"]["stem_verbatim"] is False for r in out)
        assert out[0]["sentences"].startswith("1. A man has chest pain.\n2. His ECG")
    fake = ClinicalFake(record="not json")
    with installed(fake):
        result = build(tmp_path, run="broken", languages=["en"])
    out = rows(result)
    assert len(out) == 5 and all(r["metadata"]["stem_verbatim"] is True for r in out)
    assert out[0]["metadata"]["stem_rewrite_rejected"].startswith("llm_invalid_json")
    fake = ClinicalFake()
    with installed(fake):
        result = build(tmp_path, run="off", languages=["en"], rewrite_stem=False)
    assert len(rows(result)) == 5 and all(r["metadata"]["stem_verbatim"] for r in rows(result))
    assert not any("You write clinical records" in c["messages"][0]["content"] for c in fake.calls)


def test_check_rejects_short_records(tmp_path):
    medqa = tmp_path / "short.jsonl"
    medqa.write_text(
        json.dumps(
            {
                "question": "A 30-year-old man has a fever of 39.0 C. Which is the diagnosis?",
                "options": {"A": "Influenza", "B": "Gout"},
                "answer_idx": "A",
            }
        )
        + "\n"
    )
    with installed(ClinicalFake()):
        result = build(tmp_path, questions=str(medqa))
    assert rejects(result, "check") == Counter(too_few_sentences=2)


def test_lost_stem_numbers_are_a_content_problem():
    from dsbuild.medrect.synthesis import content_problems

    record = {
        "sentences": "1. A man has a fever.\n2. He is tired.\n3. Plan: Influenza.",
        "error_flag": 0,
    }
    problems = content_problems(
        record,
        question="A 30-year-old man has a fever of 39.0 C.",
        choice_text="Influenza",
        answer_text="Influenza",
    )
    assert [code for code, _ in problems] == ["stem_numbers_missing"]
    assert "30, 39.0" in problems[0][1]


def test_record_or_closing_call_failure_rejects_every_choice_of_that_model(tmp_path):
    with installed(
        ClinicalFake(record=BackendError("context_length", "too long", transient=False))
    ):
        result = build(tmp_path, languages=["en"])
    assert rejects(result, "check") == Counter(llm_context_length=5)
    with installed(ClinicalFake(conclude=BackendError("bad_request", "refused", transient=False))):
        result = build(tmp_path, run="conclude", languages=["en"])
    assert rejects(result, "check") == Counter(llm_bad_request=5)


def test_endpoint_failure_leaves_the_question_pending_and_the_rerun_completes_it(tmp_path):
    from dsbuild.runs.runner import RunIncompleteError

    with (
        installed(ClinicalFake(conclude=BackendError("server_error", "down", transient=False))),
        pytest.raises(RunIncompleteError, match="llm_server_error"),
    ):
        build(tmp_path, run="pending", languages=["en"])
    with installed(ClinicalFake()):
        result = build(tmp_path, run="pending", languages=["en"])
    assert rejects(result, "check") == Counter() and len(rows(result)) == 5


def test_stem_sentences_drop_the_question_in_english_and_japanese():
    from dsbuild.medrect.stem import question_sentences, split_sentences, stem_sentences

    en = (
        "A 4-year-old boy has a temperature of 38.0 C. Dr. Smith sees him (approx. 2 a.m.). "
        "Which is the best treatment?"
    )
    assert stem_sentences(en) == [
        "A 4-year-old boy has a temperature of 38.0 C.",
        "Dr. Smith sees him (approx. 2 a.m.).",
    ]
    assert question_sentences(en) == ["Which is the best treatment?"]
    ja = "19歳の男性。体温37.8 °C。血液所見:白血球14,200。CRP 4.1 mg/dL。最も考えられるのはどれか。"
    assert stem_sentences(ja) == [
        "19歳の男性。",
        "体温37.8 °C。",
        "血液所見:白血球14,200。",
        "CRP 4.1 mg/dL。",
    ]
    assert split_sentences("「痛い。」と訴える。咳嗽はない。") == [
        "「痛い。」と訴える。",
        "咳嗽はない。",
    ]


def test_choice_pattern_forces_the_choice_into_a_grammar_bound_sentence(tmp_path):
    from dsbuild.llm.structured import GRAMMAR_PATTERN
    from dsbuild.medrect.stem import choice_pattern

    pattern = choice_pattern("Primary PCI (within 90 min)", 20, 20)
    assert re.search(pattern, "We did primary PCI (within 90 min) at once.")
    assert not re.search(pattern, "We did thrombolysis at once.")
    assert not re.search(pattern, "x" * 21 + "Primary PCI (within 90 min)")
    assert choice_pattern('say "no"', 5, 5) is None
    ja = choice_pattern("アモキシシリン", 10, 10)
    assert re.search(ja, "アモキシシリンを投与した。")
    with installed(ClinicalFake()) as fake:
        build(tmp_path, languages=["en"])
    formats = [
        c.get("response_format")
        for c in fake.calls
        if "You finish clinical records" in c["messages"][0]["content"]
    ]
    # only grammar backends get patterns; others get the extension, which the modes strip
    assert formats and not any(
        '"pattern"' in json.dumps(c.get("response_format")) for c in fake.calls
    )
    assert all(GRAMMAR_PATTERN in json.dumps(f) for f in formats)
    lead = choice_pattern("Oral amoxicillin", 20, 20, lead="Plan: start ")
    assert re.search(lead, "Plan: start oral amoxicillin today.")
    assert not re.search(lead, "Plan: begin oral amoxicillin today.")
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    schema = {
        "type": "object",
        "properties": {"sentence": {"type": "string", "pattern": pattern}},
        "required": ["sentence"],
    }
    gbnf = llama_grammar.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)._grammar
    assert (
        '[Pp] "rimary PCI" " " [(] "within 90 mi" "n" [)]' in gbnf and "sentence-1 ::= [^" in gbnf
    )


def test_a_grammar_backend_gets_the_choice_pattern_and_its_replies_are_held_to_it(tmp_path):
    from dsbuild.llm.structured import expand_grammar_patterns

    class GrammarFake(ClinicalFake):
        """A backend that decodes with a grammar: it takes the patterns (the local model's hook)."""

        def prepare_response_format(self, response_format):
            return expand_grammar_patterns(response_format)

    fake = GrammarFake()
    with installed(fake):
        result = build(tmp_path, languages=["en"])
    assert len(rows(result)) == 5
    sent = [
        json.dumps(c.get("response_format"))
        for c in fake.calls
        if "You finish clinical records" in c["messages"][0]["content"]
        or "You make test items" in c["messages"][0]["content"]
    ]
    assert len(sent) == 5 and all('"pattern"' in f for f in sent)
    assert all("Plan: " in f for f in sent[1:])  # wrong sentences copy the closing up to the choice
    # every free-text field too: llama-cpp-python's JSON grammar would let raw line breaks in
    assert all('"pattern"' in json.dumps(c["response_format"]) for c in fake.calls)
    bad = GrammarFake(
        inject=_by_wrong(
            {
                "Oral amoxicillin": {
                    "sentence": "We start oral amoxicillin.",
                    "error_type": "medication_selection",
                }
            }
        )
    )
    with installed(bad):
        result = build(tmp_path, run="bad", languages=["en"])
    assert rejects(result, "check") == Counter(llm_schema_mismatch=1)
    broken = GrammarFake(
        validate={"error_flag": 1, "error_sentence_id": 2, "corrected_sentence": "a\nb"}
    )
    with installed(broken):
        result = build(tmp_path, run="broken", languages=["en"])
    assert rejects(result, "difficulty") == Counter(llm_schema_mismatch=5)


# -- difficulty ---------------------------------------------------------------------------
def _always_sentence_1(user: str) -> dict:
    return {"error_flag": 1, "error_sentence_id": 1, "corrected_sentence": "x"}


def test_difficulty_bounds_and_reasons(tmp_path):
    # the default validator calls every record clean: clean records right, error records wrong
    with installed(ClinicalFake()):
        result = build(tmp_path, languages=["en"], min_correct=1)
        assert rejects(result, "difficulty") == Counter(too_hard=4)
        result = build(tmp_path, run="easy", languages=["en"], max_correct=0)
        assert rejects(result, "difficulty") == Counter(too_easy=1)
        result = build(
            tmp_path,
            run="bytype",
            languages=["en"],
            difficulty_by_type=json.dumps({"clean": {"min_correct": 2}}),
        )
        assert rejects(result, "difficulty") == Counter(too_hard=1)
        result = build(
            tmp_path,
            run="bytype2",
            languages=["en"],
            min_correct=1,
            difficulty_by_type={"procedure_intervention": {"min_correct": 0}},
        )
        assert rejects(result, "difficulty") == Counter()
    with installed(ClinicalFake(validate=_always_sentence_1)):
        result = build(tmp_path, run="ambiguous", languages=["en"], max_mislocated_share=0.5)
    assert rejects(result, "difficulty") == Counter(ambiguous_location=4)


def test_difficulty_panel_of_two_models_scores_correct_answers(tmp_path):
    def oracle(user: str) -> dict:
        lines = user.splitlines()
        k = next(
            (i for i, line in enumerate(lines, 1) if "Plan:" in line and "Primary" not in line), 0
        )
        if not k:
            return {"error_flag": 0, "error_sentence_id": 0, "corrected_sentence": ""}
        return {
            "error_flag": 1,
            "error_sentence_id": k,
            "corrected_sentence": "Plan: Primary percutaneous coronary intervention.",
        }

    with (
        installed(ClinicalFake()),
        installed(ClinicalFake("oracle-model", validate=oracle), "oracle"),
    ):
        result = build(
            tmp_path,
            languages=["en"],
            validators=["fake:default", "fake:oracle"],
            min_correct=1,
            max_correct=1,
        )
    out = rows(result)
    assert len(out) == 4 and all(r["error_flag"] == 1 for r in out)
    assert rejects(result, "difficulty") == Counter(too_easy=1)  # both right on the clean one
    for r in out:
        by_model = {v["model"]: v for v in r["metadata"]["validators"]}
        assert by_model["fake:oracle"]["correct"] and not by_model["fake:default"]["correct"]
        assert r["metadata"]["difficulty"]["correct"] == 1


def test_a_failing_validator_rejects_with_its_reason(tmp_path):
    with installed(ClinicalFake(validate=BackendError("bad_request", "refused", transient=False))):
        result = build(tmp_path, languages=["en"])
    assert rejects(result, "difficulty") == Counter(llm_bad_request=5)


def test_bad_difficulty_mapping_is_a_config_error(tmp_path):
    from dsbuild.errors import ConfigError

    with installed(ClinicalFake()), pytest.raises(ConfigError, match="difficulty_by_type"):
        build(tmp_path, languages=["en"], difficulty_by_type='{"surgery": {"min_correct": 1}}')


# -- dedup --------------------------------------------------------------------------------
def test_dedup_keeps_one_per_choice_alternating_models(tmp_path):
    with installed(ClinicalFake()), installed(ClinicalFake("other-model"), "b"):
        result = build(tmp_path, models=["fake:default", "fake:b"])
    assert stage(result, "synthesize").n_out == 20
    assert rejects(result, "dedup") == Counter(duplicate_choice=10)
    out = rows(result)
    assert len({(r["metadata"]["question_id"], r["metadata"]["choice"]) for r in out}) == 10
    assert [r["metadata"]["source_model"] for r in out] == ["fake:default", "fake:b"] * 5


def test_dedup_drops_identical_texts(tmp_path):
    both = {
        "sentence": "Plan: Oral amoxicillin and Exercise stress test.",
        "error_type": "procedure_intervention",
    }
    with installed(
        ClinicalFake(inject=_by_wrong({"Oral amoxicillin": both, "Exercise stress test": both}))
    ):
        result = build(tmp_path, languages=["en"])
    assert rejects(result, "dedup") == Counter(duplicate_text=1)


# -- screen -------------------------------------------------------------------------------
@pytest.mark.parametrize("flag", SCREEN_FLAGS)
def test_screen_flag_rejects_with_the_judges_reason(tmp_path, flag):
    judge = {"reason": f"because {flag}", **{f: "yes" if f == flag else "no" for f in SCREEN_FLAGS}}
    with installed(ClinicalFake()), installed(ClinicalFake("judge-model", screen=judge), "judge"):
        result = build(tmp_path, languages=["en"], judge_model="fake:judge")
    assert rejects(result, "screen") == Counter({f"screen_{flag}": 5})
    line = json.loads(Path(result.rejects_path).read_text().splitlines()[0])
    assert f"because {flag}" in line["detail"] and flag in line["detail"]


def test_screen_failure_and_no_screen(tmp_path):
    with installed(
        ClinicalFake(screen=BackendError("context_length", "too long", transient=False))
    ):
        result = build(tmp_path, languages=["en"])
        assert rejects(result, "screen") == Counter(llm_context_length=5)
        result = build(tmp_path, run="off", languages=["en"], screen=False)
    out = rows(result)
    assert len(out) == 5 and all(r["screening_results"] is None for r in out)
    assert validate_path(result.records_path, "medrect").ok


def test_edited_prompt_changes_the_stage_version(tmp_path):
    from dsbuild.llm.prompts import package_prompts_dir

    over = tmp_path / "prompts"
    over.mkdir()
    text = (package_prompts_dir() / "medrect" / "screen.md").read_text("utf-8")
    (over / "screen.md").write_text(
        text.replace("You check items", "You check items carefully"), "utf-8"
    )
    base = {s["name"]: s["version"] for s in make_builder(Settings()).fingerprint_parts()["stages"]}
    edited = {
        s["name"]: s["version"]
        for s in make_builder(Settings(prompts_dir=over)).fingerprint_parts()["stages"]
    }
    assert base["screen"] != edited["screen"] and base["synthesize"] == edited["synthesize"]


# -- CLI ----------------------------------------------------------------------------------
def test_cli_build_without_arguments_then_validate_and_export(tmp_path):
    from click.testing import CliRunner

    from dsbuild.cli.app import app

    runner = CliRunner()
    with installed(ClinicalFake()):
        res = runner.invoke(
            app,
            [
                "medrect",
                "build",
                "--model",
                "fake:default",
                "-o",
                str(tmp_path / "run"),
                "--no-progress",
                "--cache-dir",
                str(tmp_path / "cache"),
            ],
        )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "run" / "export" / "medrect.json").read_text("utf-8"))
    assert len(data) == 10
    text = (tmp_path / "run" / "export" / "medec.csv").read_bytes().decode("utf-8")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["Text ID", "Text", "Sentences"]
    res = runner.invoke(app, ["medrect", "validate", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["medrect", "validate", str(tmp_path / "run" / "export" / "medrect.json")]
    )
    assert res.exit_code == 0, res.output


def test_cli_build_options_reach_the_builder(tmp_path):
    from click.testing import CliRunner

    from dsbuild.cli.app import app

    with installed(ClinicalFake()), installed(ClinicalFake("b-model"), "b"):
        res = CliRunner().invoke(
            app,
            [
                "medrect",
                "build",
                "--model",
                "fake:default",
                "-o",
                str(tmp_path / "run"),
                "--no-progress",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--models",
                "fake:default,fake:b",
                "--validators",
                "fake:b",
                "--min-correct",
                "1",
                "--no-screen",
                "--per-language",
                "1",
                "--lang",
                "en",
            ],
        )
    assert res.exit_code == 0, res.output
    import yaml

    options = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["options"]
    assert options == {
        "models": ["fake:default", "fake:b"],
        "validators": ["fake:b"],
        "min_correct": 1,
        "screen": False,
        "per_language": 1,
    }
    out = [json.loads(x) for x in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert len(out) == 1 and out[0]["error_flag"] == 0 and out[0]["screening_results"] is None
