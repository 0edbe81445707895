"""A fitted taste model laid over the catalogue, and the shoppers' side of a batch.

:func:`item_side` aligns a :class:`~stylerecs.engine.taste.TasteModel` with the products
of the catalogue now (products it has not seen get the factors their looks predict);
:func:`fold_in` solves a batch's shopper factors from their events (the last half-step
of ALS); :func:`user_side` turns them into the rows of the blend's one matrix product
(stylerecs/engine/taste_rank.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from .taste import EPS, TasteModel, project, with_bias
from .taste_params import TasteParams

__all__ = ["ItemSide", "fold_in", "fold_in_exact", "item_side", "user_side", "with_popularity"]


@dataclass
class ItemSide:
    """A model laid over the current catalogue: what a scoring chunk multiplies with."""

    factors: Tensor  # (P, f)
    visual: Tensor  # (P, d) unit rows
    popularity: Tensor  # (P,)
    gram: Tensor  # (f, f): factors.T @ factors, for the fold-in
    matrix: Tensor  # (P, f + d + 1): [factors, visual, popularity]
    knn_items: Tensor | None = None  # (P, k) catalogue rows of each product's neighbours
    knn_weights: Tensor | None = None  # (P, k)
    # (P, k) catalogue rows of each product's look-alikes (-1: none), and their cosines.
    looks_items: Tensor | None = None
    looks_cosines: Tensor | None = None


def item_side(
    model: TasteModel, *, item_keys: list[str], item_vectors: Tensor, popularity: Tensor
) -> ItemSide:
    """Align the model with a catalogue; products the model has not seen get the
    factors their looks predict."""
    projection = torch.from_numpy(model.projection)
    centre = torch.from_numpy(model.centre)
    if item_vectors.shape[1] != projection.shape[0]:
        raise ValueError(
            f"the model was fitted on {projection.shape[0]}-d embeddings, "
            f"the catalogue has {item_vectors.shape[1]}-d ones: train it again"
        )
    visual = project(item_vectors, projection, centre)
    factors = with_bias(visual) @ torch.from_numpy(model.looks_map)
    known = {key: i for i, key in enumerate(model.item_keys)}
    rows = [(i, known[key]) for i, key in enumerate(item_keys) if key in known]
    if rows:
        here, there = (torch.tensor(side, dtype=torch.long) for side in zip(*rows, strict=True))
        factors[here] = torch.from_numpy(model.item_factors)[there]
    pop = popularity.float()
    matrix = torch.cat((factors, visual, pop[:, None]), dim=1).contiguous()
    knn_items = knn_weights = looks_items = looks_cosines = None
    if rows:
        # The model's product rows as catalogue rows (-1: not in the catalogue now).
        to_catalogue = torch.full((len(model.item_keys) + 1,), -1, dtype=torch.long)
        to_catalogue[there] = here
        if model.knn_items is not None:
            knn_items, knn_weights = _on_catalogue(
                model.knn_items, model.knn_weights, to_catalogue, here, there, len(item_keys)
            )
        if model.looks_items is not None:
            looks_items, looks_cosines = _on_catalogue(
                model.looks_items, model.looks_cosines, to_catalogue, here, there, len(item_keys)
            )
    return ItemSide(
        factors=factors,
        visual=visual,
        popularity=pop,
        gram=factors.T @ factors,
        matrix=matrix,
        knn_items=knn_items,
        knn_weights=knn_weights,
        looks_items=looks_items,
        looks_cosines=looks_cosines,
    )


def _on_catalogue(stored_items, stored_values, to_catalogue, here, there, n_items):
    """A model's (P, k) neighbour lists as the catalogue's rows: products not in the
    catalogue now, and their neighbours that are not, drop out (-1, value 0)."""
    stored = torch.from_numpy(stored_items.astype(np.int64))
    mapped = to_catalogue[stored[there]]  # -1 stays -1 (the extra last entry)
    items = torch.full((n_items, stored.shape[1]), -1, dtype=torch.long)
    values = torch.zeros(n_items, stored.shape[1])
    items[here] = mapped
    values[here] = torch.from_numpy(stored_values)[there] * (mapped >= 0)
    return items, values


def with_popularity(items: ItemSide, popularity: Tensor) -> ItemSide:
    """The same products with another popularity column (another window)."""
    pop = popularity.float()
    matrix = items.matrix.clone()
    matrix[:, -1] = pop
    return replace(items, popularity=pop, matrix=matrix)


def _confidences(items: ItemSide, n_users: int, rows, cols, weights, params):
    """The ALS user step's inputs: ``(zero factors (n_users, f), None)`` without positive
    events, else ``(zeros, (rows, cols, c, y, base))``: one ``(user, product)`` pair per
    row with its confidence ``c = alpha * r`` (duplicates summed: confidence is per pair,
    not per event), the products' factors ``y`` and ``YᵀY + λI``."""
    n_items, f = items.factors.shape
    out = torch.zeros(n_users, f)
    keep = weights > 0
    if not bool(keep.any()):
        return out, None
    rows, cols = rows[keep], cols[keep]
    pairs, inverse = torch.unique(rows * n_items + cols, return_inverse=True)
    r = torch.zeros(pairs.shape[0]).index_add_(0, inverse, weights[keep].float())
    rows, cols = pairs // n_items, pairs % n_items
    c = float(params.alpha) * r
    base = items.gram + float(params.regularization) * torch.eye(f)
    return out, (rows, cols, c, items.factors[cols], base)


def fold_in(
    items: ItemSide,
    *,
    n_users: int,
    rows: Tensor,
    cols: Tensor,
    weights: Tensor,
    params: TasteParams,
    steps: int = 16,
) -> Tensor:
    """User factors of a batch given the item factors: the ALS user step.

    Solves ``(YᵀY + λI + Σ (c - 1) y yᵀ) x = Σ c y`` with ``c = alpha * r`` per (user,
    product), ``r`` the summed decayed weights, as implicit's solver has it, by
    conjugate gradient (Takács et al. 2011) started from ``(YᵀY + λI)⁻¹ b``: each step
    costs one pass over the events (O(E f)), where forming each user's matrix costs
    O(E f²). A fixed number of steps, whatever the batch, so that a shopper's factors
    do not depend on the chunk they are scored in. Shoppers without positive events
    get zero factors.
    """
    out, inputs = _confidences(items, n_users, rows, cols, weights, params)
    if inputs is None:
        return out
    rows, cols, c, y, base = inputs
    f = out.shape[1]
    b = torch.zeros(n_users, f).index_add_(0, rows, c[:, None] * y)

    def times_a(x: Tensor) -> Tensor:
        extra = (c - 1) * (y * x[rows]).sum(dim=1)
        return (x @ base).index_add_(0, rows, extra[:, None] * y)

    x = b @ torch.linalg.inv(base)
    residual = b - times_a(x)
    direction = residual.clone()
    size = (residual * residual).sum(dim=1)
    for _ in range(int(steps)):
        step = times_a(direction)
        curve = (direction * step).sum(dim=1)
        ok = curve > 1e-20  # converged rows stay as they are
        alpha = torch.where(ok, size / curve.clamp_min(1e-20), torch.zeros_like(size))
        x += alpha[:, None] * direction
        residual -= alpha[:, None] * step
        new_size = (residual * residual).sum(dim=1)
        beta = torch.where(ok, new_size / size.clamp_min(1e-30), torch.zeros_like(size))
        direction = residual + beta[:, None] * direction
        size = new_size
    has = torch.zeros(n_users, dtype=torch.bool)
    has[rows] = True
    return torch.where(has[:, None], x, out)


def fold_in_exact(items: ItemSide, *, n_users, rows, cols, weights, params) -> Tensor:
    """:func:`fold_in` by forming and solving each user's matrix (for tests: slower)."""
    out, inputs = _confidences(items, n_users, rows, cols, weights, params)
    if inputs is None:
        return out
    rows, cols, c, y, base = inputs
    f = out.shape[1]
    users = torch.unique(rows)
    local = torch.searchsorted(users, rows)
    a = base.expand(users.shape[0], f, f).clone()
    a.index_add_(0, local, (c - 1)[:, None, None] * (y[:, :, None] * y[:, None, :]))
    b = torch.zeros(users.shape[0], f).index_add_(0, local, c[:, None] * y)
    out[users] = torch.linalg.solve(a, b)
    return out


def user_side(
    factors: Tensor, visual_taste: Tensor, history: Tensor, *, params: TasteParams
) -> tuple[Tensor, Tensor]:
    """The user rows of the blend, and each part's weight ``(B, 3)``: cf, visual, pop.

    The collaborative weight grows with history, ``h / (h + cf_history)``; popularity
    fades, ``ph / (ph + h)``; the visual taste is a unit vector (zero without signal).
    """
    h = history.float().clamp_min(0)
    w_cf = float(params.cf_weight) * h / (h + float(params.cf_history) + EPS)
    ph = float(params.popularity_history)
    w_pop = float(params.popularity_weight) * (ph / (ph + h) if ph > 0 else torch.zeros_like(h))
    w_vis = torch.full_like(h, float(params.visual_weight))
    unit = torch.nn.functional.normalize(visual_taste.float(), dim=1, eps=EPS)
    rows = torch.cat((w_cf[:, None] * factors, w_vis[:, None] * unit, w_pop[:, None]), dim=1)
    return rows, torch.stack((w_cf, w_vis, w_pop), dim=1)
