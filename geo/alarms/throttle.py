"""How many alarms a device, and a source, may raise in a window: a sensor that chatters or a
device that loops files nothing more (and holds no server thread waiting) once it is over its
count, until the window ends. Counted in the database (table alarm_throttle, as the login
throttle of geo.casework.throttle), so every server process counts the same alarms; each key's
window starts with its first alarm."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.casework import windows
from geo.i18n import _
from geo.store import Store
from geo.store.sql import as_dt


@dataclass(frozen=True)
class Limits:
    per_device: int = 120  # a device relays many sources; this bounds a looping one
    per_source: int = 20  # one site or camera: more than this a minute is chatter, not news
    window: timedelta = timedelta(minutes=1)


DEFAULT_LIMITS = Limits()
TABLE = "alarm_throttle"


class TooManyAlarms(Exception):  # noqa: N818 - a state, like the HTTP status it becomes
    """A device or source over its count; `retry_after_s` says when its window ends."""

    code = "too_many_alarms"

    def __init__(self, message: str, retry_after_s: int):
        self.retry_after_s = retry_after_s
        super().__init__(message)


def _seconds(window_start, limits: Limits, now: datetime) -> int:
    return max(1, int((as_dt(window_start) + limits.window - now).total_seconds() + 0.999))




def count_alarm(store: Store, device: str, source: str, now: datetime,
                limits: Limits = DEFAULT_LIMITS) -> None:
    """Count one alarm of `device` from `source` ("site:ID" or "camera:ID"); TooManyAlarms
    when either is over its limit. The device is counted first: a device over its count adds
    nothing to any source's, so made-up sources cannot fill the table."""
    expired = now - limits.window
    with store.tx() as tx:
        by_device = windows.count(tx, TABLE, "raised", f"device:{device}"[:200], now, expired)
        over_device = by_device["count"] > limits.per_device
        by_source = None if over_device else windows.count(
            tx, TABLE, "raised", f"source:{source}"[:200], now, expired)
    windows.purge(store, TABLE, expired)
    window = int(limits.window.total_seconds())
    if over_device:
        wait = _seconds(by_device["window_start"], limits, now)
        raise TooManyAlarms(_("this device has raised more than {n} alarms within {window} "
                              "seconds: send again in {seconds} seconds").format(
            n=limits.per_device, window=window, seconds=wait), wait)
    if by_source["count"] > limits.per_source:
        wait = _seconds(by_source["window_start"], limits, now)
        raise TooManyAlarms(_("{source} has raised more than {n} alarms within {window} "
                              "seconds: send again in {seconds} seconds").format(
            source=source.split(":", 1)[1], n=limits.per_source, window=window, seconds=wait),
            wait)
