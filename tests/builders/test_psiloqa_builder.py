"""The PsiloQA builder end to end through the real runner and engine, with a routed fake LLM
that answers each prompt by what it asks; every reject reason of every stage is provoked."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dsbuild.config import Settings
from dsbuild.llm.types import BackendError
from dsbuild.testing.fake_llm import FakeLLM, installed

LONG = (
    "The Danube is the second-longest river in Europe. It rises in the Black Forest and "
    "flows east through ten countries, among them Austria and Hungary, before it reaches "
    "the Black Sea in Romania. Its length is about 2,850 kilometres."
)
COMPLEXITIES = ["easy", "medium", "hard", "easy", "medium", "hard"]

# question -> (llm answer, annotated answer or exception, judge flags)
OK = {}
PLAN = {
    "Danube": [
        (
            "How long is the Danube?",
            "The Danube is 2850 km long.",
            "The Danube is [HAL]2850 km[/HAL] long.",
            OK,
        ),
        (
            "Where does the Danube end?",
            "It ends in the Black Sea.",
            "It ends in the Black Sea.",
            OK,
        ),
        ("Where does the Danube rise?", "In Bavaria.", "[HAL]In Bavaria.", OK),
        (
            "Which countries does it cross?",
            "Austria only.",
            "[HAL]Austria [HAL]only[/HAL][/HAL].",
            OK,
        ),
        ("What sea does it reach?", "The Caspian Sea.", "The [HAL][/HAL]Caspian Sea.", OK),
        ("How many countries does the Danube cross?", "Ten.", "Eleven.", OK),
    ],
    "Alps": [
        ("What is the highest Alpine peak?", "I don't know.", "I don't know.", OK),
        ("According to the passage, how high is Mont Blanc?", "4808 m.", "4808 m.", OK),
        (
            "Which country has the most Alpine area?",
            "Which country has the most Alpine area?",
            "Which country has the most Alpine area?",
            OK,
        ),
        (
            "Describe the Alpine climate in detail.",
            ("Cold. " * 40).strip(),
            ("Cold. " * 40).strip(),
            OK,
        ),
        ("When was it built?", "In 1900.", "In 1900.", {"incomplete_question": True}),
        (
            "Are the Alps the most beautiful mountains?",
            "Yes.",
            "Yes.",
            {"subjective_question": True},
        ),
    ],
    "Rhine": [
        (
            "Where does the Rhine rise?",
            "Somewhere in Europe, probably.",
            "Somewhere in Europe, probably.",
            {"refusal": True},
        ),
        (
            "Where does the Rhine end?",
            "In the North Sea.",
            BackendError("bad_request", "HTTP 400: prompt too long", transient=False),
            OK,
        ),
        ("How long is the Rhine?", "   ", "", OK),
    ],
}


class RoutedFake(FakeLLM):
    """Answers each request by its prompt: QA pairs per title, answers and annotations per
    question, judge verdicts per question (from `plan`, default `PLAN`)."""

    def __init__(self, plan: dict | None = None) -> None:
        super().__init__()
        self.plan = plan or PLAN
        self.by_question = {
            q: (a, ann, flags) for items in self.plan.values() for q, a, ann, flags in items
        }

    def _deterministic(self, payload):
        system = payload["messages"][0]["content"]
        user = next(m["content"] for m in payload["messages"] if m["role"] == "user")
        if "reading-comprehension" in system:
            title = user.split("\n", 1)[0].removeprefix("Title: ").strip()
            if title == "Broken":
                return "this is not JSON"
            if title == "Blank":
                return {"pairs": [{"complexity": "easy", "question": "      ", "answer": "x"}]}
            return {
                "pairs": [
                    {"complexity": COMPLEXITIES[i], "question": q, "answer": "gold"}
                    for i, (q, *_rest) in enumerate(self.plan[title])
                ]
            }
        if "general-knowledge" in system:
            return self.by_question[user][0]
        question = next(
            line.removeprefix("Question: ")
            for line in user.splitlines()
            if line.startswith("Question: ")
        )
        if "check answers against a source" in system:
            annotated = self.by_question[question][1]
            if isinstance(annotated, Exception):
                return annotated
            return {"annotated_answer": annotated}
        flags = self.by_question[question][2]
        return {
            "incomplete_question": False,
            "subjective_question": False,
            "refusal": False,
            "reason": "looks fine",
            **flags,
        }


def _passages(tmp_path: Path) -> Path:
    rows = [
        {
            "id": f"en:{t}",
            "lang": "en",
            "title": t,
            "url": f"https://en.wikipedia.org/wiki/{t}",
            "text": LONG,
        }
        for t in ("Danube", "Alps", "Rhine", "Broken", "Blank")
    ]
    rows.append({"id": "de:Kurz", "lang": "de", "title": "Kurz", "text": "Zu kurz."})
    path = tmp_path / "passages.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _settings(tmp_path: Path, **options) -> Settings:
    return Settings(
        dataset="psiloqa",
        model="fake:default",
        seed=0,
        concurrency=4,
        max_retries=0,
        cache_dir=tmp_path / "cache",
        options={
            "passages": str(_passages(tmp_path)),
            "complexities": COMPLEXITIES,
            "max_answer_chars": 100,
            **options,
        },
    )


def _build(tmp_path: Path, settings: Settings, fake: FakeLLM):
    from dsbuild.cli.dataset_group import build_dataset

    with installed(fake):
        return build_dataset("psiloqa", settings, tmp_path / "run", progress=False)


def _rejects(run: Path) -> Counter:
    return Counter((r["stage"], r["reason"]) for r in map(json.loads, open(run / "rejects.jsonl")))


def test_every_reject_reason_and_the_kept_rows(tmp_path):
    fake = RoutedFake()
    result = _build(tmp_path, _settings(tmp_path), fake)
    assert _rejects(result.run_dir) == Counter(
        {
            ("contexts", "passage_too_short"): 1,
            ("qa", "llm_invalid_json"): 1,
            ("qa", "no_questions"): 1,
            ("annotate", "annotation_unbalanced"): 1,
            ("annotate", "annotation_nested"): 1,
            ("annotate", "annotation_empty_span"): 1,
            ("annotate", "annotation_text_changed"): 1,
            ("annotate", "llm_bad_request"): 1,
            ("hygiene_answer", "empty_field"): 1,
            ("filter", "refusal"): 1,
            ("filter", "question_mentions_passage"): 1,
            ("answer_repeats_question", "answer_repeats_question"): 1,
            # max_answer_chars=100 now reaches the hygiene gate too (it used the default 1500)
            ("hygiene_answer", "too_long"): 1,
            ("filter", "incomplete_question"): 1,
            ("filter", "subjective_question"): 1,
            ("filter", "judged_refusal"): 1,
        }
    )
    rows = [json.loads(line) for line in open(result.records_path)]
    by_q = {r["question"]: r for r in rows}
    assert set(by_q) == {"How long is the Danube?", "Where does the Danube end?"}
    hal = by_q["How long is the Danube?"]
    assert hal["labels"] == [[14, 21]] and hal["llm_answer"][14:21] == "2850 km"
    assert hal["annotated_span"] == "The Danube is [HAL]2850 km[/HAL] long."
    assert by_q["Where does the Danube end?"]["labels"] == []
    for row in rows:
        assert row["id"].startswith("psiloqa-en-") and row["wiki_title"] == "Danube"
        assert row["llm_checkpoint"] == "fake-model" and row["complexity"] in COMPLEXITIES
        assert set(row["provenance"]) - {"gates"} == {"qa", "answer", "annotate", "judge"}
        assert row["provenance"]["annotate"]["template_id"] == "psiloqa/annotate"

    from dsbuild.validation import validate_path

    report = validate_path(result.records_path, "psiloqa", "psiloqa")
    assert report.valid == 2 and report.invalid == 0
    export = result.run_dir / "export"
    mushroom = [json.loads(line) for line in open(export / "mushroom.jsonl")]
    assert {tuple(map(tuple, m["hard_labels"])) for m in mushroom} == {((14, 21),), ()}
    assert validate_path(export / "mushroom.jsonl", "psiloqa", "mushroom").invalid == 0


def test_rerun_resumes_without_sending_anything(tmp_path):
    settings = _settings(tmp_path)
    first = _build(tmp_path, settings, RoutedFake())
    records = first.records_path.read_bytes()
    again = RoutedFake()
    second = _build(tmp_path, settings, again)
    assert [s.status for s in second.stages] == ["skipped"] * len(first.stages)
    assert again.calls == [] and second.records_path.read_bytes() == records


def test_killed_llm_stage_resumes_from_the_cache(tmp_path):
    """A run that failed half-way (here: a bug in the judge) resumes; requests already
    answered come from the cache, so the model sees only what it never answered."""
    settings = _settings(tmp_path)

    class DiesInFilter(RoutedFake):
        def _deterministic(self, payload):
            if "review items" in payload["messages"][0]["content"]:
                raise RuntimeError("judge crashed")
            return super()._deterministic(payload)

    with pytest.raises(Exception):
        _build(tmp_path, settings, DiesInFilter())
    fresh = RoutedFake()
    result = _build(tmp_path, settings, fresh)
    assert result.status == "finished" and result.n_out == 2
    systems = {c["messages"][0]["content"].split(".")[0] for c in fresh.calls}
    assert systems == {"You review items of a factuality benchmark written in English"}


def test_roster_for_lists_mappings_and_the_default():
    from dsbuild.builders.psiloqa import roster_for

    assert roster_for("de", None, "local:smollm2") == ["local:smollm2"]
    assert roster_for("de", ["a", "b"], "x") == ["a", "b"]
    assert roster_for("de", "a, b", "x") == ["a", "b"]
    assert roster_for("de-AT", {"de": ["d"], "*": ["any"]}, "x") == ["d"]
    assert roster_for("fi", {"de": ["d"], "*": ["any"]}, "x") == ["any"]
    assert roster_for("fi", {"de": ["d"]}, "x") == ["x"]


def test_roster_draws_answer_models_per_question_with_the_seed():
    from dsbuild.llm.pool import ModelPool
    from dsbuild.psiloqa.stage_roster import draw_roster as _roster
    from dsbuild.stages import StageContext

    def draw(seed: int, qid: str) -> list[str]:
        ctx = StageContext(
            config={},
            seed=seed,
            stage="roster",
            options={"answer_models": ["m:a", "m:b", "m:c"], "answers_per_question": 2},
            llm=ModelPool(Settings(model="fake:default")),
        )
        out = _roster({"id": qid, "lang": "en"}, ctx)
        assert [r["id"] for r in out] == [
            f"{qid}/m{i}"
            for i in sorted(["m:a", "m:b", "m:c"].index(r["answer_model"]) for r in out)
        ]
        return [r["answer_model"] for r in out]

    ids = [f"q{i}" for i in range(30)]
    first = [draw(0, q) for q in ids]
    assert first == [draw(0, q) for q in ids]  # reproducible
    assert all(len(set(pair)) == 2 for pair in first)
    assert len({tuple(p) for p in first}) == 3  # every pair of the three models occurs
    assert first != [draw(1, q) for q in ids]  # the seed matters


def test_no_llm_filter_keeps_what_only_the_judge_would_drop(tmp_path):
    fake = RoutedFake()
    result = _build(tmp_path, _settings(tmp_path, llm_filter=False), fake)
    reasons = {reason for _, reason in _rejects(result.run_dir)}
    assert not reasons & {"incomplete_question", "subjective_question", "judged_refusal"}
    assert result.n_out == 5
    assert not any("review items" in c["messages"][0]["content"] for c in fake.calls)


def test_real_openai_client_path_with_a_second_endpoint_for_answers(tmp_path):
    """The OpenAI SDK code path, offline: an in-process transport plays two servers, the
    main one (question writer, annotator, judge) and the answer model's own endpoint."""
    import asyncio

    httpx = pytest.importorskip("httpx2")
    from dsbuild.builders.psiloqa import make_builder
    from dsbuild.llm.pool import ModelPool
    from dsbuild.llm.structured import COPY_OF
    from dsbuild.runs import run_builder

    router, hosts, refused = RoutedFake(), Counter(), []

    def handler(request):
        body = json.loads(request.content)
        hosts[(request.url.host, body["model"])] += 1
        assert COPY_OF not in request.content.decode()
        reply = router._deterministic(body)
        if isinstance(reply, BackendError):
            refused.append(body["model"])
            return httpx.Response(400, json={"error": {"message": "prompt too long"}})
        content = reply if isinstance(reply, str) else json.dumps(reply)
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    settings = _settings(tmp_path).model_copy(
        update={"model": "openai:writer", "base_url": "http://main.invalid/v1"}
    )
    settings.options["answer_models"] = ["vllm:answerer@http://answers.invalid/v1"]
    pool = ModelPool(
        settings, http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    with asyncio.Runner() as loop:
        result = run_builder(
            make_builder(settings),
            tmp_path / "run",
            settings.public_dict(),
            context_extras={"llm": pool},
            loop=loop,
        )
        loop.run(pool.aclose())
    assert result.n_out == 2
    assert {host for host, model in hosts if model == "answerer"} == {"answers.invalid"}
    assert {host for host, model in hosts if model == "writer"} == {"main.invalid"}
    rows = [json.loads(line) for line in open(result.records_path)]
    assert {r["llm_checkpoint"] for r in rows} == {"answerer"}
    run = json.loads((result.run_dir / "run.json").read_text())
    answered = sum(hosts.values()) - len(refused)  # a 400 reports no usage
    assert refused == ["writer"] and run["tokens"]["prompt"] == 10 * answered


def test_gates_reject_wrong_language_and_duplicate_questions_and_can_be_switched_off(tmp_path):
    german = "Die Donau fließt durch zehn Länder und mündet in das Schwarze Meer, sagt man."
    plan = {
        "Danube": [
            ("Which sea does the Danube flow into?", german, german, OK),
            ("How long is the Danube river in total?", "About 2850 km.", "About 2850 km.", OK),
        ],
        "Alps": [
            ("How long is the Danube river in total?", "About 2850 km.", "About 2850 km.", OK)
        ],
    }

    path = tmp_path / "passages.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"en:{t}", "lang": "en", "title": t, "text": LONG}) + "\n"
            for t in ("Danube", "Alps")
        ),
        encoding="utf-8",
    )
    settings = Settings(
        dataset="psiloqa",
        model="fake:default",
        cache_dir=tmp_path / "c",
        options={"passages": str(path), "complexities": ["easy", "medium"]},
    )
    result = _build(tmp_path, settings, RoutedFake(plan))
    rejects = _rejects(result.run_dir)
    assert rejects[("langid_answer", "wrong_language")] == 1
    assert rejects[("dedup_questions", "duplicate_exact")] == 1
    assert result.n_out == 1

    from dsbuild.hub import export_run
    from dsbuild.stats import compute_stats

    gates = compute_stats(result.records_path, "psiloqa")["gates"]
    assert gates["langid_answer"]["per_language"]["en"]["by_reason"] == {"wrong_language": 1}
    assert gates["dedup_questions"]["by_reason"] == {"duplicate_exact": 1}
    card = (export_run("psiloqa", result.run_dir).folder / "README.md").read_text()
    assert "Quality gates (per language)" in card and "wrong_language: 1" in card

    off = settings.model_copy(update={"options": {**settings.options, "gates": False}})
    (tmp_path / "off").mkdir()
    result = _build(tmp_path / "off", off, RoutedFake(plan))
    assert not any(stage.startswith(("langid", "dedup")) for stage, _ in _rejects(result.run_dir))
    assert result.n_out == 3


def test_a_model_without_endpoint_stops_the_build_before_any_stage(tmp_path):
    from dsbuild.errors import ConfigError

    settings = _settings(
        tmp_path, answer_models=["vllm:m@http://gpu.invalid:8000/v1", "openai:gpt-4o-mini"]
    )
    fake = RoutedFake()
    with pytest.raises(ConfigError) as info:
        _build(tmp_path, settings, fake)
    assert info.value.code == "DSB103" and "openai:gpt-4o-mini" in str(info.value)
    assert fake.calls == [] and not (tmp_path / "run").exists()


def test_answer_length_limit_is_the_same_for_the_gate_and_the_filter(tmp_path):
    """Issue 16's bug: `max_answer_chars` reached the filter but the hygiene gate kept its
    default (1,500), so a 2,000-character answer was rejected as too long at 3,000."""
    from dsbuild.builders.psiloqa import make_builder
    from dsbuild.psiloqa.filters import run_filters
    from dsbuild.stages import Rejection, StageContext

    answer = ("The Danube flows through ten countries. " * 60)[:2000].strip()
    record = {
        "id": "q1",
        "lang": "en",
        "question": "How long is the Danube?",
        "llm_answer": answer,
        "wiki_passage": LONG,
        "provenance": {},
    }
    for limit, kept in ((3000, True), (1000, False)):
        settings = _settings(tmp_path, max_answer_chars=limit)
        stage = next(s for s in make_builder(settings).stages if s.name == "hygiene_answer")
        ctx = StageContext(
            config={"options": settings.options}, options=settings.options
        ).for_stage(stage.name)
        out = stage.fn(record, ctx)
        assert (not isinstance(out, Rejection)) is kept, out
        assert (run_filters(record, max_answer_chars=limit) is None) is kept


def test_unknown_and_bad_options_are_refused_before_the_run(tmp_path):
    from dsbuild.builders.psiloqa import make_builder
    from dsbuild.errors import ConfigError

    for options, match in (
        ({"max_anwser_chars": 3}, "unknown psiloqa option 'max_anwser_chars'.*max_answer_chars"),
        ({"long_answer_share": 7}, "long_answer_share"),
        ({"passages_per_language": -1}, "passages_per_language"),
        ({"answers_per_question": -1}, "answers_per_question"),
        ({"gates": "maybe"}, "gates"),
        ({"gate.no_such_gate": False}, "unknown gate stage"),
        ({"min_passage_chars": 50, "max_passage_chars": 2}, "min_passage_chars"),
    ):
        with pytest.raises(ConfigError, match=match):
            make_builder(_settings(tmp_path, **options))
    with pytest.raises(ConfigError, match="--lang qq"):
        make_builder(_settings(tmp_path).model_copy(update={"languages": ["qq"]}))
