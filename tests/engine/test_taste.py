"""The hybrid taste model on simulated shops: stylerecs/engine/taste*.py, no Django.

Shops are small (a few hundred shoppers and products) and seeded, so every test fits
real ALS models in well under a second each.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylerecs.engine import taste_rank
from stylerecs.engine.taste import TasteModel, TasteParams, fit, neighbours
from stylerecs.engine.taste_log import _ByUser
from stylerecs.engine.taste_rank import (
    REASON_COBOUGHT,
    ShopperEvents,
    first_page_order,
    recommend,
)
from stylerecs.engine.taste_side import item_side
from stylerecs.engine.taste_tuning import (
    EventLog,
    Policy,
    Window,
    evaluate,
    evaluate_blends,
    fit_log,
    metrics_from_topk,
    shopper_events,
    time_folds,
    time_split,
    tune,
)
from stylerecs.engine.taste_validation import choose, grid_neighbour_mean

pytest.importorskip("implicit")


def shop(*, users=400, items=120, groups=6, looks_follow_groups=False, seed=0, per_user=8):
    """Shoppers each buy within one hidden group of products. Photos (embeddings) are
    random, or (``looks_follow_groups``) a group's products share a look plus noise."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, items)
    if looks_follow_groups:
        centres = torch.randn(groups, 24, generator=torch.Generator().manual_seed(seed))
        vectors = centres[group] + 0.5 * torch.randn(items, 24)
    else:
        vectors = torch.randn(items, 24, generator=torch.Generator().manual_seed(seed))
    vectors = torch.nn.functional.normalize(vectors, dim=1)
    taste = rng.integers(0, groups, users)
    u, i, d = [], [], []
    for user in range(users):
        pool = np.flatnonzero(group == taste[user])
        picks = rng.choice(pool, per_user)
        u += [user] * per_user
        i += picks.tolist()
        d += sorted(rng.uniform(0, 100, per_user).tolist())
    n = len(u)
    log = EventLog(
        users,
        items,
        np.array(u),
        np.array(i),
        np.full(n, 2.0, np.float32),
        np.array(d),
        np.zeros(n, bool),
    )
    return log, vectors, group, taste


def keys(n):
    return [str(i) for i in range(n)]


def everyone(n):
    return torch.ones(n, dtype=torch.bool)


def test_planted_cooccurrence_that_photos_do_not_show_is_recovered():
    log, vectors, _, _ = shop()
    before, after, cut = time_split(log, holdout_fraction=0.2)
    window = Window(before, after, now=cut)
    args = dict(item_vectors=vectors, available=everyone(120), policy=Policy())
    hybrid = fit_log(
        before, now=cut, params=TasteParams(factors=16), item_keys=keys(120), item_vectors=vectors
    )
    looks_only = fit_log(
        before,
        now=cut,
        item_keys=keys(120),
        item_vectors=vectors,
        params=TasteParams(factors=16, cf_weight=0.0, popularity_weight=0.0, visual_weight=1.0),
    )
    got, blind = (
        evaluate(hybrid, window, **args),
        evaluate(looks_only, window, **args),
    )
    # Picking 10 of the 20 products of one's group at random gives ~0.5; of all 120, ~0.08.
    assert got.recall > 0.4
    assert blind.recall < 0.2
    assert got.recall > 2.5 * blind.recall


def test_a_new_product_with_no_events_reaches_the_shoppers_whose_taste_it_matches():
    log, vectors, group, taste = shop(looks_follow_groups=True, items=121)
    new = 120  # nobody has touched it (its events are dropped); it looks like group 0
    log = log.select(log.item != new)
    vectors = vectors.clone()
    vectors[new] = torch.nn.functional.normalize(vectors[:120][group[:120] == 0].mean(0), dim=0)
    model = fit_log(
        log,
        now=100.0,
        params=TasteParams(factors=16, visual_weight=0.0),
        item_keys=keys(121),
        item_vectors=vectors,
    )
    # Even with no visual term at all, its looks give it collaborative standing.
    side = item_side(model, item_keys=keys(121), item_vectors=vectors, popularity=torch.zeros(121))
    users = np.arange(400)
    batch = shopper_events(_ByUser(log), users, now=100.0, policy=Policy())
    top = recommend(
        side, batch, params=model.params, available=everyone(121), k=10, page=10, reasons=False
    ).items.numpy()
    reached = np.array([new in row for row in top])
    fans = taste == 0
    assert reached[fans].mean() > 0.5
    assert reached[~fans].mean() < 0.05


def test_tuning_picks_the_better_of_two_settings_on_the_validation_split_only():
    log, vectors, _, _ = shop(seed=1)
    train, test, test_from = time_split(log, holdout_fraction=0.2)  # the test split
    result = tune(
        train,
        item_keys=keys(120),
        item_vectors=vectors,
        available=everyone(120),
        base=TasteParams(factors=16),
        fit_options={"factors": [16]},
        blend_options={"cf_weight": [0.0, 1.0]},
        holdout_fraction=0.2,
    )
    # Collaborative taste: the setting with the collaborative part wins...
    assert result.params.cf_weight == 1.0
    by_setting = {t["cf_weight"]: t["recall@10"] for t in result.trials}
    assert by_setting[1.0] > by_setting[0.0]
    # ...measured on events inside the training window: the validation split ends where
    # the test split begins, and recomputing it from the training window alone agrees.
    assert result.cutoff < test_from
    before, after, cut = time_split(train, holdout_fraction=0.2)
    assert cut == result.cutoff and after.day.max() < test_from
    again = evaluate(
        fit_log(before, now=cut, params=result.params, item_keys=keys(120), item_vectors=vectors),
        Window(before, after, now=cut),
        item_vectors=vectors,
        available=everyone(120),
        policy=Policy(),
    )
    assert round(again.recall, 4) == by_setting[1.0]


def test_tuning_over_two_folds_picks_the_best_mean_of_windows_before_the_test_split():
    log, vectors, _, _ = shop(seed=1)
    train, _, test_from = time_split(log, holdout_fraction=0.2)
    options = dict(
        item_keys=keys(120),
        item_vectors=vectors,
        available=everyone(120),
        base=TasteParams(factors=16),
        fit_options={"factors": [16], "half_life_days": [60.0]},
        blend_options={"cf_weight": [0.0, 0.3, 1.0], "visual_weight": [0.0, 1.0]},
        holdout_fraction=0.2,
    )
    result = tune(train, folds=2, **options)
    (b1, a1, cut1), (b2, a2, cut2) = time_folds(train, holdout_fraction=0.2, folds=2)
    # The second window is the latest fifth of what the first one trained on.
    assert cut2 < cut1 < test_from and a2.day.max() < cut1 and a1.day.max() < test_from
    assert len(b2) + len(a2) == len(b1)
    # The winner has the best mean over the two windows; its metrics are the latest's.
    best = max(result.trials, key=lambda t: (t["mean_recall@10"], t["ndcg@10"]))
    assert result.params.cf_weight == best["cf_weight"]
    assert result.params.visual_weight == best["visual_weight"]
    assert round(result.metrics.recall, 4) == best["recall@10"] and result.cutoff == cut1
    # The shoppers' half-life, not searched, follows the fit's.
    assert result.params.user_half_life_days == 60.0
    # Each trial's mean is the two windows' recall, each measured as on its own.
    model = fit_log(b2, now=cut2, params=result.params, item_keys=keys(120), item_vectors=vectors)
    second = evaluate(
        model, Window(b2, a2, now=cut2), item_vectors=vectors, available=everyone(120),
        policy=Policy(),
    )  # fmt: skip
    assert best["mean_recall@10"] == pytest.approx(
        (best["recall@10"] + second.recall) / 2, abs=1e-4
    )
    # One fold: the latest window alone, no mean recorded.
    assert "mean_recall@10" not in tune(train, folds=1, **options).trials[0]


def test_a_shoppers_own_half_life_reads_their_latest_taste():
    """Every shopper buys in one group early, then in another: the fit keeps all of it
    (what goes together does not drift), the shoppers' side reads the recent group."""
    rng = np.random.default_rng(11)
    users, items, groups = 300, 120, 6
    group = np.arange(items) % groups
    old, new = rng.integers(0, groups, users), rng.integers(0, groups, users)
    new = np.where(new == old, (new + 1) % groups, new)
    u, i, d = [], [], []
    for user in range(users):
        for g, span in ((old[user], (0, 40)), (new[user], (80, 100))):
            picks = rng.choice(np.flatnonzero(group == g), 6)
            u += [user] * 6
            i += picks.tolist()
            d += rng.uniform(*span, 6).tolist()
    n = len(u)
    log = EventLog(
        users, items, np.array(u), np.array(i), np.full(n, 2.0, np.float32), np.array(d),
        np.zeros(n, bool),
    )  # fmt: skip
    vectors = torch.nn.functional.normalize(
        torch.randn(items, 24, generator=torch.Generator().manual_seed(11)), dim=1
    )
    params = TasteParams(factors=16, half_life_days=1000.0, visual_weight=0.0)
    model = fit_log(log, now=100.0, params=params, item_keys=keys(items), item_vectors=vectors)
    side = item_side(
        model, item_keys=keys(items), item_vectors=vectors, popularity=torch.zeros(items)
    )
    batch = shopper_events(_ByUser(log), np.arange(users), now=100.0, policy=Policy())

    def share_of_new_group(user_half_life_days):
        top = recommend(
            side,
            batch,
            params=params.but(user_half_life_days=user_half_life_days),
            available=everyone(items),
            k=10,
            page=0,
            reasons=False,
        ).items.numpy()
        return float((group[top] == new[:, None]).mean())

    assert share_of_new_group(5.0) > 0.8
    assert share_of_new_group(1000.0) < 0.65


def test_the_popularity_window_is_tuned():
    """What sold over the whole log is not what sells now: products 0-9 sold in the
    first 60 days, products 10-19 since. Pure popularity over 7 days finds the latter."""
    rng = np.random.default_rng(12)
    users, items = 400, 60
    day = rng.uniform(0, 100, users * 3)
    recent = day >= 60
    item = np.where(recent, rng.integers(10, 20, day.size), rng.integers(0, 10, day.size))
    noise = rng.random(day.size) < 0.3
    item[noise] = rng.integers(20, items, noise.sum())
    log = EventLog(
        users, items, np.repeat(np.arange(users), 3), item, np.full(day.size, 2.0, np.float32),
        day, np.zeros(day.size, bool),
    )  # fmt: skip
    vectors = torch.nn.functional.normalize(
        torch.randn(items, 24, generator=torch.Generator().manual_seed(12)), dim=1
    )
    pure = TasteParams(factors=8, cf_weight=0.0, visual_weight=0.0, popularity_history=1e3)
    result = tune(
        log,
        item_keys=keys(items),
        item_vectors=vectors,
        available=everyone(items),
        base=pure,
        fit_options={},
        blend_options={"popularity_days": [7.0, 1000.0]},
        holdout_fraction=0.2,
    )
    by_window = {t["popularity_days"]: t["recall@10"] for t in result.trials}
    assert result.params.popularity_days == 7.0 and by_window[7.0] > by_window[1000.0]
    # Scoring several windows at once equals scoring each alone.
    before, after, cut = time_split(log, holdout_fraction=0.2)
    model = fit_log(before, now=cut, params=pure, item_keys=keys(items), item_vectors=vectors)
    args = dict(item_vectors=vectors, available=everyone(items), policy=Policy())
    window = Window(before, after, now=cut)
    both = evaluate_blends(
        model, [pure.but(popularity_days=d) for d in (7.0, 1000.0)], window, **args
    )
    alone = [
        evaluate_blends(
            model, [pure.but(popularity_days=d)], Window(before, after, now=cut), **args
        )[0]
        for d in (7.0, 1000.0)
    ]
    assert [m.recall for m in both] == [m.recall for m in alone]


@pytest.mark.parametrize("knn_weight", [0.0, 1.0])
def test_chunked_scoring_equals_unchunked(knn_weight):
    log, vectors, _, _ = shop(seed=2)
    params = TasteParams(factors=16, knn_weight=knn_weight)
    model = fit_log(log, now=100.0, params=params, item_keys=keys(120), item_vectors=vectors)
    side = item_side(
        model,
        item_keys=keys(120),
        item_vectors=vectors,
        popularity=torch.rand(120, generator=torch.Generator().manual_seed(0)),
    )
    grouped = _ByUser(log)

    def ranked(users):
        batch = shopper_events(grouped, users, now=100.0, policy=Policy())
        return recommend(side, batch, params=model.params, available=everyone(120), k=20, page=10)

    whole = ranked(np.arange(400))
    parts = [ranked(np.arange(start, min(start + 37, 400))) for start in range(0, 400, 37)]
    for field in ("items", "reason_kind", "reason_ref"):
        assert torch.equal(getattr(whole, field), torch.cat([getattr(p, field) for p in parts]))
    assert torch.allclose(whole.scores, torch.cat([p.scores for p in parts]), atol=1e-5)


def test_blends_scored_together_equal_each_scored_alone():
    """The tuning scores its blends together: one fold-in per shoppers' half-life, one
    item-item part per batch handed to each blend at its weight. Each blend's metrics
    equal those of scoring it alone (the item-item part added in place), with a tenth
    of the products unavailable and batches smaller than the shoppers."""
    log, vectors, _, _ = shop(seed=5, looks_follow_groups=True)
    before, after, cut = time_split(log, holdout_fraction=0.25)
    params = TasteParams(factors=8)
    model = fit_log(before, now=cut, params=params, item_keys=keys(120), item_vectors=vectors)
    available = torch.rand(120, generator=torch.Generator().manual_seed(1)) > 0.1
    args = dict(item_vectors=vectors, available=available, policy=Policy(), chunk=64)
    window = Window(before, after, now=cut)
    blends = [
        params.but(knn_weight=w, knn_neighbours=n, user_half_life_days=h, cf_history=c)
        for w in (0.0, 0.5, 4.0)
        for n in (5, 100)
        for h in (7.0, 30.0)
        for c in (1.0, 4.0)
    ]
    together = evaluate_blends(model, blends, window, **args)
    alone = [evaluate_blends(model, [b], window, **args)[0] for b in blends]
    assert [(m.recall, m.ndcg, m.coverage) for m in together] == [
        (m.recall, m.ndcg, m.coverage) for m in alone
    ]
    # The item-item part changes what is ranked (the test would pass without it).
    assert len({m.recall for m in together}) > 4


def test_validation_scores_at_most_max_users_shoppers_the_same_sample_each_time():
    """A cap on the shoppers scored bounds the tuning's cost on a big shop: 400
    shoppers with held-out events, 120 scored, the same 120 for every call and blend."""
    log, vectors, _, _ = shop(seed=6, looks_follow_groups=True)
    before, after, cut = time_split(log, holdout_fraction=0.25)
    params = TasteParams(factors=8)
    model = fit_log(before, now=cut, params=params, item_keys=keys(120), item_vectors=vectors)
    args = dict(item_vectors=vectors, available=everyone(120), policy=Policy())
    blends = [params, params.but(visual_weight=0.0)]

    def window(**cap):
        return Window(before, after, now=cut, **cap)

    everybody = evaluate_blends(model, blends, window(), **args)
    capped = evaluate_blends(model, blends, window(max_users=120), **args)
    again = evaluate_blends(model, blends[::-1], window(max_users=120), **args)[::-1]
    assert everybody[0].users > 120 and [m.users for m in capped] == [120, 120]
    assert [m.recall for m in capped] == [m.recall for m in again]
    assert capped[0].recall != everybody[0].recall  # a sample, not everyone
    wide = evaluate_blends(model, blends, window(max_users=10_000), **args)
    assert [m.recall for m in wide] == [m.recall for m in everybody]


def test_metrics_count_hits_places_and_cold_products():
    """Two shoppers; -1 pads a list; product 5 had no events before the split."""
    top = np.array([[1, 5, -1, 7], [2, 3, 4, 6]])
    relevant = [{5, 7, 9}, {4}]
    m = metrics_from_topk(top, relevant, cold_items={5, 9}, n_items=10, k=4)
    # Shopper 0: hits at places 2 and 3 of 4 (the -1 takes no place); shopper 1 at 3.
    d = 1 / np.log2(np.arange(2, 6))
    assert m.recall == pytest.approx((2 / 3 + 1) / 2)
    assert m.ndcg == pytest.approx(((d[1] + d[2]) / d[:3].sum() + d[2] / d[0]) / 2)
    assert m.cold_recall == pytest.approx(1 / 2)  # 5 found, 9 not
    assert m.coverage == pytest.approx(7 / 10) and m.users == 2
    empty = metrics_from_topk(np.zeros((0, 4), int), [], cold_items=set(), n_items=10, k=4)
    assert empty.users == 0 and empty.recall == 0.0


def test_grid_neighbours_are_one_step_on_one_option_in_sorted_order():
    """Options given unsorted: [2, 1] x [5, 3, 4]; grid order (2,5) (2,3) (2,4) (1,5)..."""
    near = grid_neighbour_mean(np.arange(6.0), [[2, 1], [5, 3, 4]])
    # (2,5): itself, (1,5) and (2,4), the next value below 5; (2,4): (1,4), (2,3), (2,5).
    assert near[0] == pytest.approx((0 + 3 + 2) / 3)
    assert near[2] == pytest.approx((2 + 5 + 1 + 0) / 4)


def test_smoothed_choice_prefers_a_plateau_to_a_lucky_spike():
    """A 3 x 3 grid: one setting validates best alone, its neighbours poorly; a row of
    settings a little below it all do well. "best" takes the spike, "smoothed" the
    plateau's middle."""
    recall = np.array([[0.05, 0.20, 0.05], [0.05, 0.05, 0.05], [0.17, 0.18, 0.17]]).ravel()
    ndcg = list(recall)
    options = [[1, 2, 3], [10, 20, 30]]
    assert choose(list(recall), ndcg, options, selection="best") == (1, None)
    at, near = choose(list(recall), ndcg, options, selection="smoothed")
    assert at == 7 and near[7] == pytest.approx((0.18 + 0.17 + 0.17 + 0.05) / 4)
    with pytest.raises(ValueError, match="selection"):
        choose(list(recall), ndcg, options, selection="luck")


def _one_shopper(side, *, kinds: dict[int, float], bought=(), policy=None, k=30):
    policy = policy or Policy()
    items = list(kinds)
    log = EventLog(
        1,
        side.matrix.shape[0],
        np.zeros(len(items), np.int64),
        np.array(items),
        np.array([kinds[i] for i in items], np.float32),
        np.full(len(items), 99.0),
        np.array([i in bought for i in items]),
    )
    batch = shopper_events(_ByUser(log), np.array([0]), now=100.0, policy=policy)
    page = policy.page if policy.interacted == "after_first_page" else 0
    return (
        recommend(
            side,
            batch,
            params=TasteParams(factors=16),
            available=everyone(120),
            k=k,
            page=page,
            reasons=False,
        )
        .items[0]
        .tolist()
    )


def test_exclusions_hold():
    log, vectors, group, _ = shop(seed=3)
    model = fit_log(
        log, now=100.0, params=TasteParams(factors=16), item_keys=keys(120), item_vectors=vectors
    )
    side = item_side(model, item_keys=keys(120), item_vectors=vectors, popularity=torch.zeros(120))
    mine = np.flatnonzero(group == 0)
    liked, bought, disliked = int(mine[0]), int(mine[1]), int(mine[2])
    events = {liked: 2.0, bought: 4.0, disliked: -2.0, int(mine[3]): 2.0}
    shown = _one_shopper(side, kinds=events, bought={bought})
    # Default: touched products stay off the first page; bought and disliked: never.
    assert liked not in shown[:10] and liked in shown
    assert bought not in shown and disliked not in shown
    never = _one_shopper(side, kinds=events, bought={bought}, policy=Policy(interacted="never"))
    assert liked not in never
    again = _one_shopper(
        side, kinds=events, bought={bought}, policy=Policy(interacted="always", show_bought=True)
    )
    assert liked in again[:10] and bought in again and disliked not in again


def test_demotion_keeps_the_order_of_the_rest():
    cand = torch.tensor([[5, 6, 7, 8, 9]])
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    flagged = torch.tensor([[True, False, False, False, False]])
    order, ok = first_page_order(cand, scores, flagged, page=2, k=4)
    assert cand.gather(1, order).tolist() == [[6, 7, 5, 8]] and ok.all()


@pytest.mark.parametrize("width", [32 * 240, 32 * 1000])
def test_the_top_k_in_blocks_is_the_top_k(width):
    """Tried: 64 rows of scores rounded to a few values (so that many tie), with
    stretches at -inf (excluded products) and one row all -inf but a few: the same top
    values as one top-k, each at a column that holds it, no column twice."""
    g = torch.Generator().manual_seed(0)
    scores = torch.round(torch.randn(64, width, generator=g) * 4) / 4
    scores[3, 100:5000] = -math.inf
    scores[7, :] = -math.inf
    scores[7, [5, 900, width - 1]] = 1.0
    values, cols = torch.empty(64, 60), torch.empty(64, 60, dtype=torch.long)
    taste_rank._topk_in_blocks(scores, 60, out=(values, cols))
    assert torch.equal(values, torch.topk(scores, 60, dim=1).values)
    assert torch.equal(scores.gather(1, cols), values)
    assert all(len(set(row)) == 60 for row in cols.tolist())


def test_model_file_round_trips_and_other_bytes_are_refused():
    log, vectors, _, _ = shop(seed=4, users=50)
    model = fit(
        n_users=50,
        item_keys=keys(120),
        item_vectors=vectors,
        user_idx=log.user,
        item_idx=log.item,
        weights=log.weight,
        params=TasteParams(factors=8),
    )
    back = TasteModel.load(model.save())
    assert back.params == model.params and back.item_keys == model.item_keys
    assert np.array_equal(back.item_factors, model.item_factors)
    assert np.array_equal(back.knn_items, model.knn_items)
    assert np.array_equal(back.knn_weights, model.knn_weights)
    # A file saved before the item-item part existed loads, and scores without it.
    model.knn_items = model.knn_weights = None
    older = TasteModel.load(model.save())
    assert older.knn_items is None
    side = item_side(older, item_keys=keys(120), item_vectors=vectors, popularity=torch.zeros(120))
    assert side.knn_items is None
    # Parameters saved before the shoppers' own half-life existed: one half-life for both.
    legacy = {k: v for k, v in model.params.as_dict().items() if k != "user_half_life_days"}
    assert TasteParams.from_dict({**legacy, "half_life_days": 9.0}).user_half_life_days == 9.0
    # Saved before pairs were shrunk: their stored weights are BM25's as they are.
    assert model.params.knn_shrink == 10.0 and back.params.knn_shrink == 10.0
    unshrunk = {k: v for k, v in model.params.as_dict().items() if k != "knn_shrink"}
    assert TasteParams.from_dict(unshrunk).knn_shrink == 0.0
    with pytest.raises(ValueError, match="not a stylerecs taste model"):
        TasteModel.load(b"not a model")


def test_events_of_shoppers_without_positive_history_give_zero_factors():
    log, vectors, _, _ = shop(seed=5, users=30)
    model = fit_log(
        log, now=100.0, params=TasteParams(factors=8), item_keys=keys(120), item_vectors=vectors
    )
    side = item_side(
        model, item_keys=keys(120), item_vectors=vectors, popularity=torch.linspace(0, 1, 120)
    )
    empty = ShopperEvents(
        1,
        *(torch.zeros(0, dtype=torch.long),) * 2,
        torch.zeros(0),
        torch.zeros(0),
        *(torch.zeros(0, dtype=torch.long),) * 4,
        torch.full((1, 0), -1),
    )
    top = recommend(side, empty, params=model.params, available=everyone(120), k=5, page=10)
    # A newcomer sees the most popular products, and is told so.
    assert top.items[0].tolist() == [119, 118, 117, 116, 115]
    assert set(top.reason_kind[0].tolist()) == {1}


def test_the_item_item_part_recovers_pairs_that_a_few_factors_smooth_away():
    """60 pairs of products that go together (invisible in the random photos): each
    shopper buys one of a pair, then later its partner. Two ALS factors cannot hold 60
    pairs; the neighbours of the product bought first name its partner. (About five
    shoppers bought each pair early: at the default ``knn_shrink`` of 10 a pair keeps a
    third of its BM25 weight, so the part weighs 8.)"""
    rng = np.random.default_rng(7)
    users, items = 600, 120
    pair = rng.integers(0, items // 2, users)
    first = rng.integers(0, 2, users)
    u = np.repeat(np.arange(users), 2)
    i = np.stack((2 * pair + first, 2 * pair + 1 - first), axis=1).ravel()
    day = np.tile([10.0, 90.0], users) + rng.uniform(0, 5, 2 * users)
    # Half the shoppers also bought the partner early: that is what the model learns from.
    day[1::2][: users // 2] = 20.0
    log = EventLog(
        users, items, u, i, np.full(2 * users, 2.0, np.float32), day, np.zeros(2 * users, bool)
    )
    vectors = torch.nn.functional.normalize(
        torch.randn(items, 24, generator=torch.Generator().manual_seed(7)), dim=1
    )
    before, after = log.select(log.day < 50), log.select(log.day >= 50)
    window = Window(before, after, now=50.0)
    args = dict(item_vectors=vectors, available=everyone(items), policy=Policy())

    def recall(**blend):
        params = TasteParams(factors=2, **blend)
        model = fit_log(
            before, now=50.0, params=params, item_keys=keys(items), item_vectors=vectors
        )
        return evaluate(model, window, **args).recall

    without, with_pairs = recall(knn_weight=0.0), recall(knn_weight=8.0, knn_neighbours=5)
    assert with_pairs > 0.9
    assert without < 0.5

    # Served with reasons: the partner of a liked product is "often bought with" it.
    params = TasteParams(factors=2, knn_weight=2.0, knn_neighbours=5)
    model = fit_log(before, now=50.0, params=params, item_keys=keys(items), item_vectors=vectors)
    side = item_side(
        model, item_keys=keys(items), item_vectors=vectors, popularity=torch.zeros(items)
    )
    liked, partner = 10, 11
    none = torch.zeros(0, dtype=torch.long)
    one = ShopperEvents(
        1, torch.tensor([0]), torch.tensor([liked]), torch.tensor([2.0]), torch.tensor([1.0]),
        none, none, none, none, torch.tensor([[liked]]),
    )  # fmt: skip
    top = recommend(side, one, params=params, available=everyone(items), k=5, page=0)
    at = top.items[0].tolist().index(partner)
    assert at == 0 or top.items[0, 0].item() == liked
    assert top.reason_kind[0, at].item() == REASON_COBOUGHT
    assert top.reason_ref[0, at].item() == liked


def test_shrunk_neighbours_weigh_each_pair_by_the_shoppers_who_touched_both():
    """``knn_shrink`` s: each pair's BM25 weight times n / (n + s), n the shoppers who
    touched both products; rows re-sorted by the shrunk weight. Tried: a random shop of
    400 shoppers and 60 products with every neighbour kept, so both runs hold the same
    pairs; and s = 0, which must give BM25's weights as they are."""
    import scipy.sparse as sp

    matrix = sp.random(400, 60, density=0.06, format="csr", random_state=3, dtype=np.float32)
    matrix.data = 1.0 + 3.0 * matrix.data  # event weights of 1 to 4
    plain_items, plain = neighbours(matrix, k=59)
    same_items, same = neighbours(matrix, k=59, shrink=0.0)
    assert np.array_equal(plain_items, same_items) and np.array_equal(plain, same)

    items, shrunk = neighbours(matrix, k=59, shrink=4.0)
    touched = (matrix > 0).astype(np.float32)
    together = (touched.T @ touched).toarray()
    checked = 0
    for product in range(60):
        before = {
            int(j): w for j, w in zip(plain_items[product], plain[product], strict=True) if j >= 0
        }
        row = [(int(j), w) for j, w in zip(items[product], shrunk[product], strict=True) if j >= 0]
        assert {j for j, _ in row} == set(before)
        assert all(a[1] >= b[1] for a, b in zip(row[:-1], row[1:], strict=True))  # best first
        for j, w in row:
            n = together[product, j]
            assert w == pytest.approx(before[j] * n / (n + 4.0), rel=1e-5)
            checked += 1
    assert checked > 500
    # Pairs that few shoppers share lose the most, so some rows change order.
    assert not np.array_equal(items, plain_items)
    # Counted a block of products at a time (7 here, 2,048 by default): the same.
    blocked_items, blocked = neighbours(matrix, k=59, shrink=4.0, chunk=7)
    assert np.array_equal(blocked_items, items) and np.array_equal(blocked, shrunk)
