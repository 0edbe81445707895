"""The taste model's looks-alike part (stylerecs/engine/taste.py ``looks_alike``,
taste_rank.py ``looks_part``): no Django, small seeded shops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylerecs.engine import taste_rank
from stylerecs.engine.scoring import REASON_PRODUCT
from stylerecs.engine.taste import TasteModel, TasteParams, looks_alike
from stylerecs.engine.taste_log import EventLog, Policy, Window, _ByUser, shopper_events, time_split
from stylerecs.engine.taste_rank import ShopperEvents, looks_part, prepare, recommend
from stylerecs.engine.taste_side import item_side
from stylerecs.engine.taste_tuning import evaluate_blends, fit_log

pytest.importorskip("implicit")

LOOKS, PER_LOOK, BETWEEN, DIM = 6, 20, 6, 24


def catalogue(seed=0):
    """Six looks of 20 products each (a centre plus a little noise), then six products
    half of look 0 and half of look 1: like neither."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(LOOKS, DIM, generator=g)
    look = torch.arange(LOOKS).repeat_interleave(PER_LOOK)
    members = centres[look] + 0.2 * torch.randn(LOOKS * PER_LOOK, DIM, generator=g)
    between = (centres[0] + centres[1]) / 2 + 0.2 * torch.randn(BETWEEN, DIM, generator=g)
    return torch.cat((members, between)), look


def keys(n):
    return [str(i) for i in range(n)]


def one_shopper(cols, n_items, liked=None, kinds=None):
    """One shopper's events on ``cols`` a day old, each a like (``kinds``: their
    weights)."""
    none = torch.zeros(0, dtype=torch.long)
    cols = torch.tensor(cols)
    liked = torch.tensor([liked if liked is not None else cols.tolist()])
    kinds = torch.tensor(kinds) if kinds is not None else torch.full(cols.shape, 2.0)
    return ShopperEvents(
        1, torch.zeros_like(cols), cols, kinds, torch.ones(cols.shape),
        none, none, none, none, liked,
    )  # fmt: skip


def fitted(vectors, params, seed=0, untouched=()):
    """A model fitted on random background events (none of the ``untouched``
    products)."""
    rng = np.random.default_rng(seed)
    n_items, n = vectors.shape[0], 600
    items = rng.choice(np.setdiff1d(np.arange(n_items), list(untouched)), n)
    log = EventLog(
        60, n_items, rng.integers(0, 60, n), items,
        np.full(n, 2.0, np.float32), rng.uniform(0, 50, n), np.zeros(n, bool),
    )  # fmt: skip
    return fit_log(log, now=50.0, params=params, item_keys=keys(n_items), item_vectors=vectors)


def test_look_alikes_are_the_nearest_by_cosine_without_the_product_itself():
    """Tried: 50 random unit rows, in chunks smaller than the catalogue, against the
    full cosine matrix; and more neighbours asked than there are other products."""
    visual = torch.nn.functional.normalize(torch.randn(50, 8), dim=1)
    items, cosines = looks_alike(visual, k=10, chunk=7)
    full = visual @ visual.T
    full.fill_diagonal_(-2.0)
    best, at = torch.topk(full, 10, dim=1)
    assert np.array_equal(items, at.numpy())
    assert np.allclose(cosines, best.numpy(), atol=1e-6)
    assert not (items == np.arange(50)[:, None]).any()
    padded, _ = looks_alike(visual[:4], k=10)
    assert (padded[:, :3] >= 0).all() and (padded[:, 3:] == -1).all()


def test_the_looks_part_ranks_products_like_what_was_touched_above_a_blend_of_two_looks():
    """A shopper touched three products of look 0 and three of look 1. The linear
    visual part (the cosine to the mean of what they touched) ranks the products half
    of each look first: the mean of two looks is closest to their blend. The looks-alike
    part asks whether a product looks like something they touched and ranks the rest of
    looks 0 and 1 first, explained by a product they liked."""
    vectors, look = catalogue()
    n = vectors.shape[0]
    base = TasteParams(factors=4, cf_weight=0.0, popularity_weight=0.0, knn_weight=0.0,
                       looks_threshold=0.85, looks_softness=0.02)  # fmt: skip
    model = fitted(vectors, base)
    side = item_side(model, item_keys=keys(n), item_vectors=vectors, popularity=torch.zeros(n))
    touched = [0, 1, 2, PER_LOOK, PER_LOOK + 1, PER_LOOK + 2]
    shopper = one_shopper(touched, n)
    everyone = torch.ones(n, dtype=torch.bool)
    in_between = set(range(LOOKS * PER_LOOK, n))
    in_looks = {i for i in range(2 * PER_LOOK) if i not in touched}

    linear = recommend(side, shopper, params=base.but(visual_weight=1.0), available=everyone,
                       k=BETWEEN, page=0)  # fmt: skip
    assert set(linear.items[0].tolist()) == in_between

    alike = base.but(visual_weight=0.0, looks_weight=1.0)
    top = recommend(side, shopper, params=alike, available=everyone, k=20, page=0)
    assert set(top.items[0, :20].tolist()) <= in_looks
    assert torch.allclose(top.scores[0], torch.full((20,), 0.5), atol=0.01)  # half each
    assert (top.reason_kind[0] == REASON_PRODUCT).all()
    assert set(top.reason_ref[0].tolist()) <= set(touched)
    # Off (weight 0) it adds nothing: the same shopper gets no scores from looks.
    off = recommend(side, shopper, params=base.but(visual_weight=0.0), available=everyone,
                    k=5, page=0)  # fmt: skip
    assert torch.all(off.scores[0] == 0)


def test_the_looks_part_counts_every_product_touched_alike_unless_told_to_weigh_kinds():
    """A shopper viewed three products of look 0 (a view weighs 0.5) and bought one of
    look 1 (4.0). By default (``looks_kind_power`` 0) each product touched is as much
    evidence of what they look at: three quarters of the history looks like look 0. At
    power 1 the events weigh as in the other parts: the purchase is 4 of the 5.5."""
    vectors, _ = catalogue()
    n = vectors.shape[0]
    base = TasteParams(factors=4, cf_weight=0.0, popularity_weight=0.0, knn_weight=0.0,
                       visual_weight=0.0, looks_weight=1.0, looks_threshold=0.85)  # fmt: skip
    side = item_side(fitted(vectors, base), item_keys=keys(n), item_vectors=vectors,
                     popularity=torch.zeros(n))  # fmt: skip
    shopper = one_shopper([0, 1, 2, PER_LOOK], n, kinds=[0.5, 0.5, 0.5, 4.0])
    everyone = torch.ones(n, dtype=torch.bool)
    look_0, look_1 = set(range(3, PER_LOOK)), set(range(PER_LOOK + 1, 2 * PER_LOOK))

    def scores(power):
        top = recommend(side, shopper, params=base.but(looks_kind_power=power),
                        available=everyone, k=n, page=0)  # fmt: skip
        return dict(zip(top.items[0].tolist(), top.scores[0].tolist(), strict=True))

    alike, weighed = scores(0.0), scores(1.0)
    assert all(abs(alike[i] - 0.75) < 0.02 for i in look_0)
    assert all(abs(alike[i] - 0.25) < 0.02 for i in look_1)
    assert all(abs(weighed[i] - 1.5 / 5.5) < 0.02 for i in look_0)
    assert all(abs(weighed[i] - 4.0 / 5.5) < 0.02 for i in look_1)
    # Models saved before the power existed weighed the part's events by their kind.
    older = {k: v for k, v in base.as_dict().items() if k != "looks_kind_power"}
    assert TasteParams.from_dict(older).looks_kind_power == 1.0


def test_a_new_product_reaches_the_shoppers_who_touched_its_look_alikes_at_the_next_fit():
    """Look-alikes are kept by the fit over the catalogue it was given: a product with
    no events is among them, and is scored by the part as soon as it is in the file."""
    vectors, _ = catalogue(seed=1)
    n = vectors.shape[0]
    params = TasteParams(factors=4, cf_weight=0.0, popularity_weight=0.0, visual_weight=0.0,
                         looks_weight=1.0, looks_threshold=0.85)  # fmt: skip
    new = PER_LOOK * 3 + 7  # of look 3
    model = fitted(vectors, params, seed=1, untouched=[new])
    assert (model.knn_items[new] == -1).all()  # nobody touched it: no co-occurrence
    side = item_side(model, item_keys=keys(n), item_vectors=vectors, popularity=torch.zeros(n))
    shopper = one_shopper([PER_LOOK * 3, PER_LOOK * 3 + 1], n)
    top = recommend(side, shopper, params=params, available=torch.ones(n, dtype=torch.bool),
                    k=PER_LOOK - 2, page=0)  # fmt: skip
    assert new in top.items[0].tolist()
    assert set(top.items[0].tolist()) <= set(range(PER_LOOK * 3, PER_LOOK * 4))


def test_model_files_keep_the_look_alikes_and_older_files_score_without_them():
    vectors, _ = catalogue(seed=2)
    n = vectors.shape[0]
    params = TasteParams(factors=4, looks_weight=1.0)
    model = fitted(vectors, params, seed=2)
    back = TasteModel.load(model.save())
    assert np.array_equal(back.looks_items, model.looks_items)
    assert np.array_equal(back.looks_cosines, model.looks_cosines)
    assert back.params.looks_weight == 1.0
    model.looks_items = model.looks_cosines = None
    older = TasteModel.load(model.save())
    assert older.looks_items is None
    side = item_side(older, item_keys=keys(n), item_vectors=vectors, popularity=torch.zeros(n))
    assert side.looks_items is None
    top = recommend(side, one_shopper([0, 1], n), params=params,
                    available=torch.ones(n, dtype=torch.bool), k=5, page=0)  # fmt: skip
    assert (top.items[0] >= 0).all()


@pytest.mark.parametrize("tile, block", [(7, None), (64, 2)])
@pytest.mark.parametrize("looks_weight", [0.0, 1.5])
def test_chunked_scoring_with_the_looks_part_equals_unchunked(
    looks_weight, tile, block, monkeypatch
):
    """Tried: 300 shoppers with views, likes, carts and dislikes, scored in one batch and
    in batches of 41, with the rows scored ``tile`` at a time (tiles that split the
    batches anywhere), and with the top-k in blocks (of 2 columns, this catalogue being
    small): the same picks and reasons, and no disliked product shown."""
    monkeypatch.setattr(taste_rank, "TILE_ROWS", tile)
    if block:
        monkeypatch.setattr(taste_rank, "TOPK_BLOCK", block)
        monkeypatch.setattr(taste_rank, "TOPK_BLOCKS_PER_PICK", 1)
    vectors, _ = catalogue(seed=3)
    n = vectors.shape[0]
    params = TasteParams(factors=8, knn_weight=1.0, looks_weight=looks_weight,
                         looks_threshold=0.5)  # fmt: skip
    rng = np.random.default_rng(3)
    e = 3000
    log = EventLog(
        300, n, rng.integers(0, 300, e), rng.integers(0, n, e),
        rng.choice([0.5, 2.0, 4.0, -2.0], e).astype(np.float32), rng.uniform(0, 100, e),
        np.zeros(e, bool),
    )  # fmt: skip
    model = fit_log(log, now=100.0, params=params, item_keys=keys(n), item_vectors=vectors)
    side = item_side(model, item_keys=keys(n), item_vectors=vectors, popularity=torch.rand(n))
    grouped = _ByUser(log)
    available = torch.rand(n, generator=torch.Generator().manual_seed(3)) > 0.1

    def ranked(users):
        batch = shopper_events(grouped, users, now=100.0, policy=Policy())
        return recommend(side, batch, params=model.params, available=available, k=20, page=10)

    whole = ranked(np.arange(300))
    parts = [ranked(np.arange(start, min(start + 41, 300))) for start in range(0, 300, 41)]
    for field in ("items", "reason_kind", "reason_ref"):
        assert torch.equal(getattr(whole, field), torch.cat([getattr(p, field) for p in parts]))
    assert torch.allclose(whole.scores, torch.cat([p.scores for p in parts]), atol=1e-5)
    disliked = log.weight < 0
    assert not (
        whole.items[log.user[disliked]] == torch.from_numpy(log.item[disliked])[:, None]
    ).any()


def test_blends_with_the_looks_part_scored_together_equal_each_scored_alone():
    """The tuning builds each batch's looks-alike part once per shoppers' half-life and
    kernel and hands it to each blend at its weight; each blend's metrics equal those of
    scoring it alone, with a tenth of the products unavailable and small batches."""
    vectors, look = catalogue(seed=4)
    n = vectors.shape[0]
    rng = np.random.default_rng(4)
    users, per = 300, 10
    taste = rng.integers(0, LOOKS, users)
    u = np.repeat(np.arange(users), per)
    i = np.array([rng.choice(np.flatnonzero(look.numpy() == taste[x])) for x in u])
    log = EventLog(users, n, u, i, np.full(len(u), 2.0, np.float32),
                   rng.uniform(0, 100, len(u)), np.zeros(len(u), bool))  # fmt: skip
    before, after, cut = time_split(log, holdout_fraction=0.25)
    params = TasteParams(factors=4)
    model = fit_log(before, now=cut, params=params, item_keys=keys(n), item_vectors=vectors)
    available = torch.rand(n, generator=torch.Generator().manual_seed(1)) > 0.1
    args = dict(item_vectors=vectors, available=available, policy=Policy(), chunk=64)
    window = Window(before, after, now=cut)
    blends = [
        params.but(looks_weight=w, looks_threshold=t, user_half_life_days=h, knn_weight=k)
        for w in (0.0, 0.5, 3.0)
        for t in (0.2, 0.8)
        for h in (7.0, 30.0)
        for k in (0.0, 1.0)
    ]
    together = evaluate_blends(model, blends, window, **args)
    alone = [evaluate_blends(model, [b], window, **args)[0] for b in blends]
    assert [(m.recall, m.ndcg, m.coverage) for m in together] == [
        (m.recall, m.ndcg, m.coverage) for m in alone
    ]
    # The part changes what is ranked (the test would pass without it).
    assert len({m.recall for m in together}) > 4


def test_what_the_reasons_read_of_the_looks_part_is_what_it_added_to_each_pick(monkeypatch):
    """The reasons read each pick's looks-alike score back from the tile it was scattered
    into; tried against the dense part, with a tenth of the products unavailable,
    shoppers with dislikes and with no positive event, and tiles of 7 rows."""
    monkeypatch.setattr(taste_rank, "TILE_ROWS", 7)
    vectors, _ = catalogue(seed=5)
    n = vectors.shape[0]
    params = TasteParams(factors=4, looks_weight=2.0, looks_threshold=0.3, knn_weight=1.0)
    rng = np.random.default_rng(5)
    e = 2000
    log = EventLog(
        200, n, rng.integers(0, 200, e), rng.integers(0, n, e),
        rng.choice([0.5, 2.0, -2.0], e).astype(np.float32), rng.uniform(0, 100, e),
        np.zeros(e, bool),
    )  # fmt: skip
    model = fit_log(log, now=100.0, params=params, item_keys=keys(n), item_vectors=vectors)
    side = item_side(model, item_keys=keys(n), item_vectors=vectors, popularity=torch.rand(n))
    available = torch.rand(n, generator=torch.Generator().manual_seed(5)) > 0.1
    events = shopper_events(_ByUser(log), np.arange(200), now=100.0, policy=Policy())
    prepared = prepare(side, events, params=params)
    shown, where = taste_rank._scored(available)
    part = taste_rank._looks_spread(side, events.n, weight=params.looks_weight, params=params)
    tiles = taste_rank._Tiles(
        dense=[],
        terms=[],
        alike=taste_rank._spread(
            taste_rank._shares(events, taste_rank.looks_weights(events, params=params)),
            taste_rank._columns(where, len(shown)),
            part,
        ),
        excluded=taste_rank._by_row(
            *taste_rank._pairs_in(events.exclude_rows, events.exclude_items, where)
        ),
        demoted=None,
    )
    rows = torch.randn(events.n, side.matrix.shape[1], generator=torch.Generator().manual_seed(5))
    _, cols, _, read = taste_rank._top(rows, side.matrix[shown], tiles, 30)
    dense = looks_part(side, events, prepared, params=params, available=available)
    assert torch.allclose(read, dense.gather(1, cols) * params.looks_weight, atol=1e-5)
    assert (read > 0).float().mean() > 0.3  # the part is there to be read
