"""Counts per key in a fixed window that starts with the key's first event, kept in a table of
the database (key, a count column, window_start), so that every server process counts the
same events: failed logins (geo.casework.throttle) and alarms (geo.alarms.throttle).
The table and column names are this module's callers' constants, never input."""

from __future__ import annotations

from datetime import datetime


def _count_statement(table: str, column: str) -> str:
    return f"""
INSERT INTO {table} (key, {column}, window_start) VALUES (:key, 1, :now)
ON CONFLICT (key) DO UPDATE SET
    {column} = CASE WHEN {table}.window_start <= :expired THEN 1
                    ELSE {table}.{column} + 1 END,
    window_start = CASE WHEN {table}.window_start <= :expired THEN excluded.window_start
                        ELSE {table}.window_start END
RETURNING {column} AS count, window_start
"""


def count(tx, table: str, column: str, key: str, now: datetime, expired: datetime) -> dict:
    """Add one to `key`'s count (a new window if its last began at or before `expired`):
    {count, window_start} after it, in one statement, so concurrent events cannot overtake it."""
    return tx.one(_count_statement(table, column), {"key": key, "now": now, "expired": expired})


def purge(store, table: str, expired: datetime) -> None:
    """Delete keys whose window has ended, up to 1000 at a time. In a transaction of its own,
    and on PostgreSQL skipping rows that another request holds, so that it never waits for
    one (nor deadlocks)."""
    with store.tx() as tx:
        tx.run(f"DELETE FROM {table} WHERE key IN (SELECT key FROM {table} "
               f"WHERE window_start <= :expired LIMIT 1000{tx.dialect.skip_locked()})",
               {"expired": expired})
