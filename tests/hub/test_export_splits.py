"""Grouped, seeded, order-independent split assignment."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from dsbuild.errors import ConfigError
from dsbuild.hub.splits import assign_split, parse_proportions, split_rows


def _rows(n_groups: int = 300, per_group: int = 3):
    return [
        {"id": f"{g}-{i}", "passage_id": f"p{g}", "lang": "en"}
        for g in range(n_groups)
        for i in range(per_group)
    ]


def test_groups_never_straddle_splits_and_shares_are_close():
    parts = split_rows("psiloqa", _rows(), (0.8, 0.1, 0.1), seed=0)
    seen = {}
    for split, rows in parts.items():
        for r in rows:
            assert seen.setdefault(r["passage_id"], split) == split
    shares = {s: len(r) / 900 for s, r in parts.items()}
    assert abs(shares["train"] - 0.8) < 0.07 and abs(shares["test"] - 0.1) < 0.05


def test_same_seed_same_split_in_any_order_other_seed_differs():
    rows = _rows()
    first = split_rows("psiloqa", rows, (0.8, 0.1, 0.1), seed=0)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    again = split_rows("psiloqa", shuffled, (0.8, 0.1, 0.1), seed=0)
    assert {s: sorted(r["id"] for r in v) for s, v in first.items()} == {
        s: sorted(r["id"] for r in v) for s, v in again.items()
    }
    other = split_rows("psiloqa", rows, (0.8, 0.1, 0.1), seed=1)
    assert {r["id"] for r in other["test"]} != {r["id"] for r in first["test"]}


def test_adding_groups_never_moves_old_ones():
    small = {k: assign_split(k, (0.7, 0.15, 0.15), 0) for k in map(str, range(100))}
    assert all(assign_split(k, (0.7, 0.15, 0.15), 0) == v for k, v in small.items())


def test_zero_shares_and_empty_splits_are_left_out():
    parts = split_rows("entitycs", [{"sentence_id": str(i)} for i in range(50)], (1.0, 0.0, 0.0))
    assert list(parts) == ["train"]
    assert Counter(assign_split(str(i), (0.0, 0.0, 1.0)) for i in range(50)) == {"test": 50}


@pytest.mark.parametrize("text", ["0.8,0.1", "0.8,0.3,0.1", "a,b,c", "-0.1,0.6,0.5"])
def test_bad_proportions_are_config_errors(text):
    with pytest.raises(ConfigError) as exc:
        parse_proportions(text)
    assert exc.value.code == "DSB103" and "--splits" in str(exc.value)


def test_proportions_parse():
    assert parse_proportions("0.7, 0.2, 0.1") == (0.7, 0.2, 0.1)
    assert parse_proportions(None) == (0.8, 0.1, 0.1)
