"""How the tuning judges a setting: held-out targets, recall@10 and NDCG@10 of the top
10 as served, and the choice of one setting from a grid of them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .taste_log import EventLog

__all__ = ["Metrics", "choose", "grid", "grid_neighbour_mean", "metrics_from_topk", "targets"]


@dataclass
class Metrics:
    recall: float
    ndcg: float
    coverage: float
    cold_recall: float
    users: int

    def as_dict(self) -> dict:
        return {
            "recall@10": round(self.recall, 4),
            "ndcg@10": round(self.ndcg, 4),
            "coverage": round(self.coverage, 4),
            # None (JSON null), not NaN, when no held-out product was new.
            "cold_recall@10": None if math.isnan(self.cold_recall) else round(self.cold_recall, 4),
            "users": self.users,
        }


def metrics_from_topk(
    top: np.ndarray, relevant: list[set], *, cold_items: set, n_items: int, k: int = 10
) -> Metrics:
    """recall@k (hits over min(k, relevant)), NDCG@k, catalogue coverage of the top k,
    and recall@k of the relevant products that had no events before the split."""
    if not len(relevant):
        return Metrics(recall=0.0, ndcg=0.0, coverage=0.0, cold_recall=math.nan, users=0)
    top = np.asarray(top, dtype=np.int64).reshape(len(relevant), -1)[:, :k]
    sizes = np.array([len(rel) for rel in relevant], dtype=np.int64)
    # Each (shopper row, product) pair as one key: hits by membership, no per-row loop.
    rel_items = np.fromiter(itertools.chain.from_iterable(relevant), np.int64, int(sizes.sum()))
    base = max(n_items, int(rel_items.max(initial=0)) + 1, int(top.max(initial=0)) + 1)
    rel_rows = np.repeat(np.arange(len(relevant)), sizes)  # each relevant product's shopper
    rel_keys = rel_rows * base + rel_items
    valid = top >= 0
    hits = valid & np.isin(np.arange(len(relevant))[:, None] * base + top, rel_keys)
    # A pick's place counts the valid picks before it (-1 padding takes no place).
    places = np.cumsum(valid, axis=1) - 1
    discounts = 1 / np.log2(np.arange(2, k + 2))
    wanted = np.minimum(k, sizes).clip(1)
    recalls = hits.sum(axis=1) / wanted
    ndcgs = (hits * discounts[places.clip(0)]).sum(axis=1) / np.cumsum(discounts)[wanted - 1]
    is_cold = np.zeros(base, dtype=bool)
    is_cold[[i for i in cold_items if i < base]] = True
    cold_total = int(np.minimum(k, np.bincount(rel_rows, weights=is_cold[rel_items],
                                               minlength=len(relevant))).sum())  # fmt: skip
    cold_hits = int((hits & is_cold[top.clip(0)]).sum())
    shown = np.unique(top[valid])
    return Metrics(
        recall=float(recalls.mean()),
        ndcg=float(ndcgs.mean()),
        coverage=len(shown) / max(n_items, 1),
        cold_recall=cold_hits / cold_total if cold_total else math.nan,
        users=len(relevant),
    )


def targets(
    before: EventLog, after: EventLog, *, min_weight: float = 1.0
) -> tuple[np.ndarray, list[set], set]:
    """Shoppers to evaluate, the products each engaged with after the split (an event
    weighing at least ``min_weight``: a like, cart or purchase, not a view) and had not
    touched before it, and the products nobody touched before it."""
    touched = set(zip(before.user.tolist(), before.item.tolist(), strict=True))
    relevant: dict[int, set] = {}
    for u, i, w in zip(
        after.user.tolist(), after.item.tolist(), after.weight.tolist(), strict=True
    ):
        if w >= min_weight and (u, i) not in touched:
            relevant.setdefault(u, set()).add(i)
    users = np.array(sorted(relevant), dtype=np.int64)
    cold = set(range(before.n_items)) - set(before.item.tolist())
    return users, [relevant[u] for u in users.tolist()], cold


def grid(options: dict[str, Iterable]) -> list[dict]:
    """Every combination of the options."""
    keys = list(options)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*options.values())]


def grid_neighbour_mean(values: np.ndarray, options: list[Iterable]) -> np.ndarray:
    """Each setting's mean of ``values`` over itself and its grid neighbours: the
    settings one step away (in sorted order) on one option, the rest equal. ``values``
    are in :func:`grid`'s order of ``options``."""
    options = [list(o) for o in options]
    shape = [len(o) for o in options]
    # grid() takes each option's values in the order given: their ranks are the axes.
    index = [np.argsort(np.argsort(o, kind="stable"), kind="stable") for o in options]
    coords = np.array(list(itertools.product(*index)), dtype=np.int64).reshape(-1, len(shape))
    cube = np.zeros(shape)
    cube[tuple(coords.T)] = values
    total, count = cube.copy(), np.ones(shape)
    for axis, n in enumerate(shape):
        for lo, hi in ((slice(0, n - 1), slice(1, n)), (slice(1, n), slice(0, n - 1))):
            here = [slice(None)] * len(shape)
            there = list(here)
            here[axis], there[axis] = lo, hi
            total[tuple(here)] += cube[tuple(there)]
            count[tuple(here)] += 1
    return (total / count)[tuple(coords.T)]


def choose(
    recalls: list[float], ndcgs: list[float], options: list[Iterable], *, selection: str
) -> tuple[int, np.ndarray | None]:
    """The index of the winning setting of a grid (in :func:`grid`'s order of
    ``options``), and each setting's neighbour mean when ``selection`` is "smoothed".

    "best": the best validation recall@10. "smoothed" (the default of :func:`tune`): the
    best sum of a setting's own recall and its grid neighbours' mean
    (:func:`grid_neighbour_mean`). A grid of thousands of settings holds some whose
    validation recall is high by luck; a setting whose neighbours also do well is less
    likely to be one of them. Ties: the better NDCG@10, then the first.
    """
    recall = np.asarray(recalls, dtype=float)
    if selection == "smoothed":
        near = grid_neighbour_mean(recall, options)
        key = recall + near
    elif selection == "best":
        near, key = None, recall
    else:
        raise ValueError(f"selection must be 'smoothed' or 'best', not {selection!r}")
    return max(range(len(recall)), key=lambda i: (key[i], ndcgs[i], -i)), near
