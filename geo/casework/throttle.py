"""Throttling of failed logins per account and per client address, kept in the database so
that every server process counts the same attempts.

Each key counts failures in a window that starts with its first failure. An attempt is
counted before its password is checked, so that concurrent guesses cannot overtake the count,
and given back when it succeeds: a success clears the account's count and takes one off the
address's (the address's other failures stand, so one good account cannot wash them out).
Once a key has reached its limit, every attempt on it is refused, the right password too,
until its window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.store import Store
from geo.store.sql import as_dt

_KEY_TEXT = 120  # longer names cannot be accounts; the cut keeps keys bounded


@dataclass(frozen=True)
class Limits:
    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


class Throttled(Exception):  # noqa: N818 - a state, like the HTTP status it becomes
    """Too many failed logins for an account or from an address; `until` says when the
    window ends."""

    def __init__(self, what: str, until: datetime, now: datetime):
        self.what, self.until = what, until
        self.retry_after_s = max(1, int((until - now).total_seconds() + 0.999))
        minutes = (self.retry_after_s + 59) // 60
        super().__init__(f"too many failed logins {what}: try again in "
                         f"{minutes} minute{'s' if minutes != 1 else ''} "
                         f"(after {until:%Y-%m-%d %H:%M:%S} UTC)")


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"account:{username[:_KEY_TEXT]}", f"address:{address[:_KEY_TEXT]}"


_COUNT = """
INSERT INTO login_throttle (key, failures, window_start) VALUES (:key, 1, :now)
ON CONFLICT (key) DO UPDATE SET
    failures = CASE WHEN login_throttle.window_start <= :expired THEN 1
                    ELSE login_throttle.failures + 1 END,
    window_start = CASE WHEN login_throttle.window_start <= :expired THEN excluded.window_start
                        ELSE login_throttle.window_start END
RETURNING failures, window_start
"""


def count_attempt(store: Store, username: str, address: str, now: datetime,
                  limits: Limits = Limits()) -> None:
    """Count a login attempt as failed until `succeeded` says otherwise; raise Throttled
    (and check no password) when the account or the address is over its limit."""
    expired = now - limits.window
    account, client = _keys(username, address)
    with store.tx() as tx:
        counts = {key: tx.one(_COUNT, {"key": key, "now": now, "expired": expired})
                  for key in (account, client)}
    _purge(store, expired)
    for key, limit, what in ((account, limits.per_account, f"for account {username[:64]!r}"),
                             (client, limits.per_address, f"from address {address}")):
        if counts[key]["failures"] > limit:
            raise Throttled(what, as_dt(counts[key]["window_start"]) + limits.window, now)


def succeeded(store: Store, username: str, address: str) -> None:
    """The attempt counted last for this account and address was a success."""
    account, client = _keys(username, address)
    with store.tx() as tx:
        tx.run("DELETE FROM login_throttle WHERE key = :key", {"key": account})
        tx.run("UPDATE login_throttle SET failures = failures - 1 WHERE key = :key "
               "AND failures > 0", {"key": client})


def _purge(store: Store, expired: datetime) -> None:
    """Delete keys whose window has ended. In a transaction of its own, and on PostgreSQL
    skipping rows that a login holds, so that it never waits for one (nor deadlocks)."""
    with store.tx() as tx:
        if tx.dialect.name == "postgis":
            tx.run("DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle "
                   "WHERE window_start <= :expired LIMIT 1000 FOR UPDATE SKIP LOCKED)",
                   {"expired": expired})
        else:
            tx.run("DELETE FROM login_throttle WHERE window_start <= :expired",
                   {"expired": expired})
