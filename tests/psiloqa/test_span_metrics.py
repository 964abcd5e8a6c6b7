from __future__ import annotations

import json
import math
import random
from typing import ClassVar

import pytest

from dsbuild.errors import InputError
from dsbuild.metrics.spans import (
    average_precision,
    evaluate,
    iou,
    rankdata,
    score_item,
    soft_correlation,
    spearman,
)


def _item(rid, text, hard=None, soft=None, lang="EN"):
    item = {"id": rid, "lang": lang, "model_output_text": text}
    if hard is not None:
        item["hard_labels"] = hard
    if soft is not None:
        item["soft_labels"] = [{"start": s, "end": e, "prob": p} for s, e, p in soft]
    return item


class TestIoU:
    def test_empty_and_empty_is_one(self):
        assert iou(set(), set()) == 1.0

    def test_empty_prediction_against_gold_is_zero(self):
        assert iou(set(), {1, 2}) == 0.0
        assert iou({1, 2}, set()) == 0.0

    def test_partial(self):
        # {4..8} vs {6..9}: 3 shared of 6 in the union
        assert iou(set(range(6, 10)), set(range(4, 9))) == 0.5


class TestSpearman:
    def test_average_ranks_for_ties(self):
        assert rankdata([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
        assert rankdata([0.5, 0.0, 0.5, 0.0, 0.5]) == [4.0, 1.5, 4.0, 1.5, 4.0]

    def test_ties_by_hand(self):
        # ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]; both means 2.5
        # sum dx*dy = 2.25 + 0 + 0 + 2.25 = 4.5; sum dx^2 = 4.5; sum dy^2 = 5
        assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(
            4.5 / math.sqrt(4.5 * 5), abs=1e-15
        )

    def test_perfect_and_reversed_and_constant(self):
        assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
        assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
        assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))

    def test_agrees_with_scipy_on_random_tied_vectors(self):
        stats = pytest.importorskip("scipy.stats")
        rng = random.Random(5)
        compared = 0
        for _ in range(200):
            n = rng.randint(3, 60)
            x = [rng.choice([0.0, 0.1, 0.25, 0.5, 1.0]) for _ in range(n)]
            y = [rng.choice([0.0, 1 / 3, 2 / 3, 1.0]) for _ in range(n)]
            if len(set(x)) > 1 and len(set(y)) > 1:
                assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).correlation, abs=1e-12)
                compared += 1
        assert compared >= 150


class TestSoftCorrelation:
    def test_constant_gold_and_constant_prediction_is_one(self):
        assert soft_correlation([0.0] * 5, [0.0] * 5) == 1.0
        assert soft_correlation([0.7] * 5, [0.0] * 5) == 1.0

    def test_constant_gold_and_varying_prediction_is_zero(self):
        assert soft_correlation([0.0, 0.9, 0.0], [0.0, 0.0, 0.0]) == 0.0

    def test_varying_gold_and_constant_prediction_is_zero(self):
        assert soft_correlation([0.0, 0.0, 0.0], [0.0, 0.9, 0.0]) == 0.0

    def test_constancy_is_decided_at_8_decimals(self):
        assert soft_correlation([0.1, 0.1 + 1e-10, 0.1], [0.0, 0.0, 0.0]) == 1.0

    def test_empty_text(self):
        assert soft_correlation([], []) == 1.0


class TestAveragePrecision:
    def test_by_hand(self):
        # retrieve {6..9} at 1.0: 3 of 4 gold hits, P=0.75, R=0.6; then all 10: P=0.5, R=1.0
        scores = [0.0] * 6 + [1.0] * 4
        assert average_precision(scores, {4, 5, 6, 7, 8}) == pytest.approx(0.6 * 0.75 + 0.4 * 0.5)

    def test_ties_enter_together(self):
        # two characters tied at 0.9, one of them gold: P = 1/2 whatever the order
        assert average_precision([0.9, 0.9], {1}) == 0.5
        assert average_precision([0.9, 0.9], {0}) == 0.5

    def test_empty_gold_is_undefined_and_all_zero_is_the_gold_share(self):
        assert average_precision([0.3, 0.0], set()) is None
        assert average_precision([0.0] * 8, {1, 2}) == pytest.approx(2 / 8)

    def test_graded_ranking(self):
        # order: idx2 (0.9, gold) P=1 R=.5; idx0 (0.5) P=1/2; idx1 (0.2, gold) P=2/3 R=1
        assert average_precision([0.5, 0.2, 0.9], {1, 2}) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


class TestScoreItem:
    def test_emoji_and_cjk_count_code_points(self):
        text = "🐱猫が好き😀"  # 6 code points (8 UTF-16 units)
        gold = _item("g", text, [[1, 3]], [(1, 3, 0.8)])
        pred = _item("g", text, [[2, 4]], [(2, 4, 0.7)])
        s = score_item(pred, gold)
        assert s.iou == pytest.approx(1 / 3)  # {1,2} vs {2,3}
        # binary vectors: both=1 (idx 2), gold only=1, pred only=1, neither=3
        # -> phi=(1*3-1*1)/sqrt(2*4*2*4)
        assert s.cor == pytest.approx(0.25)
        # at 0.7: {2,3}, 1 hit, P=.5 R=.5; at 0: all 6, P=2/6 R=1
        assert s.ap == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 6)
        assert s.lang == "en"

    def test_missing_hard_labels_come_from_soft_and_missing_soft_from_hard(self):
        gold = _item("g", "abcdef", [[0, 2]], [(0, 2, 0.9), (2, 4, 0.4)])
        only_soft = _item("g", "abcdef", None, [(0, 3, 0.6), (3, 4, 0.3)])
        assert score_item(only_soft, gold).iou == pytest.approx(2 / 3)  # hard {0,1,2}
        only_hard = _item("g", "abcdef", [[0, 2]])
        s = score_item(only_hard, gold)
        assert s.iou == 1.0 and s.ap == 1.0
        # pred [1,1,0,0,0,0] vs gold [.9,.9,.4,.4,0,0]: ranks pred [5.5,5.5,2.5,2.5,2.5,2.5],
        # gold [5.5,5.5,3.5,3.5,1.5,1.5]; dx=[2,2,-1,-1,-1,-1], dy=[2,2,0,0,-2,-2]
        # sum dx*dy = 4+4+0+0+2+2 = 12, sum dx^2 = 12, sum dy^2 = 16
        assert s.cor == pytest.approx(12 / math.sqrt(12 * 16))

    def test_errors_name_the_item(self):
        gold = _item("g1", "abc", [[0, 1]], [(0, 1, 1.0)])
        with pytest.raises(InputError, match="different model_output_text"):
            score_item(_item("g1", "abd", [[0, 1]]), gold)
        with pytest.raises(InputError, match="predicted item 'g1': hard label \\[2, 9\\)"):
            score_item(_item("g1", "abc", [[2, 9]]), gold)
        with pytest.raises(InputError, match="neither soft_labels nor hard_labels"):
            score_item({"id": "g1"}, gold)


class TestEvaluate:
    GOLD: ClassVar[list[dict]] = [
        _item("a", "hello world", [[6, 11]], [(6, 11, 1.0)], lang="EN"),
        _item("b", "no hallucination", [], [], lang="EN"),
        _item("c", "你好世界", [[2, 4]], [(2, 4, 0.75)], lang="ZH"),
    ]

    def test_missing_ids_are_an_error_naming_them(self):
        with pytest.raises(InputError, match="2 gold id\\(s\\) have no prediction: 'b', 'c'"):
            evaluate([self.GOLD[0]], self.GOLD)

    def test_allow_missing_scores_empty_predictions_and_extra_are_ignored(self):
        extra = _item("zzz", "x", [], [])
        result = evaluate([self.GOLD[0], extra], self.GOLD, allow_missing=True)
        scores = {s.id: s for s in result.items}
        assert (scores["b"].iou, scores["b"].cor, scores["b"].ap) == (1.0, 1.0, None)
        assert (scores["c"].iou, scores["c"].cor, scores["c"].ap) == (0.0, 0.0, 0.5)  # 2 of 4 chars
        out = result.to_dict()
        assert out["missing"] == 2 and out["extra"] == 1
        assert out["overall"] == {
            "iou": pytest.approx(2 / 3),
            "cor": pytest.approx(2 / 3),
            "ap": pytest.approx(0.75),
            "n": 3,
            "n_ap": 2,
        }
        assert out["per_language"]["en"] == {"iou": 1.0, "cor": 1.0, "ap": 1.0, "n": 2, "n_ap": 1}
        assert out["per_language"]["zh"]["n"] == 1

    def test_duplicate_ids_are_an_error(self):
        with pytest.raises(InputError, match="id 'a' twice"):
            evaluate(self.GOLD + [self.GOLD[0]], self.GOLD)


def _fixture_items(shared_fixtures):
    items = []
    for path in sorted((shared_fixtures / "mushroom").glob("*-val.*.jsonl")):
        items += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return items


def _perturb(items):
    """Every span shifted +2 characters (clipped); every 5th item's soft probabilities zeroed."""
    out = []
    for k, it in enumerate(items):
        n = len(it["model_output_text"])
        hard = [[min(s + 2, n), min(e + 2, n)] for s, e in it["hard_labels"]]
        soft = [
            {
                "start": min(x["start"] + 2, n),
                "end": min(x["end"] + 2, n),
                "prob": 0.0 if k % 5 == 0 else x["prob"],
            }
            for x in it["soft_labels"]
        ]
        out.append(
            {
                "id": it["id"],
                "model_output_text": it["model_output_text"],
                "hard_labels": [h for h in hard if h[0] < h[1]],
                "soft_labels": [x for x in soft if x["start"] < x["end"]],
            }
        )
    return out


@pytest.mark.fixtures
def test_gold_against_itself_scores_one_everywhere(shared_fixtures):
    items = _fixture_items(shared_fixtures)
    out = evaluate(items, items).to_dict()
    assert out["overall"] == {"iou": 1.0, "cor": 1.0, "ap": 1.0, "n": 499, "n_ap": 478}
    assert len(out["per_language"]) == 10
    assert all(v["iou"] == 1.0 and v["cor"] == 1.0 for v in out["per_language"].values())


@pytest.mark.fixtures
def test_perturbed_prediction_scores_checked_by_hand(shared_fixtures):
    items = _fixture_items(shared_fixtures)
    result = evaluate(_perturb(items), items)
    scores = {s.id: s for s in result.items}
    # val-ar-17 "يوم الأحد.": gold [4,9) p=1.0, pred [6,10) p=1.0 -> IoU 3/6;
    # phi (3*4-2*1)/sqrt(5*5*4*6)
    s = scores["val-ar-17"]
    assert (s.iou, s.cor, s.ap) == (0.5, pytest.approx(10 / math.sqrt(600)), pytest.approx(0.65))
    # val-en-37 " Häfen\n": pred soft zeroed -> constant vs varying gold -> Cor 0; AP = 5/7
    s = scores["val-en-37"]
    assert (s.iou, s.cor, s.ap) == (0.5, 0.0, pytest.approx(5 / 7))
    # val-en-39 " 12 Octobre\n": {1..10} vs {3..11} -> 8/11; phi (8*1-2*1)/sqrt(10*2*9*3)
    s = scores["val-en-39"]
    assert s.iou == pytest.approx(8 / 11) and s.cor == pytest.approx(6 / math.sqrt(540))
    assert s.ap == pytest.approx(0.8 * 8 / 9 + 0.2 * 10 / 12)
    overall = result.overall()
    assert overall["iou"] == pytest.approx(0.7295618124, abs=1e-9)
    assert overall["cor"] == pytest.approx(0.6218690242, abs=1e-9)
    assert overall["n"] == 499
