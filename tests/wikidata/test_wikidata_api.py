"""The wbgetentities client against an in-process fake Wikidata (httpx2.MockTransport)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import httpx2
import pytest

from dsbuild.errors import InputError, ServiceError
from dsbuild.llm.cache import ResponseCache
from dsbuild.wikidata.api import MAX_PER_REQUEST, PROJECT_URL, WikidataClient

LANGS = ["en", "de", "fr", "mul"]


def make_item(n: int) -> dict:
    return {
        "type": "item",
        "id": f"Q{n}",
        "labels": {lang: {"language": lang, "value": f"{lang}-{n}"} for lang in LANGS},
        "sitelinks": {
            "enwiki": {"site": "enwiki", "title": f"Page {n}", "badges": []},
            "dewiki": {"site": "dewiki", "title": f"Seite {n}", "badges": []},
        },
    }


class FakeWikidata:
    """Answers wbgetentities like the real API: ids or sites+titles, languages, sitefilter,
    missing entries, enwiki redirects; `fail` holds canned replies served first."""

    def __init__(self, n: int = 200) -> None:
        self.items = {f"Q{i}": make_item(i) for i in range(1, n + 1)}
        self.by_title = {e["sitelinks"]["enwiki"]["title"]: q for q, e in self.items.items()}
        self.redirects = {"Redirect to 7": "Page 7"}
        self.requests: list[httpx2.Request] = []
        self.params: list[dict[str, str]] = []
        self.fail: list[httpx2.Response] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        params = dict(request.url.params)
        if request.method == "POST":
            params.update(parse_qsl(request.content.decode()))
        self.params.append(params)
        if self.fail:
            return self.fail.pop(0)
        assert params["action"] == "wbgetentities" and params["format"] == "json"
        langs = params["languages"].split("|") if "languages" in params else None
        sites = params["sitefilter"].split("|") if "sitefilter" in params else None
        out = {}
        if "ids" in params:
            ids = params["ids"].split("|")
            if len(ids) > 50:
                return httpx2.Response(200, json={"error": {"code": "too-many", "info": ">50"}})
            for i in ids:
                out[i] = (
                    self._shape(self.items[i], langs, sites)
                    if i in self.items
                    else {"id": i, "missing": ""}
                )
        else:
            titles = params["titles"].split("|")
            if len(titles) > 50:
                return httpx2.Response(200, json={"error": {"code": "too-many", "info": ">50"}})
            for k, t in enumerate(titles):
                q = self.by_title.get(self.redirects.get(t, t))
                if q:
                    out[q] = self._shape(self.items[q], langs, sites)
                else:
                    out[str(-1 - k)] = {"site": "enwiki", "title": t, "missing": ""}
        return httpx2.Response(200, json={"entities": out, "success": 1})

    @staticmethod
    def _shape(e: dict, langs, sites) -> dict:
        e = dict(e)
        if langs:
            e["labels"] = {k: v for k, v in e["labels"].items() if k in langs}
        if sites:
            e["sitelinks"] = {k: v for k, v in e["sitelinks"].items() if k in sites}
        return e


@pytest.fixture
def fake() -> FakeWikidata:
    return FakeWikidata()


def client(fake: FakeWikidata, tmp_path: Path, **kw) -> WikidataClient:
    kw.setdefault("sleep", lambda s: None)
    return WikidataClient(transport=httpx2.MockTransport(fake), cache_dir=tmp_path, **kw)


def test_batches_of_fifty_with_filters(fake: FakeWikidata, tmp_path: Path) -> None:
    ids = [f"Q{i}" for i in range(1, 121)]
    with client(fake, tmp_path) as c:
        got = c.entities(ids, languages=["de", "fr"])
    assert [len(p["ids"].split("|")) for p in fake.params] == [50, 50, 20]
    assert MAX_PER_REQUEST == 50
    assert list(got) == ids
    assert got["Q42"]["labels"] == {
        "de": {"language": "de", "value": "de-42"},
        "fr": {"language": "fr", "value": "fr-42"},
    }
    assert set(got["Q42"]["sitelinks"]) == {"enwiki"}
    for p in fake.params:
        assert p["maxlag"] == "5" and p["props"] == "labels|sitelinks"
        assert p["languages"] == "de|fr" and p["sitefilter"] == "enwiki"


def test_user_agent_names_dsbuild_and_contact(
    fake: FakeWikidata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSBUILD_CONTACT", raising=False)
    with client(fake, tmp_path, contact="ops@example.org") as c:
        c.entities(["Q1"])
    ua = fake.requests[0].headers["user-agent"]
    assert ua.startswith("dsbuild/") and PROJECT_URL in ua and "ops@example.org" in ua
    assert "python-httpx" not in ua


def test_maxlag_is_retried_after_retry_after(fake: FakeWikidata, tmp_path: Path) -> None:
    lagged = {"error": {"code": "maxlag", "info": "Waiting for db: 7 seconds lagged", "lag": 7}}
    fake.fail = [
        httpx2.Response(200, json=lagged, headers={"Retry-After": "7"}),
        httpx2.Response(200, json=lagged, headers={"Retry-After": "3"}),
    ]
    waits: list[float] = []
    with client(fake, tmp_path, sleep=waits.append) as c:
        got = c.entities(["Q5"])
    assert waits == [7.0, 3.0] and len(fake.requests) == 3
    assert got["Q5"]["id"] == "Q5"


def test_maxlag_gives_up_after_bounded_retries(fake: FakeWikidata, tmp_path: Path) -> None:
    lagged = {"error": {"code": "maxlag", "info": "lagged", "lag": 9}}
    fake.fail = [httpx2.Response(200, json=lagged, headers={"Retry-After": "5"})] * 10
    waits: list[float] = []
    with client(fake, tmp_path, sleep=waits.append, max_retries=3) as c:
        with pytest.raises(ServiceError) as err:
            c.entities(["Q5"])
    assert err.value.code == "DSB401" and "maxlag" in str(err.value)
    assert len(fake.requests) == 4 and waits == [5.0, 5.0, 5.0]


def test_http_429_and_5xx_are_retried(fake: FakeWikidata, tmp_path: Path) -> None:
    fake.fail = [
        httpx2.Response(429, headers={"Retry-After": "2"}, text="slow down"),
        httpx2.Response(503, text="busy"),
    ]
    waits: list[float] = []
    with client(fake, tmp_path, sleep=waits.append) as c:
        assert "Q9" in c.entities(["Q9"])
    assert waits[0] == 2.0 and 0 < waits[1] <= 2.0  # no header: jittered backoff
    assert len(fake.requests) == 3


def test_other_api_errors_are_not_retried(fake: FakeWikidata, tmp_path: Path) -> None:
    fake.fail = [httpx2.Response(200, json={"error": {"code": "param-illegal", "info": "no"}})]
    with client(fake, tmp_path) as c:
        with pytest.raises(ServiceError, match="param-illegal"):
            c.entities(["Q1"])
    assert len(fake.requests) == 1


def test_cache_hit_sends_no_request(fake: FakeWikidata, tmp_path: Path) -> None:
    with client(fake, tmp_path) as c:
        first = c.entities([f"Q{i}" for i in range(1, 51)] + ["Q999999"], languages=["de"])
    assert len(fake.requests) == 2

    def no_network(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError(f"unexpected request {request.url}")

    with WikidataClient(transport=httpx2.MockTransport(no_network), cache_dir=tmp_path) as c:
        again = c.entities([f"Q{i}" for i in range(1, 51)] + ["Q999999"], languages=["de"])
        assert c.requests_sent == 0
    assert again == first and "Q999999" not in again  # the miss was cached too
    # Overlap: only the ids not cached are asked, in one request.
    with client(fake, tmp_path) as c:
        c.entities([f"Q{i}" for i in range(40, 61)], languages=["de"])
    assert fake.params[-1]["ids"].split("|") == [f"Q{i}" for i in range(51, 61)]
    # Another language set is another entry.
    with client(fake, tmp_path) as c:
        c.entities(["Q1"], languages=["fr"])
        assert c.requests_sent == 1


def test_no_cache_means_requests(fake: FakeWikidata, tmp_path: Path) -> None:
    with WikidataClient(transport=httpx2.MockTransport(fake), cache=False) as c:
        c.entities(["Q1"])
        c.entities(["Q1"])
    assert len(fake.requests) == 2


def test_titles_missing_and_redirects(fake: FakeWikidata, tmp_path: Path) -> None:
    titles = ["Page 3", "page_4", "No such page", "Redirect to 7"]
    with client(fake, tmp_path) as c:
        got = c.entities_by_titles(titles, languages=["de"])
    assert {t: e["id"] for t, e in got.items()} == {
        "Page 3": "Q3",
        "page_4": "Q4",
        "Redirect to 7": "Q7",
    }
    first = fake.params[0]
    assert first["sites"] == "enwiki" and first["titles"].split("|") == [
        "Page 3",
        "Page 4",
        "No such page",
        "Redirect to 7",
    ]
    # The redirect could not be paired in the batch: asked alone once.
    assert fake.params[1]["titles"] == "Redirect to 7" and len(fake.requests) == 2
    with client(fake, tmp_path) as c:
        again = c.entities_by_titles(titles, languages=["de"])
        assert c.requests_sent == 0
    assert again == got


def test_titles_in_batches_of_fifty_and_long_ones_posted(
    fake: FakeWikidata, tmp_path: Path
) -> None:
    titles = [f"Page {i}" for i in range(1, 131)]
    with client(fake, tmp_path, cache=False) as c:
        got = c.entities_by_titles(titles)
    assert len(got) == 130
    assert [len(p["titles"].split("|")) for p in fake.params] == [50, 50, 30]
    fake.requests.clear()
    long_titles = [f"Page {i} " + "é" * 60 for i in range(50)]
    with client(fake, tmp_path, cache=False) as c:
        c.entities_by_titles(long_titles)
    assert fake.requests[0].method == "POST"


def test_bad_ids_fail_before_any_request(fake: FakeWikidata, tmp_path: Path) -> None:
    with client(fake, tmp_path) as c:
        with pytest.raises(InputError):
            c.entities(["Q1", "France"])
    assert fake.requests == []


def test_uses_the_engine_cache_file(fake: FakeWikidata, tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "mine.sqlite3")
    with WikidataClient(transport=httpx2.MockTransport(fake), cache=cache) as c:
        c.entities(["Q2"])
    assert len(cache) == 1
    cache.close()
