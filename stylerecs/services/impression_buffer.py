"""Buffered impressions: a page costs one RPUSH to Redis; a periodic flush writes them.

On (``IMPRESSIONS_BUFFER_URL``), ``experiments.impressions_log`` pushes one record per
page (the shopper, surface, arm, time and the cards in page order) onto a Redis list and
returns: the page never waits on the database for its log. ``impressions_flush`` (the
task ``flush_impressions``, every 10 seconds in ``stylerecs.beat``) writes them:

1. A Lua script renames the list to a working list and stamps it with a batch id, in one
   step (pages push to a fresh list meanwhile). A working list that is still there (a
   flush that died) is taken up again under its own batch id.
2. The working list is written in chunks, one transaction each. A chunk's first write is
   its ``ImpressionFlush`` marker (unique per batch and chunk), so a chunk that is
   written again (after a crash between the commit and the cleanup, or by two flushers at
   once) fails on the marker and is skipped: exactly once, whatever stops where.
3. After the last chunk commits, a second script deletes the working list (if it still
   belongs to this batch).

Rows are written with the time the page was shown. Events recorded before their
impressions were flushed are linked when the chunk is written (step 2 recomputes the link
of that shopper's recent events on those products). Products, users or variants deleted
in the meantime are dropped (products, users) or cleared (variants, arms), as the
database would have done.

If Redis cannot be reached when a page is shown, the page writes its impressions itself
(``IMPRESSIONS_BUFFER_URL`` is then skipped for ``CIRCUIT_SECONDS``, with one warning).
What Redis holds when it is restarted without persistence is lost: at most the last
flush interval of impressions; give the buffer's Redis an append-only file if that
matters (docs/EXPERIMENTS.md).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

import redis
from django.contrib.auth import get_user_model
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Q, Subquery, Value
from django.utils import timezone

from ..conf import get_product_model, stylerecs_settings
from ..models import Arm, Impression, ImpressionFlush, Interaction, StylizedVariant
from .impression_rows import insert_rows

logger = logging.getLogger(__name__)

# After Redis failed on a page, pages write directly for this long before trying again.
CIRCUIT_SECONDS = 10.0
# A page waits at most this long for Redis before writing its impressions itself.
SOCKET_TIMEOUT = 0.25
# Markers of finished batches are deleted this long after they were written (a flusher
# still busy with a finished batch's chunk must find its marker until then).
MARKER_RETENTION = timedelta(hours=1)

START_BATCH = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  local batch = redis.call('GET', KEYS[3])
  if not batch then
    redis.call('SET', KEYS[3], ARGV[1])
    batch = ARGV[1]
  end
  return batch
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], ARGV[1])
return ARGV[1]
"""

FINISH_BATCH = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()
_circuit = {"open_until": 0.0}


def buffer_client() -> redis.Redis | None:
    """The Redis client of ``IMPRESSIONS_BUFFER_URL`` (one per URL and process), or
    ``None`` when impressions are not buffered."""
    url = stylerecs_settings.IMPRESSIONS_BUFFER_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        with _clients_lock:
            client = _clients.get(url) or redis.Redis.from_url(
                url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
            )
            _clients[url] = client
    return client


def _keys() -> tuple[str, str, str]:
    key = stylerecs_settings.IMPRESSIONS_BUFFER_KEY
    return key, f"{key}:flushing", f"{key}:flushing:batch"


def buffer_push(*, user_id, anon_id: str, surface: str, arm_id, items: list[tuple]) -> bool:
    """Buffer one page's impressions (``items``: ``(product_id, variant_id or None)`` in
    page order). Returns False, having pushed nothing, when the page must write them
    itself: buffering is off, or Redis failed now or moments ago."""
    client = buffer_client()
    if client is None or time.monotonic() < _circuit["open_until"]:
        return False
    record = json.dumps(
        {
            "u": user_id,
            "a": anon_id,
            "s": surface,
            "m": arm_id,
            "t": timezone.now().isoformat(),
            "i": items,
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )
    try:
        client.rpush(_keys()[0], record)
    except redis.RedisError as exc:
        _circuit["open_until"] = time.monotonic() + CIRCUIT_SECONDS
        logger.warning(
            "Impression buffer %s unreachable (%s): pages write their impressions "
            "directly for the next %.0f s.",
            stylerecs_settings.IMPRESSIONS_BUFFER_URL,
            exc,
            CIRCUIT_SECONDS,
        )
        return False
    return True


def buffered_count() -> int:
    """Pages waiting in the buffer (including a batch being written); 0 when off."""
    client = buffer_client()
    if client is None:
        return 0
    buffer, flushing, _ = _keys()
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(buffer)
        pipe.llen(flushing)
        return sum(pipe.execute())


def impressions_flush() -> int:
    """Write one batch of buffered impressions (everything buffered when it starts, or the
    batch a dead flush left). Returns the rows written; 0 when buffering is off.

    Called inside a transaction (the login merge, a shopper's deletion), the batch's
    working list is deleted only when that transaction commits; a rollback leaves it to
    the next flush.
    """
    client = buffer_client()
    if client is None:
        return 0
    buffer, flushing, batch_key = _keys()
    batch = client.eval(START_BATCH, 3, buffer, flushing, batch_key, uuid.uuid4().hex)
    if not batch:
        return 0
    batch = batch.decode() if isinstance(batch, bytes) else batch
    ImpressionFlush.objects.exclude(batch=batch).filter(
        flushed_at__lt=timezone.now() - MARKER_RETENTION
    ).delete()
    done = set(ImpressionFlush.objects.filter(batch=batch).values_list("chunk", flat=True))
    size = max(1, int(stylerecs_settings.IMPRESSIONS_FLUSH_CHUNK))
    written = 0
    for chunk, start in enumerate(range(0, client.llen(flushing), size)):
        if chunk in done:
            continue
        records = client.lrange(flushing, start, start + size - 1)
        try:
            with transaction.atomic():
                # First, so that a second writer of this chunk waits here and then fails.
                marker = ImpressionFlush.objects.create(batch=batch, chunk=chunk)
                rows = _rows(records)
                _write(rows)
                ImpressionFlush.objects.filter(pk=marker.pk).update(rows=len(rows))
        except IntegrityError:
            continue  # another flush wrote this chunk
        written += len(rows)
    # Robust: a cleanup that fails (Redis gone) is logged, not raised into the login or
    # deletion that committed; the next flush finds every chunk written and cleans up.
    transaction.on_commit(
        lambda: client.eval(FINISH_BATCH, 2, flushing, batch_key, batch), robust=True
    )
    return written


def impressions_settle() -> None:
    """Flush before a shopper's rows are moved or deleted (login merge, deletion), so that
    none of their buffered impressions is written afterwards under the old id. If Redis
    cannot be reached, logs a warning and goes on: the login or deletion must not fail
    for the impression log."""
    if buffer_client() is None:
        return
    try:
        impressions_flush()
    except redis.RedisError as exc:
        logger.warning("Impression buffer unreachable (%s): buffered impressions stay.", exc)


def _rows(records: list[bytes]) -> list[tuple]:
    """The log rows of buffered pages, in the order of ``impression_rows.COLUMNS``, without
    what was deleted since (rows of deleted products and users; deleted variants and
    arms become NULL, as ``on_delete`` would have made them)."""
    pages = [json.loads(record) for record in records]
    meta = Impression._meta
    to_product = meta.get_field("product").target_field.to_python
    to_user = meta.get_field("user").target_field.to_python
    for page in pages:
        page["u"] = to_user(page["u"]) if page["u"] is not None else None
    user_ids = {page["u"] for page in pages if page["u"] is not None}
    product_ids = {to_product(item[0]) for page in pages for item in page["i"]}
    variant_ids = {item[1] for page in pages for item in page["i"] if item[1] is not None}
    arm_ids = {page["m"] for page in pages if page["m"] is not None}
    users = set(
        get_user_model()._default_manager.filter(pk__in=user_ids).values_list("pk", flat=True)
    )
    products = set(
        get_product_model()._default_manager.filter(pk__in=product_ids).values_list("pk", flat=True)
    )
    variants = set(StylizedVariant.objects.filter(pk__in=variant_ids).values_list("pk", flat=True))
    arms = set(Arm.objects.filter(pk__in=arm_ids).values_list("pk", flat=True))
    rows = []
    for page in pages:
        if page["u"] is not None and page["u"] not in users:
            continue
        shown = datetime.fromisoformat(page["t"])
        arm_id = page["m"] if page["m"] in arms else None
        for position, (product_id, variant_id) in enumerate(page["i"], start=1):
            product_id = to_product(product_id)
            if product_id not in products:
                continue
            variant_id = variant_id if variant_id in variants else None
            rows.append(
                (page["u"], page["a"], product_id, page["s"], position, variant_id, arm_id, shown)
            )
    return rows


def _write(rows: list[tuple]) -> None:
    """Insert the rows, then link the events that followed them."""
    if not rows:
        return
    insert_rows(rows)
    users = {row[0] for row in rows if row[0] is not None}
    anons = {row[1] for row in rows if row[0] is None}
    products = {row[2] for row in rows}
    window = timedelta(seconds=int(stylerecs_settings.ATTRIBUTION_WINDOW_SECONDS))
    earliest = min(row[7] for row in rows)
    # Each event's link is recomputed: the latest impression of its product shown to its
    # shopper before it, within the window (the definition ``impression_followed`` uses
    # when the event is recorded, which could not see impressions still buffered).
    since = ExpressionWrapper(OuterRef("created_at") - Value(window), output_field=DateTimeField())
    latest = (
        Impression.objects.filter(
            Q(user_id=OuterRef("user_id"))
            | Q(user__isnull=True, session_key=OuterRef("session_key")),
            product_id=OuterRef("product_id"),
            created_at__lte=OuterRef("created_at"),
            created_at__gte=since,
        )
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    Interaction.objects.filter(
        Q(user_id__in=users) | Q(user__isnull=True, session_key__in=anons),
        product_id__in=products,
        created_at__gte=earliest,
    ).update(impression_id=Subquery(latest))
