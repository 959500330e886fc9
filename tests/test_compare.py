"""Tests of course_utils.compare: the t distribution, the comparison of two settings, families.

The hand-computed examples fix the arithmetic; the simulations check the promise a chapter makes
("when two settings are equal, a 95 % interval names a winner about 5 % of the time") with a
fixed random generator, so that they are deterministic and fail if the promise is broken.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from course_utils import compare as cmp

# --- the t distribution -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "df", "table"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 4, 2.776),
        (0.975, 9, 2.262),
        (0.975, 30, 2.042),
        (0.995, 5, 4.032),
        (0.95, 10, 1.812),
        (0.99, 20, 2.528),
    ],
)
def test_t_quantile_matches_the_printed_tables(p, df, table):
    assert cmp.t_quantile(p, df) == pytest.approx(table, abs=5e-4)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.999, 0.9999, 0.3, 0.01])
def test_t_quantile_matches_the_closed_forms_for_one_and_two_degrees_of_freedom(p):
    # df = 1 is the Cauchy distribution; df = 2 has F^-1(p) = (2p - 1) / sqrt(2 p (1 - p))
    assert cmp.t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    assert cmp.t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


def test_t_quantile_tends_to_the_normal_and_is_symmetric():
    assert cmp.t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-5)
    assert cmp.t_quantile(0.5, 3) == 0.0
    assert cmp.t_quantile(0.025, 3) == pytest.approx(-cmp.t_quantile(0.975, 3))


@pytest.mark.parametrize("df", [1.5, 32 / 19, 4.0, 7.3, 50.0])
def test_t_cdf_inverts_t_quantile_also_for_fractional_degrees_of_freedom(df):
    for p in (0.05, 0.5, 0.9, 0.975, 0.9975):
        assert cmp.t_cdf(cmp.t_quantile(p, df), df) == pytest.approx(p, abs=1e-12)
    # more degrees of freedom, lighter tails: the quantile falls between the integer ones
    assert cmp.t_quantile(0.975, 4) > cmp.t_quantile(0.975, 4.5) > cmp.t_quantile(0.975, 5)


def test_regularized_beta_matches_its_closed_forms():
    for x in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert cmp.regularized_beta(x, 1, 1) == pytest.approx(x)
        assert cmp.regularized_beta(x, 3, 1) == pytest.approx(x**3)
        assert cmp.regularized_beta(x, 1, 2.5) == pytest.approx(1 - (1 - x) ** 2.5)
    assert cmp.regularized_beta(0.5, 7.5, 7.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        cmp.regularized_beta(0.5, 0, 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cmp.regularized_beta(1.5, 1, 1)


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (0.9, 0), (0.9, math.nan), (0.9, math.inf)])
def test_t_quantile_refuses_impossible_arguments(p, df):
    with pytest.raises(ValueError):
        cmp.t_quantile(p, df)


# --- one comparison, by hand ----------------------------------------------------------------

L2 = {1: 0.90, 2: 0.92, 3: 0.91, 4: 0.93, 5: 0.94}
NONE = {1: 0.88, 2: 0.91, 3: 0.90, 4: 0.90, 5: 0.92}


def test_paired_example_computed_by_hand():
    # differences 0.02 0.01 0.01 0.03 0.02: mean 0.018, sample sd sqrt(280e-6 / 4), se sd / sqrt(5),
    # t(0.975, 4) = 2.776445, so the interval is 0.018 +- 0.010389
    c = cmp.compare(
        L2,
        NONE,
        higher_is_better=True,
        names=("L2", "no penalty"),
        quantity="validation accuracy",
        scale=100,
        unit=" points",
        digits=1,
    )
    assert c.paired and (c.n_a, c.n_b) == (5, 5) and c.df == 4
    assert c.difference == pytest.approx(0.018)
    assert c.se == pytest.approx(math.sqrt(70e-6 / 5))
    assert (c.low, c.high) == (pytest.approx(0.007611, abs=1e-6), pytest.approx(0.028389, abs=1e-6))
    assert c.verdict == cmp.A_BETTER and c.winner == "L2"
    assert str(c) == (
        "L2 raises the validation accuracy by 1.8 points compared with no penalty "
        "(95 % interval 0.8 to 2.8, 5 paired seeds)"
    )


def test_welch_example_computed_by_hand():
    # equal spreads and sizes: se = sqrt(1/3 + 1/3), Welch's df = (2/3)^2 / (2 (1/3)^2 / 2) = 4
    c = cmp.compare([1.0, 2.0, 3.0], [3.0, 4.0, 5.0], paired=False, higher_is_better=False, names=("L1", "none"))
    assert not c.paired and c.df == pytest.approx(4.0) and c.se == pytest.approx(math.sqrt(2 / 3))
    assert (c.low, c.high) == (pytest.approx(-4.266958, abs=1e-6), pytest.approx(0.266958, abs=1e-6))
    assert c.verdict == cmp.CANNOT_TELL and c.winner is None
    assert c.sentence() == (
        "the runs cannot tell L1 from none: the difference in result (L1 minus none), \N{MINUS SIGN}2.000, "
        "has a 95 % interval from \N{MINUS SIGN}4.267 to 0.267 (3 seeds each, unpaired)"
    )
    # unequal spreads and sizes: variances 1 and 2, se = sqrt(1/3 + 2/2), df = (4/3)^2 / ((1/3)^2/2 + 1) = 32/19
    c = cmp.compare([1.0, 2.0, 3.0], [4.0, 6.0], paired=False, higher_is_better=True)
    assert c.se == pytest.approx(math.sqrt(4 / 3)) and c.df == pytest.approx(32 / 19)
    half = c.high - c.difference
    assert cmp.t_cdf(half / c.se, 32 / 19) == pytest.approx(0.975)
    assert c.sentence().endswith("(3 and 2 seeds, unpaired)")


def test_the_verdict_follows_whether_higher_is_better():
    dropout = {1: 0.30, 2: 0.28, 3: 0.31, 4: 0.29, 5: 0.33}
    plain = {1: 0.33, 2: 0.31, 3: 0.34, 4: 0.32, 5: 0.37}
    loss = cmp.compare(
        dropout, plain, higher_is_better=False, names=("dropout", "no dropout"), quantity="validation loss"
    )
    assert loss.verdict == cmp.A_BETTER and loss.high < 0
    assert loss.sentence(capital=True) == (
        "Dropout lowers the validation loss by 0.032 compared with no dropout (95 % interval 0.026 to 0.038, "
        "5 paired seeds)"
    )
    assert cmp.compare(dropout, plain, higher_is_better=True).verdict == cmp.B_BETTER
    assert cmp.compare(plain, dropout, higher_is_better=False).verdict == cmp.B_BETTER


def test_mappings_pair_by_seed_whatever_their_order():
    shuffled = {s: L2[s] for s in (4, 2, 5, 1, 3)}
    by_seed = cmp.compare(shuffled, NONE, higher_is_better=True)
    by_position = cmp.compare(
        [L2[s] for s in sorted(L2)], [NONE[s] for s in sorted(NONE)], paired=True, higher_is_better=True
    )
    assert by_seed == by_position
    # no shared seed: unpaired, automatically
    other = {s + 10: v for s, v in NONE.items()}
    assert not cmp.compare(L2, other, higher_is_better=True).paired
    # shared seeds may still be compared unpaired when asked
    assert not cmp.compare(L2, NONE, paired=False, higher_is_better=True).paired


def test_zero_spread_gives_a_zero_width_interval():
    same_gain = cmp.compare([1.0, 2.0, 3.0], [0.5, 1.5, 2.5], paired=True, higher_is_better=True)
    assert (same_gain.low, same_gain.high, same_gain.p_value) == (0.5, 0.5, 0.0)
    assert same_gain.verdict == cmp.A_BETTER
    identical = cmp.compare([0.9, 0.9], [0.9, 0.9], paired=False, higher_is_better=True)
    assert identical.verdict == cmp.CANNOT_TELL and identical.p_value == 1.0
    assert "from 0.000 to 0.000" in identical.sentence()  # no "-0.000"


def test_the_comparison_is_frozen():
    c = cmp.compare(L2, NONE, higher_is_better=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.verdict = cmp.CANNOT_TELL


# --- input validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "error", "message"),
    [
        ([0.9, 0.8, 0.7], [0.9, 0.8], {"paired": True}, ValueError, "'A' has 3 runs, 'B' has 2"),
        ([0.9], [0.9, 0.8], {"paired": False}, ValueError, "'A' has 1 run.*at least 2"),
        ({1: 0.9, 2: 0.8}, {1: 0.9}, {"paired": True}, ValueError, "same seeds"),
        ([0.9, math.nan, 0.8], [0.9, 0.8, 0.7], {"paired": True}, ValueError, r"NaN or infinite.*run 1"),
        ({1: 0.9, 2: 0.8}, {1: 0.9, 2: math.inf}, {}, ValueError, r"'B'.*seed 2"),
        (
            {1: 0.9, 2: 0.8, 3: 0.7},
            {1: 0.9, 2: 0.8, 4: 0.7},
            {},
            ValueError,
            r"share the seeds \[1, 2\] but not \[3, 4\]",
        ),
        ([0.9, 0.8], [0.9, 0.8], {}, ValueError, "Say whether the runs are paired"),
        ({1: 0.9, 2: 0.8}, [0.9, 0.8], {}, TypeError, "both as sequences"),
        ([[0.9, 0.8], [0.7, 0.6]], [0.9, 0.8], {"paired": False}, ValueError, "one number per run"),
        ([0.9, 0.8], [0.9, 0.8], {"paired": True, "confidence": 95}, ValueError, "between 0 and 1"),
    ],
    ids=["paired-lengths", "one-run", "paired-seeds", "nan", "inf", "partial-overlap", "unsaid", "mixed", "2d", "95"],
)
def test_compare_refuses_with_a_clear_message(a, b, kwargs, error, message):
    with pytest.raises(error, match=message):
        cmp.compare(a, b, higher_is_better=True, **kwargs)


# --- what the verdicts promise, by simulation -----------------------------------------------


def false_verdict_rate(paired: bool, n_a: int, n_b: int, sims: int = 2000, seed: int = 0) -> float:
    """How often compare names a winner between two settings that are in truth equal."""
    rng = np.random.default_rng(seed)
    wrong = 0
    for _ in range(sims):
        if paired:  # each seed's luck is shared by both settings, plus noise of their own
            luck = rng.normal(0.0, 1.0, n_a)
            a, b = luck + rng.normal(0.0, 0.3, n_a), luck + rng.normal(0.0, 0.3, n_a)
        else:  # different spreads and sizes: what Welch's interval is for
            a, b = rng.normal(0.5, 1.0, n_a), rng.normal(0.5, 2.0, n_b)
        wrong += cmp.compare(a, b, paired=paired, higher_is_better=True).verdict != cmp.CANNOT_TELL
    return wrong / sims


@pytest.mark.parametrize(("paired", "n_a", "n_b"), [(True, 5, 5), (True, 3, 3), (False, 5, 4), (False, 3, 10)])
def test_equal_settings_get_a_false_verdict_about_5_percent_of_the_time(paired, n_a, n_b):
    assert 0.03 <= false_verdict_rate(paired, n_a, n_b) <= 0.075


def test_welch_is_approximate_when_few_runs_carry_the_larger_spread():
    # 10 runs against 3, the 3 twice as noisy: Welch's degrees of freedom are an approximation, and
    # the false-verdict rate is about 7 % (0.071 in 20,000 simulations), not 5 %. The docstring of
    # compare says so; chapters avoid it by running both settings on the same seeds.
    assert 0.055 <= false_verdict_rate(False, 10, 3) <= 0.095


def test_the_interval_covers_a_real_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(2000):
        luck = rng.normal(0.0, 1.0, 5)
        a, b = luck + 0.2 + rng.normal(0.0, 0.1, 5), luck + rng.normal(0.0, 0.1, 5)
        c = cmp.compare(a, b, paired=True, higher_is_better=True)
        covered += c.low <= 0.2 <= c.high
    assert 0.925 <= covered / 2000 <= 0.97


def _ranges_apart(a, b) -> bool:
    """The retired rule: every seed of one setting beats every seed of the other."""
    return bool(min(a) > max(b) or min(b) > max(a))


def test_the_retired_range_rule_names_a_false_winner_more_often_than_compare():
    # why the helper replaced the range rule: 3 seeds against 3, equal settings
    rng = np.random.default_rng(2)
    draws = [(rng.normal(0, 1, 3), rng.normal(0, 1, 3)) for _ in range(2000)]
    by_range = np.mean([_ranges_apart(a, b) for a, b in draws])
    by_interval = np.mean([cmp.compare(a, b, paired=False, higher_is_better=True).winner is not None for a, b in draws])
    assert 0.08 <= by_range <= 0.12  # 2 of the C(6, 3) = 20 orderings
    assert by_interval <= 0.07


def test_pairing_finds_an_effect_that_the_seeds_luck_hides_from_unpaired_runs():
    # a real gain of 0.3 under a seed-to-seed luck of 1.0 that both settings share
    rng = np.random.default_rng(3)
    found = {True: 0, False: 0}
    widths = {True: [], False: []}
    for _ in range(300):
        luck = rng.normal(0.0, 1.0, 5)
        a, b = luck + 0.3 + rng.normal(0.0, 0.1, 5), luck + rng.normal(0.0, 0.1, 5)
        for paired in (True, False):
            c = cmp.compare(a, b, paired=paired, higher_is_better=True)
            found[paired] += c.verdict == cmp.A_BETTER
            widths[paired].append(c.high - c.low)
    assert found[True] >= 270 and found[False] <= 60
    assert np.median(widths[False]) > 4 * np.median(widths[True])


# --- families of comparisons --------------------------------------------------------------------


def with_p(p: float, name: str = "A") -> cmp.Comparison:
    """A comparison with a given two-sided p-value: t = t_quantile(1 - p/2, 4) standard errors."""
    t = cmp.t_quantile(1 - p / 2, 4)
    c = cmp.compare([t + 1, t - 1, t], [0.0, 0.0, 0.0], paired=True, higher_is_better=True, names=(name, "B"))
    # differences t+1, t-1, t: mean t, se 1/sqrt(3); rescale to se 1 and df 4 exactly
    return dataclasses.replace(c, difference=t, se=1.0, df=4.0, p_value=p)


def test_holm_decides_more_than_bonferroni_on_a_textbook_case():
    # p = 0.01, 0.02, 0.03 with m = 3: Bonferroni tests all at 0.0167 (one winner);
    # Holm tests at 0.0167, 0.025, 0.05 (three winners)
    family = [with_p(0.03, "x"), with_p(0.01, "y"), with_p(0.02, "z")]
    bonferroni = cmp.family_wise(family, method="bonferroni")
    holm = cmp.family_wise(family)
    assert [c.winner for c in bonferroni] == [None, "y", None]
    assert [c.winner for c in holm] == ["x", "y", "z"]
    assert [c.confidence for c in holm] == pytest.approx([0.95, 1 - 0.05 / 3, 0.975])
    assert all(c.confidence == pytest.approx(1 - 0.05 / 3) for c in bonferroni)
    assert "98.3 % interval" in bonferroni[1].sentence()
    assert bonferroni[1].sentence().endswith("3 paired seeds, Bonferroni correction for 3 comparisons)")


def test_holm_stops_at_the_first_comparison_it_cannot_decide():
    # p = 0.001, 0.04, 0.045 with m = 3: 0.001 <= 0.0167, then 0.04 > 0.025 stops; 0.045 < 0.05 is not reached
    holm = cmp.family_wise([with_p(0.001), with_p(0.04), with_p(0.045)])
    assert [c.verdict for c in holm] == [cmp.A_BETTER, cmp.CANNOT_TELL, cmp.CANNOT_TELL]
    assert [c.confidence for c in holm] == pytest.approx([1 - 0.05 / 3, 0.975, 0.975])
    for c in holm:  # a verdict is exactly an interval that excludes zero
        assert (c.verdict != cmp.CANNOT_TELL) == (c.low > 0 or c.high < 0)
        assert (c.correction, c.family) == ("holm", 3)


def test_a_family_of_equal_settings_names_a_false_winner_about_5_percent_of_the_time():
    rng = np.random.default_rng(4)
    any_false = {"none": 0, "holm": 0, "bonferroni": 0}
    for _ in range(600):
        family = [
            cmp.compare(rng.normal(0, 1, 5), rng.normal(0, 1, 5), paired=True, higher_is_better=True) for _ in range(8)
        ]
        any_false["none"] += any(c.winner for c in family)
        for method in ("holm", "bonferroni"):
            any_false[method] += any(c.winner for c in cmp.family_wise(family, method=method))
    assert 0.25 <= any_false["none"] / 600 <= 0.43  # 1 - 0.95^8 = 0.34
    assert any_false["holm"] / 600 <= 0.075 and any_false["bonferroni"] / 600 <= 0.075


def test_family_wise_refuses_what_it_cannot_correct():
    c = cmp.compare(L2, NONE, higher_is_better=True)
    with pytest.raises(ValueError, match="holm"):
        cmp.family_wise([c], method="sidak")
    with pytest.raises(ValueError, match="at least one"):
        cmp.family_wise([])
    with pytest.raises(ValueError, match="corrected already"):
        cmp.family_wise(cmp.family_wise([c, c]))
    with pytest.raises(ValueError, match="different confidences"):
        cmp.family_wise([c, cmp.compare(L2, NONE, higher_is_better=True, confidence=0.9)])
