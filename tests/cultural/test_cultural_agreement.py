from __future__ import annotations

import math
import random

import pytest

from dsbuild.errors import ConfigError
from dsbuild.metrics.agreement import (
    agreement_summary,
    fleiss_kappa,
    gwet_ac2,
    krippendorff_alpha,
    weight_matrix,
)

# Units x raters; None = the rater did not rate the unit (missing), "NA" = "not translated".
SMALL = [
    [3, 3, 2],
    ["NA", "NA", 1],
    [2, None, 2],
    [0, 1, None],
    [None, None, 3],  # one rating: not pairable
]


class TestHandComputed:
    """Values worked out by hand in the comments (exact fractions)."""

    def test_nominal_alpha_keeps_na_as_a_category(self):
        # Coincidences: o33=1 o32=o23=1 | oNA,NA=1 oNA,1=o1,NA=1 | o22=2 | o01=o10=1; n=10,
        # n_c = {0:1, 1:2, 2:3, 3:2, NA:2}. Disagreeing pairs 6; sum_{c!=k} n_c n_k = 100-22 = 78.
        # alpha = 1 - 9*6/78 = 4/13.
        assert krippendorff_alpha(SMALL, "nominal") == pytest.approx(4 / 13)

    def test_ordinal_alpha_na_as_zero(self):
        # NA -> 0: n = {0:3, 1:2, 2:3, 3:2}; delta^2: 01=6.25 02=25 03=56.25 12=6.25 13=25 23=6.25.
        # Observed 2*2*6.25 + 2*1*6.25 = 37.5; expected 2*775 = 1550;
        # alpha = 1 - 9*37.5/1550 = 97/124.
        assert krippendorff_alpha(SMALL, "ordinal", na="zero") == pytest.approx(97 / 124)

    def test_ordinal_alpha_na_excluded(self):
        # NA dropped: unit 2 keeps one rating (unpairable); n = {0:1, 1:1, 2:3, 3:2}, n=7;
        # delta^2: 01=1 02=9 03=30.25 12=4 13=20.25 23=6.25; observed 14.5, expected 357.
        # alpha = 1 - 6*14.5/357 = 90/119.
        assert krippendorff_alpha(SMALL, "ordinal", na="exclude") == pytest.approx(90 / 119)

    def test_interval_alpha(self):
        # NA -> 0, delta^2 = (c-k)^2: observed 2*2*1 + 2*1*1 = 6, expected 2*124 = 248; 1 - 54/248.
        assert krippendorff_alpha(SMALL, "interval", na="zero") == pytest.approx(1 - 54 / 248)

    def test_fleiss_kappa_with_missing_ratings(self):
        # pa over units with >= 2 ratings: (1/3 + 1/3 + 1 + 0)/4 = 5/12.
        # pi over all 5 rated units: 0: 1/10, 1: 1/6, 2: 4/15, 3: 1/3, NA: 2/15; pe = 214/900.
        # kappa = (5/12 - 214/900) / (1 - 214/900) = 23/98.
        assert fleiss_kappa(SMALL) == pytest.approx(23 / 98)

    def test_gwet_ac2_ordinal_weights(self):
        # Ordinal weights on 0..3: 1, 5/6, 1/2, 0 for distance 0..3; T_w = 11.
        # pa = (8/9 + 8/9 + 1 + 5/6)/4 = 65/72; pi = (7/30, 1/6, 4/15, 1/3);
        # pe = 11/12 * 662/900; AC2 = (65/72 - pe)/(1 - pe) = 1234/1759.
        assert gwet_ac2(SMALL, "ordinal", na="zero", categories=range(4)) == pytest.approx(
            1234 / 1759
        )

    def test_ordinal_weights(self):
        w = weight_matrix([0, 1, 2, 3], "ordinal")
        assert w[0] == pytest.approx([1, 5 / 6, 1 / 2, 0])
        assert weight_matrix([0, 1, 2, 3], "linear")[0] == pytest.approx([1, 2 / 3, 1 / 3, 0])
        assert weight_matrix([0, 1, 2, 3], "quadratic")[0] == pytest.approx([1, 8 / 9, 5 / 9, 0])

    def test_missing_is_not_na(self):
        as_missing = [[None if v == "NA" else v for v in row] for row in SMALL]
        assert krippendorff_alpha(as_missing, "nominal") != pytest.approx(
            krippendorff_alpha(SMALL, "nominal")
        )
        # ordinal with NA excluded is the same as NA never given
        assert krippendorff_alpha(as_missing, "ordinal") == pytest.approx(
            krippendorff_alpha(SMALL, "ordinal", na="exclude")
        )

    def test_degenerate_tables(self):
        assert krippendorff_alpha([[2, 2], [2, 2]], "ordinal") != krippendorff_alpha(
            [[2, 2], [2, 2]], "ordinal"
        )  # NaN
        assert math.isnan(fleiss_kappa([[1, None], [None, 2]]))
        assert krippendorff_alpha([[0, 0], [3, 3], [1, 1]], "ordinal") == 1.0
        assert fleiss_kappa([[0, 0], [3, 3], [1, 1]]) == 1.0

    def test_bad_arguments(self):
        with pytest.raises(ConfigError):
            krippendorff_alpha(SMALL, "ordinal", na="keep")
        with pytest.raises(ConfigError):
            krippendorff_alpha(SMALL, "cardinal")

    def test_summary_counts_pairable_units(self):
        s = agreement_summary(SMALL)
        assert (s["units"], s["ratings"]) == (4, 10)
        assert s["fleiss_kappa"] == pytest.approx(23 / 98)


class TestPublishedExamples:
    def test_krippendorff_2011_reliability_data(self):
        # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units.
        n = None
        observers = [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
            [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
        ]
        units = [list(u) for u in zip(*observers)]
        assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
        assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)
        assert krippendorff_alpha(units, "ratio") == pytest.approx(0.797, abs=5e-4)

    def test_fleiss_1971_style_example(self):
        # The 10 subjects x 14 raters x 5 categories table used to illustrate Fleiss' kappa: 0.210.
        counts = [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
        units = [[c for c, k in enumerate(row, 1) for _ in range(k)] for row in counts]
        assert fleiss_kappa(units) == pytest.approx(0.210, abs=5e-4)


def _random_table(rng: random.Random, units: int, raters: int, na: bool) -> list[list]:
    values = [0, 1, 2, 3, "NA"] if na else [0, 1, 2, 3]
    table = []
    for _ in range(units):
        truth = rng.choice(values)
        row = [truth if rng.random() < 0.6 else rng.choice(values) for _ in range(raters)]
        table.append([None if rng.random() < 0.2 else v for v in row])
    return table


@pytest.mark.parametrize("seed", range(8))
def test_alpha_matches_the_krippendorff_package(seed):
    krippendorff = pytest.importorskip("krippendorff")
    np = pytest.importorskip("numpy")
    rng = random.Random(seed)
    table = _random_table(
        rng, units=rng.randint(10, 60), raters=rng.randint(2, 6), na=seed % 2 == 0
    )

    def matrix(mapping):  # the package wants raters x units, NaN for missing
        return np.array(
            [[np.nan if v is None else mapping(v) for v in unit] for unit in table], dtype=float
        ).T

    ours_nominal = krippendorff_alpha(table, "nominal")
    theirs_nominal = krippendorff.alpha(
        reliability_data=matrix(lambda v: 9 if v == "NA" else v), level_of_measurement="nominal"
    )
    assert ours_nominal == pytest.approx(theirs_nominal, abs=1e-9)
    for level in ("ordinal", "interval"):
        for na, mapping in (
            ("zero", lambda v: 0 if v == "NA" else v),
            ("exclude", lambda v: np.nan if v == "NA" else v),
        ):
            theirs = krippendorff.alpha(
                reliability_data=matrix(mapping), level_of_measurement=level
            )
            assert krippendorff_alpha(table, level, na=na) == pytest.approx(theirs, abs=1e-9), (
                level,
                na,
            )
    shifted = [
        [v if v in (None, "NA") else v + 1 for v in unit] for unit in table
    ]  # ratio wants 1..4
    theirs = krippendorff.alpha(
        reliability_data=matrix(lambda v: np.nan if v == "NA" else v + 1),
        level_of_measurement="ratio",
    )
    assert krippendorff_alpha(shifted, "ratio", na="exclude") == pytest.approx(theirs, abs=1e-9)
