"""Card pieces: size buckets, Hub language codes, licences computed from the sources, and
the template slots."""

from __future__ import annotations

import pytest

from dsbuild.hub.card import card_template, hub_languages, size_category
from dsbuild.hub.hooks import dataset_sources
from dsbuild.hub.licenses import combined_license


def test_size_categories():
    assert size_category(0) == "n<1K" and size_category(999) == "n<1K"
    assert size_category(1000) == "1K<n<10K" and size_category(250_000) == "100K<n<1M"


def test_hub_languages_are_base_codes_once():
    assert hub_languages(["ja-JP", "es-MX", "zh-hant", "zh", "en", "EN"]) == [
        "en",
        "es",
        "ja",
        "zh",
    ]


@pytest.mark.parametrize(
    "markers, expected",
    [
        (["sample"], "apache-2.0"),
        (["dump", "sample"], "cc-by-sa-4.0"),
        (["api"], "cc-by-sa-4.0"),
        (["file", "dump"], "other"),
        ([None], "other"),
    ],
)
def test_psiloqa_licence_from_row_sources(markers, expected):
    rows = [{"source": m} for m in markers]
    assert combined_license(dataset_sources("psiloqa", rows, {})) == expected


def test_entitycs_always_credits_wikidata():
    sample = dataset_sources("entitycs", [], {"options": {}})
    dump = dataset_sources("entitycs", [], {"options": {"wikipedia": "enwiki.xml.bz2"}})
    assert [s.key for s in sample] == ["wikidata", "dsbuild-sample"]
    assert [s.key for s in dump] == ["wikipedia", "wikidata"]
    assert combined_license(dump) == "cc-by-sa-4.0" and combined_license(sample) == "apache-2.0"


@pytest.mark.parametrize("dataset", ["psiloqa", "entitycs", "medrect", "cultural"])
def test_every_template_has_metadata_and_the_sections(dataset):
    meta, body = card_template(dataset)
    assert meta["pretty_name"] and meta["task_categories"]
    for slot in (
        "build",
        "models",
        "prompts",
        "statistics",
        "rejects",
        "agreement",
        "license",
        "configs",
        "files",
    ):
        assert "{{ " + slot + " }}" in body, slot
    assert "## Limitations" in body and "## Citation" in body


def test_embedded_medrect_vignettes_are_the_projects_own_text():
    import json

    from dsbuild.hub.hooks import dataset_sources
    from dsbuild.hub.licenses import SAMPLE, UNKNOWN

    rows = [{"metadata": json.dumps({"source": "embedded"})}]
    assert dataset_sources("medrect", rows, {}) == [SAMPLE]
    rows = [{"metadata": json.dumps({"source": "jmle.json"})}]
    assert dataset_sources("medrect", rows, {}) == [UNKNOWN]
