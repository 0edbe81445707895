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


def _add_neighbours(scores, items: ItemSide, positive, history, where, *, params) -> None:
    """Add the item-item part to ``scores`` (B, shown) in place: each positive event
    spreads its share of the shopper's history (times the part's weight, which grows
    with history as the collaborative one does) over the touched product's first
    ``knn_neighbours`` neighbours. E x k scattered adds: no (B, P) pass of its own.
    ``positive``: :func:`_shares`'s."""
    h = history.float().clamp_min(0)
    part = float(params.knn_weight) * h / (h + float(params.cf_history) + 1e-8)
    k = int(params.knn_neighbours)
    _spread(scores, items.knn_items[:, :k], items.knn_weights[:, :k], positive, where, part)


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


def _spread(scores, near_items, near_values, positive, where, row_weight,
            transform=None) -> None:  # fmt: skip
    """Each positive pair (``positive``, :func:`_shares`'s) spreads its share of its
    shopper's history, times the shopper's ``row_weight``, over the touched product's
    ``near_items`` at ``near_values`` (both (P, k); ``transform`` applied to the touched
    rows' values only), scattered into ``scores`` (B, shown) in place."""
    if positive is None:
        return
    rows, cols, share = positive
    share = share * row_weight[rows]
    near = near_items[cols]
    cells = where[near.clamp_min(0)]
    ok = (near >= 0) & (cells >= 0)
    value = near_values[cols]
    if transform is not None:
        value = transform(value)
    value = value * share[:, None]
    flat = (rows[:, None] * scores.shape[1] + cells)[ok]
    scores.view(-1).index_add_(0, flat, value[ok].to(scores.dtype))


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
    _add_neighbours(unit, items, _shares(events, weights), taste.mass, where,
                    params=params.but(knn_weight=1.0))  # fmt: skip
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
    _spread(unit, items.looks_items, items.looks_cosines, _shares(events, weights), where,
            torch.ones(events.n), transform=partial(looks_kernel, params=params))  # fmt: skip
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
    scores = rows @ items.matrix[shown].T
    with_knn = items.knn_items is not None and float(params.knn_weight) > 0
    with_looks = items.looks_items is not None and float(params.looks_weight) > 0
    # Each positive pair's share of its shopper's history, once for every part that
    # scatters or explains with it.
    scattering = (with_knn and neighbours is None) or (with_looks and (looks is None or reasons))
    positive = _shares(events, weights) if scattering else None
    if with_knn and neighbours is not None:
        scores.add_(neighbours, alpha=float(params.knn_weight))
    elif with_knn:
        _add_neighbours(scores, items, positive, taste.mass, where, params=params)
    if with_looks and looks is not None:
        scores.add_(looks, alpha=float(params.looks_weight))
    elif with_looks:
        weight = torch.full((events.n,), float(params.looks_weight))
        _spread(scores, items.looks_items, items.looks_cosines, positive, where, weight,
                transform=partial(looks_kernel, params=params))  # fmt: skip
    ex_rows, ex_cols = _pairs_in(events.exclude_rows, events.exclude_items, where)
    if ex_rows.numel():
        scores[ex_rows, ex_cols] = -math.inf
    de_rows, de_cols = _pairs_in(events.demote_rows, events.demote_items, where)
    demoting = page > 0 and de_rows.numel() > 0
    pool = min(n_shown, k + (page if demoting else 0))
    top_scores, top_cols = torch.topk(scores, pool, dim=1)
    if demoting:
        # Membership of (row, column) keys by binary search: no (B, P) mask to fill.
        keys = torch.sort(de_rows * n_shown + de_cols).values
        wanted = torch.arange(top_cols.shape[0])[:, None] * n_shown + top_cols
        at = torch.searchsorted(keys, wanted).clamp_max(keys.shape[0] - 1)
        flagged = keys[at] == wanted
    del scores
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
