"""Read a few pages through the MediaWiki Action API, for small online runs (no dump).

`fetch_pages(["Paris", "Berlin"])` yields the same `Page`/`PageReject` items as
`iter_pages` does for a dump: 50 titles per request (the API's limit), wikitext of the
latest revision, `maxlag` so busy replicas turn us away rather than the reverse, a
User-Agent that says who we are (Wikimedia's policy), and bounded retries honouring
`Retry-After`. Redirect pages come back as redirect `Page`s, as in a dump; with
`follow_redirects` their targets are fetched too. Extra reject reasons: `missing` (no such
page), `invalid_title`. For anything bigger than a few thousand pages, use a dump.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from dsbuild import __version__
from dsbuild.errors import ServiceError
from dsbuild.llm.limits import parse_retry_after
from dsbuild.wiki.dump import Page, PageReject
from dsbuild.wiki.titles import normalize_title, redirect_target

if TYPE_CHECKING:
    import httpx2 as httpx

__all__ = ["BATCH", "USER_AGENT", "fetch_pages", "random_titles"]

BATCH = 50
USER_AGENT = f"dsbuild/{__version__} (multilingual dataset builder; python-httpx)"


def fetch_pages(
    titles: Iterable[str],
    *,
    lang: str = "en",
    endpoint: str | None = None,
    user_agent: str = USER_AGENT,
    follow_redirects: bool = True,
    maxlag: int = 5,
    retries: int = 4,
    client: httpx.Client | None = None,
) -> Iterator[Page | PageReject]:
    """Pages for `titles` from `lang`.wikipedia.org (or `endpoint`, an `api.php` URL).

    Put your contact (URL or e-mail) in `user_agent` for anything beyond a quick test.
    Raises `ServiceError` DSB401 when the API keeps failing after `retries` attempts.
    """
    import httpx2 as httpx

    url = endpoint or f"https://{lang}.wikipedia.org/w/api.php"
    own = client is None
    http = client or httpx.Client(timeout=60.0)
    try:
        seen: set[str] = set()
        pending = [t for t in dict.fromkeys(normalize_title(t) or "" for t in titles) if t]
        hops = 0
        while pending:
            redirects: list[str] = []
            for start in range(0, len(pending), BATCH):
                batch = pending[start : start + BATCH]
                seen.update(batch)
                for item in _fetch_batch(http, url, batch, user_agent, maxlag, retries):
                    if isinstance(item, Page) and item.redirect and item.redirect not in seen:
                        redirects.append(item.redirect)
                    yield item
            hops += 1
            pending = list(dict.fromkeys(redirects)) if follow_redirects and hops < 5 else []
    finally:
        if own:
            http.close()


def random_titles(
    n: int,
    *,
    lang: str = "en",
    endpoint: str | None = None,
    user_agent: str = USER_AGENT,
    maxlag: int = 5,
    retries: int = 4,
    client: httpx.Client | None = None,
) -> list[str]:
    """`n` distinct random article titles (`list=random`, main namespace) of
    `lang`.wikipedia.org; the same polite User-Agent, maxlag and retries as `fetch_pages`."""
    import httpx2 as httpx

    url = endpoint or f"https://{lang}.wikipedia.org/w/api.php"
    http = client or httpx.Client(timeout=60.0)
    titles: list[str] = []
    try:
        for _ in range(4 * n // 500 + 4):  # random draws repeat titles rarely; bounded anyway
            if len(titles) >= n:
                break
            data = _get(
                http,
                url,
                {
                    "action": "query",
                    "list": "random",
                    "rnnamespace": 0,
                    "rnlimit": min(500, n - len(titles)),
                    "format": "json",
                    "formatversion": "2",
                    "maxlag": maxlag,
                },
                user_agent,
                retries,
            )
            titles.extend(
                t
                for t in (p["title"] for p in data.get("query", {}).get("random", []))
                if t not in titles
            )
    finally:
        if client is None:
            http.close()
    return titles[:n]


def _fetch_batch(
    http: httpx.Client,
    url: str,
    titles: list[str],
    user_agent: str,
    maxlag: int,
    retries: int,
) -> Iterator[Page | PageReject]:
    params: dict[str, Any] = {
        "action": "query",
        "prop": "revisions",
        "rvprop": "content",
        "rvslots": "main",
        "titles": "|".join(titles),
        "format": "json",
        "formatversion": "2",
        "maxlag": maxlag,
    }
    # A continued answer lists pages whose content comes in a later part: merge, then yield.
    pages: dict[str, dict[str, Any]] = {}
    while True:
        data = _get(http, url, params, user_agent, retries)
        for page in data.get("query", {}).get("pages", []):
            key = str(page.get("pageid") or page.get("title"))
            if key not in pages or page.get("revisions"):
                pages[key] = page
        if "continue" not in data:
            break
        params = {**params, **data["continue"]}
    for page in pages.values():
        yield _page(page)


def _get(
    http: httpx.Client, url: str, params: dict[str, Any], user_agent: str, retries: int
) -> dict[str, Any]:
    """One API call, retried (bounded, with backoff) on maxlag, 429 and 5xx."""
    import httpx2 as httpx

    problem = ""
    for attempt in range(retries + 1):
        wait = min(2.0**attempt, 30.0)
        try:
            response = http.get(url, params=params, headers={"User-Agent": user_agent})
        except httpx.TransportError as error:
            problem = f"{type(error).__name__}: {error}"
        else:
            retry_after = parse_retry_after(response.headers)
            if retry_after is not None:
                wait = min(retry_after, 60.0)
            if response.status_code == 429 or response.status_code >= 500:
                problem = f"HTTP {response.status_code}"
            elif response.status_code != 200:
                raise ServiceError(
                    f"MediaWiki API at {url} answered HTTP {response.status_code}",
                    "check the endpoint URL",
                )
            else:
                data = response.json()
                error = data.get("error")
                if error is None:
                    return data
                if error.get("code") != "maxlag":
                    raise ServiceError(
                        f"MediaWiki API error {error.get('code')}: {error.get('info', '')}",
                        "check the request",
                    )
                problem = "the wiki's replicas are lagging (maxlag)"
        if attempt < retries:
            time.sleep(wait)
    raise ServiceError(
        f"MediaWiki API at {url} kept failing ({problem})",
        "try again later, or read a dump instead",
    )


def _page(page: dict[str, Any]) -> Page | PageReject:
    title = page.get("title")
    if page.get("invalid"):
        return PageReject(None, title, "invalid_title", page.get("invalidreason", ""))
    if page.get("missing"):
        return PageReject(None, title, "missing", "no such page")
    revisions = page.get("revisions") or []
    slot = revisions[-1].get("slots", {}).get("main", {}) if revisions else {}
    text = slot.get("content")
    if text is None:
        return PageReject(
            str(page.get("pageid", "")) or None, title, "no_text", "no revision content"
        )
    redirect = redirect_target(text, title)
    return Page(str(page["pageid"]), title, int(page.get("ns", 0)), redirect, text)
