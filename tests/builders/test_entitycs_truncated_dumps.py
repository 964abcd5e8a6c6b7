"""A compressed dump cut short stops an EntityCS build with one line naming the byte
offset (issue 15): before, the build finished with exit 0 on whatever was read."""

from __future__ import annotations

import bz2
import gzip

import pytest

from dsbuild.builders.entitycs import sample_paths


def cut(data: bytes, compress) -> bytes:
    packed = compress(data)
    return packed[: len(packed) // 2]


@pytest.mark.parametrize("compress,suffix", [(bz2.compress, "bz2"), (gzip.compress, "gz")])
def test_truncated_wikipedia_dump(cli, tmp_path, compress, suffix):
    wiki, wikidata = sample_paths()
    dump = tmp_path / f"enwiki.xml.{suffix}"
    dump.write_bytes(cut(wiki.read_bytes(), compress))
    code, _, err = cli(
        "entitycs",
        "build",
        "-o",
        str(tmp_path / "run"),
        "--wikipedia",
        str(dump),
        "--wikidata",
        str(wikidata),
        "--no-progress",
        "--lang",
        "de",
    )
    assert code == 3, err
    assert "DSB303" in err and "cut short" in err and "at byte" in err


def test_truncated_wikidata_dump(cli, tmp_path):
    wiki, wikidata = sample_paths()
    dump = tmp_path / "wikidata.json.bz2"
    dump.write_bytes(cut(wikidata.read_bytes(), bz2.compress))
    code, _, err = cli(
        "entitycs",
        "build",
        "-o",
        str(tmp_path / "run"),
        "--wikipedia",
        str(wiki),
        "--wikidata",
        str(dump),
        "--no-progress",
        "--lang",
        "de",
    )
    assert code == 3, err
    assert "DSB303" in err and "cut short" in err and "byte" in err


def test_a_file_of_another_dataset_is_no_wikidata_dump(cli, tmp_path):
    """The raw-bytes title prefilter skipped every line of a foreign file, so a Mu-SHROOM
    file given as --wikidata built 0 labels with exit 0; the first line is checked first."""
    wiki, _ = sample_paths()
    foreign = tmp_path / "mushroom.jsonl"
    foreign.write_text(
        '{"id": "val-en-1", "lang": "EN", "model_input": "Q?", "model_output_text": "A."}\n'
    )
    code, _, err = cli(
        "entitycs",
        "build",
        "-o",
        str(tmp_path / "run"),
        "--wikipedia",
        str(wiki),
        "--wikidata",
        str(foreign),
        "--no-progress",
        "--lang",
        "de",
    )
    assert code == 3, err
    assert "DSB302" in err and "is not a Wikidata JSON dump" in err
