"""Passage sources and heuristic filters of the PsiloQA builder."""

from __future__ import annotations

import json

import pytest

from dsbuild.psiloqa.contexts import file_passages, page_passages, sample_passages, wiki_url
from dsbuild.psiloqa.filters import run_filters
from dsbuild.stages import Reject

PARA = "A sentence of filler text that is long enough. " * 4  # 188 characters


def test_lead_only_or_chunks():
    text = "\n\n".join(f"{i} {PARA}" for i in range(5))
    lead = list(
        page_passages(lang="en", title="T x", text=text, source="t", min_chars=100, max_chars=500)
    )
    assert [p["id"] for p in lead] == ["en:T_x"]
    assert lead[0]["text"].count("\n\n") == 1 and lead[0]["url"].endswith("/wiki/T_x")
    chunks = list(
        page_passages(
            lang="en", title="T x", text=text, source="t", min_chars=100, max_chars=500, chunk=True
        )
    )
    assert [p["id"] for p in chunks] == ["en:T_x", "en:T_x#2", "en:T_x#3"]
    assert [p["text"] for p in chunks][-1] == f"4 {PARA}".strip()
    assert sum(p["text"].count("\n\n") + 1 for p in chunks) == 5  # every paragraph, once


def test_short_pages_are_rejected_with_the_passage_id():
    out = list(page_passages(lang="de", title="Kurz", text="Zu kurz.", source="t"))
    assert len(out) == 1 and isinstance(out[0], Reject)
    assert (out[0].id, out[0].reason) == ("de:Kurz", "passage_too_short")


def test_headings_are_not_passages():
    out = list(
        page_passages(
            lang="en", title="H", text=f"== History ==\n\n{PARA}", source="t", min_chars=50
        )
    )
    assert out[0]["text"] == PARA.strip()


def test_embedded_sample_has_six_languages():
    passages = [p for p in sample_passages() if isinstance(p, dict)]
    assert len(passages) == 30 and len({p["lang"] for p in passages}) == 6


def test_passages_file_errors_name_the_record(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "a", "lang": "en", "text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(Exception) as info:
        list(file_passages(path))
    assert "title" in str(info.value) and "p.jsonl" in str(info.value)


def test_wiki_url_escapes_what_needs_it():
    assert wiki_url("fr", "Tour de France") == "https://fr.wikipedia.org/wiki/Tour_de_France"
    assert wiki_url("zh", "长城").startswith("https://zh.wikipedia.org/wiki/%E9%95%BF")


def _row(question="Where is Lyon?", answer="In France.", lang="en"):
    return {"lang": lang, "question": question, "llm_answer": answer, "golden_answer": "France"}


@pytest.mark.parametrize(
    "row, reason",
    [
        (_row(answer="I'm not sure, sorry."), "refusal"),
        (_row(answer="Je ne sais pas.", lang="fr"), "refusal"),
        (_row(answer="我不知道。", lang="zh"), "refusal"),
        (_row(question="According to the passage, where is Lyon?"), "question_mentions_passage"),
        (_row(question="Wo liegt die Stadt im Text?", lang="de"), "question_mentions_passage"),
        (_row(question="文中提到的城市在哪里？", lang="zh"), "question_mentions_passage"),
        (_row(answer="x" * 2000), "answer_too_long"),
    ],
)
def test_heuristic_filters(row, reason):
    assert run_filters(row)[0] == reason


def test_a_plain_answer_passes():
    assert run_filters(_row()) is None
    assert run_filters(_row(answer="Lyon liegt in Frankreich.", lang="de")) is None


def test_dump_passages_from_the_embedded_mini_wikipedia():
    from importlib.resources import files

    from dsbuild.psiloqa.contexts import dump_passages

    dump = files("dsbuild.samples") / "entitycs" / "enwiki-sample.xml"
    out = list(dump_passages(dump, lang="en", min_chars=200, max_chars=1500))
    passages = [p for p in out if isinstance(p, dict)]
    assert len(passages) > 20 and all(p["source"] == "dump" for p in passages)
    france = next(p for p in passages if p["title"] == "France")
    assert france["id"] == "en:France" and france["url"] == "https://en.wikipedia.org/wiki/France"
    assert france["text"].startswith("France, officially the French Republic")
    assert "[[" not in france["text"] and "{{" not in france["text"]
    assert all(200 <= len(p["text"]) <= 1500 for p in passages)
    reasons = {r.reason for r in out if isinstance(r, Reject)}
    assert "page_no_title" in reasons  # the sample's deliberately broken page
    assert all(r == "passage_too_short" or r.startswith("page_") for r in reasons)
