r"""The taste model's event log as arrays, split by time into validation windows.

:func:`stylerecs.engine.taste_tuning.tune` validates on :class:`Window`\ s of a log
(:func:`time_folds`); the training service builds the log from its Interaction rows
(stylerecs/services/taste_training.py) and bench/recs.py simulates one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .taste_rank import ShopperEvents
from .taste_validation import targets

__all__ = [
    "EventLog",
    "Policy",
    "Window",
    "decayed",
    "popularity",
    "shopper_events",
    "time_folds",
    "time_split",
]


@dataclass
class EventLog:
    """Events as arrays: shopper and product rows, signed kind weight, time in days."""

    n_users: int
    n_items: int
    user: np.ndarray
    item: np.ndarray
    weight: np.ndarray
    day: np.ndarray
    bought: np.ndarray

    def select(self, mask: np.ndarray) -> EventLog:
        return EventLog(
            self.n_users,
            self.n_items,
            self.user[mask],
            self.item[mask],
            self.weight[mask],
            self.day[mask],
            self.bought[mask],
        )

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass(frozen=True)
class Policy:
    """What may be shown again: ``interacted`` is "after_first_page", "always" or
    "never" (viewed, liked, carted); bought products only when ``show_bought``."""

    interacted: str = "after_first_page"
    show_bought: bool = False
    page: int = 10


def time_split(log: EventLog, *, holdout_fraction: float) -> tuple[EventLog, EventLog, float]:
    """``(before, after, cutoff)``: the most recent ``holdout_fraction`` of events by time."""
    if not 0 < holdout_fraction < 1:
        raise ValueError("holdout_fraction must be between 0 and 1")
    if not len(log):
        raise ValueError("no events to split")
    cutoff = float(np.quantile(log.day, 1 - holdout_fraction))
    later = log.day >= cutoff
    return log.select(~later), log.select(later), cutoff


def popularity(log: EventLog, *, now: float, days: float) -> Tensor:
    """Weighted positive events of the last ``days`` per product, ``log1p``, max 1."""
    recent = (log.day >= now - days) & (log.day < now) & (log.weight > 0)
    pop = np.zeros(log.n_items, dtype=np.float64)
    np.add.at(pop, log.item[recent], log.weight[recent])
    pop = np.log1p(pop)
    if pop.max() > 0:
        pop /= pop.max()
    return torch.from_numpy(pop.astype(np.float32))


def decayed(log: EventLog, *, now: float, half_life_days: float) -> np.ndarray:
    return (log.weight * np.exp2(-np.clip(now - log.day, 0, None) / half_life_days)).astype(
        np.float32
    )


def time_folds(
    log: EventLog, *, holdout_fraction: float, folds: int
) -> list[tuple[EventLog, EventLog, float]]:
    """Up to ``folds`` splits by time, the most recent first: each holds out the latest
    ``holdout_fraction`` of what the previous one trained on (a rolling origin)."""
    splits: list[tuple[EventLog, EventLog, float]] = []
    rest = log
    while len(splits) < max(1, int(folds)) and len(rest):
        before, after, cutoff = time_split(rest, holdout_fraction=holdout_fraction)
        splits.append((before, after, cutoff))
        rest = before
    if not splits:
        raise ValueError("no events to split")
    return splits


class _ByUser:
    """A log's events grouped by shopper, to cut batches out of it."""

    def __init__(self, log: EventLog):
        order = np.argsort(log.user, kind="stable")
        self.log = log.select(order)
        self.starts = np.searchsorted(self.log.user, np.arange(log.n_users + 1))

    def take(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Event positions of these shoppers and the batch row of each."""
        spans = [np.arange(self.starts[u], self.starts[u + 1]) for u in users]
        rows = np.repeat(np.arange(len(users)), [len(s) for s in spans])
        pos = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
        return pos.astype(np.int64), rows.astype(np.int64)


def shopper_events(
    grouped: _ByUser, users: np.ndarray, *, now: float, policy: Policy
) -> ShopperEvents:
    """A batch for :func:`recommend` from the events of these shoppers before ``now``."""
    pos, rows = grouped.take(users)
    log = grouped.log
    item, weight = log.item[pos], log.weight[pos]
    never = weight < 0
    if not policy.show_bought:
        never |= log.bought[pos]
    demote = (weight > 0) & ~never
    if policy.interacted == "never":
        never, demote = never | demote, np.zeros_like(demote)
    elif policy.interacted == "always":
        demote = np.zeros_like(demote)
    liked = np.full((len(users), 0), -1, dtype=np.int64)

    def t(x, dtype=torch.long):
        return torch.as_tensor(np.ascontiguousarray(x)).to(dtype)

    return ShopperEvents(
        n=len(users),
        rows=t(rows),
        cols=t(item),
        kind_weights=t(weight, torch.float32),
        ages_days=t(now - log.day[pos], torch.float32),
        exclude_rows=t(rows[never]),
        exclude_items=t(item[never]),
        demote_rows=t(rows[demote]),
        demote_items=t(item[demote]),
        liked=t(liked),
    )


class Window:
    """One validation split and what scoring any fit on it reads, computed once: the
    shoppers with targets (at most ``max_users`` of them: a fixed random sample, the same
    on every call), their held-out products, the events grouped by shopper and the
    popularity column of each window length.
    :func:`~stylerecs.engine.taste_tuning.tune` scores every fit of its grid on the same
    windows."""

    def __init__(
        self,
        before: EventLog,
        after: EventLog,
        *,
        now: float,
        min_weight: float = 1.0,
        max_users: int | None = None,
    ):
        self.before, self.now = before, float(now)
        users, relevant, self.cold = targets(before, after, min_weight=min_weight)
        if max_users is not None and len(users) > max_users:
            keep = np.sort(np.random.default_rng(0).choice(len(users), max_users, replace=False))
            users, relevant = users[keep], [relevant[i] for i in keep.tolist()]
        self.users, self.relevant = users, relevant
        self.grouped = _ByUser(before)
        self._popularity: dict[float, Tensor] = {}

    def popularity(self, days: float) -> Tensor:
        days = float(days)
        if days not in self._popularity:
            self._popularity[days] = popularity(self.before, now=self.now, days=days)
        return self._popularity[days]
