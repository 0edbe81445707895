"""Training the taste model on a worker: tune on a time split, keep it only if it wins.

:func:`taste_model_train` (the ``train_taste_model`` task, ``manage.py stylerecs_recommend
--train`` and celery beat all call it) reads every interaction, holds out the most recent
``TASTE_VALIDATION_FRACTION`` of them by time, tunes ``TASTE_TUNING`` on that split (and
on ``TASTE_VALIDATION_FOLDS`` - 1 earlier windows: the best mean recall wins), and
measures on the most recent split the model in service (its parameters refitted on the same
events) and simple baselines. The new model goes into service only if its recall@10
beats the one in service; it is then refitted on every event and its file stored. Every
run leaves a TrainedTasteModel row with its metrics (the admin lists them). Worker side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..conf import stylerecs_settings
from ..models import (
    Interaction,
    InteractionKind,
    ShopperSettings,
    TasteModelStatus,
    TrainedTasteModel,
)

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class TrainingRefused(Exception):
    """Training cannot start: no catalogue yet, or too few events."""


def _day(moment: datetime) -> float:
    return moment.timestamp() / 86400.0


def taste_events_load(*, catalogue, opted_out: set[str] | None = None):
    """Every interaction with a catalogued product as an ``EventLog`` (the shoppers of
    ``opted_out`` left out: their behaviour is not used)."""
    from ..engine.taste_log import EventLog

    kind_weights = {k: float(w) for k, w in stylerecs_settings.EVENT_WEIGHTS.items()}
    skip = opted_out or set()
    shoppers: dict[str, int] = {}
    users, items, weights, days, bought = [], [], [], [], []
    events = Interaction.objects.order_by().values_list(
        "user_id", "session_key", "product_id", "kind", "created_at"
    )
    for user_id, session_key, product_id, kind, created_at in events.iterator(chunk_size=10000):
        item = catalogue.index.get(product_id)
        weight = kind_weights.get(kind, 0.0)
        key = f"u:{user_id}" if user_id is not None else f"a:{session_key}"
        if item is None or weight == 0 or key in skip:
            continue
        users.append(shoppers.setdefault(key, len(shoppers)))
        items.append(item)
        weights.append(weight)
        days.append(_day(created_at))
        bought.append(kind == InteractionKind.PURCHASE)
    log = EventLog(
        n_users=len(shoppers),
        n_items=len(catalogue.product_ids),
        user=np.asarray(users, dtype=np.int64),
        item=np.asarray(items, dtype=np.int64),
        weight=np.asarray(weights, dtype=np.float32),
        day=np.asarray(days, dtype=np.float64),
        bought=np.asarray(bought, dtype=bool),
    )
    return log, list(shoppers)


def _policy():
    from ..engine.taste_log import Policy

    return Policy(
        interacted=stylerecs_settings.SHOW_AGAIN_INTERACTED,
        show_bought=bool(stylerecs_settings.SHOW_AGAIN_PURCHASED),
        page=int(stylerecs_settings.FIRST_PAGE_SIZE),
    )


def taste_model_train(*, progress: Progress | None = None) -> TrainedTasteModel:
    """Fit, tune and maybe put into service a new taste model; returns its record.

    Raises :class:`TrainingRefused` (after recording why) when there is no catalogue or
    fewer than ``TASTE_MIN_EVENTS`` events.
    """
    next_version = (TrainedTasteModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    record = TrainedTasteModel.objects.create(version=next_version)
    try:
        _train(record, progress)
    except TrainingRefused as exc:
        _finish(record, status=TasteModelStatus.FAILED, error=str(exc))
        raise
    except Exception as exc:
        _finish(record, status=TasteModelStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    return record


def _finish(record: TrainedTasteModel, **fields) -> None:
    for name, value in fields.items():
        setattr(record, name, value)
    record.finished_at = timezone.now()
    record.save()


def _set_progress(record: TrainedTasteModel, percent: int) -> None:
    record.progress = max(0, min(100, int(percent)))
    TrainedTasteModel.objects.filter(pk=record.pk).update(progress=record.progress)


def _train(record: TrainedTasteModel, progress: Progress | None) -> None:
    import torch

    from ..engine.taste_params import TasteParams
    from ..engine.taste_tuning import evaluate, fit_log, tune
    from .scoring_inputs import catalogue_forget, catalogue_load
    from .taste_scoring import taste_model_in_service

    started = time.monotonic()
    now = timezone.now()
    catalogue_forget()  # train on the catalogue as it is now, not a worker's old snapshot
    catalogue = catalogue_load(now=now, device="cpu")
    if catalogue is None:
        raise TrainingRefused("No product style profiles yet: refresh the profiles first.")
    log, _ = taste_events_load(catalogue=catalogue, opted_out=_opted_out_keys())
    minimum = int(stylerecs_settings.TASTE_MIN_EVENTS)
    if len(log) < minimum:
        raise TrainingRefused(f"Only {len(log)} events: TASTE_MIN_EVENTS is {minimum}.")
    record.events, record.shoppers, record.products = len(log), log.n_users, log.n_items
    items, available = catalogue.items.cpu(), catalogue.available.cpu()
    keys = [str(pk) for pk in catalogue.product_ids]
    threads = int(stylerecs_settings.TASTE_THREADS) or 1
    fraction = float(stylerecs_settings.TASTE_VALIDATION_FRACTION)
    tuning = stylerecs_settings.TASTE_TUNING
    policy = _policy()
    # Unless TASTE_TUNING searches them, the popularity window is the shop's.
    base = TasteParams(popularity_days=float(stylerecs_settings.POPULARITY_DAYS))

    def tuned(step: int, steps: int) -> None:
        _set_progress(record, 80 * step / steps)
        if progress:
            progress(step, steps + 2)

    cap = int(stylerecs_settings.TASTE_VALIDATION_SHOPPERS)
    before_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = tune(
            log,
            item_keys=keys,
            item_vectors=items,
            available=available,
            base=base,
            fit_options=tuning.get("fit", {}),
            blend_options=tuning.get("blend", {}),
            holdout_fraction=fraction,
            folds=int(stylerecs_settings.TASTE_VALIDATION_FOLDS),
            policy=policy,
            threads=threads,
            progress=tuned,
            max_users=cap,
        )
        window = result.window  # the validation split the tuning chose on

        def score(params) -> dict:
            model = fit_log(
                window.before,
                now=window.now,
                params=params,
                item_keys=keys,
                item_vectors=items,
                threads=threads,
            )
            return evaluate(
                model, window, item_vectors=items, available=available, policy=policy
            ).as_dict()

        best = result.params
        # Each part alone: collaborative with its item-item part, visual with its
        # looks-alike part (the tuned weights), popularity with neither.
        off = {"cf_weight": 0.0, "visual_weight": 0.0, "popularity_weight": 0.0,
               "knn_weight": 0.0, "looks_weight": 0.0}  # fmt: skip
        baselines = {
            "popularity": score(best.but(**{**off, "popularity_weight": 1.0})),
            "collaborative only": score(
                best.but(**{**off, "cf_weight": best.cf_weight, "knn_weight": best.knn_weight})
            ),
            "visual only": score(
                best.but(**{**off, "visual_weight": 1.0, "looks_weight": best.looks_weight})
            ),
        }
        current = taste_model_in_service()
        if current is not None:
            baselines["in service"] = {
                "version": current.version,
                **score(TasteParams.from_dict(current.params)),
            }
        if progress:
            progress(len(result.trials), len(result.trials) + 1)
        _set_progress(record, 90)
        metrics = result.metrics.as_dict()
        record.params = best.as_dict()
        record.metrics = metrics
        record.baselines = baselines
        record.trials = result.trials
        record.validation_from = datetime.fromtimestamp(window.now * 86400.0, tz=now.tzinfo)
        serving = baselines.get("in service")
        if serving is not None and metrics["recall@10"] <= serving["recall@10"]:
            record.progress = 100
            record.fit_seconds = time.monotonic() - started
            _finish(record, status=TasteModelStatus.REJECTED)
            logger.info("Taste model v%s did not beat v%s", record.version, current.version)
            return
        model = fit_log(
            log, now=_day(now), params=best, item_keys=keys, item_vectors=items, threads=threads
        )
    finally:
        torch.set_num_threads(before_threads)
    model.meta.update({"version": record.version, "trained_at": now.isoformat()})
    upload_to = str(stylerecs_settings.TASTE_MODEL_UPLOAD_TO).rstrip("/")
    name = default_storage.save(
        f"{upload_to}/taste-v{record.version}.npz", ContentFile(model.save())
    )
    record.file.name = name
    record.progress = 100
    record.fit_seconds = time.monotonic() - started
    with transaction.atomic():
        TrainedTasteModel.objects.filter(status=TasteModelStatus.ACTIVE).exclude(
            pk=record.pk
        ).update(status=TasteModelStatus.RETIRED)
        _finish(record, status=TasteModelStatus.ACTIVE)
    if progress:
        progress(1, 1)


def _opted_out_keys() -> set[str]:
    rows = ShopperSettings.objects.filter(personalise=False).values_list("user_id", "session_key")
    return {f"u:{u}" if u is not None else f"a:{s}" for u, s in rows}


def taste_model_progress(*, record: TrainedTasteModel) -> dict:
    """What the admin's live progress bar polls."""
    record.refresh_from_db(fields=["progress", "status", "error"])
    failed = record.status == TasteModelStatus.FAILED
    return {
        "total": 100,
        "done": record.progress,
        "ready": record.progress,
        "failed": int(failed),
        "percent": record.progress,
        "finished": record.status != TasteModelStatus.TRAINING,
        "status": record.get_status_display(),
        "failures": [],
    }
