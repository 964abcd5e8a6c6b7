"""Sanity checks for the embedded PsiloQA passages (dsbuild/samples/psiloqa/passages.jsonl).

Standard library only. The file is the no-network default input of
`dsbuild psiloqa build`, so its shape (ids, urls, lengths, scripts) must hold
for every line: questions and hallucination checks are generated from it.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

PASSAGES = (
    Path(__file__).resolve().parents[2] / "dsbuild" / "samples" / "psiloqa" / "passages.jsonl"
)
FIELDS = {"id", "lang", "title", "url", "text"}
# Bounds on passage length: words for space-separated languages, characters for Chinese.
WORD_BOUNDS = (70, 160)
ZH_CHAR_BOUNDS = (120, 300)
# Minimum share of a passage's letters that must be in its language's script.
SCRIPT_SHARE = 0.9


@lru_cache(maxsize=1)
def _rows() -> list[dict]:
    lines = PASSAGES.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _script(ch: str) -> str:
    """Coarse script of one letter: 'cjk', 'arabic', 'latin' or 'other'."""
    code = ord(ch)
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "cjk"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic"
    if unicodedata.name(ch, "").startswith("LATIN"):
        return "latin"
    return "other"


def _expected_script(lang: str) -> str:
    return {"zh": "cjk", "ar": "arabic"}.get(lang, "latin")


def test_thirty_lines_each_a_json_object_with_the_fields() -> None:
    rows = _rows()
    assert len(rows) == 30
    for row in rows:
        assert set(row) == FIELDS, row.get("id")
        assert all(isinstance(row[key], str) and row[key] for key in FIELDS), row["id"]


def test_languages_and_order() -> None:
    rows = _rows()
    per_lang = Counter(row["lang"] for row in rows)
    assert sum(1 for n in per_lang.values() if n >= 5) >= 4, per_lang
    keys = [(row["lang"], row["title"]) for row in rows]
    assert keys == sorted(keys), "passages must be sorted by lang, then title"


def test_ids_and_urls() -> None:
    rows = _rows()
    ids = [row["id"] for row in rows]
    assert len(ids) == 30 and len(set(ids)) == len(ids)
    for row in rows:
        slug = row["title"].replace(" ", "_")
        assert row["id"] == f"{row['lang']}:{slug}"
        assert row["url"].startswith(f"https://{row['lang']}.wikipedia.org/wiki/"), row["id"]
        assert row["url"].endswith(slug), row["id"]


@pytest.mark.parametrize("index", range(30))
def test_text_is_a_clean_single_paragraph(index: int) -> None:
    row = _rows()[index]
    text = row["text"]
    assert text == text.strip(), row["id"]
    assert "\n" not in text and "\t" not in text, row["id"]
    assert "  " not in text, row["id"]
    assert "[" not in text and "]" not in text, f"{row['id']}: citation markers or markup"
    for field in ("title", "text"):
        assert unicodedata.normalize("NFC", row[field]) == row[field], (
            f"{row['id']}: {field} not NFC"
        )


@pytest.mark.parametrize("index", range(30))
def test_length_bounds(index: int) -> None:
    row = _rows()[index]
    if row["lang"] == "zh":
        low, high = ZH_CHAR_BOUNDS
        size = len(row["text"])
    else:
        low, high = WORD_BOUNDS
        size = len(row["text"].split())
    assert low <= size <= high, f"{row['id']}: {size} not in [{low}, {high}]"


@pytest.mark.parametrize("index", range(30))
def test_script_matches_language(index: int) -> None:
    row = _rows()[index]
    letters = [ch for ch in row["text"] if ch.isalpha()]
    counts = Counter(_script(ch) for ch in letters)
    share = counts[_expected_script(row["lang"])] / len(letters)
    assert share >= SCRIPT_SHARE, (
        f"{row['id']}: {share:.2f} of letters in the expected script ({counts})"
    )
