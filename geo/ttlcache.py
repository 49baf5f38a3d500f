"""Values worth keeping for a short while (area outlines, hotspot studies), per store.

Entries are keyed by their owner (a store) weakly, so that a closed store's entries go with
it, and live `ttl_s` seconds. A bound on their total weight (a study weighs its report count,
an outline one) drops expired entries, then the oldest, to make room for a new one. A
missing value is made outside the lock: two callers missing at once both make it, and the
later one is kept."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    """Values per (owner, key), fresh for `ttl_s` seconds, weighing `max_weight` in all."""

    def __init__(self, ttl_s: float, max_weight: float | None = None,
                 weight: Callable[[V], float] = lambda value: 1):
        self.ttl_s, self.max_weight, self.weight = ttl_s, max_weight, weight
        self._owners: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, owner: object, key: Hashable) -> V | None:
        """The value kept for `key`, or None when there is none or it has expired."""
        with self._lock:
            hit = self._owners.get(owner, {}).get(key)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        return None

    def get_or_make(self, owner: object, key: Hashable, make: Callable[[], V]) -> V:
        """The value kept for `key`, or `make()` kept from now on."""
        hit = self.get(owner, key)
        if hit is not None:
            return hit
        value = make()
        self.put(owner, key, value)
        return value

    def put(self, owner: object, key: Hashable, value: V) -> None:
        """Keep `value`, after making room for its weight; a value heavier than the whole
        bound is not kept (and leaves the cache empty)."""
        weight = self.weight(value)
        with self._lock:
            self._make_room(weight)
            if self.max_weight is None or weight <= self.max_weight:
                self._owners.setdefault(owner, {})[key] = (time.monotonic(), value)

    def values(self, owner: object) -> list[V]:
        """The values kept for `owner`, fresh or not yet dropped."""
        with self._lock:
            return [value for _, value in self._owners.get(owner, {}).values()]

    def total_weight(self) -> float:
        """What the values kept weigh in all, over every owner."""
        with self._lock:
            return self._total()

    def _total(self) -> float:
        return sum(self.weight(value) for entries in self._owners.values()
                   for _, value in entries.values())

    def _make_room(self, weight: float) -> None:
        """Drop expired values, then the oldest ones, until `weight` more fits."""
        if self.max_weight is None:
            return
        now = time.monotonic()
        for entries in list(self._owners.values()):
            for key in [k for k, (at, _) in entries.items() if now - at >= self.ttl_s]:
                del entries[key]
        while self._total() + weight > self.max_weight:
            oldest = min(((at, entries, key) for entries in self._owners.values()
                          for key, (at, _) in entries.items()), default=None, key=lambda e: e[0])
            if oldest is None:
                return
            del oldest[1][oldest[2]]
