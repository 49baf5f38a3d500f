"""Throttling of failed logins per account and per client address, kept in the database so
that every server process counts the same attempts.

Each key counts failures in a window that starts with its first failure. An attempt is
counted before its password is checked, so that concurrent guesses cannot overtake the count,
and given back when it succeeds: a success clears the account's count and takes one off the
address's (the address's other failures stand, so one good account cannot wash them out).
Once a key has reached its limit, every attempt on it is refused, the right password too,
until its window ends. The address is checked first: an address over its limit adds nothing to
any account's count, so it cannot fill the table with made-up account names.

An IPv6 client is counted by its /64, the block one host controls (RFC 4291 leaves the lower
64 bits to the host), and an IPv4-mapped IPv6 address as the IPv4 address it maps.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.casework import windows
from geo.i18n import format_datetime, ngettext
from geo.store import Store
from geo.store.sql import as_dt

TABLE = "login_throttle"
_KEY_TEXT = 120  # longer names cannot be accounts; the cut keeps keys bounded


@dataclass(frozen=True)
class Limits:
    """How many failed logins an account and an address may have within a window; the
    defaults are the service's (api/settings.py takes them from here)."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


class Throttled(Exception):  # noqa: N818 - a state, like the HTTP status it becomes
    """Too many failed logins for an account or from an address; `until` says when the
    window ends."""

    def __init__(self, message: str, until: datetime, now: datetime, **names: str):
        """`message` (translated) names what is throttled (by `names`) and says when to try
        again by {minutes} and {until}."""
        self.until = until
        self.retry_after_s = max(1, int((until - now).total_seconds() + 0.999))
        minutes = (self.retry_after_s + 59) // 60
        super().__init__(message.format(minutes=minutes, until=format_datetime(until), **names))


def _minutes(until: datetime, now: datetime) -> int:
    """The minutes a refusal names (as Throttled counts them), for the plural form."""
    return (max(1, int((until - now).total_seconds() + 0.999)) + 59) // 60


def address_key(address: str) -> str:
    """What a client address is counted as: an IPv4 address itself, an IPv6 address its /64
    (an IPv4-mapped one the IPv4 address), anything else (a Unix socket, a test client) its
    text."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:_KEY_TEXT]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"account:{username[:_KEY_TEXT]}", f"address:{address_key(address)}"




def count_attempt(store: Store, username: str, address: str, now: datetime,
                  limits: Limits = Limits()) -> None:
    """Count a login attempt as failed until `succeeded` says otherwise; raise Throttled
    (and check no password) when the account or the address is over its limit."""
    expired = now - limits.window
    account, client = _keys(username, address)
    with store.tx() as tx:  # the address's row first, here and in `succeeded`
        at_address = windows.count(tx, TABLE, "failures", client, now, expired)
        over = at_address["count"] > limits.per_address
        for_account = None if over else windows.count(tx, TABLE, "failures", account, now,
                                                      expired)
    windows.purge(store, TABLE, expired)
    if over:
        until = as_dt(at_address["window_start"]) + limits.window
        raise Throttled(ngettext(
            "too many failed logins from address {address}: try again in {minutes} minute "
            "(after {until})",
            "too many failed logins from address {address}: try again in {minutes} minutes "
            "(after {until})", _minutes(until, now)), until, now, address=address_key(address))
    if for_account["count"] > limits.per_account:
        until = as_dt(for_account["window_start"]) + limits.window
        raise Throttled(ngettext(
            "too many failed logins for account {account}: try again in {minutes} minute "
            "(after {until})",
            "too many failed logins for account {account}: try again in {minutes} minutes "
            "(after {until})", _minutes(until, now)), until, now, account=username[:64])


def succeeded(store: Store, username: str, address: str) -> None:
    """The attempt counted last for this account and address was a success."""
    account, client = _keys(username, address)
    with store.tx() as tx:  # the address's row first, as in `count_attempt`
        tx.run("UPDATE login_throttle SET failures = failures - 1 WHERE key = :key "
               "AND failures > 0", {"key": client})
        tx.run("DELETE FROM login_throttle WHERE key = :key", {"key": account})


