"""Ranking with the hybrid taste model: one batch of shoppers, one matrix product.

The service (stylerecs/services/taste_scoring.py), the self-tuning job and the bench all
rank through :func:`recommend`, so what is tuned and measured is what the shop serves:
the same fold-in, blend, exclusions, first-page policy and reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from .scoring import (
    REASON_NONE,
    REASON_POPULAR,
    REASON_PRODUCT,
    REASON_STYLE,
    RankResult,
    explain,
    taste_vectors,
)
from .taste import TasteParams
from .taste_side import ItemSide, fold_in, user_side

__all__ = [
    "REASON_COBOUGHT",
    "ShopperEvents",
    "demote_first_page",
    "first_page_order",
    "looks_kernel",
    "looks_part",
    "neighbour_part",
    "pair_mask",
    "prepare",
    "recommend",
]

# "Often bought with X": the collaborative part chose it, X a product the shopper liked.
REASON_COBOUGHT = 4

_UNSET = object()

# Batch rows scored at a time: a (64, products) buffer stays in cache from the matrix
# product through the scattered parts and exclusions to the top-k (bench/recs_scale.py:
# about a quarter faster than a (B, products) matrix passed over for each step).
TILE_ROWS = 64


@dataclass
class ShopperEvents:
    """What a batch of B shoppers did, with rows local to the batch."""

    n: int
    rows: Tensor  # (E,) long
    cols: Tensor  # (E,) long product rows of the catalogue
    kind_weights: Tensor  # (E,) signed weight of each event's kind
    ages_days: Tensor  # (E,)
    exclude_rows: Tensor  # pairs never shown (disliked; bought, by policy)
    exclude_items: Tensor
    demote_rows: Tensor  # pairs kept off the first page (by policy)
    demote_items: Tensor
    liked: Tensor  # (B, L) liked product rows, -1 padded (for the reasons)
    pref_weights: Tensor | None = None  # (B, S) explicit style preferences


def pair_mask(rows: Tensor, items: Tensor, cand: Tensor, n_items: int) -> Tensor:
    """Which of ``cand`` (B, C) are among the (row, item) pairs."""
    if not rows.numel():
        return torch.zeros_like(cand, dtype=torch.bool)
    keys = rows * n_items + items
    batch_rows = torch.arange(cand.shape[0])[:, None].expand_as(cand)
    return torch.isin(batch_rows * n_items + cand.clamp_min(0), keys) & (cand >= 0)


def first_page_order(
    cand: Tensor, scores: Tensor, flagged: Tensor, *, page: int, k: int
) -> tuple[Tensor, Tensor]:
    """Column order that keeps flagged candidates out of the first ``page`` places.

    The first page is the best ``page`` unflagged candidates; after it, every remaining
    candidate in score order. Returns ``(order (B, k), valid (B, k))``.
    """
    valid = (cand >= 0) & torch.isfinite(scores)
    free = valid & ~flagged
    first = free & (free.cumsum(dim=1) <= page)
    width = cand.shape[1]
    pos = torch.arange(width)[None, :].expand_as(cand)
    key = torch.where(first, pos, pos + width).masked_fill(~valid, 2 * width)
    order = key.argsort(dim=1)[:, :k]
    return order, valid.gather(1, order)


def demote_first_page(
    cand: Tensor, scores: Tensor, flagged: Tensor, *, page: int, k: int
) -> tuple[Tensor, Tensor]:
    """:func:`first_page_order` applied: the first k ``(items, scores)``, -1 padded."""
    order, ok = first_page_order(cand, scores, flagged, page=page, k=k)
    items = cand.gather(1, order).masked_fill(~ok, -1)
    return items, scores.gather(1, order).masked_fill(~ok, -math.inf)


def prepare(
    items: ItemSide,
    events: ShopperEvents,
    *,
    params: TasteParams,
    style_visual: Tensor | None = None,
    explicit_weight: float = 1.0,
):
    """The blend-independent part of :func:`recommend`: ``(user factors, visual taste,
    each event's decayed weight)``.

    Depends on the fit's parameters (confidence, regularisation) and the shoppers'
    half-life (``user_half_life_days``) only.
    """
    styles = style_visual if style_visual is not None else torch.zeros(0, items.visual.shape[1])
    weights = decayed_weights(events, params=params)
    factors = fold_in(
        items, n_users=events.n, rows=events.rows, cols=events.cols, weights=weights, params=params
    )
    taste = taste_vectors(
        item_matrix=items.visual,
        style_matrix=styles,
        n_shoppers=events.n,
        event_rows=events.rows,
        event_items=events.cols,
        event_weights=weights,
        pref_weights=events.pref_weights,
        explicit_weight=explicit_weight,
    )
    return factors, taste, weights


def decayed_weights(events: ShopperEvents, *, params: TasteParams) -> Tensor:
    """Each event's weight: its kind's, halved every ``user_half_life_days`` of age."""
    return events.kind_weights.float() * torch.exp2(
        -events.ages_days.float().clamp_min(0) / float(params.user_half_life_days)
    )


def _knn_spread(items: ItemSide, history, *, params) -> tuple:
    """The item-item part as a :func:`_spread` part: each positive pair spreads its share
    of the shopper's history (times the part's weight, which grows with history as the
    collaborative one does) over the touched product's first ``knn_neighbours``
    neighbours."""
    h = history.float().clamp_min(0)
    part = float(params.knn_weight) * h / (h + float(params.cf_history) + 1e-8)
    k = int(params.knn_neighbours)
    return items.knn_items[:, :k], items.knn_weights[:, :k], part, None


def _looks_spread(items: ItemSide, n_rows: int, *, weight: float, params) -> tuple:
    """The looks-alike part as a :func:`_spread` part: each positive pair spreads its
    share over the touched product's look-alikes, each at :func:`looks_kernel` of its
    cosine."""
    return (
        items.looks_items,
        items.looks_cosines,
        torch.full((n_rows,), float(weight)),
        partial(looks_kernel, params=params),
    )


def looks_kernel(cosines: Tensor, *, params: TasteParams) -> Tensor:
    """How much a product looks like another whose visual rows have these cosines:
    ``sigmoid((cosine - looks_threshold) / looks_softness)``, 0 to 1."""
    return torch.sigmoid((cosines - float(params.looks_threshold)) / float(params.looks_softness))


def _shares(events: ShopperEvents, weights: Tensor):
    """The positive events ``(rows, cols, share)``, one per (shopper, product): each
    pair's share of its shopper's (decayed, weighted) history. A product viewed, liked
    and carted is one pair, so the neighbour parts scatter once for it, not three
    times (the parts are linear in the share). None without any."""
    keep = weights > 0
    if not bool(keep.any()):
        return None
    n_items = int(events.cols.max()) + 1
    pairs, at = torch.unique(events.rows[keep] * n_items + events.cols[keep], return_inverse=True)
    summed = torch.zeros(pairs.shape[0]).index_add_(0, at, weights[keep])
    rows, cols = pairs // n_items, pairs % n_items
    total = torch.zeros(events.n).index_add_(0, rows, summed)
    return rows, cols, summed / total[rows]


@dataclass
class _Terms:
    """The scattered parts' adds, one row per positive pair: the pair's batch row
    (ascending), and for each product near the touched one its column among the scored
    products and its value. A neighbour that is missing (-1) or not scored adds 0 to the
    row's first column, so the adds need no mask."""

    rows: Tensor  # (E,)
    cells: Tensor  # (E, K)
    values: Tensor  # (E, K)


def _spread(positive, where, parts) -> _Terms | None:
    """What each positive pair (``positive``, :func:`_shares`'s) adds to the scores: its
    share of its shopper's history, spread over the products near the touched one.
    ``parts``: ``(near_items, near_values, row_weight, transform)`` each
    (:func:`_knn_spread`, :func:`_looks_spread`): the touched product's neighbours (P, k)
    at their values (``transform`` applied to the touched rows' values only), times the
    shopper's ``row_weight``. All parts go in one :func:`_scatter` of E x (sum of k) adds.
    None without positive pairs or parts."""
    if positive is None or not parts:
        return None
    rows, cols, share = positive
    near, values = [], []
    for near_items, near_values, row_weight, transform in parts:
        value = near_values[cols]
        if transform is not None:
            value = transform(value)
        near.append(near_items[cols])
        values.append(value * (share * row_weight[rows])[:, None])
    near = torch.cat(near, dim=1) if len(near) > 1 else near[0]
    value = torch.cat(values, dim=1) if len(values) > 1 else values[0]
    cells = where[near.clamp_min(0)]
    value.masked_fill_((near < 0) | (cells < 0), 0.0)
    return _Terms(rows=rows, cells=cells.clamp_min(0), values=value)


def _scatter(out: Tensor, terms: _Terms, start: int, lo: int, hi: int) -> None:
    """Add the terms of pairs ``lo:hi`` (those of batch rows ``start`` on) into ``out``
    (its rows: the batch's from ``start``) in place."""
    if hi <= lo:
        return
    flat = (terms.rows[lo:hi, None] - start) * out.shape[1] + terms.cells[lo:hi]
    out.view(-1).scatter_add_(0, flat.view(-1), terms.values[lo:hi].view(-1).to(out.dtype))


def _row_bounds(rows: Tensor, n_rows: int) -> list[int]:
    """Where each tile of :data:`TILE_ROWS` batch rows starts in ``rows`` (ascending),
    and the end."""
    starts = torch.arange(0, n_rows + TILE_ROWS, TILE_ROWS).clamp_max(n_rows)
    return torch.searchsorted(rows, starts).tolist()


def _top(user_rows, item_rows, dense, terms, excluded, pool: int) -> tuple[Tensor, Tensor]:
    """The top ``pool`` (scores, columns) of each row of ``user_rows @ item_rows.T``
    plus the ``dense`` parts (``(B, shown)`` matrix, weight) and the scattered
    ``terms``, the ``excluded`` (rows ascending, columns) at -inf. Scored
    :data:`TILE_ROWS` rows at a time into one buffer that stays in cache from the matrix
    product to the top-k: no (B, shown) matrix."""
    n_rows, n_shown = user_rows.shape[0], item_rows.shape[0]
    top_scores = torch.empty(n_rows, pool)
    top_cols = torch.empty(n_rows, pool, dtype=torch.long)
    buffer = torch.empty(min(n_rows, TILE_ROWS), n_shown)
    term_at = _row_bounds(terms.rows, n_rows) if terms is not None else None
    ex_rows, ex_cols = excluded
    ex_at = _row_bounds(ex_rows, n_rows)
    for tile, start in enumerate(range(0, n_rows, TILE_ROWS)):
        stop = min(start + TILE_ROWS, n_rows)
        scores = buffer[: stop - start]
        torch.matmul(user_rows[start:stop], item_rows.T, out=scores)
        for part, weight in dense:
            scores.add_(part[start:stop], alpha=weight)
        if terms is not None:
            _scatter(scores, terms, start, term_at[tile], term_at[tile + 1])
        lo, hi = ex_at[tile], ex_at[tile + 1]
        if hi > lo:
            scores[ex_rows[lo:hi] - start, ex_cols[lo:hi]] = -math.inf
        torch.topk(scores, pool, dim=1, out=(top_scores[start:stop], top_cols[start:stop]))
    return top_scores, top_cols


def _scored(available: Tensor) -> tuple[Tensor, Tensor]:
    """``(shown, where)``: the available products' rows, and each product's column
    among them (-1: not scored)."""
    shown = torch.nonzero(available).squeeze(1)
    where = torch.full((available.shape[0],), -1, dtype=torch.long)
    where[shown] = torch.arange(int(shown.shape[0]))
    return shown, where


def neighbour_part(
    items: ItemSide, events: ShopperEvents, prepared: tuple, *, params: TasteParams,
    available: Tensor,
) -> Tensor:  # fmt: skip
    """The item-item part of :func:`recommend` at ``knn_weight`` 1, as a dense (B,
    available products) matrix. The tuning builds it once per batch and fold-in and
    hands it to each blend (``recommend(neighbours=...)``), which adds its own weight
    of it: one (B, P) add a blend instead of E x k scattered ones."""
    shown, where = _scored(available)
    _, taste, weights = prepared
    unit = torch.zeros(events.n, int(shown.shape[0]))
    part = _knn_spread(items, taste.mass, params=params.but(knn_weight=1.0))
    terms = _spread(_shares(events, weights), where, [part])
    if terms is not None:
        _scatter(unit, terms, 0, 0, int(terms.rows.shape[0]))
    return unit


def looks_part(
    items: ItemSide, events: ShopperEvents, prepared: tuple, *, params: TasteParams,
    available: Tensor,
) -> Tensor:  # fmt: skip
    """The looks-alike part of :func:`recommend` at ``looks_weight`` 1, a dense (B,
    available products) matrix: each product's share of the shopper's history that looks
    like it (:func:`looks_kernel`). Needs the model's look-alikes
    (``items.looks_items``)."""
    shown, where = _scored(available)
    _, _, weights = prepared
    unit = torch.zeros(events.n, int(shown.shape[0]))
    part = _looks_spread(items, events.n, weight=1.0, params=params)
    terms = _spread(_shares(events, weights), where, [part])
    if terms is not None:
        _scatter(unit, terms, 0, 0, int(terms.rows.shape[0]))
    return unit


def _pairs_in(rows: Tensor, items: Tensor, where: Tensor) -> tuple[Tensor, Tensor]:
    """(row, item) pairs as (row, column among the scored products), unscored dropped."""
    if not rows.numel():
        return rows, items
    cols = where[items]
    keep = cols >= 0
    return rows[keep], cols[keep]


def recommend(
    items: ItemSide,
    events: ShopperEvents,
    *,
    params: TasteParams,
    available: Tensor,
    k: int,
    page: int,
    style_visual: Tensor | None = None,
    explicit_weight: float = 1.0,
    reasons: bool = True,
    prepared: tuple | None = None,
    neighbours: Tensor | None = None,
    looks: Tensor | None = None,
) -> RankResult:
    """Top ``k`` products for each shopper of the batch, with reasons.

    ``style_visual`` (S, d) holds the styles in the model's visual space (for explicit
    preferences and "because you like ..." reasons). ``page`` is the first-page size of
    the demotion policy (0: no demotion). ``prepared`` is :func:`prepare`'s result for
    this batch, when several blends are scored on the same fit (the tuning does),
    ``neighbours`` :func:`neighbour_part`'s for it and ``available``, and ``looks``
    :func:`looks_part`'s.
    """
    styles = style_visual if style_visual is not None else torch.zeros(0, items.visual.shape[1])
    if prepared is None:
        prepared = prepare(
            items, events, params=params, style_visual=styles, explicit_weight=explicit_weight
        )
    factors, taste, weights = prepared
    rows, parts = user_side(factors, taste.vectors, taste.mass, params=params)
    # Only available products are scored: no (B, P) masking pass, a smaller product.
    shown, where = _scored(available)
    n_shown = int(shown.shape[0])
    with_knn = items.knn_items is not None and float(params.knn_weight) > 0
    with_looks = items.looks_items is not None and float(params.looks_weight) > 0
    # Each positive pair's share of its shopper's history, once for every part that
    # scatters or explains with it.
    scattering = (with_knn and neighbours is None) or (with_looks and (looks is None or reasons))
    positive = _shares(events, weights) if scattering else None
    dense, scattered = [], []
    if with_knn and neighbours is not None:
        dense.append((neighbours, float(params.knn_weight)))
    elif with_knn:
        scattered.append(_knn_spread(items, taste.mass, params=params))
    if with_looks and looks is not None:
        dense.append((looks, float(params.looks_weight)))
    elif with_looks:
        scattered.append(
            _looks_spread(items, events.n, weight=float(params.looks_weight), params=params)
        )
    ex_rows, ex_cols = _pairs_in(events.exclude_rows, events.exclude_items, where)
    order = torch.argsort(ex_rows, stable=True)
    de_rows, de_cols = _pairs_in(events.demote_rows, events.demote_items, where)
    demoting = page > 0 and de_rows.numel() > 0
    pool = min(n_shown, k + (page if demoting else 0))
    top_scores, top_cols = _top(
        rows,
        items.matrix[shown],
        dense,
        _spread(positive, where, scattered),
        (ex_rows[order], ex_cols[order]),
        pool,
    )
    if demoting:
        # Membership of (row, column) keys by binary search: no (B, P) mask to fill.
        keys = torch.sort(de_rows * n_shown + de_cols).values
        wanted = torch.arange(top_cols.shape[0])[:, None] * n_shown + top_cols
        at = torch.searchsorted(keys, wanted).clamp_max(keys.shape[0] - 1)
        flagged = keys[at] == wanted
    top_items = shown[top_cols].masked_fill(~torch.isfinite(top_scores), -1)
    if demoting:
        picked, picked_scores = demote_first_page(
            top_items, top_scores, flagged, page=page, k=min(k, pool)
        )
    else:
        picked, picked_scores = top_items[:, :k], top_scores[:, :k]
    if not reasons:
        empty = torch.full_like(picked, REASON_NONE)
        return RankResult(picked, picked_scores, empty, torch.full_like(picked, -1))
    # The looks-alike part of each pick, and the item-item part: the pick's score less
    # the blend's matrix-product part and the looks-alike part.
    alike = None
    if with_looks:
        alike = _looks_of(picked, items, events, weights, params=params, positive=positive)
    alike = alike if alike is not None else torch.zeros(picked.shape)
    knn = torch.zeros(picked.shape)
    if with_knn:
        blend = torch.bmm(items.matrix[picked.clamp_min(0)], rows[:, :, None]).squeeze(2)
        knn = torch.where(picked >= 0, picked_scores - blend - alike, knn).clamp_min(0)
    kind, ref = _reasons(
        picked, items, factors, taste.vectors, parts, styles, events.liked, knn, alike
    )
    return RankResult(items=picked, scores=picked_scores, reason_kind=kind, reason_ref=ref)


def _looks_of(
    picked: Tensor, items: ItemSide, events, weights, *, params, positive=_UNSET
) -> Tensor | None:
    """The looks-alike part of each pick (B, k), from the events and the picks alone:
    each event's look-alikes are sorted by row (:func:`~.taste_side.item_side`), so a
    binary search of the row's picks in them finds what that event added to each pick
    (E x k searches; no (B, P) buffer). ``positive``: :func:`_shares`'s, when the
    caller has it."""
    if positive is _UNSET:
        positive = _shares(events, weights)
    if positive is None:
        return None
    rows, cols, share = positive
    share = share * float(params.looks_weight)
    near = items.looks_items[cols]  # (E, K) ascending, -1 first
    picks = picked[rows]  # (E, k)
    at = torch.searchsorted(near, picks.clamp_min(0)).clamp_max(near.shape[1] - 1)
    hit = (near.gather(1, at) == picks) & (picks >= 0)
    kernel = looks_kernel(items.looks_cosines[cols].gather(1, at), params=params)
    return torch.zeros(picked.shape).index_add_(0, rows, kernel * hit * share[:, None])


def _reasons(picked, items, factors, visual_taste, parts, styles, liked, knn, alike):
    """The part of the blend that contributed most names the reason (the item-item
    part, ``knn``, counts with the collaborative one: "often bought with"; the
    looks-alike part, ``alike``, with the visual one)."""
    safe = picked.clamp_min(0)
    ok = picked >= 0
    cf = parts[:, :1] * torch.bmm(items.factors[safe], factors[:, :, None]).squeeze(2) + knn
    unit = torch.nn.functional.normalize(visual_taste, dim=1)
    vis = parts[:, 1:2] * torch.bmm(items.visual[safe], unit[:, :, None]).squeeze(2) + alike
    pop = parts[:, 2:3] * items.popularity[safe]
    # The visual reason: a liked style, or a liked product it looks like.
    kind, ref = explain(
        picked,
        taste=visual_taste,
        item_matrix=items.visual,
        style_matrix=styles,
        liked=liked,
        popularity=items.popularity,
        alpha=torch.zeros(picked.shape[0], 1),
    )
    if liked.numel():
        # "Often bought with": the liked product nearest in the collaborative space.
        near = items.factors[safe] @ items.factors[liked.clamp_min(0)].transpose(1, 2)
        blocked = (liked[:, None, :] < 0) | (liked[:, None, :] == picked[:, :, None])
        near = near.masked_fill(blocked, -math.inf)
        nearest, which = near.max(dim=2)
        by_cf = (cf > vis) & (cf > pop) & torch.isfinite(nearest) & (nearest > 0)
        kind = torch.where(by_cf, REASON_COBOUGHT, kind)
        ref = torch.where(by_cf, liked.gather(1, which), ref)
    popular = (pop > cf) & (pop > vis)
    kind = torch.where(popular, REASON_POPULAR, kind)
    ref = torch.where(popular, -1, ref)
    # A product pick explained by a style or a product keeps its kind; the rest, none.
    kind = torch.where(ok, kind, REASON_NONE)
    keep = (kind == REASON_STYLE) | (kind == REASON_PRODUCT) | (kind == REASON_COBOUGHT)
    return kind, torch.where(ok & keep, ref, -1)
