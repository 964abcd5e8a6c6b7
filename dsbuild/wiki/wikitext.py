"""Wikitext → plain text that keeps its wikilinks as exact code-point spans.

`parse_wikitext(text)` returns `ParsedPage(text, links)`; each `Link(start, end, target,
anchor)` is half-open in code points of `text`, with `text[start:end] == anchor`, and
`target` is the normalised title (`titles.normalize_title`).

What the text keeps and drops, in the order the passes run (each a C-speed regex pass or a
linear scan; no full parser, since dump-scale speed is the point):

1. Comments (an unterminated one hides the rest, as in MediaWiki), `<ref>…</ref>`,
   `<ref …/>`, `<references>`, and tags whose content is not prose (`<math>`, `<chem>`,
   `<gallery>`, `<timeline>`, `<syntaxhighlight>`/`<source>`/`<pre>`, `<score>`,
   `<includeonly>`, HTML `<table>`, …) are dropped with their content. `<nowiki>` content
   is kept as literal text.
2. Templates `{{…}}` and parameters `{{{…}}}`, nested, matched the way MediaWiki's
   preprocessor matches brace runs. An unclosed `{{` drops the rest of its paragraph.
3. Tables `{|…|}`, nested, line-based; an unclosed table drops the rest of its paragraph.
4. File/image links (`[[File:…]]`, `[[Image:…]]`, localised names) with their captions,
   nested links included.
5. Headings are dropped (a heading line becomes a paragraph break: headings are not
   sentences). List and indent markers (`*#:;`) are dropped and every item becomes its own
   paragraph. Rules `----`, stray table lines (`|…`, `! … !! …`), `__MAGIC__` words go.
6. Other HTML tags are removed and their text kept (`<b>x</b>` → `x`); `<br>`, `<p>`,
   `<div>`, `<li>` and other block tags break the paragraph. Unknown `<Foo>` stays text.
7. Parentheses the passes above left empty go: `X ({{IPA|…}}) is` → `X is`,
   `({{lang|…}}; born 1950)` → `(born 1950)`.
8. Wikilinks: `[[T]]`, `[[T|anchor]]`, `[[T|]]` (pipe trick) and link trails (`[[bus]]es`
   → anchor `buses`; the trail is `[a-z]+` as on English Wikipedia, see `trail=`).
   Category and interlanguage links are dropped; namespace and interwiki links
   (`[[wikt:x|x]]`, `[[:Category:X|X]]`, `[[Help:X]]`) and same-page `[[#frag|x]]` links
   leave their text without a link; `[[:Foo]]` is a link to Foo, as in MediaWiki. A `[[`
   that is not closed on its own terms is text, so one unbalanced `[[X]` cannot swallow
   the links after it.
9. External links `[http://x label]` → `label`; `[http://x]` (rendered `[1]`) → nothing;
   bare URLs stay.
10. Bold/italic quotes go; HTML entities are decoded.
11. Whitespace runs (newlines, tabs, no-break spaces) collapse to one space, so a single
    newline joins lines as MediaWiki renders them; paragraphs are separated by exactly
    `\\n\\n`, so a sentence splitter never joins across them; empty ones are dropped.

Links are tracked through passes 9–11 by noncharacter sentinels (U+FDD0/U+FDD1, stripped
from the input first) around each anchor; offsets are read off at the very end, so markup
inside an anchor (`[[X|''a'' &amp; b]]`) still gives exact spans.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple

from dsbuild.wiki.titles import FILE_NAMESPACES, link_kind, normalize_title, pipe_trick

__all__ = ["DEFAULT_TRAIL", "Link", "ParsedPage", "parse_wikitext"]

DEFAULT_TRAIL = "[a-z]+"

_OPEN = "\ufdd0"
_CLOSE = "\ufdd1"
_BREAK = "\ufdd2"  # stands where `<nowiki/>` was: blocks a link trail, then vanishes
_PARA = "\ufdd3"  # a paragraph break while whitespace is being collapsed
_SENTINELS = re.compile("[\ufdd0-\ufdd3]")
_EMPTY_LINK = re.compile("\ufdd0\\s*\ufdd1")
_SPACE_RUN = re.compile("  +")
_PARA_RUN = re.compile("\ufdd3\ufdd3+")


class Link(NamedTuple):
    """A wikilink in plain text: `text[start:end] == anchor`, pointing at page `target`."""

    start: int
    end: int
    target: str
    anchor: str


class ParsedPage(NamedTuple):
    """A page's plain text (paragraphs joined by a blank line) and its links in order."""

    text: str
    links: list[Link]


# 1. Opaque regions: dropped with their content before any bracket matching, since their
# content may hold unbalanced braces (`<math>`), links we must not keep (`<ref>`), etc.
_DROP_TAGS = (
    "ref|references|math|chem|ce|gallery|timeline|score|syntaxhighlight|source|pre|hiero|"
    "graph|mapframe|maplink|templatedata|templatestyles|imagemap|inputbox|categorytree|"
    "includeonly|section|indicator|charinsert|table|rss|dynamicpagelist|talkpage|"
    "phonos|langconvert"
)
# (Loops unrolled, `[^<]*(?:<(?!…)[^<]*)*`, rather than `.*?`: 2.5x faster.)
_OPAQUE = re.compile(
    r"<!--[^-]*(?:-(?!->)[^-]*)*(?:-->|\Z)"
    rf"|<({_DROP_TAGS})\b(?:[^<>]*?/>|[^<>]*>[^<]*(?:<(?!/\1\s*>)[^<]*)*</\1\s*>)",
    re.I,
)
_NOWIKI = re.compile(r"<nowiki\s*/>|<nowiki\s*>(.*?)(?:</nowiki\s*>|\Z)", re.S | re.I)
_NOWIKI_ESCAPE = str.maketrans({c: f"&#{ord(c)};" for c in "[]{}|'<>=*#:;!_&-~("})

# 2. Templates: runs of 2+ braces.
_BRACES = re.compile(r"\{\{+|\}\}+")
_BLANK_LINE = re.compile(r"\n\s*\n")

# 3. Tables: `{|` (possibly indented with `:`) and `|}` at the start of a line (matched
# from the newline before it, like the line markup below).
_TABLE = re.compile(r"\n[ \t:]*(?:(\{\|)|\|\})")

# 4. File links: `[[File:` and friends; their end is found by bracket matching.
_FILE_START = re.compile(
    r"\[\[[ \t]*(?:"
    + "|".join(sorted(map(re.escape, FILE_NAMESPACES), key=len, reverse=True))
    + r")[ \t]*:",
    re.I,
)
_BRACKETS = re.compile(r"\[\[|\]\]")

# 5. Line-level markup, matched from the newline before the line (a literal prefix makes
# the scan several times faster than `^` with re.M). Replaced by the template `_LINE_REPL`:
# a paragraph break, plus the item's text for list items.
_LINE = re.compile(
    r"\n(?:"
    r"=[^\n]*=[ \t]*(?=\n|\Z)"  # heading
    r"|[*#:;]+[ \t]*([^\n]*)"  # list item / indent
    r"|-{4,}[^\n]*"  # horizontal rule
    r"|[ \t]*(?:\|[^\n]*|![^\n]*(?:!!|\|\|)[^\n]*)"  # table lines outside a table
    r")"
)
_LINE_REPL = r"\n\n\1\n"
_MAGIC = re.compile(r"__[A-Z]+__")

# 6. Remaining tags: block tags break the paragraph, inline ones are dropped.
_BLOCK_TAGS = "br|p|div|li|ul|ol|dl|dt|dd|hr|tr|td|th|h[1-6]|blockquote|center|poem|caption"
_INLINE_TAGS = (
    "b|i|u|s|del|ins|small|big|sup|sub|span|font|code|tt|kbd|var|samp|abbr|cite|q|dfn|em|"
    "strong|mark|strike|ruby|rb|rt|rp|rtc|bdi|bdo|wbr|time|data|onlyinclude|noinclude|"
    "nowiki|thead|tbody|tfoot|nav|section|article|aside|figure|figcaption|"
    "includeonly|ref|references|math|gallery|pre|source|syntaxhighlight|score|timeline|"
    "table|chem|ce|hiero|graph|mapframe|maplink|templatestyles|imagemap|inputbox|"
    "categorytree|indicator|charinsert|templatedata|rss|phonos|langconvert"
)
_TAG = re.compile(
    rf"<(/?)(?:({_BLOCK_TAGS})|(?:{_INLINE_TAGS}))\b[^<>]*>",
    re.I,
)

# 9. External links.
_EXTERNAL = re.compile(
    r"\[(?:https?:|ftp:|ftps:|sftp:|//|mailto:|news:|irc:|ircs:|gopher:|telnet:|nntp:|"
    r"worldwind:|urn:|svn:|git:|mms:|ssh:|xmpp:|sip:|sips:|tel:|magnet:|geo:|bitcoin:)"
    r"[^\s\[\]<>\"\ufdd0-\ufdd3]*(?:[ \t\u00a0]+([^\]\n]*))?\]",  # a URL never eats a link sentinel
    re.I,
)

# 7. Parentheses emptied by the passes above: `Achilles ({{IPA|…}})`, `(; born 1950)`.
_EMPTY_PARENS = re.compile(r" \((?:[\s,;:]|&nbsp;)*\)")
_OPEN_PAREN_PUNCT = re.compile(r"\((?:\s|&nbsp;)*[,;:]\s*")

# 10. Bold and italic quotes; character references that would decode to a sentinel.
_SENTINEL_REF = re.compile(r"&#(?:[xX]0*[fF][dD][dD][0-3]|0*6497[6-9]);?")
_QUOTES = re.compile(r"'''''|'''|''")

_LINK_CACHE: dict[str | None, re.Pattern[str]] = {}


def _link_pattern(trail: str | None) -> re.Pattern[str]:
    """`[[target|anchor]]trail`: the target may not hold brackets, pipes or newlines."""
    pattern = _LINK_CACHE.get(trail)
    if pattern is None:
        pattern = re.compile(
            r"\[\[([^\[\]\n|]*)(?:\|((?:[^\[\]\n]|\[(?!\[)|\](?!\]))*))?\]\]"
            + (f"({trail})?" if trail else "()")
        )
        _LINK_CACHE[trail] = pattern
    return pattern


def parse_wikitext(text: str, *, trail: str | None = DEFAULT_TRAIL) -> ParsedPage:
    """Plain text and links of one page's wikitext (see the module docstring for the rules).

    `trail` is the regex of letters that join a link's anchor when written right after
    `]]`: `[a-z]+` on English Wikipedia (MediaWiki's default), e.g. `[a-zäöüß]+` for German,
    None for languages without link trails (Chinese, Japanese).
    """
    if "\ufdd0" in text or "\ufdd1" in text or "\ufdd2" in text or "\ufdd3" in text:
        text = _SENTINELS.sub("", text)
    text = "\n" + text  # line-start patterns match from a newline
    if "<" in text:
        if "<nowiki" in text or "<NOWIKI" in text:
            text = _NOWIKI.sub(_nowiki, text)
        if "<!--" in text or "</" in text or "/>" in text:
            text = _OPAQUE.sub("", text)
    if "{{" in text:
        text = _remove_templates(text)
    if "{|" in text:
        text = _remove_tables(text)
    if "[[" in text and _FILE_START.search(text):
        text = _remove_files(text)
    text = _LINE.sub(_LINE_REPL, text)
    if "__" in text:
        text = _MAGIC.sub("", text)
    if "<" in text:
        text = _TAG.sub(_tag, text)
    if "(" in text:
        text = _EMPTY_PARENS.sub("", text)
        text = _OPEN_PAREN_PUNCT.sub("(", text)
    targets: list[str] = []
    if "[[" in text:
        text = _link_pattern(trail).sub(_link_replacer(targets), text)
    if "[" in text:  # after wikilinks, so that far fewer `[` are left to try
        text = _EXTERNAL.sub(_external, text)
    if "''" in text:
        text = _QUOTES.sub("", text)
    if "&" in text:
        if "&#" in text and _SENTINEL_REF.search(text):
            text = _SENTINEL_REF.sub("", text)
        text = html.unescape(text)
    if _BREAK in text:
        text = text.replace(_BREAK, "")
    return _assemble(text, targets)


def _nowiki(match: re.Match[str]) -> str:
    inner = match.group(1)
    if not inner:
        return _BREAK
    return _BREAK + inner.translate(_NOWIKI_ESCAPE) + _BREAK


def _remove_templates(text: str) -> str:
    """Drop `{{…}}`/`{{{…}}}`: closing runs match the innermost open run, 3 braces if both
    runs have 3, else 2 (MediaWiki's preprocessor rule)."""
    stack: list[list[int]] = []  # [run start, braces left in the run]
    spans: list[tuple[int, int]] = []
    for match in _BRACES.finditer(text):
        start, end = match.span()
        if text[start] == "{":
            stack.append([start, end - start])
            continue
        left = end - start
        pos = start
        while left >= 2 and stack:
            top = stack[-1]
            size = 3 if left >= 3 and top[1] >= 3 else 2
            top[1] -= size
            spans.append((top[0] + top[1], pos + size))
            pos += size
            left -= size
            if top[1] < 2:
                stack.pop()
    for start, _ in stack:  # unclosed: drop to the end of the paragraph
        blank = _BLANK_LINE.search(text, start)
        spans.append((start, blank.start() if blank else len(text)))
    return _cut(text, spans)


def _remove_tables(text: str) -> str:
    """Drop `{|…|}` blocks, nested, from the start of the opening line to the `|}`."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = 0
    last = 0
    for match in _TABLE.finditer(text):
        last = match.end()
        if match.group(1):
            if depth == 0:
                start = match.start() + 1
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((start, match.end()))
    if depth:
        blank = _BLANK_LINE.search(text, last)
        spans.append((start, blank.start() if blank else len(text)))
    return _cut(text, spans)


def _remove_files(text: str) -> str:
    """Drop `[[File:…]]` links with their captions (which may hold links); an unclosed one
    is dropped to the end of its line."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        match = _FILE_START.search(text, pos)
        if match is None:
            break
        start = match.start()
        blank = _BLANK_LINE.search(text, start)
        limit = blank.start() if blank else len(text)
        depth = 1
        end = -1
        for bracket in _BRACKETS.finditer(text, match.end(), limit):
            depth += 1 if bracket.group() == "[[" else -1
            if depth == 0:
                end = bracket.end()
                break
        if end < 0:
            newline = text.find("\n", start)
            end = newline if newline >= 0 else len(text)
        spans.append((start, end))
        pos = end
    return _cut(text, spans)


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` without the (possibly nested or overlapping) spans."""
    if not spans:
        return text
    spans.sort()
    parts = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue
        if start > pos:
            parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def _tag(match: re.Match[str]) -> str:
    return "\n\n" if match.group(2) else ""


def _external(match: re.Match[str]) -> str:
    return match.group(1) or ""


def _link_replacer(targets: list[str]):
    """The `re.sub` callback for wikilinks; appends each kept link's target to `targets`."""

    def replace(match: re.Match[str]) -> str:
        raw, anchor, tail = match.group(1, 2, 3)
        if ":" in raw:
            kind = link_kind(raw)
            colon = raw.lstrip().startswith(":")
            if kind is not None:
                if not colon and kind in ("category", "language", "file"):
                    return tail or ""
                shown = anchor or raw.strip().lstrip(":").strip()
                return shown + (tail or "")
        if anchor is None:
            anchor = raw.strip()
            if anchor.startswith(":"):
                anchor = anchor[1:]
        elif not anchor:
            anchor = pipe_trick(raw)
        if tail:
            anchor += tail
        if "{" in raw or "<" in raw or ">" in raw or "}" in raw:
            return anchor
        target = normalize_title(raw)
        stripped = anchor.strip()
        if target is None or not stripped:
            return anchor
        targets.append(target)
        if len(stripped) == len(anchor):
            return _OPEN + anchor + _CLOSE
        lead = anchor[: len(anchor) - len(anchor.lstrip())]
        trailing = anchor[len(lead) + len(stripped) :]
        return lead + _OPEN + stripped + _CLOSE + trailing

    return replace


def _assemble(text: str, targets: list[str]) -> ParsedPage:
    """Collapse whitespace, join paragraphs with `\\n\\n`, and read link offsets off the
    sentinels (the k-th `_OPEN` belongs to `targets[k]`). String methods and literal-led
    regexes only: a `split()`/`join()` per paragraph costs several times more."""
    if targets and _EMPTY_LINK.search(text):
        text = _drop_empty_links(text, targets)
    text = _BLANK_LINE.sub(_PARA, text)
    for space in ("\n", "\t", "\xa0", "\r", "\f", "\v"):
        if space in text:
            text = text.replace(space, " ")
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if targets:  # spaces at an anchor's edges move outside it
        moved = False
        if _OPEN + " " in text:
            text = text.replace(_OPEN + " ", " " + _OPEN)
            moved = True
        if " " + _CLOSE in text:
            text = text.replace(" " + _CLOSE, _CLOSE + " ")
            moved = True
        if moved and "  " in text:
            text = _SPACE_RUN.sub(" ", text)
    if " " + _PARA in text:
        text = text.replace(" " + _PARA, _PARA)
    if _PARA + " " in text:
        text = text.replace(_PARA + " ", _PARA)
    text = text.strip(" " + _PARA)
    if _PARA + _PARA in text:
        text = _PARA_RUN.sub(_PARA, text)
    text = text.replace(_PARA, "\n\n")
    if not targets:
        return ParsedPage(text, [])
    pieces = text.split(_OPEN)
    parts = [pieces[0]]
    offset = len(pieces[0])
    links: list[Link] = []
    append = links.append
    for target, piece in zip(targets, pieces[1:]):
        anchor, _, after = piece.partition(_CLOSE)
        size = len(anchor)
        if "\n" not in anchor:
            append(Link(offset, offset + size, target, anchor))
        parts.append(anchor)
        parts.append(after)
        offset += size + len(after)
    return ParsedPage("".join(parts), links)


def _drop_empty_links(text: str, targets: list[str]) -> str:
    """Remove links whose anchor became blank after the link pass (`[[X|'' '']]`), with
    their targets, so that the k-th sentinel still belongs to `targets[k]`."""
    pieces = text.split(_OPEN)
    kept_targets = []
    parts = [pieces[0]]
    for target, piece in zip(targets, pieces[1:]):
        anchor, _, after = piece.partition(_CLOSE)
        if anchor.strip():
            kept_targets.append(target)
            parts.append(_OPEN + anchor + _CLOSE + after)
        else:
            parts.append(anchor + after)
    targets[:] = kept_targets
    return "".join(parts)
