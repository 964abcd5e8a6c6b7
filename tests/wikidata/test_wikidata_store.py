"""The label store: only needed QIDs and languages, no `mul`, redirects, bounded memory."""

from __future__ import annotations

import bz2
import json
import pickle
import sqlite3
import tracemalloc
from pathlib import Path

import pytest

from dsbuild.errors import ConfigError, InputError
from dsbuild.wikidata.store import (
    EntityLabels,
    LabelStore,
    MemoryLabelStore,
    build_label_store,
    build_label_store_from_api,
    normalize_title,
)

FIXTURE = Path("wikidata") / "wikidata-dump-head50-2017.json"


def item(n: int, title: str | None, labels: dict) -> dict:
    """An item in the dump's shape; `labels` values are strings or full label entries."""
    entries = {
        k: v if isinstance(v, dict) else {"language": k, "value": v} for k, v in labels.items()
    }
    sitelinks = {"enwiki": {"site": "enwiki", "title": title, "badges": []}} if title else {}
    return {
        "type": "item",
        "id": f"Q{n}",
        "labels": entries,
        "descriptions": {},
        "aliases": {},
        "claims": {},
        "sitelinks": sitelinks,
    }


def write_dump(path: Path, items: list[dict], *, close: bool = True) -> Path:
    lines = [json.dumps(i, separators=(",", ":")).encode() for i in items]
    path.write_bytes(b"[\n" + b",\n".join(lines) + b"\n" + (b"]\n" if close else b""))
    return path


ITEMS = [
    item(1, "Alpha", {"en": "Alpha", "de": "Alpha-de", "fr": "Alpha-fr", "it": "Alpha-it"}),
    item(2, "Beta", {"en": "Beta", "de": "Beta-de", "ja": "ベータ"}),
    # mul is a default for every language, not a translation; a fallback entry neither.
    item(
        3,
        "Gamma",
        {
            "mul": "Gamma",
            "fr": "Gamma-fr",
            "de": {"language": "mul", "value": "Gamma", "for-language": "de"},
        },
    ),
    item(4, "Delta", {"en": "Delta", "de": "Delta-de"}),
    item(5, None, {"en": "No enwiki", "de": "Kein enwiki"}),
    item(6, 'Quote "q" & Ünïcode', {"en": "Q", "de": "Q-de"}),
]


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    return write_dump(tmp_path / "dump.json", ITEMS)


def test_only_needed_qids_and_languages_are_stored(dump: Path, tmp_path: Path) -> None:
    store = build_label_store(
        dump, tmp_path / "s.sqlite", titles=["Alpha", "Gamma", "Nowhere"], languages=["de", "fr"]
    )
    assert isinstance(store, LabelStore) and len(store) == 2
    assert store.languages == ("de", "fr")
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        rows = db.execute("SELECT qid, title, en, labels FROM entities ORDER BY qid").fetchall()
    assert rows == [
        (1, "Alpha", "Alpha", '{"de":"Alpha-de","fr":"Alpha-fr"}'),
        (3, "Gamma", None, '{"fr":"Gamma-fr"}'),
    ]
    assert store.info["titles_needed"] == 3 and store.info["dump"]["skipped"] == 4


def test_mul_labels_are_not_translations(dump: Path) -> None:
    store = build_label_store(dump, None, titles=["Gamma"], languages=["de", "fr", "it"])
    assert store.labels("Q3") == {"fr": "Gamma-fr"}  # no de from mul, no de fallback
    assert store.english_label("Q3") is None  # mul does not stand in for English either
    with pytest.raises(ConfigError, match="mul"):
        build_label_store(dump, None, titles=["Gamma"], languages=["de", "mul"])


def test_lookups_by_title_qid_and_batch(dump: Path, tmp_path: Path) -> None:
    titles = ["Alpha", "Beta", 'Quote "q" & Ünïcode']
    with build_label_store(
        dump, tmp_path / "s.sqlite", titles=titles, languages=["de", "ja"]
    ) as store:
        assert store.qid_for_title("Beta") == "Q2"
        assert store.qid_for_title("beta") == "Q2"  # normalized like a wiki link target
        assert store.qid_for_title("Delta") is None  # in the dump but not needed
        assert store.labels("Q2") == {"de": "Beta-de", "ja": "ベータ"}
        assert store.labels("Q4") == {} and store.labels("not a qid") == {}
        assert store.entity("Q1") == EntityLabels("Q1", "Alpha", "Alpha", {"de": "Alpha-de"})
        got = store.labels_for_titles(["Alpha", "Nope", 'Quote_"q"_&_Ünïcode', "Alpha"])
        assert got == {
            "Alpha": ("Q1", {"de": "Alpha-de"}),
            'Quote_"q"_&_Ünïcode': ("Q6", {"de": "Q-de"}),
        }


def test_redirects_are_followed(dump: Path, tmp_path: Path) -> None:
    redirects = {"A": "Alpha", "AA": "A", "Loop": "Loop2", "Loop2": "Loop"}
    for path in (tmp_path / "s.sqlite", None):
        store = build_label_store(
            dump, path, titles=["AA", "Loop"], languages=["de"], redirects=redirects
        )
        assert len(store) == 1  # Alpha, needed only through the double redirect
        assert store.qid_for_title("AA") == "Q1"
        assert store.labels_for_titles(["AA", "Loop"]) == {"AA": ("Q1", {"de": "Alpha-de"})}


def test_memory_variant_and_load_agree(dump: Path, tmp_path: Path) -> None:
    kw = {"titles": ["Alpha", "Beta", "Gamma", "Zeta"], "languages": ["de", "fr"]}
    disk = build_label_store(dump, tmp_path / "s.sqlite", **kw)
    mem = build_label_store(dump, None, **kw)
    assert isinstance(mem, MemoryLabelStore)
    loaded = disk.load()
    assert list(disk) == list(mem) == list(loaded)
    for s in (disk, mem, loaded):
        assert s.labels_for_titles(["alpha", "Gamma", "Zeta"]) == {
            "alpha": ("Q1", {"de": "Alpha-de", "fr": "Alpha-fr"}),
            "Gamma": ("Q3", {"fr": "Gamma-fr"}),
        }


def test_store_survives_pickling(dump: Path, tmp_path: Path) -> None:
    path = tmp_path / "a folder" / "store #1?.sqlite"  # characters a file: URI must quote
    store = build_label_store(dump, path, titles=["Beta"], languages=["de"])
    again = pickle.loads(pickle.dumps(store))
    assert again.labels("Q2") == {"de": "Beta-de"} and again.path == store.path


def test_answer_cache_is_bounded(dump: Path, tmp_path: Path) -> None:
    build_label_store(dump, tmp_path / "s.sqlite", titles=["Alpha", "Beta"], languages=["de"])
    store = LabelStore.open(tmp_path / "s.sqlite", cache_size=5)
    names = [f"Missing {i}" for i in range(20)] + ["Alpha"]
    assert store.labels_for_titles(names) == {"Alpha": ("Q1", {"de": "Alpha-de"})}
    assert 0 < len(store._cache) <= 5
    assert store.labels_for_titles(["Alpha"]) == {"Alpha": ("Q1", {"de": "Alpha-de"})}


def test_many_titles_in_one_batch(tmp_path: Path) -> None:
    items = [item(n, f"Page {n}", {"en": f"P{n}", "de": f"S{n}"}) for n in range(1, 6001)]
    dump = write_dump(tmp_path / "d.json", items)
    store = build_label_store(
        dump,
        tmp_path / "s.sqlite",
        languages=["de"],
        titles=[f"Page {n}" for n in range(1, 6001, 2)],
    )
    got = store.labels_for_titles([f"Page {n}" for n in range(1, 6001)])
    assert len(got) == 3000 and got["Page 5999"] == ("Q5999", {"de": "S5999"})


def test_duplicate_titles_and_ids(tmp_path: Path) -> None:
    # A dump is written over hours: a sitelink can move, an item can appear twice.
    items = [
        item(9, "Moved", {"de": "neu"}),
        item(4, "Moved", {"de": "alt"}),
        item(5, "Twice", {"de": "eins"}),
        item(5, "Twice", {"de": "zwei"}),
    ]
    store = build_label_store(
        write_dump(tmp_path / "d.json", items),
        tmp_path / "s.sqlite",
        titles=["Moved", "Twice"],
        languages=["de"],
    )
    assert store.labels_for_titles(["Moved", "Twice"]) == {
        "Moved": ("Q4", {"de": "alt"}),
        "Twice": ("Q5", {"de": "zwei"}),
    }
    assert len(store) == 2 and store.labels("Q9") == {}


def test_damaged_dump_still_builds_and_says_so(tmp_path: Path) -> None:
    data = write_dump(tmp_path / "d.json", ITEMS, close=False).read_bytes()
    # Q2 malformed where the store reads it (labels; sitelinks intact so it passes the
    # prefilter: lines the prefilter drops are never parsed, so never counted).
    cut = data.replace(b'"value":"Beta"', b'"value":"Beta')
    cut = cut[: cut.rindex(b'"claims"')]  # the last line (Q6) cut short
    (tmp_path / "d.json").write_bytes(cut)
    problems = []
    store = build_label_store(
        tmp_path / "d.json",
        None,
        languages=["de"],
        titles=["Alpha", "Beta", 'Quote "q" & Ünïcode'],
        on_problem=problems.append,
    )
    assert [e.qid for e in store] == ["Q1"]
    assert store.info["dump"]["malformed"] == 1 and store.info["dump"]["truncated"]
    assert [p.kind for p in problems] == ["malformed", "truncated", "missing_end"]


def test_failed_build_leaves_old_store_and_no_temp_file(dump: Path, tmp_path: Path) -> None:
    target = tmp_path / "s.sqlite"
    build_label_store(dump, target, titles=["Alpha"], languages=["de"]).close()
    before = target.read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_bytes(dump.read_bytes().replace(b'"value":"Beta"', b'"value":"Beta'))

    def stop(problem):
        raise RuntimeError(f"stop at {problem.kind}")

    with pytest.raises(RuntimeError, match="stop at malformed"):
        build_label_store(bad, target, titles=["Alpha", "Beta"], languages=["de"], on_problem=stop)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "dump.json", "s.sqlite"]


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        LabelStore.open(tmp_path / "none.sqlite")
    assert err.value.code == "DSB301"
    (tmp_path / "x.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(InputError) as err:
        LabelStore.open(tmp_path / "x.sqlite")
    assert err.value.code == "DSB302"


def test_normalize_title() -> None:
    assert normalize_title("george_washington#Early life") == "George washington"
    assert normalize_title("  São   Paulo ") == "São Paulo"
    assert normalize_title("ßeta") == "ßeta"  # no two-letter upper case
    assert (
        normalize_title("") is None
    )  # the one rule (dsbuild.wiki.titles): None when no title is left


def test_memory_is_bounded_on_a_large_input(tmp_path: Path) -> None:
    """~40 MB of dump streamed: peak Python memory stays a small fraction of it."""
    path = tmp_path / "big.json"
    pad = "x" * 1000
    with open(path, "wb") as f:
        f.write(b"[\n")
        for n in range(1, 40_001):
            e = item(n, f"Page {n}", {"en": f"P{n}", "de": f"S{n}", "fr": f"F{n}"})
            e["descriptions"] = {"en": {"language": "en", "value": pad}}
            f.write(json.dumps(e, separators=(",", ":")).encode() + b",\n")
        f.write(b"]\n")
    size = path.stat().st_size
    assert size > 40_000_000
    titles = [f"Page {n}" for n in range(1, 40_001, 10)]
    tracemalloc.start()
    try:
        store = build_label_store(path, tmp_path / "s.sqlite", titles=titles, languages=["de"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == 4000
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.0f} MB input"


# --- the real dump excerpt ------------------------------------------------------------------


@pytest.mark.fixtures
@pytest.mark.parametrize("packed", [False, True])
def test_real_dump_head(shared_fixtures: Path, tmp_path: Path, packed: bool) -> None:
    src = shared_fixtures / FIXTURE
    if packed:
        src = tmp_path / "head.json.bz2"
        src.write_bytes(bz2.compress((shared_fixtures / FIXTURE).read_bytes()))
    titles = [
        "France",
        "Scotland",
        "George Washington",
        "Universe",
        "Belgium",
        "Poznań",
        "Sebastián Piñera",
        "Atlantis (not there)",
    ]
    store = build_label_store(
        src, tmp_path / "s.sqlite", titles=titles, languages=["de", "fr", "ja", "pl", "es"]
    )
    assert len(store) == 7
    assert store.info["dump"]["closed"] is False  # the excerpt has no closing ]
    got = store.labels_for_titles(titles)
    assert got["France"][0] == "Q142" and got["France"][1]["de"] == "Frankreich"
    assert got["Scotland"] == (
        "Q22",
        {
            "de": "Schottland",
            "fr": "Écosse",
            "ja": "スコットランド",
            "pl": "Szkocja",
            "es": "Escocia",
        },
    )
    assert got["George Washington"][0] == "Q23"
    assert got["Universe"][0] == "Q1" and got["Belgium"][0] == "Q31"
    assert got["Poznań"][0] == "Q268" and got["Sebastián Piñera"][0] == "Q306"
    assert "Atlantis (not there)" not in got
    assert store.english_label("Q142") == "France"
    assert set().union(*(labels for _, labels in got.values())) <= {"de", "fr", "ja", "pl", "es"}


# --- from the API ---------------------------------------------------------------------------


class FakeClient:
    """Stands in for WikidataClient: entities by enwiki title, one redirect."""

    def __init__(self) -> None:
        self.asked: list[tuple[list[str], tuple[str, ...]]] = []

    def entities_by_titles(self, titles, *, languages=None):
        self.asked.append((list(titles), tuple(sorted(languages))))
        db = {"Alpha": ITEMS[0], "Gamma": ITEMS[2], "A": ITEMS[0]}
        return {t: db[t] for t in titles if t in db}


def test_build_from_api(tmp_path: Path) -> None:
    client = FakeClient()
    store = build_label_store_from_api(
        tmp_path / "s.sqlite",
        languages=["de", "fr"],
        titles=["alpha", "Gamma", "A", "Nope"],
        client=client,
    )
    assert client.asked == [(["A", "Alpha", "Gamma", "Nope"], ("de", "en", "fr"))]
    assert store.info["source"] == "wikidata-api" and len(store) == 2
    assert store.labels_for_titles(["alpha", "Gamma", "A"]) == {
        "alpha": ("Q1", {"de": "Alpha-de", "fr": "Alpha-fr"}),
        "Gamma": ("Q3", {"fr": "Gamma-fr"}),
        "A": ("Q1", {"de": "Alpha-de", "fr": "Alpha-fr"}),
    }
    assert store.english_label("Q1") == "Alpha"
