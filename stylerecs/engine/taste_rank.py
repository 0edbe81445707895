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
    "first_page_order",
    "looks_kernel",
    "looks_part",
    "looks_weights",
    "neighbour_part",
    "pair_mask",
    "prepare",
    "recommend",
]

# "Often bought with X": the collaborative part chose it, X a product the shopper liked.
REASON_COBOUGHT = 4

# Batch rows scored at a time: a (64, products) buffer stays in cache from the matrix
# product through the scattered parts and exclusions to the top-k (bench/recs_scale.py:
# about a quarter faster than a (B, products) matrix passed over for each step).
TILE_ROWS = 64
# Columns per block of the two-stage top-k (:func:`_topk_in_blocks`): two AVX-512
# vectors; 24, 40 or 48 measured slower. Used with at least TOPK_BLOCKS_PER_PICK
# blocks per product picked; with fewer, one top-k over the row costs less.
TOPK_BLOCK = 32
TOPK_BLOCKS_PER_PICK = 4


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


def _decay(events: ShopperEvents, params: TasteParams) -> Tensor:
    """Each event's age factor: halved every ``user_half_life_days``."""
    return torch.exp2(-events.ages_days.float().clamp_min(0) / float(params.user_half_life_days))


def decayed_weights(events: ShopperEvents, *, params: TasteParams) -> Tensor:
    """Each event's weight: its kind's, halved every ``user_half_life_days`` of age."""
    return events.kind_weights.float() * _decay(events, params)


def looks_weights(events: ShopperEvents, *, params: TasteParams) -> Tensor:
    """Each event's weight in the looks-alike part: its kind's weight to the power
    ``looks_kind_power``, decayed as in :func:`decayed_weights` (power 1: the same
    weights); dislikes weigh 0."""
    kind = events.kind_weights.float().clamp_min(0)
    power = float(params.looks_kind_power)
    kind = kind.pow(power) * (kind > 0) if power != 1.0 else kind
    return kind * _decay(events, params)


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
    """What one scattered part adds to the scores, one row per positive pair: the pair's
    batch row (ascending), and for each product near the touched one its column among
    the scored products (:func:`_columns`: a missing neighbour or one not scored goes
    to the spill column past them) and its value."""

    rows: Tensor  # (E,)
    cells: Tensor  # (E, k)
    values: Tensor  # (E, k)


def _columns(where: Tensor, n_shown: int) -> Tensor:
    """``where`` (:func:`_scored`'s) with the products not scored at ``n_shown``, the
    spill column, and one more entry, for the -1 of a missing neighbour, there too: the
    scattered parts add to it what is not scored, so they need no mask."""
    columns = where.masked_fill(where < 0, n_shown)
    return torch.cat([columns, columns.new_tensor([n_shown])])


def _spread(positive, columns, part) -> _Terms | None:
    """What each positive pair (``positive``, :func:`_shares`'s) adds to the scores
    through one part (:func:`_knn_spread`, :func:`_looks_spread`): its share of its
    shopper's history times the shopper's ``row_weight``, spread over the touched
    product's neighbours (``near_items``, (P, k)) at their values (``near_values``,
    ``transform`` applied to the touched rows' values only). ``columns``:
    :func:`_columns`'. None without positive pairs."""
    if positive is None:
        return None
    rows, cols, share = positive
    near_items, near_values, row_weight, transform = part
    value = near_values[cols]
    if transform is not None:
        value = transform(value)
    value = value * (share * row_weight[rows])[:, None]
    return _Terms(rows=rows, cells=columns[near_items[cols]], values=value)


def _scatter(out: Tensor, flat: Tensor, values: Tensor) -> None:
    """``out.view(-1)[flat] += values`` in place, repeated indices summed."""
    out.view(-1).scatter_add_(0, flat.view(-1), values.view(-1).to(out.dtype))


def _dense(part, events: ShopperEvents, weights: Tensor, available: Tensor) -> Tensor:
    """One scattered part as a dense (B, available products) matrix."""
    shown, where = _scored(available)
    n_shown = int(shown.shape[0])
    unit = torch.zeros(events.n, n_shown + 1)  # and the spill column
    terms = _spread(_shares(events, weights), _columns(where, n_shown), part)
    if terms is not None:
        _scatter(unit, terms.rows[:, None] * (n_shown + 1) + terms.cells, terms.values)
    return unit[:, :n_shown]


def _row_bounds(rows: Tensor, n_rows: int) -> list[int]:
    """Where each tile of :data:`TILE_ROWS` batch rows starts in ``rows`` (ascending),
    and the end."""
    starts = torch.arange(0, n_rows + TILE_ROWS, TILE_ROWS).clamp_max(n_rows)
    return torch.searchsorted(rows, starts).tolist()


@dataclass
class _Tiles:
    """What :func:`_top` adds to each tile of the matrix product before its top-k."""

    dense: list  # (matrix (B, shown), weight): parts built once for several blends
    terms: list  # _Terms scattered into the scores
    alike: _Terms | None  # scattered too, and read back at the top columns (the reasons)
    excluded: tuple  # (rows ascending, columns): at -inf
    demoted: tuple | None  # (rows ascending, columns): flagged at the top columns


def _topk_in_blocks(scores: Tensor, pool: int, out: tuple[Tensor, Tensor]) -> None:
    """``torch.topk(scores, pool, dim=1, out=out)`` in two stages: the max of each block
    of :data:`TOPK_BLOCK` columns, then the top ``pool`` among the columns of the
    ``pool`` best blocks, which hold every one of the top ``pool`` (the same values; of
    tied columns, perhaps others). ``scores``' width: a multiple of the block."""
    rows, width = scores.shape
    blocks = scores.view(rows, width // TOPK_BLOCK, TOPK_BLOCK)
    best = torch.topk(blocks.amax(dim=2), pool, dim=1, sorted=False).indices
    candidates = blocks.gather(1, best[:, :, None].expand(-1, -1, TOPK_BLOCK))
    values, at = torch.topk(candidates.view(rows, -1), pool, dim=1)
    out[0].copy_(values)
    torch.add(best.gather(1, at // TOPK_BLOCK) * TOPK_BLOCK, at % TOPK_BLOCK, out=out[1])


def _top(user_rows: Tensor, item_rows: Tensor, tiles: _Tiles, pool: int):
    """The top ``pool`` ``(scores, columns, flagged, alike)`` of each row of ``user_rows
    @ item_rows.T`` plus the parts of ``tiles``, the excluded pairs at -inf: which of
    them are demoted (None without ``tiles.demoted``), and what ``tiles.alike`` added
    to them (None without it). Scored :data:`TILE_ROWS` rows at a time into buffers that
    stay in cache from the matrix product to the top-k: no (B, shown) matrix. The
    buffers are a whole number of :data:`TOPK_BLOCK` columns wide, the columns past the
    products at -inf (a column past them is picked only at -inf, and reads as the last
    product's)."""
    n_rows, n_shown = user_rows.shape[0], item_rows.shape[0]
    width = -(-(n_shown + 1) // TOPK_BLOCK) * TOPK_BLOCK  # the spill column at least
    in_blocks = width // TOPK_BLOCK >= TOPK_BLOCKS_PER_PICK * pool
    padded = torch.cat([item_rows, item_rows.new_zeros(width - n_shown, item_rows.shape[1])])
    height = min(n_rows, TILE_ROWS)
    top_scores = torch.empty(n_rows, pool)
    top_cols = torch.empty(n_rows, pool, dtype=torch.long)
    buffer = torch.empty(height, width)

    def placed(terms: _Terms) -> tuple:
        """Each term's place in its tile's buffer (its row in the tile, its column), its
        value, and where each tile's terms start."""
        flat = (terms.rows % TILE_ROWS)[:, None] * width + terms.cells
        return flat, terms.values, _row_bounds(terms.rows, n_rows)

    scattered = [placed(t) for t in tiles.terms]
    ex_rows, ex_cols = tiles.excluded
    ex_at = _row_bounds(ex_rows, n_rows)
    flagged = alike = None
    if tiles.alike is not None:
        alike = torch.empty(n_rows, pool)
        alike_flat, alike_values, alike_at = placed(tiles.alike)
        alike_buffer = torch.empty(height, width)
    if tiles.demoted is not None:
        flagged = torch.empty(n_rows, pool, dtype=torch.bool)
        de_rows, de_cols = tiles.demoted
        de_at = _row_bounds(de_rows, n_rows)
        marks = torch.zeros(height, width, dtype=torch.bool)
    for tile, start in enumerate(range(0, n_rows, TILE_ROWS)):
        stop = min(start + TILE_ROWS, n_rows)
        scores = buffer[: stop - start]
        torch.matmul(user_rows[start:stop], padded.T, out=scores)
        scores[:, n_shown:] = -math.inf
        for part, weight in tiles.dense:
            scores[:, :n_shown].add_(part[start:stop], alpha=weight)
        for flat, values, at in scattered:
            lo, hi = at[tile], at[tile + 1]
            _scatter(scores, flat[lo:hi], values[lo:hi])
        if alike is not None:
            added = alike_buffer[: stop - start].zero_()
            lo, hi = alike_at[tile], alike_at[tile + 1]
            _scatter(added, alike_flat[lo:hi], alike_values[lo:hi])
            scores.add_(added)
        lo, hi = ex_at[tile], ex_at[tile + 1]
        if hi > lo:
            scores[ex_rows[lo:hi] - start, ex_cols[lo:hi]] = -math.inf
        cols = top_cols[start:stop]
        if in_blocks:
            _topk_in_blocks(scores, pool, out=(top_scores[start:stop], cols))
        else:
            torch.topk(scores, pool, dim=1, out=(top_scores[start:stop], cols))
        if alike is not None:
            torch.gather(added, 1, cols, out=alike[start:stop])
        if flagged is not None:
            lo, hi = de_at[tile], de_at[tile + 1]
            pairs = (de_rows[lo:hi] - start, de_cols[lo:hi])
            mark = marks[: stop - start]
            mark[pairs] = True
            torch.gather(mark, 1, cols, out=flagged[start:stop])
            mark[pairs] = False
    if alike is not None:  # what a pick at -inf holds is no product's
        alike.masked_fill_(~torch.isfinite(top_scores), 0.0)
    return top_scores, top_cols.clamp_max_(max(n_shown - 1, 0)), flagged, alike


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
    _, taste, weights = prepared
    part = _knn_spread(items, taste.mass, params=params.but(knn_weight=1.0))
    return _dense(part, events, weights, available)


def looks_part(
    items: ItemSide, events: ShopperEvents, prepared: tuple, *, params: TasteParams,
    available: Tensor,
) -> Tensor:  # fmt: skip
    """The looks-alike part of :func:`recommend` at ``looks_weight`` 1, a dense (B,
    available products) matrix: each product's share of the shopper's history that looks
    like it (:func:`looks_kernel`). Needs the model's look-alikes
    (``items.looks_items``)."""
    part = _looks_spread(items, events.n, weight=1.0, params=params)
    return _dense(part, events, looks_weights(events, params=params), available)


def _by_row(rows: Tensor, cols: Tensor) -> tuple[Tensor, Tensor]:
    """The (row, column) pairs ordered by row, for :func:`_top`'s tiles."""
    order = torch.argsort(rows, stable=True)
    return rows[order], cols[order]


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
    columns = _columns(where, n_shown)
    with_knn = items.knn_items is not None and float(params.knn_weight) > 0
    with_looks = items.looks_items is not None and float(params.looks_weight) > 0
    # Each positive pair's share of its shopper's history: once for both scattered
    # parts where they weigh events alike.
    positive = _shares(events, weights) if with_knn and neighbours is None else None
    dense, terms, alike = [], [], None
    if with_knn and neighbours is not None:
        dense.append((neighbours, float(params.knn_weight)))
    elif with_knn:
        terms.append(_spread(positive, columns, _knn_spread(items, taste.mass, params=params)))
    if with_looks and looks is not None:
        dense.append((looks, float(params.looks_weight)))
    elif with_looks:
        part = _looks_spread(items, events.n, weight=float(params.looks_weight), params=params)
        same = float(params.looks_kind_power) == 1.0 and positive is not None
        seen = positive if same else _shares(events, looks_weights(events, params=params))
        alike = _spread(seen, columns, part)
        if not reasons:  # nothing to read back: scattered with the rest
            terms.append(alike)
            alike = None
    ex_rows, ex_cols = _pairs_in(events.exclude_rows, events.exclude_items, where)
    de_rows, de_cols = _pairs_in(events.demote_rows, events.demote_items, where)
    demoting = page > 0 and de_rows.numel() > 0
    pool = min(n_shown, k + (page if demoting else 0))
    tiles = _Tiles(
        dense=dense,
        terms=[t for t in terms if t is not None],
        alike=alike,
        excluded=_by_row(ex_rows, ex_cols),
        demoted=_by_row(de_rows, de_cols) if demoting else None,
    )
    top_scores, top_cols, flagged, pool_alike = _top(rows, items.matrix[shown], tiles, pool)
    if reasons and with_looks and looks is not None:
        pool_alike = looks.gather(1, top_cols) * float(params.looks_weight)
    top_items = shown[top_cols].masked_fill(~torch.isfinite(top_scores), -1)
    width = min(k, pool)
    if demoting:
        order, ok = first_page_order(top_items, top_scores, flagged, page=page, k=width)
    else:
        order = torch.arange(width).expand(top_items.shape[0], width)
        ok = torch.ones(order.shape, dtype=torch.bool)
    picked = top_items.gather(1, order).masked_fill(~ok, -1)
    picked_scores = top_scores.gather(1, order).masked_fill(~ok, -math.inf)
    if not reasons:
        empty = torch.full_like(picked, REASON_NONE)
        return RankResult(picked, picked_scores, empty, torch.full_like(picked, -1))
    # The looks-alike part of each pick, and the item-item part: the pick's score less
    # the blend's matrix-product part and the looks-alike part.
    alike = torch.zeros(picked.shape)
    if pool_alike is not None:
        alike = pool_alike.gather(1, order).masked_fill(picked < 0, 0.0)
    knn = torch.zeros(picked.shape)
    if with_knn:
        blend = torch.bmm(items.matrix[picked.clamp_min(0)], rows[:, :, None]).squeeze(2)
        knn = torch.where(picked >= 0, picked_scores - blend - alike, knn).clamp_min(0)
    kind, ref = _reasons(
        picked, items, factors, taste.vectors, parts, styles, events.liked, knn, alike
    )
    return RankResult(items=picked, scores=picked_scores, reason_kind=kind, reason_ref=ref)


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
