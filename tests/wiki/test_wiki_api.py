"""The MediaWiki API reader, against an offline fake of the API (an httpx2 MockTransport)."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from dsbuild.errors import ServiceError
from dsbuild.wiki import Page, PageReject, fetch_pages
from dsbuild.wiki import api as api_module

WIKI = {
    "Paris": (22989, "'''Paris''' is the capital of [[France]]."),
    "France": (5843419, "'''France''' is a country."),
    "Lutetia": (1, "#REDIRECT [[Paris#History]]\n{{R from alternative name}}"),
}


def fake_api(calls, *, fail_first=0, status=503, error=None):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= fail_first:
            if error:
                return httpx.Response(
                    200,
                    json={"error": {"code": error, "info": "lag"}},
                    headers={"Retry-After": "0"},
                )
            return httpx.Response(status, headers={"Retry-After": "0"})
        params = request.url.params
        assert params["action"] == "query" and params["formatversion"] == "2"
        assert params["maxlag"] == "5"
        pages = []
        for title in params["titles"].split("|"):
            if "<" in title:
                pages.append({"title": title, "invalid": True, "invalidreason": "bad"})
            elif title in WIKI:
                page_id, text = WIKI[title]
                pages.append(
                    {
                        "pageid": page_id,
                        "ns": 0,
                        "title": title,
                        "revisions": [{"slots": {"main": {"content": text}}}],
                    }
                )
            else:
                pages.append({"ns": 0, "title": title, "missing": True})
        return httpx.Response(200, json={"batchcomplete": True, "query": {"pages": pages}})

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(api_module.time, "sleep", lambda seconds: None)


def test_pages_redirects_and_missing():
    calls = []
    items = list(
        fetch_pages(
            ["lutetia", "Nowhere", "<Bad>"],
            client=fake_api(calls),
            user_agent="test/1 (me@example.org)",
        )
    )
    assert items == [
        Page("1", "Lutetia", 0, "Paris", WIKI["Lutetia"][1]),
        PageReject(None, "Nowhere", "missing", "no such page"),
        PageReject(None, "<Bad>", "invalid_title", "bad"),
        Page("22989", "Paris", 0, None, WIKI["Paris"][1]),
    ]
    assert [c.headers["User-Agent"] for c in calls] == ["test/1 (me@example.org)"] * 2
    assert calls[0].url.params["titles"] == "Lutetia|Nowhere|<Bad>"


def test_redirects_not_followed_on_request():
    items = list(fetch_pages(["Lutetia"], client=fake_api([]), follow_redirects=False))
    assert [p.title for p in items] == ["Lutetia"]


def test_batches_of_50():
    calls = []
    titles = [f"T{i}" for i in range(120)]
    items = list(fetch_pages(titles, client=fake_api(calls)))
    assert [len(c.url.params["titles"].split("|")) for c in calls] == [50, 50, 20]
    assert len(items) == 120 and all(p.reason == "missing" for p in items)


@pytest.mark.parametrize("kind", ["http", "maxlag"])
def test_retries_then_succeeds(kind):
    calls = []
    client = fake_api(calls, fail_first=2, error="maxlag" if kind == "maxlag" else None)
    items = list(fetch_pages(["France"], client=client))
    assert [p.title for p in items] == ["France"] and len(calls) == 3


def test_gives_up_after_bounded_retries():
    calls = []
    with pytest.raises(ServiceError) as failure:
        list(fetch_pages(["France"], client=fake_api(calls, fail_first=100), retries=2))
    assert failure.value.code == "DSB401" and len(calls) == 3


def test_other_api_errors_fail_at_once():
    calls = []
    with pytest.raises(ServiceError):
        list(fetch_pages(["France"], client=fake_api(calls, fail_first=1, error="badvalue")))
    assert len(calls) == 1


def test_continuation_is_followed():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if "rvcontinue" not in request.url.params:
            page = {
                "pageid": 22989,
                "ns": 0,
                "title": "Paris",
                "revisions": [{"slots": {"main": {"content": "P"}}}],
            }
            return httpx.Response(
                200,
                json={
                    "continue": {"rvcontinue": "5843419|1", "continue": "||"},
                    "query": {"pages": [page, {"pageid": 5843419, "ns": 0, "title": "France"}]},
                },
            )
        page = {
            "pageid": 5843419,
            "ns": 0,
            "title": "France",
            "revisions": [{"slots": {"main": {"content": "F"}}}],
        }
        return httpx.Response(200, json={"query": {"pages": [page]}})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    items = list(fetch_pages(["Paris", "France"], client=client))
    assert items == [Page("22989", "Paris", 0, None, "P"), Page("5843419", "France", 0, None, "F")]
    assert len(calls) == 2 and calls[1].url.params["rvcontinue"] == "5843419|1"


def test_random_titles_are_distinct_and_polite():
    from dsbuild.wiki import api

    calls, draws = [], iter([["Paris", "France"], ["France", "Lutetia"]])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        params = request.url.params
        assert params["list"] == "random" and params["rnnamespace"] == "0"
        assert params["maxlag"] == "5"
        return httpx.Response(200, json={"query": {"random": [{"title": t} for t in next(draws)]}})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    titles = api.random_titles(3, lang="fr", client=client, user_agent="test/1 (me@example.org)")
    assert titles == ["Paris", "France", "Lutetia"]
    assert [c.url.host for c in calls] == ["fr.wikipedia.org"] * 2
    assert calls[0].headers["User-Agent"] == "test/1 (me@example.org)"


def test_psiloqa_online_passages_keep_their_titles_for_a_resume(tmp_path):
    from dsbuild.psiloqa.contexts import api_passages

    long = "'''Paris''' is the capital of [[France]]. " * 8
    WIKI_LONG = {"Paris": (22989, long), "Lutetia": (1, "#REDIRECT [[Paris]]")}
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        seen.append(params.get("list") or params.get("prop"))
        if params.get("list") == "random":
            return httpx.Response(200, json={"query": {"random": [{"title": "Lutetia"}]}})
        pages = [
            {
                "pageid": WIKI_LONG[t][0],
                "ns": 0,
                "title": t,
                "revisions": [{"slots": {"main": {"content": WIKI_LONG[t][1]}}}],
            }
            for t in params["titles"].split("|")
        ]
        return httpx.Response(200, json={"query": {"pages": pages}})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    kept = tmp_path / "titles.json"
    out = list(api_passages("en", 1, kept, client=client, min_chars=100))
    assert [p["id"] for p in out] == ["en:Paris"] and out[0]["source"] == "api"
    assert "[[" not in out[0]["text"] and kept.read_text() == '["Lutetia"]'
    seen.clear()
    list(api_passages("en", 1, kept, client=client, min_chars=100))
    assert "random" not in seen  # the resumed run reads the same pages
