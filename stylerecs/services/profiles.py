"""Product style profiles: every product photo and style reference as a vector.

The worker embeds photos with the engine (``<ENGINE>.embeddings.embed_bytes``) and
stores one ProductStyleProfile per product, with its affinity to each active style.
A photo is embedded again only when its checksum or the embedding model changed, and a
style when its reference image or the model changed, so the refresh is cheap to run on
a schedule. Affinities are cosines in the scoring's frame (dimensions centred and
scaled over the catalogue, see ``stylerecs.engine.scoring.standardise``).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from typing import Any

from django.db import transaction

from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import ProductStyleProfile, Style
from ..weights import weights_path
from .files import SourceTooLarge, read_limited

logger = logging.getLogger(__name__)

AFFINITY_DECIMALS = 4


def _engine(name: str) -> Any:
    return importlib.import_module(f"{stylerecs_settings.ENGINE}.{name}")


# Encoders "auto" uses, best first (keys of STYLERECS["WEIGHTS"]).
AUTO_ENCODERS = ("adain_encoder", "vgg19")


def encoder_weights() -> str | None:
    """The encoder weights file the embeddings use, or None for the statistics."""
    value = stylerecs_settings.EMBEDDING_WEIGHTS
    if not value:
        return None
    if value == "auto":
        for key in AUTO_ENCODERS:
            if key in stylerecs_settings.WEIGHTS and weights_path(key).is_file():
                return str(weights_path(key))
        return None
    if value in stylerecs_settings.WEIGHTS:
        return str(weights_path(value))
    return str(value)


def _embed(contents: list[bytes]):
    """``embed_bytes`` with the configured encoder, device and input limits."""
    limits = _engine("images").ImageLimits(
        max_bytes=int(stylerecs_settings.MAX_IMAGE_BYTES),
        max_pixels=int(stylerecs_settings.MAX_IMAGE_PIXELS),
    )
    return _engine("embeddings").embed_bytes(
        contents,
        encoder_weights=encoder_weights(),
        max_side=int(stylerecs_settings.EMBEDDING_MAX_SIDE),
        device=stylerecs_settings.DEVICE,
        limits=limits,
        isolate_decoding=bool(stylerecs_settings.ISOLATE_DECODING),
    )


def embedding_model_version() -> str:
    """The model version the configured encoder makes (embeds nothing)."""
    return _embed([]).model_version


def profiles_schedule(*, product_ids: list | None = None) -> None:
    """Enqueue a profile refresh after commit (``[]``: styles and affinities only)."""
    from ..tasks import refresh_profiles

    ids = None if product_ids is None else [str(pk) for pk in product_ids]

    def enqueue() -> None:
        try:
            refresh_profiles.delay(product_ids=ids)
        except Exception:
            # The scheduled refresh (celery beat) catches up; saving a style must not
            # fail because the broker is away.
            logger.exception("Could not enqueue a style profile refresh")

    transaction.on_commit(enqueue)


def styles_embed(*, force: bool = False) -> int:
    """Embed the active styles whose embedding is missing or stale; returns how many."""
    version = embedding_model_version()
    stale = [
        style
        for style in Style.objects.filter(is_active=True)
        if force or style.vector_model != version or not style.embedding_is_current
    ]
    jobs = []
    for style in stale:
        try:
            jobs.append((style, read_limited(style.reference_image, max_bytes=_max_bytes())))
        except (OSError, ValueError, SourceTooLarge) as exc:
            logger.warning("Style %s: reference image unreadable: %s", style.pk, exc)
    if not jobs:
        return 0
    result = _embed([data for _, data in jobs])
    done = 0
    for (style, data), vector, error in zip(jobs, result.vectors, result.errors, strict=True):
        if vector is None:
            logger.warning("Style %s: reference image cannot be embedded: %s", style.pk, error)
            continue
        style.set_vector(vector.numpy(), model_version=result.model_version)
        # The checksum of the bytes embedded: an edit made meanwhile shows as stale.
        style.vector_checksum = hashlib.sha256(data).hexdigest()
        style.save(
            update_fields=[
                "vector",
                "vector_dim",
                "vector_dtype",
                "vector_model",
                "vector_checksum",
                "updated_at",
            ]
        )
        done += 1
    return done


def _max_bytes() -> int:
    return int(stylerecs_settings.MAX_IMAGE_BYTES)


def profiles_refresh(*, product_ids: list | None = None) -> int:
    """Embed product photos that changed and refresh style affinities (worker side).

    ``product_ids`` None means every product; ``[]`` means no product (styles and
    affinities only). Products whose photo is gone lose their profile. Returns the
    number of products embedded.
    """
    styles_changed = styles_embed()
    version = embedding_model_version()
    adapter = get_adapter()
    products = get_product_model()._default_manager.order_by("pk")
    if product_ids is not None:
        products = products.filter(pk__in=list(product_ids))
    prefetch = adapter.image_queryset_prefetch()
    if prefetch:
        products = products.prefetch_related(*prefetch)
    size = int(stylerecs_settings.PROFILE_BATCH_SIZE)
    embedded = 0
    pending: list[tuple[Any, str, bytes]] = []
    orphaned = []
    for page in _pages(products) if product_ids != [] else ():
        current = {
            p.product_id: p
            for p in ProductStyleProfile.objects.filter(product_id__in=[x.pk for x in page])
        }
        for product in page:
            image = adapter.image_file(product)
            if image is None:
                orphaned.append(product.pk)
                continue
            try:
                data = read_limited(image, max_bytes=_max_bytes())
            except (OSError, SourceTooLarge) as exc:
                logger.warning("Product %s: photo unreadable: %s", product.pk, exc)
                continue
            checksum = hashlib.sha256(data).hexdigest()
            profile = current.get(product.pk)
            if (
                profile is not None
                and profile.vector
                and profile.source_checksum == checksum
                and profile.vector_model == version
            ):
                continue
            pending.append((product.pk, checksum, data))
            if len(pending) >= size:
                embedded += _store_profiles(pending)
                pending = []
    if pending:
        embedded += _store_profiles(pending)
    if orphaned:
        ProductStyleProfile.objects.filter(product_id__in=orphaned).delete()
    if embedded or styles_changed or orphaned:
        affinities_refresh()
    return embedded


def _pages(products, size: int = 500):
    """Products in primary-key order, a page at a time (keyset: no OFFSET scans)."""
    last = None
    while True:
        page = list((products if last is None else products.filter(pk__gt=last))[:size])
        if not page:
            return
        yield page
        last = page[-1].pk


def _store_profiles(jobs: list[tuple[Any, str, bytes]]) -> int:
    result = _embed([data for _, _, data in jobs])
    stored = 0
    for (pk, checksum, _), vector, error in zip(jobs, result.vectors, result.errors, strict=True):
        if vector is None:
            logger.warning("Product %s: photo cannot be embedded: %s", pk, error)
            continue
        profile = ProductStyleProfile(product_id=pk)
        profile.set_vector(vector.numpy(), model_version=result.model_version)
        ProductStyleProfile.objects.update_or_create(
            product_id=pk,
            defaults={
                "vector": profile.vector,
                "vector_dim": profile.vector_dim,
                "vector_dtype": profile.vector_dtype,
                "vector_model": profile.vector_model,
                "source_checksum": checksum,
            },
        )
        stored += 1
    return stored


def affinities_refresh() -> int:
    """Recompute every profile's affinity to every active style, in one matrix product.

    Only rows whose rounded affinities changed are written. Returns how many.
    """
    import numpy as np
    import torch

    scoring = _engine("scoring")
    profiles = list(
        ProductStyleProfile.objects.exclude(vector=None).only(
            "pk", "vector", "vector_dim", "vector_dtype", "vector_model", "affinities"
        )
    )
    if not profiles:
        return 0
    models = [p.vector_model for p in profiles]
    version = max(set(models), key=models.count)
    profiles = [p for p in profiles if p.vector_model == version]
    styles = [
        s
        for s in Style.objects.filter(is_active=True, vector_model=version).exclude(vector=None)
        if s.vector_dim == profiles[0].vector_dim
    ]
    products = torch.from_numpy(np.stack([p.get_vector() for p in profiles]).astype(np.float32))
    items, mean, std = scoring.standardise(products)
    if styles:
        style_vectors = np.stack([s.get_vector() for s in styles]).astype(np.float32)
        style_matrix = scoring.standardise(torch.from_numpy(style_vectors), mean=mean, std=std)[0]
        affinity = (items @ style_matrix.T).numpy().round(AFFINITY_DECIMALS)
    else:
        affinity = np.zeros((len(profiles), 0))
    changed = []
    for profile, row in zip(profiles, affinity, strict=True):
        values = {str(s.pk): float(v) for s, v in zip(styles, row, strict=True)}
        if values != profile.affinities:
            profile.affinities = values
            changed.append(profile)
    ProductStyleProfile.objects.bulk_update(changed, ["affinities"], batch_size=500)
    return len(changed)
