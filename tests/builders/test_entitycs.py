"""The EntityCS builder end to end: embedded default, real fixtures, workers, options."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("spacy")

from dsbuild.builders.entitycs import DEFAULTS, make_builder, sentence_filter  # noqa: E402
from dsbuild.runs import run_builder  # noqa: E402
from dsbuild.validation import validate_path  # noqa: E402


def build(run_dir: Path, **config):
    config = {"seed": 0, "languages": [], "options": {}, **config}
    return run_builder(make_builder(), run_dir, config)


def rows(result) -> list[dict]:
    return [json.loads(line) for line in Path(result.records_path).read_text().splitlines()]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    return build(tmp_path_factory.mktemp("ecs") / "run")


def test_embedded_default_builds_a_valid_corpus(default_run):
    out = rows(default_run)
    by_lang = Counter(r["language"] for r in out)
    assert by_lang["en"] >= 200 and len(by_lang) >= 16
    assert validate_path(default_run.records_path, "entitycs").ok
    stages = {s.name: s for s in default_run.stages}
    assert stages["read_wikipedia"].rejects_by_reason["page_no_title"] == 1  # the broken page


def test_every_sentence_has_its_english_row_and_at_most_k_languages(default_run):
    per_sentence = Counter(r["sentence_id"] for r in rows(default_run) if r["language"] != "en")
    english = {r["sentence_id"] for r in rows(default_run) if r["language"] == "en"}
    assert set(per_sentence) <= english
    assert max(per_sentence.values()) <= DEFAULTS["max_languages"]


def test_labels_are_the_wikidata_labels_and_links_survive_an_unbalanced_bracket(tmp_path):
    out = rows(build(tmp_path / "de", languages=["de"]))
    de = [r for r in out if r["language"] == "de"]
    labels = {
        e["qid"]: r["cs_sentence"][e["cs_start"] : e["cs_end"]]
        for r in de
        for e in r["entities"]
        if e["language"] == "de"
    }
    assert labels["Q142"] == "Frankreich" and labels["Q1741"] == "Wien"
    assert labels["Q1653"] == "Donau"
    # Budapest's article has `[[Danube] river` before more links: those still come through
    assert any(r["sentence_id"].startswith(_page_id("Budapest")) for r in de)


def _page_id(title: str) -> str:
    import re

    from dsbuild.builders.entitycs import sample_paths

    xml = sample_paths()[0].read_text(encoding="utf-8")
    page = xml[xml.index(f"<title>{title}</title>") :]
    return re.search(r"<id>(\d+)</id>", page).group(1) + "-"


def test_same_output_on_rebuild_and_with_two_workers(tmp_path, default_run):
    first = Path(default_run.records_path).read_bytes()
    again = build(tmp_path / "again")
    assert Path(again.records_path).read_bytes() == first
    two = build(tmp_path / "two", workers=2)
    assert Path(two.records_path).read_bytes() == first


def test_languages_and_max_languages_options(tmp_path):
    result = build(tmp_path / "r", languages=["de", "ja", "fr"], options={"max_languages": 2})
    out = rows(result)
    assert {r["language"] for r in out} <= {"en", "de", "ja", "fr"}
    per_sentence = Counter(r["sentence_id"] for r in out if r["language"] != "en")
    assert max(per_sentence.values()) == 2


@pytest.mark.parametrize(
    "dump", ["enwiki-20250201-tiny70.xml.bz2", "enwiki-table-markup-gensim.xml.bz2"]
)
def test_real_dumps_run(tmp_path, shared_fixtures, dump):
    result = build(
        tmp_path / "r",
        options={
            "wikipedia": str(shared_fixtures / "wikipedia" / dump),
            "wikidata": str(shared_fixtures / "wikidata" / "wikidata-dump-head50-2017.json"),
        },
    )
    out = rows(result)
    assert validate_path(result.records_path, "entitycs").ok if out else True
    texts = [r["en_sentence"] for r in out]
    assert not any(t.startswith("#REDIRECT") or "{|" in t or "|-" in t for t in texts)
    first = next(s for s in result.stages if s.name == "read_wikipedia")
    assert first.n_out > 100


@pytest.mark.parametrize(
    ("text", "links", "tokens", "reason"),
    [
        ("Short [x].", [(0, 5)], 3, "too_short"),
        ("A sentence that has no links at all in it.", [], 10, "link_count"),
        (
            "A sentence with far too many links " + "x " * 20,
            [(i, i + 1) for i in range(0, 22, 2)],
            30,
            "link_count",
        ),
        ("The Danube and the Rhine are rivers of Europe.", [(4, 10), (19, 24)], 200, "too_long"),
        ("The Danube | a table cell remnant here.", [(4, 10)], 10, "markup_remnant"),
        ("The United Kingdom of Great Britain.", [(4, 35)], 8, "dominant_link"),
        ("The Danube and the Rhine are rivers of Europe.", [(4, 10), (19, 24)], 10, None),
    ],
)
def test_sentence_filter(text, links, tokens, reason):
    assert sentence_filter(text, links, tokens, DEFAULTS) == reason


@pytest.mark.slow
def test_ray_engine_gives_the_same_output(tmp_path, default_run):
    ray = pytest.importorskip("ray")
    try:
        result = build(tmp_path / "ray", workers=2, engine="ray")
    finally:
        ray.shutdown()
    assert Path(result.records_path).read_bytes() == Path(default_run.records_path).read_bytes()


def test_label_script_gate_drops_a_row_whose_label_is_in_the_wrong_script():
    from dsbuild.builders.entitycs import make_builder
    from dsbuild.stages import Rejection, StageContext

    stage = next(s for s in make_builder().stages if s.name == "label_script")
    ctx = StageContext(config={}, stage="label_script")

    def row(label: str, lang: str) -> dict:
        text = f"The <{lang}>{label}</{lang}> flows east."
        start = text.index(label)
        return {
            "id": "s1-" + lang,
            "language": lang,
            "cs_sentence": text,
            "entities": [
                {
                    "qid": "Q1653",
                    "title": "Danube",
                    "language": lang,
                    "cs_start": start,
                    "cs_end": start + len(label),
                }
            ],
        }

    assert stage.fn(row("Дунай", "ru"), ctx) is True
    verdict = stage.fn(row("Danube", "ru"), ctx)
    assert isinstance(verdict, Rejection) and verdict.reason == "implausible_script"
