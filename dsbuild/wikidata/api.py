"""A small `wbgetentities` client for online runs without a dump: batched, polite, cached.

- 50 ids (or 50 enwiki titles, `sites=enwiki&titles=...`) per request, the API's limit;
  `props=labels|sitelinks`, `languages=` and `sitefilter=` cut the reply to what a run needs.
- `maxlag=5` on every request, as Wikimedia asks of bots: a `maxlag` error (and HTTP 429/5xx,
  network errors) is retried after `Retry-After` (else a jittered backoff), a bounded number
  of times, then `ServiceError` (DSB401).
- A User-Agent naming dsbuild, its URL and, when set, the user's contact (`contact=` or
  `DSBUILD_CONTACT`), per the Wikimedia User-Agent policy.
- A persistent cache (the engine's SQLite `ResponseCache`, file `wikidata-api.sqlite3` in
  the user cache folder) per entity and per title: an entity asked for again, alone or in
  another batch, costs no request. Missing entities and titles are cached too.

The PyPI `wikidata` package is not used: it sends one request per entity, has no language
filter and no maxlag handling (and is GPL-3.0-or-later).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from dsbuild import __version__
from dsbuild.errors import ConfigError, InputError, ServiceError
from dsbuild.llm.limits import parse_retry_after

__all__ = [
    "MAX_PER_REQUEST",
    "PROJECT_URL",
    "WIKIDATA_API",
    "WikidataClient",
    "user_agent",
]

WIKIDATA_API = "https://www.wikidata.org/w/api.php"
PROJECT_URL = "https://pypi.org/project/dsbuild/"
MAX_PER_REQUEST = 50
CACHE_FILENAME = "wikidata-api.sqlite3"
_ID = re.compile(r"[QPL][1-9][0-9]*")
_MAX_GET_URL = 4000  # longer queries go as a POST body (50 long titles can exceed URL limits)


def user_agent(contact: str | None = None) -> str:
    """`dsbuild/<version> (<url>; <contact>) httpx2/<version>`, per the Wikimedia UA policy."""
    contact = contact or os.environ.get("DSBUILD_CONTACT") or ""
    try:
        import httpx2

        lib = f" httpx2/{httpx2.__version__}"
    except ImportError:  # pragma: no cover - openai always brings httpx2
        lib = ""
    who = f"{PROJECT_URL}; {contact}" if contact.strip() else PROJECT_URL
    return f"dsbuild/{__version__} ({who}){lib}"


class WikidataClient:
    """Fetch entities by id or by enwiki title; see the module docstring.

    `cache`: None opens the default cache file, False disables caching, or pass a
    `ResponseCache`. `transport` is an httpx2 transport (tests pass `httpx2.MockTransport`).
    `sleep` is called for every wait (tests pass a recorder).
    """

    def __init__(
        self,
        *,
        endpoint: str = WIKIDATA_API,
        cache: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        contact: str | None = None,
        transport: Any = None,
        timeout: float = 30.0,
        maxlag: int = 5,
        max_retries: int = 6,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.user_agent = user_agent(contact)
        self.maxlag = maxlag
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.sleep = sleep
        self.timeout = timeout
        self.requests_sent = 0
        self._transport = transport
        self._http: Any = None
        self._own_cache = cache is None
        if cache is None:
            from dsbuild.llm.cache import ResponseCache, default_cache_dir

            folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot create the cache folder {folder}: {exc}",
                    "choose a writable folder with --cache-dir",
                    code="DSB108",
                ) from exc
            cache = ResponseCache(folder / CACHE_FILENAME)
        self.cache = None if cache is False else cache

    # --- public API -----------------------------------------------------------------

    def entities(
        self,
        ids: Iterable[str],
        *,
        languages: Sequence[str] | None = None,
        props: Sequence[str] = ("labels", "sitelinks"),
        sitefilter: Sequence[str] | None = ("enwiki",),
    ) -> dict[str, dict[str, Any]]:
        """{id: entity JSON} for the ids that exist (missing ones left out). The key is the
        id asked for; a merged item comes back as its target (its own `id`)."""
        wanted = list(dict.fromkeys(str(i).strip().upper() for i in ids))
        for i in wanted:
            if not _ID.fullmatch(i):
                raise InputError(
                    f"{i!r} is not a Wikidata id", "ids look like Q42, P31, L1", code="DSB303"
                )
        sig = _signature(props, languages, sitefilter)
        keys = {i: f"{sig}|id|{i}" for i in wanted}
        cached = self.cache.get_many(keys.values()) if self.cache is not None else {}
        out: dict[str, dict[str, Any]] = {}
        todo = []
        for i in wanted:
            hit = cached.get(keys[i])
            if hit is None:
                todo.append(i)
            elif not hit.get("missing"):
                out[i] = hit
        for start in range(0, len(todo), MAX_PER_REQUEST):
            batch = todo[start : start + MAX_PER_REQUEST]
            data = self._call({"ids": "|".join(batch), **_params(props, languages, sitefilter)})
            got = data.get("entities") or {}
            merged = {
                e["redirects"].get("from"): e
                for e in got.values()
                if isinstance(e, dict) and isinstance(e.get("redirects"), dict)
            }
            for i in batch:
                entity = got.get(i) or merged.get(i)
                if not isinstance(entity, dict) or "missing" in entity:
                    self._put(keys[i], {"id": i, "missing": True})
                    continue
                out[i] = entity
                self._put(keys[i], entity)
        return out

    def entities_by_titles(
        self,
        titles: Iterable[str],
        *,
        site: str = "enwiki",
        languages: Sequence[str] | None = None,
        props: Sequence[str] = ("labels", "sitelinks"),
    ) -> dict[str, dict[str, Any]]:
        """{title: entity JSON} for the `site` page titles that have an item (titles as
        given are the keys; Wikipedia redirects are followed by the API)."""
        from dsbuild.wiki.titles import normalize_title

        props = tuple(dict.fromkeys([*props, "sitelinks"]))
        sitefilter = (site,)
        asked = {t: normalize_title(t) for t in dict.fromkeys(titles)}
        norm = [n for n in dict.fromkeys(asked.values()) if n]
        sig = _signature(props, languages, sitefilter)
        tkeys = {n: f"{sig}|{site}|{n}" for n in norm}
        cached = self.cache.get_many(tkeys.values()) if self.cache is not None else {}
        resolved: dict[str, str | None] = {}  # normalized title -> qid (None: no item)
        for n in norm:
            hit = cached.get(tkeys[n])
            if hit is not None:
                resolved[n] = hit.get("qid")
        entities: dict[str, dict[str, Any]] = {}
        todo = [n for n in norm if n not in resolved]
        leftovers: list[str] = []
        for start in range(0, len(todo), MAX_PER_REQUEST):
            batch = todo[start : start + MAX_PER_REQUEST]
            leftovers += self._titles_batch(
                batch, site, props, languages, sitefilter, sig, resolved, entities
            )
        for n in leftovers:  # redirects the API followed: ask alone to know which is which
            rest = self._titles_batch(
                [n], site, props, languages, sitefilter, sig, resolved, entities, alone=True
            )
            for m in rest:
                resolved[m] = None
                self._put(tkeys[m], {"missing": True})
        need = sorted({q for q in resolved.values() if q and q not in entities})
        if need:
            entities.update(
                self.entities(need, languages=languages, props=props, sitefilter=sitefilter)
            )
        out: dict[str, dict[str, Any]] = {}
        for t, n in asked.items():
            qid = resolved.get(n)
            if qid and qid in entities:
                out[t] = entities[qid]
        return out

    # --- internals ------------------------------------------------------------------

    def _titles_batch(
        self,
        batch: list[str],
        site: str,
        props: Sequence[str],
        languages: Sequence[str] | None,
        sitefilter: Sequence[str],
        sig: str,
        resolved: dict[str, str | None],
        entities: dict[str, dict[str, Any]],
        alone: bool = False,
    ) -> list[str]:
        """One request for up to 50 titles; returns the titles it could not pair up."""
        params = {"sites": site, "titles": "|".join(batch), **_params(props, languages, sitefilter)}
        if alone:
            params["normalize"] = "1"
        data = self._call(params)
        left = set(batch)
        for key, entity in (data.get("entities") or {}).items():
            if not isinstance(entity, dict):
                continue
            if "missing" in entity:
                t = entity.get("title")
                if t in left:
                    left.discard(t)
                    resolved[t] = None
                    self._put(f"{sig}|{site}|{t}", {"missing": True})
                continue
            qid = entity.get("id", key)
            link = (entity.get("sitelinks") or {}).get(site) or {}
            title = link.get("title") if isinstance(link, dict) else None
            if title in left:
                matched = title
            elif alone and len(left) == 1:
                matched = next(iter(left))  # the one title asked: a redirect to `title`
            else:
                continue
            left.discard(matched)
            resolved[matched] = qid
            entities[qid] = entity
            self._put(f"{sig}|{site}|{matched}", {"qid": qid})
            self._put(f"{sig}|id|{qid}", entity)
        return sorted(left)

    def _put(self, key: str, value: dict[str, Any]) -> None:
        if self.cache is not None:
            self.cache.put(key, value)

    def _client(self) -> Any:
        if self._http is None:
            import httpx2

            self._http = httpx2.Client(
                transport=self._transport,
                timeout=self.timeout,
                follow_redirects=True,
                headers={"User-Agent": self.user_agent, "Accept": "application/json"},
            )
        return self._http

    def _call(self, params: dict[str, str]) -> dict[str, Any]:
        """One API call with maxlag, retries and Retry-After; the decoded JSON reply."""
        import httpx2

        params = {"action": "wbgetentities", "format": "json", "maxlag": str(self.maxlag), **params}
        http = self._client()
        last = ""
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            try:
                self.requests_sent += 1
                query_len = sum(len(k) + len(v) * 3 for k, v in params.items())
                if query_len + len(self.endpoint) < _MAX_GET_URL:
                    resp = http.get(self.endpoint, params=params)
                else:
                    resp = http.post(self.endpoint, data=params)
            except httpx2.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                retry_after = parse_retry_after(resp.headers)
                if resp.status_code == 429 or resp.status_code >= 500:
                    last, wait = f"HTTP {resp.status_code}", retry_after
                elif resp.status_code >= 400:
                    raise ServiceError(
                        f"Wikidata API refused the request: HTTP {resp.status_code} "
                        f"{resp.text[:200]}",
                        "check the endpoint and the parameters",
                        code="DSB401",
                    )
                else:
                    try:
                        data = resp.json()
                    except ValueError:
                        data = None
                    if not isinstance(data, dict):
                        last = "the reply is not JSON"
                    elif isinstance(data.get("error"), dict):
                        code = str(data["error"].get("code", ""))
                        info = str(data["error"].get("info", ""))[:200]
                        if code not in ("maxlag", "ratelimited", "readonly"):
                            raise ServiceError(
                                f"Wikidata API error {code}: {info}",
                                "check the ids, titles and languages asked",
                                code="DSB401",
                            )
                        last = f"{code}: {info}"
                        wait = retry_after if retry_after is not None else 5.0
                    else:
                        return data
            if attempt < self.max_retries:
                if wait is None:
                    wait = min(2.0**attempt, 60.0) * (0.5 + random.random() / 2)
                self.sleep(min(wait, self.max_wait))
        raise ServiceError(
            f"Wikidata API failed {self.max_retries + 1} times ({last})",
            "the servers are lagged or unreachable: retry later (cached entities are kept)",
            code="DSB401",
        )

    def close(self) -> None:
        """Close the HTTP connection and the cache (when this client opened it)."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._own_cache and self.cache is not None:
            self.cache.close()

    def __enter__(self) -> WikidataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _params(
    props: Sequence[str], languages: Sequence[str] | None, sitefilter: Sequence[str] | None
) -> dict[str, str]:
    params = {"props": "|".join(props)}
    if languages:
        params["languages"] = "|".join(sorted(set(languages)))
    if sitefilter:
        params["sitefilter"] = "|".join(sitefilter)
    return params


def _signature(
    props: Sequence[str], languages: Sequence[str] | None, sitefilter: Sequence[str] | None
) -> str:
    """The cache-key prefix: the same entity asked with other fields is another entry."""
    return "wbgetentities|" + json.dumps(
        _params(sorted(props), languages, sorted(sitefilter or ())), sort_keys=True
    )
