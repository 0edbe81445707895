"""Fitting, evaluating and tuning the taste model on an event log split by time.

The self-tuning job (stylerecs/services/taste_training.py) and bench/recs.py both call
:func:`tune`: it holds out the most recent events of the log it is given, fits each
candidate on the rest, ranks with :func:`stylerecs.engine.taste_rank.recommend` exactly
as the shop serves, and keeps the setting that validates best (its recall@10 with its
grid neighbours': stylerecs/engine/taste_validation.py). It never sees
anything but the log it is given: a caller with a test split keeps it to itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from .taste import TasteModel, TasteParams, fit
from .taste_log import (
    EventLog,
    Policy,
    Window,
    decayed,
    popularity,
    shopper_events,
    time_folds,
    time_split,
)
from .taste_params import BLEND_FIELDS
from .taste_rank import looks_part, neighbour_part, prepare, recommend
from .taste_side import item_side, with_popularity
from .taste_validation import Metrics, choose, grid, metrics_from_topk, targets

__all__ = [
    "EventLog",
    "Metrics",
    "Policy",
    "TuneResult",
    "Window",
    "evaluate",
    "evaluate_blends",
    "fit_log",
    "grid",
    "metrics_from_topk",
    "popularity",
    "shopper_events",
    "time_folds",
    "targets",
    "time_split",
    "tune",
]


@dataclass
class TuneResult:
    params: TasteParams
    metrics: Metrics
    window: Window  # the most recent validation window (``metrics`` are its)
    trials: list[dict] = field(default_factory=list)
    # Every setting tried, in the trials' order, with its exact validation figures (the
    # mean over the folds): what :func:`choose` chose from.
    settings: list[TasteParams] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)
    ndcgs: list[float] = field(default_factory=list)

    @property
    def cutoff(self) -> float:
        """Where the most recent validation window begins (days)."""
        return self.window.now


def fit_log(
    log: EventLog,
    *,
    now: float,
    params: TasteParams,
    item_keys: list[str],
    item_vectors: Tensor,
    threads: int = 1,
) -> TasteModel:
    """Fit on a log, its events decayed to ``now``."""
    return fit(
        n_users=log.n_users,
        item_keys=item_keys,
        item_vectors=item_vectors,
        user_idx=log.user,
        item_idx=log.item,
        weights=decayed(log, now=now, half_life_days=params.half_life_days),
        params=params,
        threads=threads,
    )


def evaluate(model: TasteModel, window: Window, **options) -> Metrics:
    """Rank the shoppers of ``window`` from its events before the split alone, as the
    shop would, and score it (options as :func:`evaluate_blends`)."""
    return evaluate_blends(model, [model.params], window, **options)[0]


def evaluate_blends(
    model: TasteModel,
    blends: list[TasteParams],
    window: Window,
    *,
    item_vectors: Tensor,
    available: Tensor,
    policy: Policy,
    k: int = 10,
    chunk: int = 2048,
) -> list[Metrics]:
    """:func:`evaluate` for several blends of one fit: each batch's fold-in is done once
    per shoppers' half-life, its item-item part once per half-life and neighbour count
    and its looks-alike part once per half-life and kernel (each blend adds its weight
    of them), the popularity column once per window.

    The blends may differ from ``model.params`` in :data:`BLEND_FIELDS` only.
    """
    for blend in blends:
        changed = {f for f, v in blend.as_dict().items() if v != getattr(model.params, f)}
        if changed - BLEND_FIELDS:
            raise ValueError(f"not blend parameters: {sorted(changed - BLEND_FIELDS)}")
    users, relevant, before = window.users, window.relevant, window.before
    windows = sorted({float(b.popularity_days) for b in blends})
    any_side = item_side(
        model,
        item_keys=model.item_keys,
        item_vectors=item_vectors,
        popularity=window.popularity(windows[0]),
    )
    sides = {windows[0]: any_side}
    for days in windows[1:]:
        sides[days] = with_popularity(any_side, window.popularity(days))
    tops = [np.full((len(users), k), -1, dtype=np.int64) for _ in blends]
    page = policy.page if policy.interacted == "after_first_page" else 0

    # Blends that share a fold-in and an item-item part are scored one after another,
    # so that only one batch's (B, P) item-item part is held at a time.
    def shared(i: int) -> tuple:
        b = blends[i]
        return float(b.user_half_life_days), int(b.knn_neighbours), float(b.cf_history)

    def looks_shared(i: int) -> tuple:
        b = blends[i]
        return (
            float(b.user_half_life_days),
            float(b.looks_threshold),
            float(b.looks_softness),
            float(b.looks_kind_power),
        )

    order = sorted(range(len(blends)), key=lambda i: (shared(i), looks_shared(i)))
    with_knn = any_side.knn_items is not None
    with_looks = any_side.looks_items is not None
    for start in range(0, len(users), chunk):
        batch = users[start : start + chunk]
        events = shopper_events(window.grouped, batch, now=window.now, policy=policy)
        prepared, prepared_for, unit, unit_key = None, None, None, None
        alike, alike_key = None, None
        for i in order:
            blend = blends[i]
            h = float(blend.user_half_life_days)
            if h != prepared_for:
                # The fold-in reads the item factors only: one for every popularity window.
                prepared_for, prepared = h, None  # the last one freed first
                prepared = prepare(any_side, events, params=model.params.but(user_half_life_days=h))
            if with_knn and float(blend.knn_weight) > 0 and unit_key != shared(i):
                unit_key, unit = shared(i), None
                unit = neighbour_part(any_side, events, prepared, params=blend, available=available)
            if with_looks and float(blend.looks_weight) > 0 and alike_key != looks_shared(i):
                alike_key, alike = looks_shared(i), None
                alike = looks_part(any_side, events, prepared, params=blend, available=available)
            result = recommend(
                sides[float(blend.popularity_days)],
                events,
                params=blend,
                available=available,
                k=k,
                page=page,
                reasons=False,
                prepared=prepared,
                neighbours=unit if float(blend.knn_weight) > 0 else None,
                looks=alike if float(blend.looks_weight) > 0 else None,
            )
            tops[i][start : start + len(batch)] = result.items.numpy()
    return [
        metrics_from_topk(top, relevant, cold_items=window.cold, n_items=before.n_items, k=k)
        for top in tops
    ]


def tune(
    log: EventLog,
    *,
    item_keys: list[str],
    item_vectors: Tensor,
    available: Tensor,
    base: TasteParams,
    fit_options: dict[str, Iterable],
    blend_options: dict[str, Iterable],
    holdout_fraction: float = 0.1,
    folds: int = 1,
    policy: Policy | None = None,
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
    selection: str = "smoothed",
    max_users: int | None = None,
) -> TuneResult:
    """Best params on time-based validation splits of ``log``: the most recent
    ``holdout_fraction`` of its events, and with ``folds`` > 1 as many earlier windows
    (:func:`time_folds`). Each setting's validation recall@10 is its mean over the folds
    (on a few hundred shoppers one window's recall is noisy, and a large grid picks its
    noise); :func:`choose` picks by it (``selection``). The result's metrics are the
    most recent fold's.

    Each combination of ``fit_options`` is fitted once per fold; the blend options
    (:data:`BLEND_FIELDS`), which need no refit, are all scored against it. Unless
    ``user_half_life_days`` is searched, it follows each fit's ``half_life_days``.
    ``max_users`` caps the shoppers scored per window (:class:`Window`).
    """
    policy = policy or Policy()
    windows = [
        Window(before, after, now=cutoff, max_users=max_users)
        for before, after, cutoff in time_folds(log, holdout_fraction=holdout_fraction, folds=folds)
    ]
    fits, blends = grid(fit_options), grid(blend_options)
    trials, settings, first_fold, recalls, ndcgs = [], [], [], [], []
    follow = "user_half_life_days" not in set(fit_options) | set(blend_options)
    for n, fit_values in enumerate(fits):
        params = base.but(**fit_values)
        if follow:  # not searched: the shoppers' events fade as the fit's do
            params = params.but(user_half_life_days=params.half_life_days)
        fit_settings = [params.but(**values) for values in blends]
        per_fold = []
        for window in windows:
            model = fit_log(
                window.before,
                now=window.now,
                params=params,
                item_keys=item_keys,
                item_vectors=item_vectors,
                threads=threads,
            )
            per_fold.append(
                evaluate_blends(
                    model,
                    fit_settings,
                    window,
                    item_vectors=item_vectors,
                    available=available,
                    policy=policy,
                )
            )
            if progress:
                progress(n * len(windows) + len(per_fold), len(fits) * len(windows))
        for i, (blend_values, setting) in enumerate(zip(blends, fit_settings, strict=True)):
            scored = [fold[i] for fold in per_fold]
            recalls.append(float(np.mean([m.recall for m in scored])))
            ndcgs.append(float(np.mean([m.ndcg for m in scored])))
            trial = {**fit_values, **blend_values, **scored[0].as_dict()}
            if len(scored) > 1:
                trial["mean_recall@10"] = round(recalls[-1], 4)
            trials.append(trial)
            settings.append(setting)
            first_fold.append(scored[0])
    # The grid's product order: fits outer, blends inner (as the trials are).
    options = [*fit_options.values(), *blend_options.values()]
    at, near = choose(recalls, ndcgs, options, selection=selection)
    if near is not None:
        for trial, value in zip(trials, near, strict=True):
            trial["neighbour_recall@10"] = round(float(value), 4)
    return TuneResult(
        params=settings[at],
        metrics=first_fold[at],
        window=windows[0],
        trials=trials,
        settings=settings,
        recalls=recalls,
        ndcgs=ndcgs,
    )
