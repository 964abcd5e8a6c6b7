"""Each real builder's own build flags through the real CLI (`dsbuild <dataset> build ...`):
the flag is stored in RUN/config.yaml and has its effect on the run. Fake models answer by
prompt (the fakes of tests/builders); EntityCS runs on its embedded sample."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from dsbuild.testing import FakeLLM, installed

_BUILDER_TESTS = str(Path(__file__).resolve().parent.parent / "builders")
if _BUILDER_TESTS not in sys.path:  # the fakes live beside the builder tests
    sys.path.insert(0, _BUILDER_TESTS)

from test_medrect_builder import ClinicalFake  # noqa: E402
from test_psiloqa_builder import LONG, OK, RoutedFake  # noqa: E402


def _build(cli, tmp_path: Path, dataset: str, *flags: str, run: str = "run") -> Path:
    path = tmp_path / run
    code, out, err = cli(
        dataset,
        "build",
        "-o",
        str(path),
        "--model",
        "fake:default",
        "--no-progress",
        "--cache-dir",
        str(tmp_path / "cache" / run),
        *flags,
    )
    assert code == 0, err or out
    return path


def _config(run: Path) -> dict:
    return yaml.safe_load((run / "config.yaml").read_text("utf-8"))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _stage(run: Path, name: str) -> dict:
    return next(
        s for s in json.loads((run / "run.json").read_text())["stages"] if s["name"] == name
    )


def _stage_records(run: Path, name: str) -> list[dict]:
    [folder] = (run / "stages").glob(f"*-{name}")
    return _jsonl(folder / "records.jsonl")


def _system(call: dict) -> str:
    return call["messages"][0]["content"]


# -- PsiloQA --------------------------------------------------------------------------------
PLAN = {
    title: [
        (
            f"How long is the {title}?",
            f"The {title} is 2850 km long.",
            f"The {title} is [HAL]2850 km[/HAL] long.",
            OK,
        ),
        (
            f"Where does the {title} end?",
            "It ends in the Black Sea.",
            "It ends in the Black Sea.",
            OK,
        ),
        (f"Which sea does the {title} reach?", "The Black Sea.", "The Black Sea.", OK),
    ]
    for title in ("Danube", "Rhine", "Elbe")
}
QA, ANSWER, ANNOTATE, JUDGE = (
    "reading-comprehension",
    "general-knowledge",
    "check answers against a source",
    "review items",
)


def _passages(tmp_path: Path, titles=("Danube", "Rhine", "Elbe"), text: str = LONG) -> Path:
    path = tmp_path / "passages.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"en:{t}", "lang": "en", "title": t, "text": text}) + "\n"
            for t in titles
        ),
        encoding="utf-8",
    )
    return path


def _calls(fake: FakeLLM, kind: str) -> list[dict]:
    return [c for c in fake.calls if kind in _system(c)]


def test_psiloqa_passages_file_and_passages_per_language(cli, tmp_path):
    passages = _passages(tmp_path)
    with installed(RoutedFake(PLAN)) as fake:
        run = _build(
            cli, tmp_path, "psiloqa", "--passages", str(passages), "--passages-per-language", "1"
        )
    opts = _config(run)["options"]
    assert opts["passages"] == str(passages) and opts["passages_per_language"] == 1
    assert [p["id"] for p in _stage_records(run, "contexts")] == ["en:Danube"]  # the file's, one
    assert len(_calls(fake, QA)) == 1 and {
        r["wiki_title"] for r in _jsonl(run / "records.jsonl")
    } == {"Danube"}


def test_psiloqa_no_llm_filter_sends_no_judge_request(cli, tmp_path):
    passages = _passages(tmp_path, titles=("Danube",))
    with installed(RoutedFake(PLAN)) as judged:
        run = _build(cli, tmp_path, "psiloqa", "--passages", str(passages), run="judged")
    assert (
        len(_calls(judged, JUDGE)) == 3 and _config(run)["options"].get("llm_filter", True) is True
    )
    with installed(RoutedFake(PLAN)) as fake:
        run = _build(cli, tmp_path, "psiloqa", "--passages", str(passages), "--no-llm-filter")
    assert _config(run)["options"]["llm_filter"] is False
    assert _calls(fake, ANSWER) and _calls(fake, JUDGE) == []
    assert len(_jsonl(run / "records.jsonl")) == 3


@pytest.mark.parametrize(("share", "length"), [("0", "short"), ("1", "long")])
def test_psiloqa_long_answer_share(cli, tmp_path, share, length):
    passages = _passages(tmp_path, titles=("Danube",))
    with installed(RoutedFake(PLAN)) as fake:
        run = _build(
            cli, tmp_path, "psiloqa", "--passages", str(passages), "--long-answer-share", share
        )
    assert _config(run)["options"]["long_answer_share"] == float(share)
    rows = _jsonl(run / "records.jsonl")
    assert len(rows) == 3 and {r["answer_length"] for r in rows} == {length}
    [qa] = _calls(fake, QA)
    other = "long" if length == "short" else "short"
    assert f"question, {length} answer" in qa["messages"][-1]["content"]
    assert f"question, {other} answer" not in qa["messages"][-1]["content"]


def test_psiloqa_chunk_splits_a_long_article(cli, tmp_path):
    article = "\n\n".join([" ".join([LONG] * 4)] * 3)  # three paragraphs of ~930 characters
    passages = _passages(tmp_path, titles=("Danube",), text=article)
    with installed(RoutedFake(PLAN)):
        lead = _build(
            cli, tmp_path, "psiloqa", "--passages", str(passages), "--no-llm-filter", run="lead"
        )
        run = _build(
            cli, tmp_path, "psiloqa", "--passages", str(passages), "--no-llm-filter", "--chunk"
        )
    assert "chunk" not in _config(lead)["options"] and _config(run)["options"]["chunk"] is True
    assert [p["id"] for p in _stage_records(lead, "contexts")] == ["en:Danube"]
    chunks = _stage_records(run, "contexts")
    assert [p["id"] for p in chunks] == ["en:Danube", "en:Danube#2", "en:Danube#3"]
    assert all(len(p["text"]) < 1500 for p in chunks)


def test_psiloqa_answer_models_and_answers_per_question(cli, tmp_path):
    passages = _passages(tmp_path, titles=("Danube",))
    fakes = {name: RoutedFake(PLAN) for name in ("a", "b", "c")}
    for name, fake in fakes.items():
        fake.model = f"answerer-{name}"
    with (
        installed(RoutedFake(PLAN)) as main,
        installed(fakes["a"], "a"),
        installed(fakes["b"], "b"),
        installed(fakes["c"], "c"),
    ):
        run = _build(
            cli,
            tmp_path,
            "psiloqa",
            "--passages",
            str(passages),
            "--no-llm-filter",
            "--answer-models",
            "fake:a,fake:b,fake:c",
            "--answers-per-question",
            "2",
        )
    opts = _config(run)["options"]
    assert (
        opts["answer_models"] == ["fake:a", "fake:b", "fake:c"]
        and opts["answers_per_question"] == 2
    )
    assert _calls(main, ANSWER) == []  # every answer came from the roster
    asked = Counter(name for name, fake in fakes.items() for _ in _calls(fake, ANSWER))
    assert sum(asked.values()) == 6 and len(asked) >= 2  # 3 questions x 2 models each
    rows = _jsonl(run / "records.jsonl")
    per_question = Counter(r["question"] for r in rows)
    assert len(rows) == 6 and set(per_question.values()) == {2}
    for question in per_question:
        models = [r["llm_checkpoint"] for r in rows if r["question"] == question]
        assert len(set(models)) == 2 and set(models) <= {"answerer-a", "answerer-b", "answerer-c"}


def test_psiloqa_annotator_model(cli, tmp_path):
    passages = _passages(tmp_path, titles=("Danube",))
    with installed(RoutedFake(PLAN)) as main, installed(RoutedFake(PLAN), "marker") as marker:
        run = _build(
            cli,
            tmp_path,
            "psiloqa",
            "--passages",
            str(passages),
            "--no-llm-filter",
            "--annotator-model",
            "fake:marker",
        )
    assert _config(run)["options"]["annotator_model"] == "fake:marker"
    assert len(_calls(marker, ANNOTATE)) == 3 and _calls(main, ANNOTATE) == []
    assert _calls(marker, QA) == [] and len(_calls(main, QA)) == 1
    rows = _jsonl(run / "records.jsonl")
    assert len(rows) == 3 and {tuple(map(tuple, r["labels"])) for r in rows} == {((14, 21),), ()}


# -- MedRECT --------------------------------------------------------------------------------
RECORD, SCREEN, VALIDATE = "You write clinical records", "You check items", "senior physician"
SYNTH = ("You write clinical records", "You finish clinical records", "You make test items")
FEVER = {
    "question": "A 30-year-old man has a fever of 39.0 C for 2 days. He aches all over. "
    "Which is the most likely diagnosis?",
    "options": {"A": "Influenza", "B": "Gout"},
    "answer_idx": "A",
}
RASH = {
    "question": "A 6-year-old girl has had an itchy rash for 3 days. It began on her face. "
    "Which is the most likely diagnosis?",
    "options": {"A": "Chickenpox", "B": "Psoriasis"},
    "answer_idx": "A",
}


def _questions(tmp_path: Path, *items: dict) -> Path:
    path = tmp_path / "medqa.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in items), encoding="utf-8")
    return path


def test_medrect_questions_file_and_per_language(cli, tmp_path):
    questions = _questions(tmp_path, FEVER, RASH)
    with installed(ClinicalFake()):
        run = _build(cli, tmp_path, "medrect", "--questions", str(questions), "--per-language", "1")
    opts = _config(run)["options"]
    assert opts["questions"] == str(questions) and opts["per_language"] == 1
    assert _stage(run, "sources")["n_out"] == 1
    rows = _jsonl(run / "records.jsonl")
    assert len(rows) == 2 and {r["metadata"]["answer_text"] for r in rows} == {"Influenza"}
    assert {r["metadata"]["choice_text"] for r in rows} == {"Influenza", "Gout"}


def test_medrect_models_validators_and_judge_model(cli, tmp_path):
    questions = _questions(tmp_path, FEVER)
    with (
        installed(ClinicalFake()) as main,
        installed(ClinicalFake("b-model"), "b") as b,
        installed(ClinicalFake("v-model"), "v") as v,
        installed(ClinicalFake("j-model"), "j") as j,
    ):
        run = _build(
            cli,
            tmp_path,
            "medrect",
            "--questions",
            str(questions),
            "--models",
            "fake:default,fake:b",
            "--validators",
            "fake:v",
            "--judge-model",
            "fake:j",
        )
    opts = _config(run)["options"]
    assert (opts["models"], opts["validators"], opts["judge_model"]) == (
        ["fake:default", "fake:b"],
        ["fake:v"],
        "fake:j",
    )
    for fake in (main, b):  # each question synthesised by each model
        assert Counter(k for c in fake.calls for k in SYNTH if k in _system(c)) == {
            "You write clinical records": 1,
            "You finish clinical records": 1,
            "You make test items": 1,
        }
    assert {k for c in v.calls for k in (VALIDATE, SCREEN, *SYNTH) if k in _system(c)} == {VALIDATE}
    assert {k for c in j.calls for k in (VALIDATE, SCREEN, *SYNTH) if k in _system(c)} == {SCREEN}
    assert not any(VALIDATE in _system(c) or SCREEN in _system(c) for c in main.calls + b.calls)
    rows = _jsonl(run / "records.jsonl")
    assert len(rows) == 2 and {r["metadata"]["source_model"] for r in rows} == {
        "fake:default",
        "fake:b",
    }
    assert all([x["model"] for x in r["metadata"]["validators"]] == ["fake:v"] for r in rows)


@pytest.mark.parametrize(
    ("flags", "stored", "dropped"),
    [
        (("--min-correct", "1"), {"min_correct": 1}, {"too_hard": 1}),
        (("--max-correct", "0"), {"max_correct": 0}, {"too_easy": 1}),
    ],
)
def test_medrect_min_and_max_correct(cli, tmp_path, flags, stored, dropped):
    # ClinicalFake's validator calls every record clean: right on the clean one, wrong on the error
    questions = _questions(tmp_path, FEVER)
    with installed(ClinicalFake()):
        run = _build(cli, tmp_path, "medrect", "--questions", str(questions), *flags)
    assert stored.items() <= _config(run)["options"].items()
    assert _stage(run, "difficulty")["rejects_by_reason"] == dropped
    [row] = _jsonl(run / "records.jsonl")
    assert row["error_flag"] == (0 if "too_hard" in dropped else 1)


def test_medrect_no_screen_sends_no_screen_request(cli, tmp_path):
    questions = _questions(tmp_path, FEVER)
    with installed(ClinicalFake()) as fake:
        run = _build(cli, tmp_path, "medrect", "--questions", str(questions), "--no-screen")
    assert _config(run)["options"]["screen"] is False
    assert _calls(fake, VALIDATE) and _calls(fake, SCREEN) == []
    rows = _jsonl(run / "records.jsonl")
    assert len(rows) == 2 and all(r["screening_results"] is None for r in rows)


def test_medrect_min_numbers_kept(cli, tmp_path):
    questions = _questions(tmp_path, FEVER)
    lossy = {"record": "A man has a fever. He aches all over."}  # loses 30, 39.0 and 2
    with installed(ClinicalFake(record=lossy)):
        strict = _build(cli, tmp_path, "medrect", "--questions", str(questions), run="strict")
        run = _build(
            cli, tmp_path, "medrect", "--questions", str(questions), "--min-numbers-kept", "0"
        )
    assert _config(run)["options"]["min_numbers_kept"] == 0.0
    assert {r["metadata"]["stem_verbatim"] for r in _jsonl(strict / "records.jsonl")} == {True}
    rows = _jsonl(run / "records.jsonl")
    assert len(rows) == 2 and {r["metadata"]["stem_verbatim"] for r in rows} == {False}
    assert all(r["sentences"].startswith("1. A man has a fever.\n") for r in rows)


# -- cultural -------------------------------------------------------------------------------
SEGMENTS, TRANSLATE = "You help localisation teams", "You are a professional copywriter"
TEXT = "Black Friday deals: no strings attached, it is raining cats and dogs of savings."


def _cultural_inputs(tmp_path: Path) -> tuple[Path, Path]:
    sources = tmp_path / "texts.jsonl"
    sources.write_text(
        json.dumps(
            {
                "id": "t1",
                "text": TEXT,
                "segments": [{"surface": "Black Friday", "category": "cultural_concept"}],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    lexicon = tmp_path / "lexicon.jsonl"
    lexicon.write_text(
        json.dumps({"surface": "no strings attached", "category": "idiom"}) + "\n", encoding="utf-8"
    )
    return sources, lexicon


def test_cultural_sources_lexicon_locales_and_no_llm_segments(cli, tmp_path):
    sources, lexicon = _cultural_inputs(tmp_path)
    with installed(FakeLLM()) as fake:
        run = _build(
            cli,
            tmp_path,
            "cultural",
            "--sources",
            str(sources),
            "--lexicon",
            str(lexicon),
            "--locales",
            "ru-KZ",
            "--no-llm-segments",
        )
    opts = _config(run)["options"]
    assert (opts["sources"], opts["lexicon"], opts["locales"], opts["llm_segments"]) == (
        str(sources),
        str(lexicon),
        ["ru-KZ"],
        False,
    )
    assert _calls(fake, SEGMENTS) == []
    [translate] = _calls(fake, TRANSLATE)
    assert "Russian" in _system(translate) and "Kazakhstan" in _system(translate)
    [rec] = _jsonl(run / "records.jsonl")
    assert rec["text_id"] == "t1" and rec["id"] == "t1/ru-KZ/fake:default"
    assert [(n["surface"], n["origin"]) for n in rec["nuances"]] == [
        ("Black Friday", "given"),
        ("no strings attached", "lexicon"),
    ]
    assert [t["target_lang"] for t in rec["translations"]] == ["ru-KZ"]


def test_cultural_models_and_categories(cli, tmp_path):
    sources, _ = _cultural_inputs(tmp_path)
    with installed(FakeLLM()) as main, installed(FakeLLM("other-model"), "other") as other:
        run = _build(
            cli,
            tmp_path,
            "cultural",
            "--sources",
            str(sources),
            "--locales",
            "ja-JP",
            "--models",
            "fake:default,fake:other",
            "--categories",
            "idiom,holiday",
        )
    opts = _config(run)["options"]
    assert opts["models"] == ["fake:default", "fake:other"] and opts["categories"] == [
        "idiom",
        "holiday",
    ]
    [segments] = _calls(main, SEGMENTS)
    enum = segments["response_format"]["json_schema"]["schema"]["properties"]["segments"]["items"][
        "properties"
    ]["category"]["enum"]
    assert enum == ["idiom", "holiday"] and "pun" not in _system(segments)
    assert len(_calls(main, TRANSLATE)) == len(_calls(other, TRANSLATE)) == 1
    assert _calls(other, SEGMENTS) == []
    rows = _jsonl(run / "records.jsonl")
    assert sorted(r["translations"][0]["system"] for r in rows) == ["fake:default", "fake:other"]


# -- EntityCS -------------------------------------------------------------------------------
def test_entitycs_languages_max_languages_workers_and_dumps(cli, tmp_path):
    pytest.importorskip("spacy")
    from dsbuild.builders.entitycs import sample_paths

    wikipedia, wikidata = sample_paths()
    run = _build(
        cli,
        tmp_path,
        "entitycs",
        "--wikipedia",
        str(wikipedia),
        "--wikidata",
        str(wikidata),
        "--languages",
        "de,fr,ja",
        "--max-languages",
        "2",
        "--workers",
        "1",
    )
    config = _config(run)
    assert config["languages"] == ["de", "fr", "ja"] and config["workers"] == 1
    assert config["options"] == {
        "wikipedia": str(wikipedia),
        "wikidata": str(wikidata),
        "max_languages": 2,
    }
    rows = _jsonl(run / "records.jsonl")
    languages = Counter(r["language"] for r in rows)
    assert set(languages) == {"en", "de", "fr", "ja"} and languages["en"] >= 100
    per_sentence = Counter(r["sentence_id"] for r in rows if r["language"] != "en")
    assert per_sentence and max(per_sentence.values()) == 2
