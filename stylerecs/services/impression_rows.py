"""Writing impression rows: one plain multi-row INSERT per chunk.

Shared by the page's direct logging (services/experiments.py) and the buffer's flush
(services/impression_buffer.py); imports neither.
"""

from __future__ import annotations

from django.db import connections, router

from ..conf import stylerecs_settings
from ..models import Impression

__all__ = ["COLUMNS", "insert_rows"]

INSERT_CHUNK = 100  # rows per statement: SQLite caps the parameters of one statement
COLUMNS = ["user", "session_key", "product", "surface", "position", "variant", "arm", "created_at"]
PER_ROW = frozenset({"product", "variant"})  # a different value on (almost) every row
AS_IS = frozenset({"position"})  # a plain int made here: nothing to prepare


def insert_rows(rows: list[tuple]) -> None:
    """Insert impression rows (tuples in the order of ``COLUMNS``): one plain multi-row
    INSERT per chunk, built from the values alone.

    ``bulk_create`` makes a model instance per row and returns the new ids, which nobody
    here reads: on the page's hot path that was most of the Python cost of logging. On
    PostgreSQL, outside a surrounding transaction, the INSERT commits asynchronously
    (``IMPRESSIONS_ASYNC_COMMIT``), so a page never waits on the disk for its log.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(Impression)]
    meta = Impression._meta
    fields = [meta.get_field(name) for name in COLUMNS]
    prepare = [field.get_db_prep_save for field in fields]
    # A page's rows share their shopper, surface, arm and time: each distinct value of
    # the other columns is prepared once (this runs on the page's request when not
    # buffered).
    memo: dict[tuple, object] = {}
    per_row = [name in PER_ROW for name in COLUMNS]
    as_is = [name in AS_IS for name in COLUMNS]

    def prep(index: int, value):
        if as_is[index]:
            return value
        if per_row[index]:
            return prepare[index](value, connection)
        key = (index, value)
        if key not in memo:
            memo[key] = prepare[index](value, connection)
        return memo[key]

    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    statements = []
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        params = [prep(index, value) for row in chunk for index, value in enumerate(row)]
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) "
            f"VALUES {', '.join([row_sql] * len(chunk))}"
        )
        statements.append((sql, params))
    options = connection.settings_dict.get("OPTIONS") or {}
    asynchronous = (
        stylerecs_settings.IMPRESSIONS_ASYNC_COMMIT
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        # Two statements in one execute() need client-side binding (Django's default).
        and not options.get("server_side_binding")
    )
    # Asynchronous: the page does not wait for its log to reach the disk. In autocommit,
    # "SET LOCAL ...; INSERT ..." sent at once is one implicit transaction: one round
    # trip, and the setting ends with it. A database crash can lose the last moments of
    # impressions (never corrupt them); the shop's own writes keep their guarantees.
    prefix = "SET LOCAL synchronous_commit TO OFF; " if asynchronous else ""
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(prefix + sql, params)
