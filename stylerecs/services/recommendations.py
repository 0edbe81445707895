"""Recommendations: schedule a shopper's rescoring, compute it on a worker, store it.

The web side only schedules (:func:`recommendations_schedule`, debounced). The worker
side (:func:`recommendations_compute`, :func:`recommendations_compute_all`) loads the
catalogue and the shoppers in bulk, builds taste vectors in torch, calls the ranking
function named in settings, and replaces each shopper's set in one transaction. Torch is
imported only inside the worker-side functions: the storefront never loads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import (
    Interaction,
    PreferenceSource,
    Recommendation,
    ShopperSettings,
    StylePreference,
)
from ..shoppers import Shopper, shoppers_q

logger = logging.getLogger(__name__)

POPULAR_REASON = "Popular right now"
# stylerecs.engine.taste_rank.REASON_COBOUGHT (the engine is imported on workers only).
REASON_COBOUGHT = 4
# Learned preferences: how many styles, and how clear a leaning must be, to be stored.
LEARNED_STYLES = 3
LEARNED_MIN = 0.05


def _debounce_key(shopper: Shopper) -> str:
    return f"stylerecs:rescore:{shopper.key}"


def recommendations_schedule(*, shopper: Shopper) -> None:
    """Rescore a shopper once, ``RESCORE_DELAY_SECONDS`` after the first of a burst.

    The first call of a window adds a cache key that lives as long as the window and
    enqueues the task with that countdown; later calls in the window find the key and
    do nothing, and the task, which runs after the window, sees their events too (they
    are committed before this is called). With a shared cache (Redis) that holds across
    web processes; with a per-process cache, each process schedules at most once.
    """
    from ..tasks import refresh_recommendations

    delay = int(stylerecs_settings.RESCORE_DELAY_SECONDS)
    cache = caches[stylerecs_settings.DEBOUNCE_CACHE]
    if delay > 0 and not cache.add(_debounce_key(shopper), 1, timeout=delay):
        return
    try:
        refresh_recommendations.apply_async(
            kwargs={"user_id": shopper.user_id, "anon_id": shopper.anon_id}, countdown=delay
        )
    except Exception:
        # The event is stored; the scheduled rescoring of everyone picks it up later.
        # A broker outage must not turn a click into an error page.
        cache.delete(_debounce_key(shopper))
        logger.exception("Could not enqueue the rescoring of %s", shopper.key)


def recommendations_unschedule(*, shopper: Shopper) -> None:
    """Forget a pending debounce window (the task, if queued, still runs and finds
    nothing to do when the shopper's data is gone)."""
    caches[stylerecs_settings.DEBOUNCE_CACHE].delete(_debounce_key(shopper))


def opted_out(shoppers: list[Shopper]) -> set[str]:
    """Keys of the given shoppers who turned personalisation off."""
    rows = ShopperSettings.objects.filter(shoppers_q(shoppers), personalise=False)
    return {
        Shopper(user_id=u, anon_id="" if u is not None else s).key
        for u, s in rows.values_list("user_id", "session_key")
    }


def recommendations_clear(*, shoppers: list[Shopper]) -> int:
    """Delete the stored recommendations and learned preferences of shoppers."""
    with transaction.atomic():
        count, _ = Recommendation.objects.filter(shoppers_q(shoppers)).delete()
        StylePreference.objects.filter(
            shoppers_q(shoppers), source=PreferenceSource.LEARNED
        ).delete()
    return count


def recommendations_compute(*, shopper: Shopper) -> int:
    """Score one shopper and replace their recommendations (worker side).

    Returns how many recommendations were stored (0 when personalisation is off or no
    product has a style profile yet).
    """
    if opted_out([shopper]):
        recommendations_clear(shoppers=[shopper])
        return 0
    return _score_and_store([shopper]) or 0


def recommendations_compute_all(
    *,
    chunk_size: int | None = None,
    fan_out: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Rescore every shopper with a history, in chunks (for celery beat).

    Each chunk is one batched matrix product with top-k, and its shoppers' sets are
    replaced in one transaction. With ``fan_out`` each chunk is enqueued as its own
    ``score_recommendations_chunk`` task instead (any worker can take one: they share
    nothing but the database and the model file in storage). ``progress(done, total)``
    follows the shoppers. Returns the number of shoppers scored (or enqueued).
    """
    size = int(chunk_size or stylerecs_settings.SCORING_CHUNK_SIZE)
    shoppers = _active_shoppers()
    if fan_out:
        from ..tasks import score_recommendations_chunk

        for n, chunk in enumerate(_chunks(shoppers, size)):
            keys = [s.key for s in chunk]
            transaction.on_commit(
                lambda keys=keys: score_recommendations_chunk.delay(shopper_keys=keys)
            )
            if progress:
                progress(min((n + 1) * size, len(shoppers)), len(shoppers))
        return len(shoppers)
    scored = done = 0
    for chunk in _chunks(shoppers, size):
        stored = recommendations_compute_chunk(shoppers=chunk)
        if stored is None:
            break  # no catalogue yet: nobody can be scored
        scored += stored
        done += len(chunk)
        if progress:
            progress(done, len(shoppers))
    return scored


def recommendations_compute_chunk(*, shoppers: list[Shopper]) -> int | None:
    """Score one chunk of shoppers and replace their sets; returns how many were scored
    (opted-out shoppers are cleared instead), ``None`` when there is no catalogue yet."""
    off = opted_out(shoppers)
    if off:
        recommendations_clear(shoppers=[s for s in shoppers if s.key in off])
    todo = [s for s in shoppers if s.key not in off]
    if todo and _score_and_store(todo) is None:
        return None
    return len(todo)


def shopper_from_key(key: str) -> Shopper:
    """The shopper a :attr:`Shopper.key` names (``u:<pk>`` or ``a:<anonymous id>``)."""
    kind, _, value = key.partition(":")
    if kind == "u" and value.isdigit():
        return Shopper.for_user(int(value))
    if kind == "a" and value:
        return Shopper.anonymous(value)
    raise ValueError(f"not a shopper key: {key!r}")


def _active_shoppers() -> list[Shopper]:
    """Users with events or explicit preferences; anonymous ids seen recently."""
    since = timezone.now() - timedelta(days=float(stylerecs_settings.ANONYMOUS_DAYS))
    explicit = StylePreference.objects.filter(source=PreferenceSource.EXPLICIT)
    users = set(
        Interaction.objects.filter(user__isnull=False)
        .values_list("user_id", flat=True)
        .order_by()
        .distinct()
    ) | set(
        explicit.filter(user__isnull=False).values_list("user_id", flat=True).order_by().distinct()
    )
    anons = set(
        Interaction.objects.filter(user__isnull=True, created_at__gte=since)
        .values_list("session_key", flat=True)
        .order_by()
        .distinct()
    ) | set(
        explicit.filter(user__isnull=True)
        .values_list("session_key", flat=True)
        .order_by()
        .distinct()
    )
    return [Shopper.for_user(pk) for pk in sorted(users)] + [
        Shopper.anonymous(a) for a in sorted(anons) if a
    ]


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _score_and_store(shoppers: list[Shopper]) -> int | None:
    """Score a batch and replace its sets; ``None`` when there is no catalogue yet."""
    from ..ranking import scoring_engine
    from .scoring_inputs import catalogue_load, shopper_batch_load
    from .taste_scoring import rank_shoppers

    now = timezone.now()
    device = stylerecs_settings.SCORING_DEVICE or "cpu"
    catalogue = catalogue_load(now=now, device=device)
    if catalogue is None:
        logger.info("No product style profiles yet: nothing to score")
        return None
    batch = shopper_batch_load(shoppers=shoppers, catalogue=catalogue, now=now, device=device)
    engine = scoring_engine()
    weights = engine.decayed_weights(
        batch.event_kind_weights,
        batch.event_ages_days,
        half_life_days=float(stylerecs_settings.HALF_LIFE_DAYS),
    )
    taste = engine.taste_vectors(
        item_matrix=catalogue.items,
        style_matrix=catalogue.style_matrix,
        n_shoppers=len(shoppers),
        event_rows=batch.event_rows,
        event_items=batch.event_items,
        event_weights=weights,
        pref_weights=batch.pref_weights,
        explicit_weight=float(stylerecs_settings.EXPLICIT_WEIGHT),
    )
    k = min(int(stylerecs_settings.RECOMMENDATIONS_PER_SHOPPER), len(catalogue.product_ids))
    with _scoring_threads():
        result = rank_shoppers(catalogue=catalogue, batch=batch, taste=taste, k=k)
    leaning = engine.cosine_matrix(taste.vectors, catalogue.style_matrix).cpu()
    return _store(shoppers, catalogue, batch, result, leaning, now, engine)


@contextmanager
def _scoring_threads() -> Iterator[None]:
    """Run with SCORING_THREADS torch threads, then put the process's number back.

    The diversity re-ranking is k rounds of small tensor operations; with a thread per
    core in every prefork child, waking threads on a busy machine costs more than the
    arithmetic (bench/recs.py measures it), and the matrix products gain little.
    """
    import torch

    threads, before = stylerecs_settings.SCORING_THREADS, torch.get_num_threads()
    if threads and int(threads) != before:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _store(shoppers, catalogue, batch, result, leaning, now, engine) -> int:
    items = result.items.cpu().tolist()
    scores = result.scores.cpu().tolist()
    kinds = result.reason_kind.cpu().tolist()
    refs = result.reason_ref.cpu().tolist()
    liked_ids = {
        catalogue.product_ids[ref]
        for row_kinds, row_refs in zip(kinds, refs, strict=True)
        for kind, ref in zip(row_kinds, row_refs, strict=True)
        if kind in (engine.REASON_PRODUCT, REASON_COBOUGHT) and ref >= 0
    }
    adapter = get_adapter()
    titles = {
        p.pk: adapter.title(p)
        for p in get_product_model()._default_manager.filter(pk__in=list(liked_ids))
    }

    def reason(kind: int, ref: int) -> str:
        if kind == engine.REASON_POPULAR:
            return _(POPULAR_REASON)
        if kind == engine.REASON_STYLE:
            return _("Because you like %(style)s") % {"style": catalogue.style_names[ref]}
        if kind == engine.REASON_PRODUCT:
            title = titles.get(catalogue.product_ids[ref], "")
            return _("Similar to %(title)s, which you liked") % {"title": title}
        if kind == REASON_COBOUGHT:
            title = titles.get(catalogue.product_ids[ref], "")
            return _("Often bought with %(title)s") % {"title": title}
        return _("Picked for you")

    recommendations, learned = [], []
    for row, shopper in enumerate(shoppers):
        rank = 0
        for item, score, kind, ref in zip(
            items[row], scores[row], kinds[row], refs[row], strict=True
        ):
            if item < 0:
                continue
            rank += 1
            recommendations.append(
                Recommendation(
                    product_id=catalogue.product_ids[item],
                    score=float(score),
                    rank=rank,
                    reason=reason(kind, ref)[:200],
                    computed_at=now,
                    **shopper.fields(),
                )
            )
        learned.extend(_learned(shopper, leaning[row], catalogue, batch.explicit_styles[row]))
    return _replace(shoppers, recommendations, learned)


WRITE_ATTEMPTS = 3


def _replace(shoppers: list[Shopper], recommendations: list, learned: list) -> int:
    """Replace the shoppers' lists and learned preferences in one transaction.

    Two rescorings of one shopper at once (an event's and the nightly one) both delete
    what is committed, then insert: the one that commits second meets the first's rows
    at the same places (the unique constraints on ``rank``) and is written again, over
    them. Whichever commits last is the list, never both mixed.
    """
    where = shoppers_q(shoppers)
    attempt = 1
    while True:
        try:
            with transaction.atomic():
                # A shopper who deleted their data or turned personalisation off while
                # this ran gets nothing written back.
                keep = _still_personalised(shoppers)
                rows = [r for r in recommendations if _key(r) in keep]
                Recommendation.objects.filter(where).delete()
                Recommendation.objects.bulk_create(rows, batch_size=2000)
                StylePreference.objects.filter(where, source=PreferenceSource.LEARNED).delete()
                # An explicit choice saved meanwhile wins over a learned guess.
                StylePreference.objects.bulk_create(
                    [p for p in learned if _key(p) in keep],
                    batch_size=2000,
                    ignore_conflicts=True,
                )
            return len(rows)
        except IntegrityError:
            if attempt == WRITE_ATTEMPTS:
                raise
            attempt += 1
            logger.info("Recommendations of %d shopper(s) written meanwhile: again", len(shoppers))
            for row in (*recommendations, *learned):  # bulk_create may have set their pks
                row.pk = None


def _key(row) -> str:
    return f"u:{row.user_id}" if row.user_id is not None else f"a:{row.session_key}"


def _still_personalised(shoppers: list[Shopper]) -> set[str]:
    """Keys of the shoppers that have events or explicit preferences and did not opt out."""
    where = shoppers_q(shoppers)
    known = set()
    for rows in (
        Interaction.objects.filter(where)
        .values_list("user_id", "session_key")
        .order_by()
        .distinct(),
        StylePreference.objects.filter(where, source=PreferenceSource.EXPLICIT)
        .values_list("user_id", "session_key")
        .order_by()
        .distinct(),
    ):
        known |= {f"u:{u}" if u is not None else f"a:{s}" for u, s in rows}
    return known - opted_out(shoppers)


def _learned(shopper, leaning, catalogue, explicit: set[int]) -> list[StylePreference]:
    """The styles a shopper's taste leans to most, for the ones they did not choose."""
    rows = []
    if not leaning.numel():
        return rows
    values, order = leaning.sort(descending=True)
    for value, s in zip(values.tolist(), order.tolist(), strict=True):
        if len(rows) >= LEARNED_STYLES or value < LEARNED_MIN:
            break
        style_id = catalogue.style_ids[s]
        if style_id not in explicit:
            rows.append(
                StylePreference(
                    style_id=style_id,
                    weight=round(value, 4),
                    source=PreferenceSource.LEARNED,
                    **shopper.fields(),
                )
            )
    return rows
