"""The ranking function: one entry point, replaceable by ``STYLERECS["RANKING_FUNCTION"]``.

A replacement is any callable with the signature of :func:`rank` that returns the
engine's ``RankResult`` (items, scores, reason kinds and references, one row per
shopper). The recommendation service builds the inputs (in the engine's frame:
unit-length rows, see ``stylerecs.engine.scoring.standardise``) and turns the result into
Recommendation rows with their reasons; the ranking function only ranks.

This module stays importable without torch (``manage.py check`` imports it to validate
the setting); the work happens in the engine, on a worker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .conf import stylerecs_settings

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor


def scoring_engine() -> Any:
    """The engine's scoring module (``<ENGINE>.scoring``; imports torch)."""
    return importlib.import_module(f"{stylerecs_settings.ENGINE}.scoring")


def rank(
    *,
    taste: Tensor,
    product_matrix: Tensor,
    style_matrix: Tensor,
    popularity: Tensor,
    history: Tensor,
    available: Tensor,
    exclude: tuple[Tensor, Tensor],
    liked: Tensor,
    k: int,
    diversity: float,
    popularity_prior: float,
    pool_factor: int,
) -> Any:
    """Rank products for a batch of B shoppers over P products and S styles.

    - ``taste`` (B, D): taste vectors (a zero row: no signal yet).
    - ``product_matrix`` (P, D), ``style_matrix`` (S, D): unit rows in one frame.
    - ``popularity`` (P,) in [0, 1]; ``history`` (B,) how much each taste rests on.
    - ``available`` (P,) bool; ``exclude`` (rows, items): pairs never to recommend.
    - ``liked`` (B, L) product rows each shopper liked, -1 padded (for the reasons).
    - ``k`` picks per shopper, re-ranked for ``diversity`` (0..1) among
      ``pool_factor * k`` candidates; ``popularity_prior`` is the history at which
      taste and popularity weigh the same.

    Returns ``stylerecs.engine.scoring.RankResult``.
    """
    rows, items = exclude
    return scoring_engine().rank_batch(
        taste=taste,
        item_matrix=product_matrix,
        style_matrix=style_matrix,
        popularity=popularity,
        history=history,
        available=available,
        exclude_rows=rows,
        exclude_items=items,
        liked=liked,
        k=k,
        diversity=diversity,
        popularity_prior=popularity_prior,
        pool_factor=pool_factor,
    )
