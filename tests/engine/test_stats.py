"""stylerecs.stats: simulated experiments, thousands of them in-process (seeded, fast).

The tolerances are three binomial standard deviations of the number of simulated runs,
so a correct method fails a test about once in 400 seeds; the seeds are fixed, so the
outcome is the same on every run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stylerecs.stats import (
    mean_difference,
    power_at,
    ratio_difference,
    sample_ratio_check,
    sample_size_per_arm,
    sequentially_worse,
)


def three_sigma(p: float, runs: int) -> float:
    return 3 * math.sqrt(p * (1 - p) / runs)


def test_aa_conversion_flags_about_five_percent_of_runs():
    """Same treatment in both arms: 2,000 experiments of 1,000 shoppers per arm."""
    rng = np.random.default_rng(13)
    runs, n = 2000, 1000
    control = rng.random((runs, n)) < 0.1
    treatment = rng.random((runs, n)) < 0.1
    flagged = sum(mean_difference(control[i], treatment[i]).significant for i in range(runs))
    rate = flagged / runs
    assert abs(rate - 0.05) <= three_sigma(0.05, runs), rate


def heavy_shoppers(rng, n: int):
    """Shoppers with heavy-tailed impression counts and their own click propensity."""
    impressions = np.ceil(rng.lognormal(mean=2.5, sigma=1.2, size=n)).astype(int)
    propensity = rng.beta(1.0, 9.0, size=n)
    clicks = rng.binomial(impressions, propensity)
    return clicks, impressions


def test_aa_click_through_per_shopper_is_calibrated_where_per_impression_is_not():
    """Heavy shoppers: the per-shopper delta method flags ~5%; a per-impression test,
    which treats 500 cards of one shopper as 500 independent observations, far more."""
    rng = np.random.default_rng(7)
    runs, n = 1000, 400
    ours = naive = 0
    for _ in range(runs):
        c_clicks, c_imps = heavy_shoppers(rng, n)
        t_clicks, t_imps = heavy_shoppers(rng, n)
        ours += ratio_difference(c_clicks, c_imps, t_clicks, t_imps).significant
        # The mistake this module avoids: a two-proportion z-test over impressions.
        p1, p2 = c_clicks.sum() / c_imps.sum(), t_clicks.sum() / t_imps.sum()
        pooled = (c_clicks.sum() + t_clicks.sum()) / (c_imps.sum() + t_imps.sum())
        se = math.sqrt(pooled * (1 - pooled) * (1 / c_imps.sum() + 1 / t_imps.sum()))
        naive += abs(p2 - p1) / se > 1.96
    assert abs(ours / runs - 0.05) <= three_sigma(0.05, runs), ours / runs
    assert naive / runs > 0.2, naive / runs


def test_planted_uplift_is_detected_with_the_promised_power():
    """+3 points on a 10% conversion, at the sample size the plan asks for: ~80% found."""
    baseline, effect = 0.10, 0.03
    n = sample_size_per_arm(baseline=baseline, effect=effect, alpha=0.05, power=0.8)
    assert 1500 < n < 2000  # the textbook figure for these inputs is about 1,770
    assert power_at(baseline=baseline, effect=effect, n_per_arm=n) == pytest.approx(0.8, abs=0.01)
    rng = np.random.default_rng(2026)
    runs = 1000
    control = rng.random((runs, n)) < baseline
    treatment = rng.random((runs, n)) < baseline + effect
    found = 0
    for i in range(runs):
        result = mean_difference(control[i], treatment[i])
        found += result.significant and result.difference > 0
    assert abs(found / runs - 0.8) <= three_sigma(0.8, runs), found / runs


def test_confidence_interval_covers_the_true_difference_95_percent_of_the_time():
    rng = np.random.default_rng(5)
    runs, n, true = 1000, 500, 2.0
    covered = 0
    for _ in range(runs):
        control = rng.exponential(10.0, n)  # revenue per shopper: skewed
        treatment = rng.exponential(10.0 + true, n)
        result = mean_difference(control, treatment)
        covered += result.low <= true <= result.high
    assert abs(covered / runs - 0.95) <= three_sigma(0.95, runs), covered / runs


def test_srm_fires_on_a_skewed_split_and_not_on_a_fair_one():
    assert sample_ratio_check([1000, 1200], [1, 1]).mismatch
    assert not sample_ratio_check([1000, 1030], [1, 1]).mismatch
    # A 2:1 split observed as 2:1 is fine; observed as 1:1 it is not.
    assert not sample_ratio_check([2010, 990], [2, 1]).mismatch
    assert sample_ratio_check([1500, 1500], [2, 1]).mismatch


def test_srm_rarely_fires_on_fair_random_splits():
    rng = np.random.default_rng(11)
    fired = sum(
        sample_ratio_check(rng.multinomial(3000, [0.5, 0.5]), [1, 1]).mismatch for _ in range(2000)
    )
    assert fired <= 10  # expected 2 at a threshold of 0.001


def peeking_runs(rng, runs: int, looks: int, step: int, p_control: float, p_treatment: float):
    """Experiments looked at ``looks`` times, ``step`` more shoppers per arm each time."""
    for _ in range(runs):
        control = rng.random(looks * step) < p_control
        treatment = rng.random(looks * step) < p_treatment
        yield [(control[: k * step], treatment[: k * step]) for k in range(1, looks + 1)]


def test_guard_rail_test_stays_valid_under_peeking_where_a_fixed_test_does_not():
    """A/A, looked at 20 times each: the sequential test stops under 5% of harmless arms;
    a one-sided t-test at 5% repeated at every look stops far more of them."""
    rng = np.random.default_rng(17)
    runs = 500
    sequential = repeated = 0
    for looks in peeking_runs(rng, runs, looks=20, step=100, p_control=0.1, p_treatment=0.1):
        sequential += any(sequentially_worse(c, t, tau=0.03, alpha=0.05) for c, t in looks)
        repeated += any(
            (r := mean_difference(c, t)).difference < 0 and r.p_value / 2 < 0.05 for c, t in looks
        )
    assert sequential / runs <= 0.05 + three_sigma(0.05, runs), sequential / runs
    assert repeated / runs > 0.12, repeated / runs


def test_guard_rail_test_stops_an_arm_that_halves_conversion():
    rng = np.random.default_rng(19)
    runs = 200
    stopped = sum(
        any(sequentially_worse(c, t, tau=0.03, alpha=0.05) for c, t in looks)
        for looks in peeking_runs(rng, runs, looks=20, step=100, p_control=0.1, p_treatment=0.05)
    )
    assert stopped / runs >= 0.95
    better = [np.ones(50), np.zeros(50)]
    assert not sequentially_worse(better[1], better[0], tau=0.03, alpha=0.05)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="two shoppers"):
        mean_difference([1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="between 0 and 1"):
        sample_size_per_arm(baseline=0.99, effect=0.05)
