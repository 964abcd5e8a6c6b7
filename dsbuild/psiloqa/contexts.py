"""Where PsiloQA passages come from: the embedded sample, a passages file, a Wikipedia dump,
or (small online runs) random pages through the MediaWiki API.

Every source yields the same passage shape::

    {"id": "de:Bodensee", "lang": "de", "title": "Bodensee",
     "url": "https://de.wikipedia.org/wiki/Bodensee", "text": "...", "source": "sample"}

A page becomes one passage (its lead: paragraphs from the top up to `max_chars`) or, with
`chunk=True`, several (`id#2`, `id#3`...): consecutive paragraphs packed up to `max_chars`.
Passages shorter than `min_chars` are dropped with the reason `passage_too_short`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dsbuild.errors import ConfigError, InputError
from dsbuild.stages import Reject

__all__ = [
    "SAMPLE_PASSAGES",
    "api_passages",
    "configured_passages",
    "dump_passages",
    "file_passages",
    "page_passages",
    "sample_passages",
    "wiki_url",
]

SAMPLE_PASSAGES = Path(__file__).resolve().parent.parent / "samples" / "psiloqa" / "passages.jsonl"
_HEADING = re.compile(r"^=+[^=].*=+$")
_FIELDS = ("id", "lang", "title", "text")


def wiki_url(lang: str, title: str) -> str:
    """The article URL of `title` on `lang`.wikipedia.org."""
    return f"https://{lang}.wikipedia.org/wiki/{quote(title.replace(' ', '_'), safe='()_,:-.~')}"


def _paragraphs(text: str) -> list[str]:
    paras = (p.strip() for p in re.split(r"\n\s*\n", text))
    return [p for p in paras if p and not _HEADING.match(p)]


def page_passages(
    *,
    lang: str,
    title: str,
    text: str,
    url: str | None = None,
    source: str,
    page_id: str | None = None,
    min_chars: int = 200,
    max_chars: int = 1500,
    chunk: bool = False,
) -> Iterator[dict | Reject]:
    """The passages of one page (see the module docstring)."""
    base = page_id or f"{lang}:{title.replace(' ', '_')}"
    url = url or wiki_url(lang, title)
    chunks: list[str] = []
    current = ""
    for para in _paragraphs(text):
        if current and len(current) + 2 + len(para) > max_chars:
            chunks.append(current)
            if not chunk:
                current = ""
                break
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        chunks.append(current)
    if not chunks:
        yield _rejected(base, "passage_too_short", "the page has no text paragraphs")
        return
    for i, passage in enumerate(chunks, start=1):
        pid = base if i == 1 else f"{base}#{i}"
        if len(passage) > max_chars:  # one paragraph longer than the limit: cut at a sentence
            cut = max(passage.rfind(". ", 0, max_chars), passage.rfind("。", 0, max_chars))
            passage = passage[: cut + 1] if cut > min_chars else passage[:max_chars]
        if len(passage) < min_chars:
            yield _rejected(
                pid,
                "passage_too_short",
                f"{len(passage)} characters, fewer than the minimum {min_chars}",
            )
            continue
        yield {
            "id": pid,
            "lang": lang,
            "title": title,
            "url": url,
            "text": passage,
            "source": source,
        }


def _rejected(pid: str, reason: str, detail: str) -> Reject:
    return Reject(pid, "contexts", reason, detail)


def file_passages(path: Path, *, source: str = "file", **limits: Any) -> Iterator[dict | Reject]:
    """Passages from a JSONL file of `{id, lang, title, url?, text}` objects (e.g. the sample)."""
    from dsbuild.readers import records_or_fail

    for locator, record in records_or_fail(Path(path), what=f"passages file {path}, "):
        missing = [k for k in _FIELDS if not isinstance(record.get(k), str) or not record.get(k)]
        if missing:
            raise InputError(
                f"passages file {path}, {locator}: field '{missing[0]}' is missing or not a string",
                f"give every line the fields {', '.join(_FIELDS)} (url optional)",
                code="DSB303",
            )
        yield from page_passages(
            lang=record["lang"],
            title=record["title"],
            text=record["text"],
            url=record.get("url"),
            source=source,
            page_id=record["id"],
            **limits,
        )


def sample_passages(**limits: Any) -> Iterator[dict | Reject]:
    """The embedded multilingual sample written for dsbuild."""
    return file_passages(SAMPLE_PASSAGES, source="sample", **limits)


def dump_passages(path: Path, *, lang: str, **limits: Any) -> Iterator[dict | Reject]:
    """Article passages from a pages-articles XML dump of `lang`.wikipedia (redirects and
    unreadable pages skipped, the latter as rejects)."""
    from dsbuild.wiki.dump import Page, iter_pages
    from dsbuild.wiki.wikitext import parse_wikitext

    for item in iter_pages(path):
        if not isinstance(item, Page):
            yield _rejected(f"{lang}:{item.title or '?'}", f"page_{item.reason}", item.detail)
            continue
        if item.redirect:
            continue
        text = parse_wikitext(item.text).text
        yield from page_passages(lang=lang, title=item.title, text=text, source="dump", **limits)


def api_passages(
    lang: str, n: int, titles_file: Path, *, client: Any = None, **limits: Any
) -> Iterator[dict | Reject]:
    """Passages of `n` random main-namespace pages of `lang`.wikipedia.org (`client`: an
    httpx2 client, e.g. with a test transport).

    The random titles are drawn once and kept in `titles_file`, so a resumed run reads the
    same pages again.
    """
    from dsbuild.wiki.api import fetch_pages, random_titles
    from dsbuild.wiki.dump import Page
    from dsbuild.wiki.wikitext import parse_wikitext

    if titles_file.is_file():
        titles = json.loads(titles_file.read_text(encoding="utf-8"))
    else:
        titles = random_titles(n, lang=lang, client=client)
        tmp = titles_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(titles, ensure_ascii=False), encoding="utf-8")
        tmp.replace(titles_file)
    pages = {
        p.title: p for p in fetch_pages(titles, lang=lang, client=client) if isinstance(p, Page)
    }
    for title in titles:
        page = pages.get(title)
        for _ in range(5):  # follow redirects, never round a cycle forever
            if page is None or not page.redirect:
                break
            page = pages.get(page.redirect)
        if page is not None and page.redirect:
            page = None
        if page is None:
            yield _rejected(f"{lang}:{title}", "page_missing", "the API returned no text for it")
            continue
        yield from page_passages(
            lang=lang, title=page.title, text=parse_wikitext(page.text).text, source="api", **limits
        )


def configured_passages(opts: Any, languages: list[str], workdir: Path) -> Iterator[dict | Reject]:
    """The passages of the source the options name: a dump (`wikipedia`, one language),
    random API pages (`online`, per language; titles kept in `workdir`), a passages file, or
    the embedded sample."""
    limits = {
        "min_chars": opts.min_passage_chars,
        "max_chars": opts.max_passage_chars,
        "chunk": opts.chunk,
    }
    if opts.wikipedia:
        if len(languages) != 1:
            raise ConfigError(
                "--wikipedia needs the dump's language",
                "add --lang CODE (one language per dump)",
                code="DSB103",
            )
        return dump_passages(Path(opts.wikipedia), lang=languages[0], **limits)
    if opts.online:
        if not languages:
            raise ConfigError(
                "--online needs the languages to draw pages from",
                "add --lang CODE (repeatable)",
                code="DSB103",
            )
        return (
            item
            for lang in languages
            for item in api_passages(
                lang, opts.online, workdir / f"random-titles-{lang}.json", **limits
            )
        )
    if opts.passages:
        return file_passages(Path(opts.passages), **limits)
    return sample_passages(**limits)
