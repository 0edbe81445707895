"""Loading what the scoring needs, in bulk, into tensors (worker side; imports torch).

The catalogue (product and style vectors, popularity, availability) is the same for
every shopper, so a worker process keeps one snapshot and rebuilds it when the
profiles or styles change or it is older than ``CATALOGUE_MAX_AGE`` seconds (the bound
on how stale popularity and availability may be). A batch of shoppers is loaded with
one query per table, whatever its size.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import torch
from django.db.models import Count, Max

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import (
    Interaction,
    InteractionKind,
    PreferenceSource,
    ProductStyleProfile,
    Style,
    StylePreference,
)
from ..ranking import scoring_engine
from ..selectors import popularity_scores
from ..shoppers import Shopper, shoppers_q  # noqa: F401 (shoppers_q: used here, re-exported)

CATALOGUE_MAX_AGE = 60.0
# Events that make a product "liked" (to explain others by it); views are too weak.
LIKED_KINDS = (InteractionKind.LIKE, InteractionKind.ADD_TO_CART, InteractionKind.PURCHASE)
# Products a shopper touched in these ways fall under SHOW_AGAIN_INTERACTED. A quiz
# pick is not one: it says which style, and the quiz shows products in it on purpose.
INTERACTED_KINDS = (InteractionKind.VIEW, InteractionKind.LIKE, InteractionKind.ADD_TO_CART)
MAX_LIKED = 16


@dataclass
class Catalogue:
    """Products and styles as unit rows in one frame, with popularity and availability."""

    product_ids: list
    index: dict
    items: torch.Tensor  # (P, D)
    style_ids: list[int]
    style_names: list[str]
    style_index: dict[int, int]
    style_matrix: torch.Tensor  # (S, D)
    popularity: torch.Tensor  # (P,) in [0, 1]
    available: torch.Tensor  # (P,) bool
    model_version: str
    fingerprint: tuple = ()
    built_at: float = 0.0


@dataclass
class ShopperBatch:
    """A batch of shoppers' events, preferences, exclusions and liked products."""

    shoppers: list[Shopper]
    event_rows: torch.Tensor
    event_items: torch.Tensor
    event_kind_weights: torch.Tensor
    event_ages_days: torch.Tensor
    pref_weights: torch.Tensor  # (B, S)
    exclude_rows: torch.Tensor
    exclude_items: torch.Tensor
    demote_rows: torch.Tensor  # pairs kept off the first page (SHOW_AGAIN_INTERACTED)
    demote_items: torch.Tensor
    liked: torch.Tensor  # (B, L), -1 padded
    explicit_styles: list[set[int]] = field(default_factory=list)


_snapshot: dict[str, Catalogue] = {}


def _fingerprint() -> tuple:
    profiles = ProductStyleProfile.objects.aggregate(n=Count("pk"), at=Max("updated_at"))
    styles = Style.objects.filter(is_active=True).aggregate(n=Count("pk"), at=Max("updated_at"))
    return (profiles["n"], profiles["at"], styles["n"], styles["at"])


def _vectors(rows) -> np.ndarray:
    return np.stack(
        [np.frombuffer(bytes(blob), dtype=dtype).reshape(dim) for blob, dim, dtype in rows]
    ).astype(np.float32)


def popularity_weights(*, now: datetime, days: float | None = None) -> dict:
    """Weighted interactions of the last ``days`` (default ``POPULARITY_DAYS``) per
    product (positive kinds only): :func:`stylerecs.selectors.popularity_scores`."""
    return dict(popularity_scores(now=now, days=days))


def popularity_vector(*, index: dict, now: datetime, days: float | None = None) -> torch.Tensor:
    """(P,) in [0, 1]: ``log1p`` of :func:`popularity_weights`, products in ``index``
    order, the most popular 1."""
    pop = np.zeros(len(index), dtype=np.float32)
    for pk, weight in popularity_weights(now=now, days=days).items():
        if pk in index and weight > 0:
            pop[index[pk]] = math.log1p(weight)
    if pop.max() > 0:
        pop /= pop.max()
    return torch.from_numpy(pop)


def catalogue_load(*, now: datetime, device: str = "cpu") -> Catalogue | None:
    """The catalogue snapshot of this worker process (rebuilt when stale); ``None``
    until at least one product has a style profile."""
    fingerprint = _fingerprint()
    cached = _snapshot.get(device)
    if (
        cached is not None
        and cached.fingerprint == fingerprint
        and time.monotonic() - cached.built_at < CATALOGUE_MAX_AGE
    ):
        return cached
    profiles = ProductStyleProfile.objects.exclude(vector=None).exclude(vector_dim=0)
    top = profiles.values("vector_model").annotate(n=Count("pk")).order_by("-n").first()
    if top is None:
        return None
    model = top["vector_model"]  # while a new model rolls out, score with the majority
    rows = list(
        profiles.filter(vector_model=model)
        .order_by("product_id")
        .values_list("product_id", "vector", "vector_dim", "vector_dtype")
    )
    product_ids = [row[0] for row in rows]
    engine = scoring_engine()
    items, mean, std = engine.standardise(torch.from_numpy(_vectors([r[1:] for r in rows])))
    styles = list(
        Style.objects.filter(is_active=True, vector_model=model, vector_dim=items.shape[1])
        .exclude(vector=None)
        .order_by("pk")
        .values_list("pk", "name", "vector", "vector_dim", "vector_dtype")
    )
    if styles:
        style_matrix = engine.standardise(
            torch.from_numpy(_vectors([s[2:] for s in styles])), mean=mean, std=std
        )[0]
    else:
        style_matrix = torch.zeros(0, items.shape[1])
    index = {pk: i for i, pk in enumerate(product_ids)}
    pop = popularity_vector(index=index, now=now)
    adapter = get_adapter()
    available = np.zeros(len(product_ids), dtype=bool)
    products = get_product_model()._default_manager.filter(pk__in=product_ids)
    show_all = bool(stylerecs_settings.SHOW_UNAVAILABLE)
    for product in products.iterator(chunk_size=2000):
        available[index[product.pk]] = show_all or adapter.is_available(product)
    catalogue = Catalogue(
        product_ids=product_ids,
        index=index,
        items=items.to(device),
        style_ids=[s[0] for s in styles],
        style_names=[s[1] for s in styles],
        style_index={s[0]: i for i, s in enumerate(styles)},
        style_matrix=style_matrix.to(device),
        popularity=pop.to(device),
        available=torch.from_numpy(available).to(device),
        model_version=model,
        fingerprint=fingerprint,
        built_at=time.monotonic(),
    )
    _snapshot[device] = catalogue
    return catalogue


def catalogue_forget() -> None:
    """Drop this process's snapshot (the next scoring rebuilds it)."""
    _snapshot.clear()


def show_again_policy() -> tuple[set[str], set[str]]:
    """Interaction kinds whose products are ``(never shown again, kept off the first
    page)`` by the SHOW_AGAIN_* settings. Disliked products are never shown again."""
    never = {InteractionKind.DISLIKE.value}
    demote: set[str] = set()
    if not stylerecs_settings.SHOW_AGAIN_PURCHASED:
        never.add(InteractionKind.PURCHASE.value)
    policy = stylerecs_settings.SHOW_AGAIN_INTERACTED
    if policy == "never":
        never |= {k.value for k in INTERACTED_KINDS}
    elif policy == "after_first_page":
        demote = {k.value for k in INTERACTED_KINDS}
    return never, demote


def _row_of(shoppers: list[Shopper]):
    rows = {s.key: i for i, s in enumerate(shoppers)}

    def row(user_id, session_key) -> int | None:
        key = f"u:{user_id}" if user_id is not None else f"a:{session_key}"
        return rows.get(key)

    return row


def shopper_batch_load(
    *, shoppers: list[Shopper], catalogue: Catalogue, now: datetime, device: str = "cpu"
) -> ShopperBatch:
    """Events (most recent first, capped per shopper), explicit preferences, products
    never to show again and liked products of a batch of shoppers."""
    row_of = _row_of(shoppers)
    where = shoppers_q(shoppers)
    kind_weights = {k: float(w) for k, w in stylerecs_settings.EVENT_WEIGHTS.items()}
    cap = int(stylerecs_settings.MAX_EVENTS_PER_SHOPPER)
    seen: Counter = Counter()
    ev_rows, ev_items, ev_weights, ev_ages = [], [], [], []
    liked_weight: dict[int, Counter] = defaultdict(Counter)
    events = (
        Interaction.objects.filter(where)
        .order_by("-created_at")
        .values_list("user_id", "session_key", "product_id", "kind", "created_at")
    )
    for user_id, session_key, product_id, kind, created_at in events.iterator(chunk_size=5000):
        row = row_of(user_id, session_key)
        item = catalogue.index.get(product_id)
        weight = kind_weights.get(kind, 0.0)
        if row is None or item is None or weight == 0 or seen[row] >= cap:
            continue
        seen[row] += 1
        ev_rows.append(row)
        ev_items.append(item)
        ev_weights.append(weight)
        ev_ages.append((now - created_at).total_seconds() / 86400.0)
        if kind in LIKED_KINDS:
            liked_weight[row][item] += weight

    never, demote = show_again_policy()
    touched = (
        Interaction.objects.filter(where, kind__in=[*never, *demote])
        .values_list("user_id", "session_key", "product_id", "kind")
        .order_by()
        .distinct()
    )
    ex_rows, ex_items, de_rows, de_items = [], [], [], []
    for user_id, session_key, product_id, kind in touched:
        row, item = row_of(user_id, session_key), catalogue.index.get(product_id)
        if row is None or item is None:
            continue
        if kind in never:
            ex_rows.append(row)
            ex_items.append(item)
        else:
            de_rows.append(row)
            de_items.append(item)

    prefs = torch.zeros(len(shoppers), len(catalogue.style_ids))
    explicit: list[set[int]] = [set() for _ in shoppers]
    preferences = StylePreference.objects.filter(where, source=PreferenceSource.EXPLICIT)
    for user_id, session_key, style_id, weight in preferences.values_list(
        "user_id", "session_key", "style_id", "weight"
    ):
        row = row_of(user_id, session_key)
        if row is None:
            continue
        explicit[row].add(style_id)
        if style_id in catalogue.style_index:
            prefs[row, catalogue.style_index[style_id]] = float(weight)

    width = max((min(len(c), MAX_LIKED) for c in liked_weight.values()), default=0)
    liked = torch.full((len(shoppers), width), -1, dtype=torch.long)
    for row, counter in liked_weight.items():
        best = [item for item, _ in counter.most_common(MAX_LIKED)]
        liked[row, : len(best)] = torch.tensor(best, dtype=torch.long)

    def long(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.long, device=device)

    def floats(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=device)

    return ShopperBatch(
        shoppers=shoppers,
        event_rows=long(ev_rows),
        event_items=long(ev_items),
        event_kind_weights=floats(ev_weights),
        event_ages_days=floats(ev_ages),
        pref_weights=prefs.to(device),
        exclude_rows=long(ex_rows),
        exclude_items=long(ex_items),
        demote_rows=long(de_rows),
        demote_items=long(de_items),
        liked=liked.to(device),
        explicit_styles=explicit,
    )
