"""Sanity checks for the embedded EntityCS default (dsbuild/samples/entitycs/).

Standard library only: the mini-Wikipedia must be a well-formed pages-articles
export (with exactly one page that is malformed on purpose), and every wikilink
in it must resolve, through the redirects, to an entity of the Wikidata excerpt
that has labels in at least 15 languages.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "dsbuild" / "samples" / "entitycs"
XML_PATH = SAMPLES / "enwiki-sample.xml"
JSON_PATH = SAMPLES / "wikidata-sample.json"
MW = "{http://www.mediawiki.org/xml/export-0.11/}"

MIN_ARTICLES = 40
MIN_REDIRECTS = 6
MIN_LANGUAGES = 15
# The one article that carries an unbalanced "[[X]" (its other links must still count).
UNBALANCED_LINK_PAGE = "Budapest"

_INNER_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_UNBALANCED = re.compile(r"\[\[[^\[\]|]*\](?!\])")
_REDIRECT = re.compile(r"^#REDIRECT\s*\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|[^\]]*)?\]\]", re.IGNORECASE)


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=1)
def _tree() -> ET.Element:
    return ET.parse(XML_PATH).getroot()


def _pages() -> list[dict]:
    out = []
    for page in _tree().iter(f"{MW}page"):
        title = page.find(f"{MW}title")
        redirect = page.find(f"{MW}redirect")
        text_el = page.find(f"{MW}revision/{MW}text")
        out.append(
            {
                "title": None if title is None else title.text,
                "ns": int(page.findtext(f"{MW}ns")),
                "id": page.findtext(f"{MW}id"),
                "redirect": None if redirect is None else redirect.get("title"),
                "text_el": text_el,
                "text": (text_el.text or "") if text_el is not None else "",
                "sha1": page.findtext(f"{MW}revision/{MW}sha1"),
            }
        )
    return out


def _namespace_names() -> set[str]:
    names = {"image", "media"}  # "Image:" is an alias of "File:"
    for ns in _tree().iter(f"{MW}namespace"):
        if ns.text:
            names.add(ns.text.lower())
    return names


def _articles() -> list[dict]:
    return [p for p in _pages() if p["title"] and p["ns"] == 0 and p["redirect"] is None]


def _redirects() -> dict[str, str]:
    return {p["title"]: p["redirect"] for p in _pages() if p["title"] and p["redirect"] is not None}


def normalize_title(target: str) -> str:
    """MediaWiki-style: drop the fragment, '_' -> ' ', squeeze spaces, first letter upper."""
    target = target.split("#", 1)[0].replace("_", " ")
    target = re.sub(r"\s+", " ", target).strip()
    return target[:1].upper() + target[1:]


def wikilink_targets(text: str, namespaces: set[str]) -> list[str]:
    """Targets of all [[...]] links (innermost first, so links in File captions count),
    normalized; namespace links (File:, Category:, :Category:...) and same-page anchors skipped."""
    text = re.sub(r"<math>.*?</math>", "", text, flags=re.S)
    raw = []
    while True:
        m = _INNER_LINK.search(text)
        if not m:
            break
        raw.append(m.group(1))
        text = text[: m.start()] + "\x00" + text[m.end() :]
    targets = []
    for inner in raw:
        target = inner.split("|", 1)[0]
        if target.startswith(":"):
            continue
        if ":" in target and target.split(":", 1)[0].strip().lower() in namespaces:
            continue
        title = normalize_title(target)
        if title:
            targets.append(title)
    return targets


def resolve(title: str, redirects: dict[str, str]) -> str:
    seen = set()
    while title in redirects and title not in seen:
        seen.add(title)
        title = redirects[title]
    return title


@lru_cache(maxsize=1)
def _json_lines() -> tuple[str, ...]:
    return tuple(JSON_PATH.read_text(encoding="utf-8").split("\n"))


@lru_cache(maxsize=1)
def _entities() -> tuple[dict, ...]:
    lines = _json_lines()
    body = lines[1:-2]  # between "[" and "]" (the file ends with "]\n")
    return tuple(json.loads(line[:-1] if line.endswith(",") else line) for line in body)


def _enwiki_index() -> dict[str, dict]:
    index = {}
    for e in _entities():
        site = e.get("sitelinks", {}).get("enwiki")
        if site:
            index[site["title"]] = e
    return index


def _linked_titles() -> dict[str, int]:
    namespaces = _namespace_names()
    redirects = _redirects()
    counts: dict[str, int] = {}
    for page in _articles():
        for target in wikilink_targets(page["text"], namespaces):
            resolved = resolve(target, redirects)
            counts[resolved] = counts.get(resolved, 0) + 1
    return counts


def _mediawiki_sha1(text: str) -> str:
    n = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    return digits.rjust(31, "0")


def _label_languages(entity: dict) -> set[str]:
    return {lang for lang in entity.get("labels", {}) if lang != "mul"}


# --------------------------------------------------------------------------- XML


def test_files_exist_and_are_small():
    assert XML_PATH.is_file() and JSON_PATH.is_file()
    assert XML_PATH.stat().st_size < 400_000
    assert JSON_PATH.stat().st_size < 1_000_000


def test_xml_is_a_pages_articles_export():
    root = _tree()
    assert root.tag == f"{MW}mediawiki"
    assert root.get("version") == "0.11"
    siteinfo = root.find(f"{MW}siteinfo")
    assert siteinfo is not None
    assert siteinfo.findtext(f"{MW}dbname") == "enwiki"
    keys = {ns.get("key") for ns in siteinfo.iter(f"{MW}namespace")}
    assert {"0", "6", "10", "14"} <= keys
    pages = list(root.iter(f"{MW}page"))
    assert len(pages) >= 50
    for page in pages:
        rev = page.find(f"{MW}revision")
        assert rev is not None
        assert rev.findtext(f"{MW}model") == "wikitext"
        assert rev.findtext(f"{MW}format") == "text/x-wiki"
        assert rev.find(f"{MW}timestamp") is not None
        assert rev.find(f"{MW}contributor") is not None


def test_exactly_one_page_is_malformed_on_purpose():
    untitled = [p for p in _pages() if p["title"] is None]
    assert len(untitled) == 1
    bad = untitled[0]
    assert bad["ns"] == 0 and bad["id"] and bad["text"]
    # it is neither first nor last, so a reader must reject it and keep going
    ids = [p["id"] for p in _pages()]
    assert 0 < ids.index(bad["id"]) < len(ids) - 1


def test_one_article_has_an_unbalanced_link_and_keeps_its_other_links():
    hits = [p["title"] for p in _articles() if _UNBALANCED.search(p["text"])]
    assert hits == [UNBALANCED_LINK_PAGE]
    page = next(p for p in _articles() if p["title"] == UNBALANCED_LINK_PAGE)
    tail = page["text"][_UNBALANCED.search(page["text"]).end() :]
    assert len(wikilink_targets(tail, _namespace_names())) >= 3


def test_enough_articles_and_other_namespaces():
    articles = _articles()
    assert len(articles) >= MIN_ARTICLES
    assert len({p["title"] for p in articles}) == len(articles)
    assert any(p["ns"] == 14 for p in _pages())
    for page in articles:
        assert not page["text"].lstrip().upper().startswith("#REDIRECT")


def test_redirects_are_tagged_and_resolve_to_articles():
    redirects = _redirects()
    assert len(redirects) >= MIN_REDIRECTS
    article_titles = {p["title"] for p in _articles()}
    by_title = {p["title"]: p for p in _pages() if p["title"]}
    for title, target in redirects.items():
        m = _REDIRECT.match(by_title[title]["text"])
        assert m, title
        assert normalize_title(m.group(1)) == target
        assert resolve(title, redirects) in article_titles, title


def test_text_bytes_and_sha1_match_the_unescaped_text():
    pages = _pages()
    assert pages
    for page in pages:
        el = page["text_el"]
        assert el is not None
        assert int(el.get("bytes")) == len(page["text"].encode("utf-8")), page["title"]
        assert el.get("sha1") == page["sha1"] == _mediawiki_sha1(page["text"]), page["title"]


def test_markup_variety_is_present():
    text = "\n".join(p["text"] for p in _articles())
    for needle in (
        "{{Infobox country",
        "{{convert|",
        "<ref",
        "{{cite web",
        '{| class="wikitable',
        "[[File:",
        "[[Category:",
        "'''",
        "== ",
        "]]s ",  # a link trail
    ):
        assert needle in text, needle
    raw = XML_PATH.read_text(encoding="utf-8")
    assert "&lt;ref" in raw and "&amp;" in raw


# --------------------------------------------------------------------------- Wikidata


def test_wikidata_framing_is_the_real_dump_framing():
    raw = JSON_PATH.read_text(encoding="utf-8")
    assert raw.endswith("]\n")
    lines = _json_lines()
    assert lines[0] == "["
    assert lines[-2] == "]" and lines[-1] == ""
    body = lines[1:-2]
    assert len(body) >= 2
    for line in body[:-1]:
        assert line.endswith(","), line[:60]
        assert line.startswith("{")
    assert not body[-1].endswith(",")
    for line in body:
        obj = json.loads(line[:-1] if line.endswith(",") else line)
        assert isinstance(obj, dict) and "id" in obj and "type" in obj


def test_wikidata_entities_are_well_formed():
    ids = [e["id"] for e in _entities()]
    assert len(ids) == len(set(ids)) >= 100
    for e in _entities():
        assert e["type"] in ("item", "property")
        assert re.fullmatch(r"[QP][1-9][0-9]*", e["id"])
        for lang, label in e["labels"].items():
            assert label == {"language": lang, "value": label["value"]}
            assert (
                isinstance(label["value"], str) and label["value"].strip() == label["value"] != ""
            )
        for key in ("descriptions", "aliases", "claims"):
            assert isinstance(e[key], dict)
        if e["type"] == "item":
            for site, link in e["sitelinks"].items():
                assert link["site"] == site and isinstance(link["badges"], list)


def test_every_link_resolves_to_an_entity_with_enough_labels():
    index = _enwiki_index()
    linked = _linked_titles()
    assert sum(linked.values()) >= 300
    missing = sorted(t for t in linked if t not in index)
    assert not missing, missing
    poor = {
        t: len(_label_languages(index[t]))
        for t in linked
        if len(_label_languages(index[t])) < MIN_LANGUAGES
    }
    assert not poor, poor
    for title in linked:
        entity = index[title]
        assert entity["type"] == "item"
        assert "en" in entity["labels"]
    counts = [len(_label_languages(index[t])) for t in linked]
    assert statistics.median(counts) >= MIN_LANGUAGES


def test_every_article_has_an_entity():
    index = _enwiki_index()
    missing = [p["title"] for p in _articles() if p["title"] not in index]
    assert not missing, missing


def test_wikidata_has_unrelated_entities_and_mul_labels():
    linked = {_enwiki_index()[t]["id"] for t in _linked_titles()}
    unrelated = [e for e in _entities() if e["id"] not in linked]
    assert len(unrelated) >= 10
    assert any(e["type"] == "property" for e in unrelated)
    with_mul = [e for e in _entities() if "mul" in e["labels"]]
    assert len(with_mul) >= 3
    # an entity with a "mul" label still has its real per-language labels
    assert any(e["id"] in linked for e in with_mul)
    for e in with_mul:
        assert len(_label_languages(e)) >= MIN_LANGUAGES


def test_enwiki_titles_are_unique():
    titles = [
        e["sitelinks"]["enwiki"]["title"] for e in _entities() if "enwiki" in e.get("sitelinks", {})
    ]
    assert len(titles) == len(set(titles))
