"""EntityCS's text stage: Wikipedia pages to sentence records with their links.

Pages are parsed to plain text with links (`dsbuild.wiki.parse_wikitext`); the paragraphs
that hold a link are split into sentences (never inside a link) and each sentence is kept or
rejected by the paper's filter (`sentence_filter`). `chunk_records` does this for a chunk of
pages, in the worker process that reads their shard (`dsbuild.entitycs.shards`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

from dsbuild.errors import InputError
from dsbuild.stages import Reject

__all__ = [
    "REMNANTS",
    "STAGE_READ",
    "chunk_records",
    "chunks",
    "dump_problem",
    "entity_links",
    "has_remnant",
    "link_paragraphs",
    "link_paragraphs_walk",
    "link_targets",
    "paragraphs",
    "resolve",
    "sentence_filter",
    "sentences",
    "sentence_splitter",
    "whole_pages",
]

STAGE_READ = "read_wikipedia"
REMNANTS = ("|", "{{", "}}", "[[", "]]", "{|", "|}", "thumb", "px|")


def sentence_filter(
    text: str, links: list[tuple[int, int]], n_tokens: int, opts: dict
) -> str | None:
    """The paper's sentence filter: None to keep, else the reason code."""
    if not opts["min_links"] <= len(links) <= opts["max_links"]:
        return "link_count"
    if len(text) <= opts["min_chars"]:
        return "too_short"
    if n_tokens > opts["max_tokens"]:
        return "too_long"
    if has_remnant(text):
        return "markup_remnant"
    size = len(text)
    for s, e in links:
        if (e - s) * 2 > size:
            return "dominant_link"
    return None


def has_remnant(text: str) -> bool:
    """Whether `text` holds one of `REMNANTS` ("{|", "|}" and "px|" hold "|"): chained
    `in` tests, the fastest way to ask (measured)."""
    return (
        "|" in text
        or "{{" in text
        or "}}" in text
        or "[[" in text
        or "]]" in text
        or "thumb" in text
    )


def whole_pages(items, path: str) -> Iterator:
    """The dump's pages; a compressed dump cut short is an error, not a last reject: the
    corpus would silently miss the rest of Wikipedia."""
    from dsbuild.wiki import PageReject

    for item in items:
        if (
            isinstance(item, PageReject)
            and item.reason == "truncated"
            and "compressed stream" in item.detail
        ):
            raise InputError(
                f"the Wikipedia dump {path} is cut short: {item.detail}",
                "download the dump again (or check it with bzip2 -t / gzip -t)",
                code="DSB303",
            )
        yield item


def chunks(items, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def chunk_records(pages: list, opts: dict) -> list[dict]:
    """Records of a chunk of pages (runs in a worker process)."""
    from dsbuild.wiki import Page, parse_wikitext

    split = sentence_splitter(opts["splitter"])
    out: list[dict] = []
    for item in pages:
        if not isinstance(item, Page):  # a malformed page: kept as a reject, reading goes on
            out.append(
                Reject(
                    f"page:{item.page_id or item.title or 'unknown'}",
                    STAGE_READ,
                    "page_" + item.reason,
                    item.detail,
                )
            )
            continue
        if item.redirect:
            out.append(
                {
                    "id": f"redirect:{item.title}",
                    "kind": "redirect",
                    "title": item.title,
                    "target": item.redirect,
                }
            )
            continue
        parsed = parse_wikitext(item.text)
        out.extend(sentences(item, parsed.text, parsed.links, split, opts))
    return out


@lru_cache(maxsize=4)
def sentence_splitter(engine: str):
    """The English sentence splitter of `engine` (spacy | stanza), once per process."""
    from dsbuild.sentences import SentenceSplitter

    return SentenceSplitter("en", engine)


def sentences(page, text: str, links: list, splitter, opts: dict) -> Iterator[dict | Reject]:
    """Sentence records (and rejects) of the paragraphs of `text` that hold a link; the
    n-th sentence of those paragraphs gets id `PAGE-n`. A sentence's links are those wholly
    inside it; links (as `parse_wikitext` gives them) and sentences are sorted and disjoint,
    so each sentence's links are the next run of the paragraph's."""
    n = 0
    title = page.title
    prefix = f"{page.id}-"
    min_links, max_links = opts["min_links"], opts["max_links"]
    min_chars, max_tokens = opts["min_chars"], opts["max_tokens"]
    for para_start, para_end, para_links in link_paragraphs(text, links):
        para = text[para_start:para_end]
        spans = [(link.start - para_start, link.end - para_start) for link in para_links]
        count = len(spans)
        k = 0
        for sent in splitter.split(para, spans, count=False):
            start, end = sent.start, sent.end
            while k < count and spans[k][0] < start:
                k += 1
            j = k
            while j < count and spans[j][1] <= end:
                j += 1
            inside = [(s - start, e - start) for s, e in spans[k:j]]
            targets = para_links[k:j]
            s_text = para[start:end]
            sid = prefix + str(n)
            n += 1
            n_tokens = sent.n_tokens
            if n_tokens < 0:  # not counted: count only where the filter's answer hangs on it
                n_tokens = len(s_text)  # tokens <= characters: decides alike when that fits
                if (
                    min_links <= len(inside) <= max_links
                    and min_chars < n_tokens
                    and n_tokens > max_tokens
                ):
                    n_tokens = splitter.count_tokens(para, sent)
            reason = sentence_filter(s_text, inside, n_tokens, opts)
            if reason:
                yield Reject(sid, STAGE_READ, reason)
                continue
            yield {
                "id": sid,
                "kind": "sentence",
                "page": title,
                "text": s_text,
                "links": [[s, e, link.target] for (s, e), link in zip(inside, targets)],
            }


def link_paragraphs(text: str, links: list) -> Iterator[tuple[int, int, list]]:
    """(start, end, links) of each paragraph (see `paragraphs`) holding a link wholly.

    Found from the links, not by walking every paragraph: paragraph ends are the `\\n\\n`
    around a link, which is the same as `paragraphs` unless a newline run longer than two
    occurs (never in `parse_wikitext` output; then `paragraphs` is walked)."""
    if "\n\n\n" in text:
        yield from link_paragraphs_walk(text, links)
        return
    li = 0
    size = len(text)
    count = len(links)
    while li < count:
        link = links[li]
        start = text.rfind("\n\n", 0, link.start)
        start = 0 if start < 0 else start + 2
        end = text.find("\n\n", start)
        if end < 0:
            end = size
        if link.start < start or link.end > end or not text[start:end].strip():
            li += 1  # not wholly in a (non-blank) paragraph: no paragraph takes it
            continue
        lj = li
        while lj < count and links[lj].end <= end:
            lj += 1
        yield start, end, links[li:lj]
        li = lj
        while li < count and links[li].start < end + 2:  # straddling the end: dropped
            li += 1


def link_paragraphs_walk(text: str, links: list) -> Iterator[tuple[int, int, list]]:
    li = 0
    for para_start, para_end in paragraphs(text):
        while li < len(links) and links[li].start < para_start:
            li += 1
        lj = li
        while lj < len(links) and links[lj].end <= para_end:
            lj += 1
        if lj > li:
            yield para_start, para_end, links[li:lj]


def paragraphs(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    while start < len(text):
        end = text.find("\n\n", start)
        if end < 0:
            end = len(text)
        if text[start:end].strip():
            yield start, end
        start = end + 2


def dump_problem(path: str, problem) -> None:
    """A Wikidata dump whose compressed stream is cut short stops the build (labels of the
    rest would be missing); other dump problems are counted by the store, as before."""
    if problem.kind == "truncated" and "compressed stream" in problem.detail:
        raise InputError(
            f"the Wikidata dump {path} is cut short: {problem.detail}",
            "download the dump again (or check it with bzip2 -t / gzip -t)",
            code="DSB303",
        )


def resolve(title: str, redirects: dict[str, str]) -> str:
    """Where `title` leads through `redirects` (a cycle stops at its first repeat)."""
    seen = set()
    while title in redirects and title not in seen:
        seen.add(title)
        title = redirects[title]
    return title


def link_targets(records) -> tuple[dict[str, str], set[str]]:
    """(redirects, titles): the redirects among `records` (title -> target) and the titles
    the sentences link to, each followed through the redirects."""
    redirects: dict[str, str] = {}
    titles: set[str] = set()
    for rec in records:
        if rec.get("kind") == "redirect":
            redirects[rec["title"]] = rec["target"]
        else:
            titles.update(link[2] for link in rec["links"])
    return redirects, {resolve(t, redirects) for t in titles}


def entity_links(links: list, redirects: dict[str, str], store) -> tuple[list, dict]:
    """(entity links, labels): a sentence's `[start, end, title]` links as `EntityLink`s
    (the title through the redirects, the QID from the label store or None), and the labels
    of each QID found (QID -> language -> label)."""
    from dsbuild.codeswitch import EntityLink

    out = []
    labels: dict[str, dict[str, str]] = {}
    titles = [resolve(target, redirects) for _, _, target in links]
    entities = store.labels_for_titles(titles)
    for (s, e, _), title in zip(links, titles):
        found = entities.get(title)
        qid = found[0] if found else None
        if qid:
            labels[qid] = found[1]
        out.append(EntityLink(s, e, title, qid))
    return out, labels
