"""Reads: what the storefront, the admin and the API show."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Case, F, FloatField, Func, Max, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from .assignment import treatment_for
from .conf import get_adapter, get_product_model, stylerecs_settings
from .models import (
    GenerationBatch,
    Interaction,
    PreferenceSource,
    ProductStyleProfile,
    Recommendation,
    Style,
    StylePreference,
    StylizedVariant,
    VariantStatus,
)


def approved_variants_for_product(*, product) -> QuerySet[StylizedVariant]:
    """Variants a shopper may see for a product: approved, with a file, active style."""
    return (
        StylizedVariant.objects.filter(
            product=product, status=VariantStatus.APPROVED, style__is_active=True
        )
        .exclude(image="")
        .select_related("style")
        .order_by("style__name", "-style_version")
    )


def batch_progress(*, batch: GenerationBatch) -> dict:
    """A batch's progress, with the reasons of its failures."""
    failures = list(
        batch.variants.filter(status=VariantStatus.FAILED).select_related("style", "product")[:50]
    )
    adapter = get_adapter()
    return {
        "id": batch.pk,
        "total": batch.total,
        "ready": batch.ready,
        "failed": batch.failed,
        "done": batch.done,
        "percent": batch.percent,
        "finished": batch.is_finished,
        "failures": [
            {
                "variant": variant.pk,
                "product": adapter.title(variant.product),
                "style": variant.style.name,
                "error": variant.error,
            }
            for variant in failures
        ],
    }


# --- Storefront reads (the catalogue, product cards, the style quiz) ------------------


def _newest_per_style(variants) -> list[StylizedVariant]:
    """Keep the newest version of each style (variants come newest first per style)."""
    seen, kept = set(), []
    for variant in variants:
        if variant.style_id not in seen:
            seen.add(variant.style_id)
            kept.append(variant)
    return kept


def approved_variants_for_products(*, product_ids=None) -> dict:
    """``{product pk: [approved variants, one per style]}`` for many products, one query.

    ``product_ids=None`` means every product that has one.
    """
    by_product: dict = {}
    variants = StylizedVariant.objects.filter(status=VariantStatus.APPROVED, style__is_active=True)
    if product_ids is not None:
        variants = variants.filter(product_id__in=list(product_ids))
    variants = (
        variants.exclude(image="")
        .select_related("style")
        .order_by("product_id", "style__name", "-style_version", "-id")
    )
    for variant in variants:
        by_product.setdefault(variant.product_id, []).append(variant)
    return {pk: _newest_per_style(items) for pk, items in by_product.items()}


def approved_variants_in_style(*, product_ids, style) -> dict:
    """``{product pk: variant}``: each product's approved variant in one style, if any."""
    variants = (
        StylizedVariant.objects.filter(
            product_id__in=list(product_ids), style=style, status=VariantStatus.APPROVED
        )
        .exclude(image="")
        .order_by("product_id", "-style_version", "-id")
    )
    found: dict = {}
    for variant in variants:
        variant.style = style  # known already: no join, no query per card
        found.setdefault(variant.product_id, variant)
    return found


def quiz_rounds(*, products: int = 6, styles_per_round: int = 3) -> list[tuple]:
    """The style quiz: products shown in several styles each, as ``(product, [variants])``.

    Only products with approved variants in at least two active styles take part. The
    styles offered rotate from one product to the next, so that a short quiz still
    shows every style at least once where the catalogue allows.
    """
    by_product = approved_variants_for_products()
    candidates = sorted(
        ((pk, variants) for pk, variants in by_product.items() if len(variants) >= 2),
        key=lambda item: (-len(item[1]), str(item[0])),
    )[:products]
    if not candidates:
        return []
    model = get_product_model()
    prefetch = get_adapter().image_queryset_prefetch()
    loaded = model._default_manager.filter(pk__in=[pk for pk, _ in candidates])
    loaded = {p.pk: p for p in (loaded.prefetch_related(*prefetch) if prefetch else loaded)}
    rounds = []
    for index, (pk, variants) in enumerate(candidates):
        if pk not in loaded:
            continue
        start = (index * styles_per_round) % len(variants)
        rotated = variants[start:] + variants[:start]
        rounds.append((loaded[pk], rotated[:styles_per_round]))
    return rounds


# --- Recommendations (stylerecs/services/recommendations.py writes them) ----------------

POPULAR_REASON = "Popular right now"
NEW_REASON = "New in the shop"
POPULAR_CACHE_SECONDS = 60


class _Affinity(Func):
    """A profile's affinity to one style, read from the ``affinities`` JSON in SQL.

    Django's key transforms read a digit key ("12") as an array index on PostgreSQL,
    so the style id key is spelled out per database.
    """

    output_field = FloatField()

    def __init__(self, style_id: int) -> None:
        super().__init__(F("affinities"))
        self.key = str(int(style_id))

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(JSON_EXTRACT({sql}, %s) AS REAL)", [*params, f'$."{self.key}"']

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql})::jsonb ->> %s)::double precision", [*params, self.key]


def popularity_scores(
    *, days: float | None = None, limit: int | None = None, now: datetime | None = None
) -> list[tuple]:
    """``[(product_id, score)]``, most popular first: the interactions of the ``days``
    (default ``POPULARITY_DAYS``) before ``now`` (default: now) weighted by the kind's
    ``EVENT_WEIGHTS`` (positive kinds only)."""
    weights = {k: float(w) for k, w in stylerecs_settings.EVENT_WEIGHTS.items() if w > 0}
    if not weights:
        return []
    days = float(stylerecs_settings.POPULARITY_DAYS if days is None else days)
    moment = timezone.now() if now is None else now
    since = moment - timedelta(days=days)
    score = Sum(
        Case(
            *[When(kind=kind, then=Value(w)) for kind, w in weights.items()],
            default=Value(0.0),
            output_field=FloatField(),
        )
    )
    rows = (
        Interaction.objects.filter(
            created_at__gte=since, created_at__lte=moment, kind__in=list(weights)
        )
        .values("product_id")
        .annotate(score=score)
        .order_by("-score", "product_id")
        .values_list("product_id", "score")
    )
    return list(rows[:limit] if limit else rows)


def _products_prefetched(ids) -> dict:
    prefetch = get_adapter().image_queryset_prefetch()
    products = get_product_model()._default_manager.filter(pk__in=list(ids))
    return {p.pk: p for p in (products.prefetch_related(*prefetch) if prefetch else products)}


def _popular_ids(*, limit: int) -> list:
    """Ids of the most popular products, cached for ``POPULAR_CACHE_SECONDS``."""
    key = f"stylerecs:popular:{limit}"
    ids = cache.get(key)
    if ids is None:
        ids = [pk for pk, _ in popularity_scores(limit=limit * 2)]
        cache.set(key, ids, POPULAR_CACHE_SECONDS)
    return ids


def popular_products_ranked(*, limit: int = 24) -> list[tuple]:
    """``[(product, is_popular)]``: the most popular available products, then the newest
    to fill up a quiet shop (``is_popular`` False for those: nobody has shown interest in
    them yet, so they must not be called popular).

    The popularity ranking is an aggregate over recent interactions, so it is cached
    for ``POPULAR_CACHE_SECONDS`` (a minute of staleness is invisible to shoppers).
    """
    popular = _popular_ids(limit=limit)
    fill = (
        get_product_model()
        ._default_manager.exclude(pk__in=popular)
        .order_by("-pk")
        .values_list("pk", flat=True)[: limit * 2]
    )
    ids = [*popular, *fill]
    adapter = get_adapter()
    products = _products_prefetched(ids)
    popular_set = set(popular)
    ranked = [(products[pk], pk in popular_set) for pk in ids if pk in products]
    return [(p, hot) for p, hot in ranked if adapter.is_available(p)][:limit]


def popular_products(*, limit: int = 24) -> list:
    """The most popular available products; the newest fill up a quiet shop."""
    return [product for product, _ in popular_products_ranked(limit=limit)]


def recommendations_for(*, shopper, limit: int = 24, treatment=None) -> list[dict]:
    """A shopper's stored recommendations, best first: dicts of product, score, rank,
    reason and ``personalised`` (True for stored ones).

    When there are none yet (a new shopper, personalisation off, or no shopper at all),
    or when the shopper's experiment arm ranks by popularity (``treatment``: from
    ``treatment_for``, asked here when not given): popular products (reason "Popular
    right now"), then the newest ones (reason "New in the shop"), ``personalised`` False.
    """
    if treatment is None:
        treatment = treatment_for(shopper=shopper)
    rows = []
    if shopper is not None and treatment.personalised_ranking:
        prefetch = [f"product__{lookup}" for lookup in get_adapter().image_queryset_prefetch()]
        recs = (
            Recommendation.objects.filter(shopper.q())
            .select_related("product")
            .prefetch_related(*prefetch)
            .order_by("rank")[: limit + 16]  # room for products sold out since scoring
        )
        adapter = get_adapter()
        rows = [
            {
                "product": r.product,
                "score": r.score,
                "rank": r.rank,
                "reason": r.reason,
                "personalised": True,
            }
            for r in recs
            if adapter.is_available(r.product)
        ][:limit]
    if rows:
        return rows
    return [
        {
            "product": product,
            "score": 0.0,
            "rank": rank,
            "reason": _(POPULAR_REASON) if hot else _(NEW_REASON),
            "personalised": False,
        }
        for rank, (product, hot) in enumerate(popular_products_ranked(limit=limit), start=1)
    ]


def recommendations_pending(*, shopper) -> bool:
    """Whether the shopper told us something (an event, a quiz, a preference) after
    their recommendations were last computed: the workers are rescoring them."""
    if shopper is None:
        return False
    # Learned preferences are written by the scoring itself: only the shopper's own count.
    explicit = StylePreference.objects.filter(shopper.q(), source=PreferenceSource.EXPLICIT)
    told = [
        explicit.aggregate(at=Max("updated_at"))["at"],
        Interaction.objects.filter(shopper.q()).aggregate(at=Max("created_at"))["at"],
    ]
    told = [at for at in told if at is not None]
    if not told:
        return False
    computed = Recommendation.objects.filter(shopper.q()).aggregate(at=Max("computed_at"))["at"]
    return computed is None or computed < max(told)


def style_affinities(*, product_ids, style) -> dict:
    """``{product pk: affinity}`` of products to one style (products with a profile)."""
    return dict(
        ProductStyleProfile.objects.filter(product_id__in=list(product_ids))
        .annotate(affinity=_Affinity(style.pk))
        .exclude(affinity=None)
        .values_list("product_id", "affinity")
    )


def top_style_for(*, shopper, among: Iterable[int] | None = None) -> Style | None:
    """The active style a shopper likes most: their own choice first, else learned.

    ``among``: only these style ids count (the styles a page can show, e.g. without the
    one the shopper's experiment arm hides).
    """
    if shopper is None:
        return None
    preferences = StylePreference.objects.filter(shopper.q(), weight__gt=0, style__is_active=True)
    if among is not None:
        preferences = preferences.filter(style_id__in=list(among))
    preference = (
        preferences.select_related("style")
        .order_by(
            Case(When(source=PreferenceSource.EXPLICIT, then=Value(0)), default=Value(1)),
            "-weight",
            "style__name",
        )
        .first()
    )
    return preference.style if preference else None


def products_for_style(*, style, limit: int | None = None) -> list:
    """Ids of products that lean to a style, by affinity (best first; positive only)."""
    ids = (
        ProductStyleProfile.objects.annotate(affinity=_Affinity(style.pk))
        .filter(affinity__gt=0)
        .order_by("-affinity", "product_id")
        .values_list("product_id", flat=True)
    )
    return list(ids[:limit] if limit else ids)


def top_styles_of_profile(*, profile: ProductStyleProfile, limit: int = 3) -> str:
    """``"Vintage 0.62 · Noir 0.31"``: a product's best-matching active styles."""
    names = dict(Style.objects.filter(is_active=True).values_list("pk", "name"))
    ranked = sorted(
        ((float(v), names[int(k)]) for k, v in profile.affinities.items() if int(k) in names),
        reverse=True,
    )
    return " · ".join(f"{name} {value:.2f}" for value, name in ranked[:limit] if value > 0)
