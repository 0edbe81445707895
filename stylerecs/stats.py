"""The statistics of experiments: per-shopper comparisons, SRM, fixed-horizon power.

Pure numpy/scipy (no Django), so that thousands of simulated experiments run in a test.

Every comparison takes one value per *shopper*, never per impression: a shopper who
sees 500 cards is one observation, so heavy shoppers cannot fake significance. Means
(conversion, add-to-cart rate, revenue per shopper) are compared with Welch's t-test;
ratios of per-shopper sums (click-through = clicks / impressions) with the delta method
(Deng et al., "Applying the Delta Method in Metric Analytics", KDD 2018).

Reading results: stylerecs uses a **fixed horizon**. ``sample_size_per_arm`` is the
classic two-proportion power calculation (Chow, Shao & Wang, "Sample Size Calculations
in Clinical Research", 2008, §4.2); a p-value or interval is only valid when read once,
at that horizon. Reports before it carry a warning; repeated peeking at a 5% test raises
its false-positive rate well above 5%.

The guard rail, which *does* look again and again, uses a sequential test instead: the
mixture sequential probability ratio test (mSPRT; Johari, Koomen, Pekelis & Walsh,
"Always Valid Inference: Continuous Monitoring of A/B Tests", Operations Research 2022),
whose false-alarm rate stays under alpha however often it is checked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Comparison:
    """Treatment minus control, with its confidence interval and two-sided p-value."""

    control: float
    treatment: float
    difference: float
    low: float
    high: float
    p_value: float
    relative: float | None  # difference / control, when the control is not zero

    @property
    def significant(self) -> bool:
        return not (self.low <= 0.0 <= self.high)

    def as_dict(self) -> dict:
        return {**asdict(self), "significant": self.significant}


def _finish(control: float, treatment: float, se: float, df: float, alpha: float) -> Comparison:
    diff = treatment - control
    if se == 0 or not math.isfinite(se):
        p = 1.0 if diff == 0 else 0.0
        low = high = diff
    else:
        dist = scipy_stats.t(df) if math.isfinite(df) else scipy_stats.norm()
        crit = float(dist.ppf(1 - alpha / 2))
        low, high = diff - crit * se, diff + crit * se
        p = float(2 * dist.sf(abs(diff) / se))
    relative = diff / control if control else None
    return Comparison(control, treatment, diff, low, high, p, relative)


def mean_difference(control, treatment, *, alpha: float = 0.05) -> Comparison:
    """Welch's comparison of two per-shopper means (0/1 values give conversion rates)."""
    a = np.asarray(control, dtype=float)
    b = np.asarray(treatment, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError("Each arm needs at least two shoppers to compare.")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    denom = (va**2 / (a.size - 1)) + (vb**2 / (b.size - 1))
    df = (va + vb) ** 2 / denom if denom > 0 else math.inf
    return _finish(float(a.mean()), float(b.mean()), se, df, alpha)


def _ratio_and_variance(numerators, denominators) -> tuple[float, float]:
    """Sum(num) / sum(den) over shoppers and its delta-method variance."""
    y = np.asarray(numerators, dtype=float)
    x = np.asarray(denominators, dtype=float)
    n = y.size
    mean_x = x.mean() if n else 0.0
    if n < 2 or mean_x == 0:
        raise ValueError("A ratio needs at least two shoppers with a non-zero denominator.")
    ratio = y.sum() / x.sum()
    cov = np.cov(y, x, ddof=1)
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mean_x**2)
    return float(ratio), float(max(variance, 0.0))


def ratio_difference(
    control_num, control_den, treatment_num, treatment_den, *, alpha: float = 0.05
) -> Comparison:
    """Compare ratios of per-shopper sums (clicks over impressions) by the delta method."""
    rc, vc = _ratio_and_variance(control_num, control_den)
    rt, vt = _ratio_and_variance(treatment_num, treatment_den)
    return _finish(rc, rt, math.sqrt(vc + vt), math.inf, alpha)


@dataclass(frozen=True)
class SampleRatio:
    """A sample-ratio-mismatch check: observed shoppers per arm against the split."""

    observed: list[int]
    expected: list[float]
    chi2: float
    p_value: float
    mismatch: bool

    def as_dict(self) -> dict:
        return asdict(self)


def sample_ratio_check(observed, weights, *, threshold: float = 0.001) -> SampleRatio:
    """Pearson's chi-square of the shoppers per arm against the configured split.

    A p-value under ``threshold`` (0.001 by convention: the check runs on every report,
    and a real mismatch is usually far below it) means the assignment or the logging is
    broken and no other figure of the report can be trusted.
    """
    counts = np.asarray(observed, dtype=float)
    share = np.asarray(weights, dtype=float)
    total = counts.sum()
    if total == 0:
        return SampleRatio([int(c) for c in counts], [0.0] * len(counts), 0.0, 1.0, False)
    expected = total * share / share.sum()
    chi2, p = scipy_stats.chisquare(counts, expected)
    return SampleRatio(
        [int(c) for c in counts],
        [float(e) for e in expected],
        float(chi2),
        float(p),
        bool(p < threshold),
    )


def sample_size_per_arm(
    *, baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Shoppers each arm needs to detect an absolute change ``effect`` in a conversion
    rate ``baseline`` with a two-sided test at ``alpha`` and the given ``power``."""
    p0, p1 = baseline, baseline + effect
    if not (0 < p0 < 1 and 0 < p1 < 1) or effect == 0:
        raise ValueError("Baseline and baseline + effect must lie strictly between 0 and 1.")
    z_a = scipy_stats.norm.ppf(1 - alpha / 2)
    z_b = scipy_stats.norm.ppf(power)
    pbar = (p0 + p1) / 2
    top = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return math.ceil(top**2 / effect**2)


def power_at(*, baseline: float, effect: float, n_per_arm: int, alpha: float = 0.05) -> float:
    """The power of the two-sided two-proportion test with ``n_per_arm`` shoppers per arm."""
    p0, p1 = baseline, baseline + effect
    z_a = scipy_stats.norm.ppf(1 - alpha / 2)
    pbar = (p0 + p1) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / n_per_arm)
    se1 = math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n_per_arm)
    return float(scipy_stats.norm.cdf((abs(effect) - z_a * se0) / se1))


def msprt_statistic(control, treatment, *, tau: float) -> tuple[float, float]:
    """The mSPRT likelihood ratio for "the means differ" and the observed difference.

    A normal mixture of width ``tau`` over the true difference (set it to the size of
    effect that matters). By Ville's inequality the ratio ever reaching ``1 / alpha``,
    at any of any number of looks, has probability at most alpha when the arms are the
    same; the variance is the plug-in estimate, which asks for a fair number of shoppers
    per arm (the guard rail waits for ``GUARDRAIL_MIN_SHOPPERS``).
    """
    a = np.asarray(control, dtype=float)
    b = np.asarray(treatment, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError("Each arm needs at least two shoppers to compare.")
    diff = float(b.mean() - a.mean())
    variance = a.var(ddof=1) / a.size + b.var(ddof=1) / b.size
    if variance == 0:
        return (math.inf if diff else 1.0), diff
    t2 = tau**2
    log_ratio = 0.5 * math.log(variance / (variance + t2)) + (t2 * diff**2) / (
        2 * variance * (variance + t2)
    )
    return math.exp(min(log_ratio, 700.0)), diff


def sequentially_worse(control, treatment, *, tau: float, alpha: float) -> bool:
    """Whether the treatment's mean is lower than the control's, by a test that stays
    valid when repeated at every look (mSPRT at level ``alpha``)."""
    ratio, diff = msprt_statistic(control, treatment, tau=tau)
    return diff < 0 and ratio >= 1 / alpha
