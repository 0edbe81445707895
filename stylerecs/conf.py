"""stylerecs settings: one ``STYLERECS = {...}`` dict merged over defaults.

Read through ``stylerecs_settings`` when code runs, never at import time, and cached the
way DRF's ``api_settings`` is; the cache is cleared on ``setting_changed`` so that
``override_settings`` works in tests. The product model is a separate top-level setting,
``STYLERECS_PRODUCT_MODEL``, because foreign keys need it when models load (as Django's
``AUTH_USER_MODEL``).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Dotted path to a stylerecs.adapters.ProductAdapter subclass.
    "PRODUCT_ADAPTER": "stylerecs.adapters.DefaultProductAdapter",
    # The engine module, resolved on first use on a worker (it imports torch).
    "ENGINE": "stylerecs.engine",
    # Extra stylizer backends: {"name": "dotted.path.Class"}.
    "STYLIZERS": {},
    # Neural weight files (local only; never downloaded): key -> path, relative paths
    # inside WEIGHTS_DIR. See docs/WEIGHTS.md and `manage.py stylerecs_weights`.
    "WEIGHTS_DIR": "var/weights",
    "WEIGHTS": {
        "adain_encoder": "vgg_normalised.pth",
        "adain_decoder": "decoder.pth",
        "vgg19": "vgg19-dcbb9e9d.pth",
    },
    # Default stylizer for new styles: "auto" is adain when its weights are installed,
    # else the weight-free texture method (see stylerecs.weights.default_method).
    "DEFAULT_METHOD": "auto",
    # Torch device for the workers: None picks cuda when present, else cpu.
    "DEVICE": None,
    # Worker processes keep freed memory for reuse instead of handing every large block
    # back to the system (on the CPU that page-faulting cost a quarter of the inference
    # time; see stylerecs/engine/allocator.py). Their resident size stays near its peak.
    "KEEP_FREED_MEMORY": True,
    # Ready variants are approved without a person looking at them.
    "AUTO_APPROVE": False,
    # Long side of generated variants, in pixels.
    "VARIANT_MAX_SIDE": 1024,
    "VARIANT_JPEG_QUALITY": 88,
    # How many variants of one style one task stylizes.
    "BATCH_SIZE": 8,
    # Input limits: checked before and while decoding an uploaded image.
    "MAX_IMAGE_BYTES": 40 * 1024 * 1024,
    "MAX_IMAGE_PIXELS": 64_000_000,
    # Decode product photos in a separate process: a decoder crash costs one variant.
    "ISOLATE_DECODING": True,
    # Where variant files go inside the default storage.
    "VARIANT_UPLOAD_TO": "stylerecs/variants",
    # A variant left "processing" longer than this (a worker died) may be claimed again.
    "STALE_PROCESSING_SECONDS": 3600,
    # --- Recommendations ------------------------------------------------------------
    # Dotted path to the ranking entry point (see stylerecs/ranking.py for its contract).
    "RANKING_FUNCTION": "stylerecs.ranking.rank",
    # How many recommendations are stored per shopper.
    "RECOMMENDATIONS_PER_SHOPPER": 50,
    # What one event of each kind adds to a shopper's taste; negative pushes away.
    "EVENT_WEIGHTS": {
        "purchase": 4.0,
        "add_to_cart": 2.5,
        "like": 2.0,
        "quiz_pick": 1.5,
        "view": 0.5,
        "dislike": -2.0,
    },
    # An event counts half as much after this many days.
    "HALF_LIFE_DAYS": 30.0,
    # What an explicit style preference of weight 1 counts, in events of weight 1.
    "EXPLICIT_WEIGHT": 3.0,
    # Popularity prior: new shoppers see popular products; its share of the score is
    # (P / (P + history))**2, history in weighted events (a quarter after one like).
    "POPULARITY_PRIOR": 2.0,
    # Interactions within this many days make a product popular.
    "POPULARITY_DAYS": 30,
    # Maximal marginal relevance: 0 ranks by score alone, 1 by novelty alone.
    "DIVERSITY": 0.2,
    # The diversity re-ranking chooses among this many times N best-scored products.
    "CANDIDATE_POOL_FACTOR": 3,
    # Only a shopper's most recent events are read for scoring.
    "MAX_EVENTS_PER_SHOPPER": 500,
    # Anonymous shoppers idle longer than this are left out of the scheduled rescoring.
    "ANONYMOUS_DAYS": 30,
    # Shoppers scored together in one batched matrix product by the scheduled rescoring.
    "SCORING_CHUNK_SIZE": 1024,
    # Scoring runs on the default (prefork) queue: CUDA would not survive its fork.
    "SCORING_DEVICE": "cpu",
    # Torch threads per worker process while scoring (None: torch's default, one per
    # core, which oversubscribes a machine running one prefork child per core).
    "SCORING_THREADS": 1,
    # Events within this window after the first one cause one rescoring, at its end.
    "RESCORE_DELAY_SECONDS": 10,
    # The cache that debounces rescoring: a shared one (Redis) debounces across processes.
    "DEBOUNCE_CACHE": "default",
    # --- Product style profiles -----------------------------------------------------
    # Encoder of the embeddings: "auto" (the VGG encoder of WEIGHTS when installed,
    # else the weight-free colour/texture statistics), None (always the statistics), a
    # key of WEIGHTS or a path. Changing encoder re-embeds every photo on the next refresh.
    "EMBEDDING_WEIGHTS": "auto",
    # Long side, in pixels, of the images the encoder sees.
    "EMBEDDING_MAX_SIDE": 256,
    # Product photos embedded per engine call.
    "PROFILE_BATCH_SIZE": 32,
    # --- Responsive renditions (docs/RENDITIONS.md) ---------------------------------
    # Serve variants and product photos as <picture> with srcset from renditions made
    # on the worker. False serves each image as its one stored file, as before.
    "RENDITIONS_ENABLED": True,
    # Widths in pixels. None is above the source's own width; the source's width is
    # added when it is below the largest, so big screens still get the full photo.
    "RENDITION_WIDTHS": [320, 640, 1024],
    # Formats, best first; browsers take the first they decode. The last one is the
    # <img> fallback, so keep "jpeg" last. "avif" needs an AVIF encoder (Pillow >= 11.3
    # or pillow-avif-plugin); without one it is skipped with warning stylerecs.W140.
    "RENDITION_FORMATS": ["avif", "webp", "jpeg"],
    # Encoder quality per format, 1..100 (AVIF and WebP look as good at lower numbers).
    "RENDITION_QUALITY": {"avif": 55, "webp": 75, "jpeg": 80},
    # libavif's encoder speed, 0 (slowest, smallest files) to 10 (fastest): at 6 an
    # 800 px photo takes about a second of CPU, at 8 a fifth of that for ~8% more bytes.
    "RENDITION_AVIF_SPEED": 6,
    # Where rendition files go inside the default storage (content-addressed names).
    "RENDITION_UPLOAD_TO": "stylerecs/renditions",
    # Cache-Control max-age of content-addressed files served by stylerecs.media.serve.
    "CONTENT_ADDRESSED_MAX_AGE": 365 * 24 * 3600,
    # --- Installing into a host shop (Celery wiring) ---------------------------------
    # CPU-only shops: stylizing and embedding go to the `default` queue with everything
    # else, so `celery -A proj worker -Q default` does all the work. With False they go
    # to `gpu`, for workers started with `-Q gpu --pool solo`, one per GPU. Read when a
    # task is sent (stylerecs.celeryconf.route_task).
    "CPU_ONLY": False,
    # --- Storefront: For-you page -----------------------------------------------------
    # A For-you card shows the product in the shopper's top style only where the
    # product's affinity to that style (-1..1, from its style profile) is above this;
    # elsewhere, and for products without a profile, it shows the product's own photo.
    "FOR_YOU_STYLE_MIN_AFFINITY": 0.0,
    # While a shopper's recommendations are being recomputed, the For-you page reloads
    # itself every FOR_YOU_REFRESH_SECONDS, at most FOR_YOU_REFRESH_MAX times in a row.
    "FOR_YOU_REFRESH_SECONDS": 3,
    "FOR_YOU_REFRESH_MAX": 20,
    # --- Hardening (untrusted input) ------------------------------------------------
    # JSON request bodies nested deeper than this are refused with a 400 (the API's
    # deepest legitimate body, the preferences, is 2 levels).
    "MAX_JSON_DEPTH": 32,
    # --- Reliability: outages and recovery (docs/OPERATIONS.md, "Reliability") -------
    # Database and broker-connection errors are retried, with jittered exponential
    # backoff, for this long after a task's first try; then the task gives up and the
    # periodic requeue picks its variants up again.
    "TRANSIENT_RETRY_SECONDS": 600,
    # The longest pause between two of those retries.
    "TRANSIENT_RETRY_MAX_DELAY": 60,
    # A variant still "pending" this long after its message was published is published
    # again by the periodic requeue (the message was lost: a broker restarted without
    # persistence, or the broker was unreachable when it was requested). Set it above
    # the longest time a message waits in your queue: each extra message is harmless
    # (it finds nothing to claim) but costs a query.
    "PENDING_REQUEUE_SECONDS": 1800,
    # A variant whose task was interrupted (worker stopped, hard time limit, killed) this
    # many times is failed with that reason instead of being tried again.
    "MAX_ATTEMPTS": 5,
    # --- Product masks and quality scores -----------------------------------------
    # Compute quality scores (content fidelity, style strength) on the worker for
    # every variant; they cost about a tenth of a texture stylization.
    "SCORE_VARIANTS": True,
    # Where the mask each variant used is stored (a greyscale PNG, white = product).
    "MASK_UPLOAD_TO": "stylerecs/masks/used",
    # --- Experiments (docs/EXPERIMENTS.md) ------------------------------------------
    # Log impressions (one INSERT per page) and link events to them.
    "IMPRESSIONS_ENABLED": True,
    # On PostgreSQL, a page does not wait for its impressions to reach the disk
    # (asynchronous commit of that one transaction; a crash may lose the last moments).
    "IMPRESSIONS_ASYNC_COMMIT": True,
    # Buffer impressions in Redis instead of writing them on the page's request: a page
    # costs one RPUSH, and the periodic task `flush_impressions` (celery beat, every 10
    # seconds in stylerecs.beat) writes them in bulk. A Redis URL, or None to write on
    # the request (one INSERT per page). If Redis cannot be reached, pages write
    # directly (nothing is lost); docs/EXPERIMENTS.md, "Buffered impressions".
    "IMPRESSIONS_BUFFER_URL": None,
    # The Redis key of the buffer (and the prefix of its working keys).
    "IMPRESSIONS_BUFFER_KEY": "stylerecs:impressions",
    # Pages (buffered records) written per transaction by the flush.
    "IMPRESSIONS_FLUSH_CHUNK": 500,
    # An event links to the shopper's latest impression of the product this recent.
    "ATTRIBUTION_WINDOW_SECONDS": 24 * 3600,
    # The running experiment and its arms are cached this long (cleared on start/stop).
    "EXPERIMENTS_CACHE_SECONDS": 30,
    # Reports flag a sample-ratio mismatch below this chi-square p-value.
    "SRM_P_THRESHOLD": 0.001,
    # Guard rail (task `experiments_guard`, for celery beat): an arm whose conversion is
    # lower than the control's by a sequential test at GUARDRAIL_ALPHA (valid however
    # often it runs), once both arms have GUARDRAIL_MIN_SHOPPERS shoppers, is stopped:
    # its shoppers see the control from then on; its data is kept.
    "GUARDRAIL_ENABLED": True,
    "GUARDRAIL_ALPHA": 0.05,
    "GUARDRAIL_MIN_SHOPPERS": 100,
    # --- Hybrid taste model and what may be shown again ------------------------------
    # Viewed, liked and carted products: "after_first_page" (default: never among the
    # first FIRST_PAGE_SIZE of a shopper's recommendations, allowed after), "always" or
    # "never". Disliked products are never shown again.
    "SHOW_AGAIN_INTERACTED": "after_first_page",
    "FIRST_PAGE_SIZE": 10,
    # Bought products may be recommended again (consumables); off by default.
    "SHOW_AGAIN_PURCHASED": False,
    # Products the adapter says are unavailable may be recommended.
    "SHOW_UNAVAILABLE": False,
    # Where trained model files go inside the default storage.
    "TASTE_MODEL_UPLOAD_TO": "stylerecs/taste-models",
    # The most recent share of events (by time) held out to tune and compare models.
    "TASTE_VALIDATION_FRACTION": 0.1,
    # Validation windows the tuning averages over: the most recent share, and as many
    # earlier windows of the same share (1: the most recent only; each costs every fit).
    "TASTE_VALIDATION_FOLDS": 2,
    # Shoppers scored per validation window at most (a fixed random sample of those with
    # held-out events beyond it): every blend scores them, so this bounds the tuning's
    # time on a big shop. 5,000 shoppers put recall@10's standard error near 0.004.
    "TASTE_VALIDATION_SHOPPERS": 5000,
    # Fewer events than this: no model is trained (the visual ranking serves alone).
    "TASTE_MIN_EVENTS": 200,
    # Threads of the ALS fit (implicit's own threads) on the training worker.
    "TASTE_THREADS": 2,
    # What the tuning searches: every combination of "fit" options is fitted once, and
    # every combination of "blend" options scored against it. Keys are TasteParams
    # fields (stylerecs/engine/taste.py); unnamed fields keep their defaults. bench/recs.py
    # measures this grid (docs/BENCHMARKS.md); its cost: docs/OPERATIONS.md.
    "TASTE_TUNING": {
        "fit": {
            "factors": [32, 64],
            "regularization": [0.05, 0.5],
            # 1000: what goes together barely fades over the shop's history.
            "half_life_days": [7.0, 30.0, 1000.0],
        },
        "blend": {
            "cf_weight": [0.3, 1.0],
            "visual_weight": [0.0, 0.4],
            # The looks-alike part (0: off): the share of the history that looks alike.
            "looks_weight": [0.0, 1.0, 3.0],
            "popularity_weight": [0.1, 0.5, 1.5],
            # 1000: popularity never fades (shops where most buy what is popular).
            "popularity_history": [2.0, 1000.0],
            # The item-item part (0: off); its neighbours per product: knn_neighbours.
            "knn_weight": [0.0, 0.5, 2.0, 8.0],
            # How fast a shopper's own events fade (tastes that drift: short; 1000:
            # a shopper's whole history counts, for tastes that stay).
            "user_half_life_days": [7.0, 30.0, 1000.0],
            # The popularity part's window: what sold this week, or this month.
            "popularity_days": [7.0, 30.0],
        },
    },
}

# Settings that name code; resolved to objects on access.
IMPORT_STRINGS = {"PRODUCT_ADAPTER", "RANKING_FUNCTION"}


class StylerecsSettings:
    """Attribute access to STYLERECS merged over DEFAULTS, with validation."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    @property
    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "STYLERECS", {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured("STYLERECS must be a dict.")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Unknown stylerecs setting: {name!r}")
        if name not in self._cache:
            value = self.user_settings.get(name, DEFAULTS[name])
            if name in IMPORT_STRINGS and isinstance(value, str):
                try:
                    value = import_string(value)
                except ImportError as exc:
                    raise ImproperlyConfigured(
                        f"STYLERECS[{name!r}] = {value!r} cannot be imported: {exc}"
                    ) from exc
            self._cache[name] = value
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()


stylerecs_settings = StylerecsSettings()


def product_model_label() -> str:
    """The ``app_label.ModelName`` of the host's product model."""
    label = getattr(settings, "STYLERECS_PRODUCT_MODEL", None)
    if not label:
        raise ImproperlyConfigured(
            "STYLERECS_PRODUCT_MODEL is not set: point it at your product model, "
            "e.g. STYLERECS_PRODUCT_MODEL = 'catalog.Product'."
        )
    return label


def get_product_model():
    """The host's product model class (like ``django.contrib.auth.get_user_model``)."""
    label = product_model_label()
    try:
        return apps.get_model(label, require_ready=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"STYLERECS_PRODUCT_MODEL must be of the form 'app_label.ModelName', not {label!r}"
        ) from exc
    except LookupError as exc:
        raise ImproperlyConfigured(
            f"STYLERECS_PRODUCT_MODEL refers to model {label!r} that has not been installed"
        ) from exc


def get_adapter():
    """An instance of the configured product adapter."""
    return stylerecs_settings.PRODUCT_ADAPTER()


def reload_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (connected in ``StylerecsConfig.ready``)."""
    if setting in {"STYLERECS", "STYLERECS_PRODUCT_MODEL"}:
        stylerecs_settings.reload()
