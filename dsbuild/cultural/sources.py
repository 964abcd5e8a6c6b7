"""Inputs of the cultural builder: source texts, a user lexicon, target locales.

Source texts come from JSONL or CSV (`id`, `text`, optional `lang` [en], `source`,
`subject`, and hand-given `segments`: a list of `{surface, category[, start, end, note]}`,
in CSV a JSON array in the `segments` cell), or from the embedded sample emails
(`dsbuild/samples/cultural/emails.jsonl`, whose `nuances` are read as given segments).
A lexicon lists `{surface, category[, note]}` entries (JSONL, CSV or TSV) matched in every
text. Locales are language-region tags such as `ja-JP`, `es-MX`, `ru-KZ`.

File problems are one-line `InputError`s naming the file and line; segment problems that
concern one text (a surface not in the text, a wrong offset) are left to the `segments`
stage, which rejects that text with a reason.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dsbuild.errors import ConfigError, InputError

__all__ = [
    "REGION_NAMES",
    "locale_parts",
    "parse_locales",
    "read_lexicon",
    "read_sources",
    "sample_path",
]

REGION_NAMES = {
    "AR": "Argentina",
    "AT": "Austria",
    "AU": "Australia",
    "BE": "Belgium",
    "BR": "Brazil",
    "BY": "Belarus",
    "CA": "Canada",
    "CH": "Switzerland",
    "CL": "Chile",
    "CN": "China",
    "CO": "Colombia",
    "DE": "Germany",
    "EG": "Egypt",
    "ES": "Spain",
    "FR": "France",
    "GB": "the United Kingdom",
    "HK": "Hong Kong",
    "ID": "Indonesia",
    "IE": "Ireland",
    "IL": "Israel",
    "IN": "India",
    "IT": "Italy",
    "JP": "Japan",
    "KE": "Kenya",
    "KR": "South Korea",
    "KZ": "Kazakhstan",
    "MA": "Morocco",
    "MX": "Mexico",
    "NG": "Nigeria",
    "NL": "the Netherlands",
    "NZ": "New Zealand",
    "PE": "Peru",
    "PH": "the Philippines",
    "PL": "Poland",
    "PT": "Portugal",
    "RU": "Russia",
    "SA": "Saudi Arabia",
    "SE": "Sweden",
    "SG": "Singapore",
    "TH": "Thailand",
    "TR": "Turkey",
    "TW": "Taiwan",
    "UA": "Ukraine",
    "US": "the United States",
    "VN": "Vietnam",
    "ZA": "South Africa",
}
_LOCALE = re.compile(r"^([a-z]{2,3})(?:-([A-Z]{2}|\d{3}))?$")
_CATEGORY_ALIASES = {
    "concept": "cultural_concept",
    "cultural concept": "cultural_concept",
    "cultural-concept": "cultural_concept",
}


def sample_path() -> Path:
    """The embedded sample emails (five short marketing texts with their segments)."""
    from importlib.resources import files

    return Path(str(files("dsbuild.samples") / "cultural" / "emails.jsonl"))


# -- locales ------------------------------------------------------------------------------
def parse_locales(value: Any) -> list[str]:
    """A list (or comma-separated string) of locale tags, checked and de-duplicated;
    `ja_jp` is read as `ja-JP`."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for item in items:
        raw = str(item).strip().replace("_", "-")
        if not raw:
            continue
        lang, _, region = raw.partition("-")
        tag = f"{lang.lower()}-{region.upper()}" if region else lang.lower()
        if not _LOCALE.match(tag):
            raise ConfigError(
                f"locale {item!r} is not a language-region tag",
                "write e.g. --locales ja-JP,es-MX,ru-KZ",
                code="DSB103",
            )
        if tag not in out:
            out.append(tag)
    if not out:
        raise ConfigError(
            "no target locale given", "write e.g. --locales ja-JP,es-MX", code="DSB103"
        )
    return out


def locale_parts(locale: str) -> tuple[str, str]:
    """(language name, region name) for prompts: `ru-KZ` → ("Russian", "Kazakhstan")."""
    from dsbuild.languages import LANGUAGE_NAMES

    lang, _, region = locale.partition("-")
    language = LANGUAGE_NAMES.get(lang.lower(), f"the language with code {lang}")
    if not region:
        return language, f"places where {language} is spoken"
    return language, REGION_NAMES.get(region.upper(), f"the region with code {region.upper()}")


# -- categories ---------------------------------------------------------------------------
def category_name(value: Any) -> str | None:
    """The schema's category for a spelling (`Cultural concept` → `cultural_concept`), or
    None when it is not one."""
    from dsbuild.schemas.cultural import NUANCE_CATEGORIES

    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    name = _CATEGORY_ALIASES.get(name, "_".join(name.replace("-", " ").split()))
    return name if name in NUANCE_CATEGORIES else None


# -- files --------------------------------------------------------------------------------
def _rows(path: Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a JSONL, CSV or TSV file."""
    if not path.is_file():
        raise InputError(f"{what} file {path} does not exist", "check the path", code="DSB301")
    suffix = path.suffix.lower()
    try:
        f = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(
            f"cannot read {what} file {path} ({exc.strerror})", "check the path", code="DSB301"
        ) from None
    try:
        with f:
            yield from _parse(f, path, suffix, what)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} file {path} is not UTF-8 ({exc.reason} at byte {exc.start})",
            "save it as UTF-8",
            code="DSB302",
        ) from None


def _parse(f, path: Path, suffix: str, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of an open JSONL/CSV/TSV file, by extension."""
    if suffix in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise InputError(
                    f"{path}:{n}: not a JSON object ({exc.msg})",
                    "write one JSON object per line",
                    code="DSB302",
                ) from None
            if not isinstance(row, dict):
                raise InputError(
                    f"{path}:{n}: a JSON {type(row).__name__}, not an object",
                    "write one JSON object per line",
                    code="DSB302",
                )
            yield n, row
    elif suffix in (".csv", ".tsv"):
        reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
        for n, row in enumerate(reader, 2):
            yield n, {k.strip(): v for k, v in row.items() if k is not None}
    else:
        raise InputError(
            f"{what} file {path} is not .jsonl, .csv or .tsv",
            "save it as JSONL (one object per line) or CSV with a header",
            code="DSB302",
        )


def _given_segments(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InputError(
                f"{where}: `segments` is not a JSON array",
                'write e.g. [{"surface": "Black Friday", "category": "holiday"}]',
                code="DSB303",
            ) from None
    if not isinstance(value, list) or not all(isinstance(s, dict) for s in value):
        raise InputError(
            f"{where}: `segments` must be a list of objects",
            "give each segment as {surface, category[, start, end, note]}",
            code="DSB303",
        )
    out = []
    for s in value:
        seg = {"surface": s.get("surface"), "category": s.get("category")}
        for key in ("start", "end", "note"):
            if s.get(key) not in (None, ""):
                seg[key] = s[key]
        out.append(seg)
    return out


def read_sources(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Source records `{id, lang, text, source, subject?, given: [segments]}` from a file, or
    the embedded sample when `path` is None. Ids are kept; a row without one gets
    `text-<sha256 of its text>`; a repeated id is an error."""
    origin = path if path is not None else sample_path()
    seen: dict[str, int] = {}
    count = 0
    for n, row in _rows(Path(origin), "sources"):
        where = f"{origin}:{n}"
        text = row.get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError(
                f"{where}: no `text`", "give every row a non-empty `text`", code="DSB303"
            )
        rid = row.get("id")
        rid = (
            str(rid).strip()
            if rid not in (None, "")
            else f"text-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        )
        if rid in seen:
            raise InputError(
                f"{where}: id {rid!r} is already used on line {seen[rid]}",
                "give every text its own id",
                code="DSB303",
            )
        seen[rid] = n
        lang = str(row.get("lang") or "en").strip()
        given = row.get("segments") if "segments" in row else row.get("nuances")
        record = {
            "id": rid,
            "lang": lang,
            "text": text,
            "source": row.get("source") or str(origin),
            "given": _given_segments(given, where),
        }
        if row.get("subject"):
            record["subject"] = row["subject"]
        count += 1
        yield record
    if count == 0:
        raise InputError(
            f"sources file {origin} holds no texts", "add one JSON object per line", code="DSB304"
        )


def read_lexicon(path: Path) -> list[dict[str, Any]]:
    """Lexicon entries `{surface, category, note}` (duplicates of a surface and category
    are read once)."""
    entries: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for n, row in _rows(Path(path), "lexicon"):
        where = f"{path}:{n}"
        surface = row.get("surface")
        if not isinstance(surface, str) or not surface.strip():
            raise InputError(
                f"{where}: no `surface`", "give every entry the phrase to find", code="DSB303"
            )
        category = category_name(row.get("category"))
        if category is None:
            from dsbuild.schemas.cultural import NUANCE_CATEGORIES

            raise InputError(
                f"{where}: category {row.get('category')!r} of {surface!r} is not "
                f"one of {', '.join(NUANCE_CATEGORIES)}",
                "use one of those names",
                code="DSB303",
            )
        key = (surface.strip(), category)
        if key in seen:
            continue
        seen.add(key)
        entries.append(
            {"surface": surface.strip(), "category": category, "note": (row.get("note") or None)}
        )
    if not entries:
        raise InputError(
            f"lexicon {path} holds no entries", "add one entry per line", code="DSB304"
        )
    return entries
