"""bench/recs.py's smoke run: every method ranks a simulated shop and is scored."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("implicit")

METHODS = ("stylerecs", "stylerecs, best alone", "popularity", "implicit ALS", "implicit item-kNN")


@pytest.mark.slow
def test_quick_bench_scores_every_method_on_a_time_split(capsys):
    from bench.recs import main

    main(["--quick", "--families", "cold start"])
    out = capsys.readouterr().out
    figures = {}
    for method in METHODS:
        line = next(x for x in out.splitlines() if re.match(rf"\s+cold start\s+{method}\s", x))
        figures[method] = [float(v) for v in re.findall(r"\s(\d\.\d{3})(?=\s)", line)[:4]]
    assert "LightFM" in out
    # The summary over seeds (one here) sets ours against the best baseline.
    means = re.search(r"Mean recall@10 over 1 seed\(s\)(.*)", out, re.S).group(1)
    row = next(x for x in means.splitlines() if x.strip().startswith("cold start"))
    ours, *baselines = (float(v) for v in re.findall(r"\s(\d\.\d{4})(?=\s)", row)[:4])
    assert ours == pytest.approx(figures["stylerecs"][0], abs=6e-4) and len(baselines) == 3
    assert re.search(r"[+-]\d+\.\d%\s+\+10%\s+(yes|no)", row)
    for recall, ndcg, coverage, _ in figures.values():
        assert 0 <= ndcg <= 1 and 0 < coverage <= 1 and 0 <= recall <= 1
    # Each method has a recall on the products released after the split (a number
    # for all four: the family has such products and shoppers who bought them).
    assert all(len(values) == 4 for values in figures.values())


def test_summary_sets_the_mean_and_each_seed_against_the_best_baseline():
    from bench.recs import BEST_ALONE, SUMMARY, summary

    recalls = {
        ("drift", "stylerecs"): [0.12, 0.08],
        ("drift", BEST_ALONE): [0.12, 0.08],
        ("drift", "popularity"): [0.05, 0.05],
        ("drift", "implicit ALS"): [0.10, 0.10],  # the best on the mean (0.10 vs 0.09)
        ("drift", "implicit item-kNN"): [0.06, 0.12],
    }
    (row,) = summary(recalls)
    cells = dict(zip(SUMMARY, row, strict=True))
    assert cells["best baseline"] == "implicit ALS" and cells["vs best"] == "+0.0%"
    # Per seed against that baseline: 0.12 / 0.10 and 0.08 / 0.10.
    assert cells["per seed"] == "-20% to +20%"
    assert cells["target"] == "+10%" and cells["met"] == "no"


def test_the_visual_ceiling_reads_the_planted_looks_and_leaves_the_shop_as_it_was():
    """``--ceiling``: the simulation told its planted state draws the same shop; the
    choice model, told every product's look, ranks far above popularity there."""
    import numpy as np

    from bench.recs import TEST_FROM, looks_ceiling, metrics_of, popularity_top, simulate

    plain, _ = simulate("visual", 300, 120, np.random.default_rng(5))
    planted: dict = {}
    log, _ = simulate("visual", 300, 120, np.random.default_rng(5), planted=planted)
    assert np.array_equal(plain.item, log.item) and np.array_equal(plain.day, log.day)
    assert len(planted["looks"]) == 300 and len(planted["look"]) == 120
    train, test = log.select(log.day < TEST_FROM), log.select(log.day >= TEST_FROM)
    ceiling = looks_ceiling(train, test, planted)
    popular = metrics_of(train, test, lambda b, u: popularity_top(b, TEST_FROM, u, days=120.0))
    assert ceiling.recall > 1.5 * popular.recall
