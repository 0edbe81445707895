"""Ranking a batch of shoppers: the taste model in service, else the visual ranking.

A worker process keeps the model it last read from storage (by record) and its layout
over the catalogue snapshot, so a chunk of shoppers costs one matrix product. Nothing
else is shared between chunks: any worker that reaches the database and the storage can
score any chunk (docs/OPERATIONS.md). Worker side: imports torch.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from django.core.files.storage import default_storage
from django.utils import timezone

from ..conf import stylerecs_settings
from ..models import TasteModelStatus, TrainedTasteModel
from .scoring_inputs import popularity_vector

logger = logging.getLogger(__name__)

_models: dict[int, Any] = {}  # record pk -> TasteModel
_sides: dict[tuple, tuple] = {}  # (record pk, catalogue built_at) -> (ItemSide, styles)


def taste_model_in_service() -> TrainedTasteModel | None:
    """The model scoring uses now, if one has been trained and kept."""
    return TrainedTasteModel.objects.filter(status=TasteModelStatus.ACTIVE).first()


def taste_model_read(*, record: TrainedTasteModel):
    """The fitted model of a record, read from storage once per worker process."""
    from ..engine.taste import TasteModel

    if record.pk not in _models:
        if not record.file:
            raise ValueError(f"{record} has no model file")
        with default_storage.open(record.file.name, "rb") as handle:
            _models.clear()  # one model per process: the one in service
            _models[record.pk] = TasteModel.load(handle.read())
    return _models[record.pk]


def taste_model_forget() -> None:
    """Drop this process's loaded model (tests; a retrained model has a new pk anyway)."""
    _models.clear()
    _sides.clear()


def first_page() -> int:
    """How many first places the interacted-products policy keeps clear (0: none)."""
    if stylerecs_settings.SHOW_AGAIN_INTERACTED == "after_first_page":
        return int(stylerecs_settings.FIRST_PAGE_SIZE)
    return 0


def _item_side(record, catalogue):
    from ..engine.taste import project
    from ..engine.taste_side import item_side

    key = (record.pk, catalogue.built_at, str(catalogue.items.device))
    if key not in _sides:
        model = taste_model_read(record=record)
        popularity = catalogue.popularity.cpu()
        days = float(model.params.popularity_days)
        if days != float(stylerecs_settings.POPULARITY_DAYS):
            # The tuned popularity window, read with the catalogue snapshot (as stale).
            popularity = popularity_vector(index=catalogue.index, now=timezone.now(), days=days)
        side = item_side(
            model,
            item_keys=[str(pk) for pk in catalogue.product_ids],
            item_vectors=catalogue.items.cpu(),
            popularity=popularity,
        )
        styles = project(
            catalogue.style_matrix.cpu(),
            torch.from_numpy(model.projection),
            torch.from_numpy(model.centre),
        )
        _sides.clear()
        _sides[key] = (model, side, styles)
    return _sides[key]


def rank_shoppers(*, catalogue, batch, taste, k: int):
    """Rank a loaded batch (``scoring_inputs``) and return ``RankResult``."""
    record = taste_model_in_service()
    if record is not None:
        try:
            model, side, styles = _item_side(record, catalogue)
        except (OSError, ValueError) as exc:
            # A missing or stale file must not stop the storefront's recommendations.
            logger.warning("Taste model v%s unusable (%s): visual ranking", record.version, exc)
        else:
            return _hybrid(model, side, styles, batch, k, catalogue.available.cpu())
    return _visual(catalogue, batch, taste, k)


def _hybrid(model, side, styles, batch, k: int, available):
    from ..engine.taste_rank import ShopperEvents, recommend

    events = ShopperEvents(
        n=len(batch.shoppers),
        rows=batch.event_rows.cpu(),
        cols=batch.event_items.cpu(),
        kind_weights=batch.event_kind_weights.cpu(),
        ages_days=batch.event_ages_days.cpu(),
        exclude_rows=batch.exclude_rows.cpu(),
        exclude_items=batch.exclude_items.cpu(),
        demote_rows=batch.demote_rows.cpu(),
        demote_items=batch.demote_items.cpu(),
        liked=batch.liked.cpu(),
        pref_weights=batch.pref_weights.cpu(),
    )
    return recommend(
        side,
        events,
        params=model.params,
        available=available,
        k=k,
        page=first_page(),
        style_visual=styles,
        explicit_weight=float(stylerecs_settings.EXPLICIT_WEIGHT),
    )


def _visual(catalogue, batch, taste, k: int):
    """The visual ranking (RANKING_FUNCTION) with the first-page policy applied after."""
    from ..engine.scoring import RankResult
    from ..engine.taste_rank import first_page_order, pair_mask

    page = first_page() if batch.demote_rows.numel() else 0
    result = stylerecs_settings.RANKING_FUNCTION(
        taste=taste.vectors,
        product_matrix=catalogue.items,
        style_matrix=catalogue.style_matrix,
        popularity=catalogue.popularity,
        history=taste.mass,
        available=catalogue.available,
        exclude=(batch.exclude_rows, batch.exclude_items),
        liked=batch.liked,
        k=min(k + page, len(catalogue.product_ids)),
        diversity=float(stylerecs_settings.DIVERSITY),
        popularity_prior=float(stylerecs_settings.POPULARITY_PRIOR),
        pool_factor=int(stylerecs_settings.CANDIDATE_POOL_FACTOR),
    )
    if not page:
        return result
    n_items = len(catalogue.product_ids)
    flagged = pair_mask(batch.demote_rows.cpu(), batch.demote_items.cpu(), result.items, n_items)
    order, ok = first_page_order(result.items, result.scores, flagged, page=page, k=k)

    def take(x, fill):
        return x.gather(1, order).masked_fill(~ok, fill)

    return RankResult(
        items=take(result.items, -1),
        scores=take(result.scores, float("-inf")),
        reason_kind=take(result.reason_kind, 0),
        reason_ref=take(result.reason_ref, -1),
    )
