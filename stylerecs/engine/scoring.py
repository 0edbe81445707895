"""Scoring products for shoppers, in batches, on torch alone.

A shopper's *taste* is a vector in the product-embedding space: their explicit style
preferences (style embeddings times weights) plus their events (product embeddings
times the weight of the event's kind, halved every ``half_life_days``). A product's
*relevance* to a shopper is the cosine of taste and product, blended with a popularity
prior that dominates while the shopper has little history and fades fast after. The
best candidates are re-ranked by maximal marginal relevance (Carbonell & Goldstein,
1998, "The use of MMR, diversity-based reranking for reordering documents and producing
summaries") so that one look does not fill the page, and each pick is explained by the
liked style or the liked product that is closest to it.

Everything is a matrix product over a batch of shoppers: ``taste @ items.T`` then
``topk``; the per-shopper work left is the MMR loop over k picks, itself batched.
Nothing here imports Django, Celery or stylerecs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "REASON_NONE",
    "REASON_POPULAR",
    "REASON_PRODUCT",
    "REASON_STYLE",
    "RankResult",
    "Taste",
    "cosine_matrix",
    "decayed_weights",
    "explain",
    "mmr_rerank",
    "rank_batch",
    "relevance",
    "standardise",
    "taste_vectors",
]

# What explains a pick (RankResult.reason_kind); reason_ref says which style or product.
REASON_NONE = 0
REASON_POPULAR = 1
REASON_STYLE = 2
REASON_PRODUCT = 3

EPS = 1e-8


@dataclass
class Taste:
    """Taste vectors of a batch of shoppers and how much history each rests on."""

    vectors: Tensor  # (B, D), not normalised; a zero row means "no signal"
    mass: Tensor  # (B,) sum of |weights| of explicit preferences and events


@dataclass
class RankResult:
    """Top-k per shopper. Rows are padded with -1 items when fewer products qualify."""

    items: Tensor  # (B, k) long: product rows of the item matrix, -1 for padding
    scores: Tensor  # (B, k) float: relevance (before the diversity re-ranking)
    reason_kind: Tensor  # (B, k) long: REASON_*
    reason_ref: Tensor  # (B, k) long: style row (REASON_STYLE), product row (REASON_PRODUCT)


def decayed_weights(kind_weights: Tensor, ages_days: Tensor, *, half_life_days: float) -> Tensor:
    """Event weights halved every ``half_life_days`` of age: ``w * 0.5 ** (age / h)``."""
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    ages = ages_days.to(kind_weights.dtype).clamp_min(0)
    return kind_weights * torch.exp2(-ages / float(half_life_days))


def standardise(
    x: Tensor, *, mean: Tensor | None = None, std: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Centre and scale each dimension, then make rows unit length.

    Embeddings of one catalogue share a large common component (every photo has some
    mean colour): without centring, every cosine is near 1 and nothing stands out.
    Returns ``(rows, mean, std)`` so that styles can be put in the products' frame.
    """
    x = x.float()
    # One row has no spread to measure: it is left as it is, not centred to zero.
    alone = x.shape[0] < 2
    if mean is None:
        mean = torch.zeros_like(x[0]) if alone else x.mean(dim=0)
    if std is None:
        std = torch.ones_like(mean) if alone else x.std(dim=0, unbiased=False)
    z = (x - mean) / (std + 1e-6)
    return torch.nn.functional.normalize(z, dim=1, eps=EPS), mean, std


def cosine_matrix(a: Tensor, b: Tensor) -> Tensor:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (zero rows give 0)."""
    a = torch.nn.functional.normalize(a, dim=-1, eps=EPS)
    b = torch.nn.functional.normalize(b, dim=-1, eps=EPS)
    return a @ b.transpose(-1, -2)


def taste_vectors(
    *,
    item_matrix: Tensor,
    style_matrix: Tensor,
    n_shoppers: int,
    event_rows: Tensor,
    event_items: Tensor,
    event_weights: Tensor,
    pref_weights: Tensor | None = None,
    explicit_weight: float = 1.0,
) -> Taste:
    """Blend explicit preferences and (already decayed) events into taste vectors.

    ``event_rows[i]`` is the shopper (row of the batch) of event i, ``event_items[i]``
    its product (row of ``item_matrix``). ``pref_weights`` is (B, S) over the rows of
    ``style_matrix``. Sums are ``index_add_``: one pass over the events for the batch.
    """
    dim = item_matrix.shape[1]
    vectors = torch.zeros(n_shoppers, dim, dtype=item_matrix.dtype, device=item_matrix.device)
    mass = torch.zeros(n_shoppers, dtype=item_matrix.dtype, device=item_matrix.device)
    if event_rows.numel():
        weights = event_weights.to(item_matrix.dtype)
        vectors.index_add_(0, event_rows, item_matrix[event_items] * weights[:, None])
        mass.index_add_(0, event_rows, weights.abs())
    if pref_weights is not None and pref_weights.numel() and style_matrix.numel():
        prefs = pref_weights.to(item_matrix.dtype) * float(explicit_weight)
        vectors += prefs @ style_matrix
        mass += prefs.abs().sum(dim=1)
    return Taste(vectors=vectors, mass=mass)


def relevance(
    taste: Tensor,
    item_matrix: Tensor,
    *,
    popularity: Tensor,
    history: Tensor,
    popularity_prior: float,
) -> tuple[Tensor, Tensor]:
    """Relevance of every product to every shopper: ``(1 - a) * cos + a * popularity``.

    ``a = (prior / (prior + history)) ** 2`` is 1 for a shopper with no history
    (popular products) and fades fast as their history grows (a quarter at ``history ==
    prior``): a lingering popularity term would keep products nobody has touched yet,
    which have no popularity, out of the pages of shoppers whose taste they match.
    ``item_matrix`` holds unit rows. Returns ``(relevance (B, P), a (B, 1))``. One (B, P)
    matrix is allocated: the blend is done in place.
    """
    scores = torch.nn.functional.normalize(taste, dim=1, eps=EPS) @ item_matrix.T
    prior = float(popularity_prior)
    if prior > 0:
        alpha = (prior / (prior + history.clamp_min(0))).square()
    else:
        alpha = torch.zeros_like(history)
    alpha = alpha.to(scores.dtype)
    scores.mul_((1 - alpha)[:, None]).addr_(alpha, popularity.to(scores.dtype))
    return scores, alpha[:, None]


def mmr_rerank(
    candidates: Tensor, scores: Tensor, item_matrix: Tensor, *, k: int, diversity: float
) -> tuple[Tensor, Tensor]:
    """Pick k of each row's candidates by maximal marginal relevance.

    Step by step, the next pick maximises ``(1 - d) * score - d * max_sim_to_picked``.
    ``candidates`` (B, C) are item rows (-1 or a score of -inf: not eligible). Returns
    ``(items, scores)`` (B, k), padded with -1 / -inf. The candidates' similarities
    are one batched matrix product up front (B x C x C): computing each pick's row as
    it is made reads the (B, C, D) candidate vectors k times, which memory bandwidth
    makes several times slower on a CPU.
    """
    batch, pool = candidates.shape
    k = min(k, pool)
    valid = (candidates >= 0) & torch.isfinite(scores)
    rows = torch.arange(batch, device=scores.device)
    base = (1 - diversity) * torch.where(valid, scores, torch.zeros_like(scores))
    # -inf where a candidate is not eligible or already picked.
    closed = torch.zeros_like(base).masked_fill_(~valid, -math.inf)
    if diversity:
        vectors = item_matrix[candidates.clamp_min(0)]  # (B, C, D)
        pairwise = torch.bmm(vectors, vectors.transpose(1, 2))  # (B, C, C)
        del vectors
        max_sim = torch.zeros_like(base)
    # Few, in-place operations per step: the steps are many small tensor operations,
    # whose fixed costs (allocation, waking threads) outweigh their arithmetic.
    gain = torch.empty_like(base)
    picks = torch.empty(batch, k, dtype=torch.long, device=scores.device)
    for step in range(k):
        if step and diversity:
            torch.sub(base, max_sim, alpha=diversity, out=gain).add_(closed)
        else:
            torch.add(base, closed, out=gain)
        best = gain.argmax(dim=1)
        picks[:, step] = best
        closed[rows, best] = -math.inf
        if diversity and step + 1 < k:
            torch.maximum(max_sim, pairwise[rows, best], out=max_sim)
    # Each step picks an eligible candidate while any is left: a row's first n picks
    # are its n eligible candidates, the rest padding.
    ok = torch.arange(k, device=scores.device)[None, :] < valid.sum(dim=1, keepdim=True)
    items = torch.where(ok, candidates.gather(1, picks), -1)
    picked_scores = torch.where(ok, scores.gather(1, picks), -math.inf)
    return items, picked_scores


def explain(
    picked: Tensor,
    *,
    taste: Tensor,
    item_matrix: Tensor,
    style_matrix: Tensor,
    liked: Tensor,
    popularity: Tensor,
    alpha: Tensor,
) -> tuple[Tensor, Tensor]:
    """Why each pick: popularity, the liked style or the liked product nearest to it.

    Popular when the popularity term of its relevance outweighs the taste term. Else
    the style s maximising ``cos(taste, s) * cos(item, s)`` (a style the shopper leans
    to that the item looks like), unless the nearest liked product (``liked`` (B, L),
    -1 padded) is closer to the item than that style is.
    """
    batch, k = picked.shape
    kind = torch.full((batch, k), REASON_NONE, dtype=torch.long, device=picked.device)
    ref = torch.full((batch, k), -1, dtype=torch.long, device=picked.device)
    ok = picked >= 0
    safe = picked.clamp_min(0)
    vectors = item_matrix[safe]  # (B, k, D)
    unit_taste = torch.nn.functional.normalize(taste, dim=1, eps=EPS)
    sim = torch.bmm(vectors, unit_taste[:, :, None]).squeeze(2)  # cos(taste, pick)
    pop_term = alpha * popularity[safe]
    taste_term = (1 - alpha) * sim

    style_score = torch.full((batch, k), -math.inf, device=picked.device)
    if style_matrix.numel():
        leaning = cosine_matrix(taste, style_matrix).clamp_min(0)  # (B, S)
        looks = vectors @ style_matrix.T  # (B, k, S)
        explained = leaning[:, None, :] * looks
        best_style = explained.argmax(dim=2)
        has_style = explained.gather(2, best_style[..., None]).squeeze(2) > 0
        style_score = torch.where(
            has_style, looks.gather(2, best_style[..., None]).squeeze(2), style_score
        )
        kind = torch.where(has_style, REASON_STYLE, kind)
        ref = torch.where(has_style, best_style, ref)

    if liked.numel():
        liked_vectors = item_matrix[liked.clamp_min(0)]  # (B, L, D)
        near = vectors @ liked_vectors.transpose(1, 2)  # (B, k, L)
        # A liked product explains others, not itself; padding explains nothing.
        blocked = (liked[:, None, :] < 0) | (liked[:, None, :] == picked[:, :, None])
        near = near.masked_fill(blocked, -math.inf)
        nearest, which = near.max(dim=2)
        by_product = torch.isfinite(nearest) & (nearest > style_score) & (nearest > 0)
        kind = torch.where(by_product, REASON_PRODUCT, kind)
        ref = torch.where(by_product, liked.gather(1, which), ref)

    popular = pop_term > taste_term
    kind = torch.where(popular, REASON_POPULAR, kind)
    ref = torch.where(popular, -1, ref)
    return torch.where(ok, kind, REASON_NONE), torch.where(ok, ref, -1)


def rank_batch(
    *,
    taste: Tensor,
    item_matrix: Tensor,
    style_matrix: Tensor,
    popularity: Tensor,
    history: Tensor,
    available: Tensor,
    exclude_rows: Tensor,
    exclude_items: Tensor,
    liked: Tensor,
    k: int,
    diversity: float = 0.2,
    popularity_prior: float = 2.0,
    pool_factor: int = 3,
) -> RankResult:
    """Score, exclude, take the top candidates, diversify and explain, for a batch.

    ``item_matrix`` and ``style_matrix`` hold unit rows in one frame (see
    :func:`standardise`); ``available`` (P,) bool; ``(exclude_rows, exclude_items)``
    pairs are never recommended (what a shopper bought, or disliked).
    """
    scores, alpha = relevance(
        taste,
        item_matrix,
        popularity=popularity,
        history=history,
        popularity_prior=popularity_prior,
    )
    scores.masked_fill_(~available[None, :], -math.inf)
    if exclude_rows.numel():
        scores[exclude_rows, exclude_items] = -math.inf
    pool = min(item_matrix.shape[0], max(k, k * int(pool_factor)))
    top_scores, top_items = torch.topk(scores, pool, dim=1)
    top_items = top_items.masked_fill(~torch.isfinite(top_scores), -1)
    items, picked_scores = mmr_rerank(
        top_items, top_scores, item_matrix, k=k, diversity=float(diversity)
    )
    kind, ref = explain(
        items,
        taste=taste,
        item_matrix=item_matrix,
        style_matrix=style_matrix,
        liked=liked,
        popularity=popularity,
        alpha=alpha,
    )
    return RankResult(items=items, scores=picked_scores, reason_kind=kind, reason_ref=ref)
