from __future__ import annotations

import random

import pytest

from dsbuild.errors import ConfigError
from dsbuild.gates.dedup import Deduplicator
from dsbuild.gates.dedup_bulk import dedup_all

BASE = "Which river flows through the old town of Tübingen in southern Germany?"


def test_exact_and_near_duplicates_with_first_ids():
    items = [
        ("a", BASE),
        ("b", BASE.upper() + "!"),
        ("c", BASE.replace("southern", "south")),
        ("d", "Who wrote the first grammar of the Finnish language?"),
        ("e", ""),
    ]
    verdicts = dedup_all(items)
    assert [(v.reason, v.duplicate_of) for v in verdicts] == [
        ("", None),
        ("duplicate_exact", "a"),
        ("near_duplicate", "a"),
        ("", None),
        ("", None),
    ]


def test_repeat_of_a_dropped_text_points_at_the_kept_one():
    near = BASE.replace("southern", "south")
    verdicts = dedup_all([("a", BASE), ("b", near), ("c", near.lower())])
    assert [v.duplicate_of for v in verdicts] == [None, "a", "a"]
    assert verdicts[2].reason == "near_duplicate"


def test_references_count_as_seen_first():
    verdicts = dedup_all(
        [("x", BASE.lower()), ("y", "Something else entirely, really.")], references=[("q1", BASE)]
    )
    assert verdicts[0].duplicate_of == "ref:q1" and verdicts[1].keep


def test_exact_only():
    verdicts = dedup_all(
        [("a", BASE), ("b", BASE.replace("southern", "south")), ("c", BASE)], near=False
    )
    assert [v.reason for v in verdicts] == ["", "", "duplicate_exact"]


def test_same_verdicts_as_the_streaming_deduplicator():
    rng = random.Random(3)
    words = [f"w{i}x{rng.randint(0, 999)}" for i in range(300)]
    items = []
    for i in range(2000):
        if i > 5 and rng.random() < 0.3:
            src = list(items[rng.randrange(len(items))][1].split())
            src[rng.randrange(len(src))] = rng.choice(words)
            items.append((f"r{i}", " ".join(src)))
        else:
            items.append((f"r{i}", " ".join(rng.choices(words, k=rng.randint(8, 16)))))
    stream = Deduplicator()
    expected = [stream.check(rid, text) for rid, text in items]
    got = dedup_all(items)
    assert sum(not v.keep for v in got) > 100
    mismatches = [
        (e.reason, e.duplicate_of, g.reason, g.duplicate_of)
        for e, g in zip(expected, got)
        if (e.reason, e.duplicate_of) != (g.reason, g.duplicate_of)
    ]
    assert len(mismatches) <= 2, mismatches  # only repeats of dropped texts may differ


def test_bad_threshold():
    with pytest.raises(ConfigError, match="DSB103"):
        dedup_all([("a", "x")], threshold=1.5)
