"""Wikipedia reading: dump streaming, wikitext to plain text with links, title rules.

`iter_pages(dump)` streams `Page`s (and `PageReject`s) from a pages-articles XML export;
`parse_wikitext(page.text)` turns wikitext into paragraphs of plain text with each
wikilink's code-point span, target title and anchor; `normalize_title` is the title rule
both use. Redirect pages are `Page`s whose `redirect` is set: skip them as documents and
collect them with `iter_redirects` or `redirect_map`. `fetch_pages` reads a few pages
through the MediaWiki API instead of a dump; `multistream_ranges` cuts a multistream dump
into byte ranges that `iter_pages(dump, start=…, end=…)` reads independently (shards).
"""

from __future__ import annotations

from dsbuild.wiki.api import fetch_pages
from dsbuild.wiki.dump import (
    MAX_PAGE_BYTES,
    REJECT_REASONS,
    Page,
    PageReject,
    iter_pages,
    iter_redirects,
    multistream_ranges,
    open_dump,
    redirect_map,
)
from dsbuild.wiki.titles import link_kind, normalize_title, pipe_trick, redirect_target
from dsbuild.wiki.wikitext import DEFAULT_TRAIL, Link, ParsedPage, parse_wikitext

__all__ = [
    "DEFAULT_TRAIL",
    "MAX_PAGE_BYTES",
    "REJECT_REASONS",
    "Link",
    "Page",
    "PageReject",
    "ParsedPage",
    "fetch_pages",
    "iter_pages",
    "iter_redirects",
    "link_kind",
    "multistream_ranges",
    "normalize_title",
    "open_dump",
    "parse_wikitext",
    "pipe_trick",
    "redirect_map",
    "redirect_target",
]
