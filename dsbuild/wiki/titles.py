"""Page titles as MediaWiki normalises them, and what a link prefix (`File:`, `de:`) means.

`normalize_title("foo_bar#History")` gives `"Foo bar"`: underscores become spaces, runs of
spaces collapse, the `#fragment` goes, and the first letter is upper-cased (English
Wikipedia's `$wgCapitalLinks`); it is None when nothing is left (`"#History"`, `""`). It
is dsbuild's one title rule: the wikitext parser, the page fetcher and the Wikidata label
store (`dsbuild.wikidata.store` re-exports it) all use it.

`link_kind(target)` says whether a link target is an article (`None`) or has a prefix that
makes it something else: `"file"`, `"category"` (both hidden from the rendered text),
`"language"` (an interlanguage link, hidden), `"interwiki"` or `"namespace"` (shown as
text, but not an article).

The prefix tables cover English Wikipedia's namespaces and aliases, the file and category
namespace names of the largest Wikipedias, the common interwiki prefixes and every
Wikipedia language code (matched case-insensitively).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from urllib.parse import unquote

__all__ = [
    "CATEGORY_NAMESPACES",
    "FILE_NAMESPACES",
    "INTERWIKI_PREFIXES",
    "LANGUAGE_CODES",
    "OTHER_NAMESPACES",
    "link_kind",
    "normalize_title",
    "pipe_trick",
    "redirect_target",
]

# Lower-cased; matched case-insensitively with spaces/underscores normalised.
FILE_NAMESPACES = frozenset(
    """file image media datei bild medium fichier archivo imagen файл изображение медиа
    ファイル 画像 文件 檔案 图像 plik bestand afbeelding immagine arquivo imagem ficheiro
    dosya resim پرونده تصویر ملف صورة קובץ תמונה hình berkas 파일 soubor fitxer fil
    tiedosto kuva fájl kép datoteka slika fișier imagine αρχείο εικόνα датотека
    ไฟล์ चित्र فائل""".split()
    + ["tập tin"]
)
CATEGORY_NAMESPACES = frozenset(
    """category kategorie catégorie categoría категория カテゴリ 分类 分類 kategoria categoria
    categorie kategori luokka kategória رده تصنيف קטגוריה 분류 kategorija categoría κατηγορία
    категорија категорыя категорія หมวดหมู่ श्रेणी زمرہ""".split()
    + ["thể loại"]
)
OTHER_NAMESPACES = frozenset(
    [
        "talk",
        "user",
        "user talk",
        "wikipedia",
        "wikipedia talk",
        "wp",
        "wt",
        "project",
        "project talk",
        "file talk",
        "image talk",
        "mediawiki",
        "mediawiki talk",
        "template",
        "template talk",
        "help",
        "help talk",
        "category talk",
        "portal",
        "portal talk",
        "draft",
        "draft talk",
        "timedtext",
        "timedtext talk",
        "module",
        "module talk",
        "special",
        "book",
        "book talk",
        "education program",
        "education program talk",
        "gadget",
        "gadget talk",
        "gadget definition",
        "gadget definition talk",
        "topic",
        "event",
        "event talk",
        "mos",
        "h",
        "cat",
        "t",
        "tm",
        "user talk",
        "vorlage",
        "hilfe",
        "benutzer",
        "portal",
        "modèle",
        "aide",
        "utilisateur",
        "plantilla",
        "ayuda",
        "usuario",
        "шаблон",
        "участник",
        "википедия",
        "テンプレート",
        "利用者",
        "模板",
        "wikipédia",
        "wikipedia discussion",
        "diskussion",
        "discussion",
        "discusión",
    ]
)
INTERWIKI_PREFIXES = frozenset(
    [
        "wikt",
        "wiktionary",
        "w",
        "s",
        "wikisource",
        "q",
        "wikiquote",
        "b",
        "wikibooks",
        "n",
        "wikinews",
        "v",
        "wikiversity",
        "voy",
        "wikivoyage",
        "species",
        "wikispecies",
        "d",
        "wikidata",
        "c",
        "commons",
        "m",
        "meta",
        "metawikimedia",
        "metawikipedia",
        "mw",
        "mediawikiwiki",
        "foundation",
        "wmf",
        "wikimedia",
        "incubator",
        "phab",
        "phabricator",
        "outreach",
        "mediazilla",
        "bugzilla",
        "rev",
        "diff",
        "oldid",
        "testwiki",
        "wikitech",
        "toolforge",
        "google",
        "imdb",
        "doi",
        "arxiv",
        "iarchive",
        "archive",
        "gutenberg",
        "wikia",
        "wikiquote",
        "betawikiversity",
        "sep11",
        "uncyclopedia",
    ]
)
# Every Wikipedia language edition's code (interlanguage-link prefixes).
LANGUAGE_CODES = frozenset(
    """aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az
    azb ba ban bar bat-smg bbc bcl bdr be be-tarask be-x-old bew bg bh bi bjn blk bm bn bo
    bpy br bs btm bug bxr ca cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy
    da dag de dga din diq dsb dtp dty dv dz ee el eml en eo es et eu ext fa fat ff fi fiu-vro
    fj fo fon fr frp frr fur fy ga gag gan gcr gd gl glk gn gom gor got gpe gsw gu guc gur guw
    gv ha hak haw he hi hif ho hr hsb ht hu hy hyw hz ia iba id ie ig igl ii ik ilo inh io is
    it iu ja jam jbo jv ka kaa kab kbd kbp kcg kg kge ki kj kk kl km kn knc ko koi kr krc ks
    ksh ku kus kv kw ky la lad lb lbe lez lfn lg li lij lld lmo ln lo lrc lt ltg lv lzh mad
    mai map-bms mdf mg mh mhr mi min mk ml mn mni mnw mo mos mr mrj ms mt mus mwl my myv mzn
    na nah nan nap nds nds-nl ne new ng nia nl nn no nov nqo nr nrm nso nup nv ny oc olo om
    or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn qu rm rmy rn ro
    roa-rup roa-tara rsk ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn shy si
    simple sk skr sl sm smn sn so sq sr srn ss st stq su sv sw syl szl szy ta tay tcy tdd te
    tet tg th ti tig tk tl tly tn to tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec
    vep vi vls vo vro wa war wo wuu xal xh xmf yi yo yue za zea zgh zh zh-classical
    zh-min-nan zh-yue zu""".split()
)

_KINDS: dict[str, str] = {}
for _names, _kind in (
    (OTHER_NAMESPACES, "namespace"),
    (INTERWIKI_PREFIXES, "interwiki"),
    (LANGUAGE_CODES, "language"),
    (CATEGORY_NAMESPACES, "category"),
    (FILE_NAMESPACES, "file"),
):
    for _name in _names:
        _KINDS[_name] = _kind

_SPACES = re.compile(r"[\s_\u200e\u200f]+")
_REDIRECT_TEXT = re.compile(r"\s*#\s*REDIRECT\s*:?\s*\[\[([^\]\[|\n]+)", re.I)
_PAREN_TAIL = re.compile(r"^(.+?) ?\([^()]+\)$")
_FULLWIDTH_PAREN_TAIL = re.compile(r"^(.+?) ?（[^（）]+）$")


@lru_cache(maxsize=1 << 16)  # link targets repeat a lot within and across pages
def normalize_title(raw: str) -> str | None:
    """The canonical title a link target points to, or None when nothing is left (`#frag`)."""
    title = raw
    if "&" in title:
        title = html.unescape(title)
    if "%" in title:
        title = unquote(title)
    hash_at = title.find("#")
    if hash_at >= 0:
        title = title[:hash_at]
    title = _SPACES.sub(" ", title).strip(" ")
    if title.startswith(":"):
        title = title[1:].lstrip(" ")
    if not title:
        return None
    first = title[0]
    upper = first.upper()
    if upper != first and len(upper) == 1:
        title = upper + title[1:]
    return title


def link_kind(target: str) -> str | None:
    """None for an article link, else the kind of its prefix (see the module docstring).

    A leading colon is ignored here; the caller decides what `[[:Category:X]]` means.
    """
    colon = target.find(":", 1 if target.startswith(":") else 0)
    if colon < 0:
        return None
    prefix = _SPACES.sub(" ", target[1 if target.startswith(":") else 0 : colon]).strip().lower()
    return _KINDS.get(prefix)


def pipe_trick(target: str) -> str:
    """The anchor MediaWiki's pipe trick gives `[[target|]]`: no namespace, no `(...)` tail.

    `Seattle, Washington` → `Seattle`; `Yours, Mine and Ours (1968 film)` → `Yours, Mine
    and Ours`; `Wikipedia:Manual of Style` → `Manual of Style`.
    """
    text = target.strip().lstrip(":")
    colon = text.find(":")
    if colon > 0 and link_kind(text) is not None:
        text = text[colon + 1 :]
    match = _PAREN_TAIL.match(text) or _FULLWIDTH_PAREN_TAIL.match(text)
    if match:
        return match.group(1)
    comma = text.find(", ")
    if comma < 0:
        comma = text.find("，")
    return text[:comma] if comma > 0 else text


def redirect_target(text: str, default: str | None = None) -> str | None:
    """The normalised target of a `#REDIRECT [[X]]` page text (English keyword), else None;
    `default` when it redirects to a section of itself (`#REDIRECT [[#History]]`)."""
    match = _REDIRECT_TEXT.match(text)
    if match is None:
        return None
    return normalize_title(match.group(1)) or default
