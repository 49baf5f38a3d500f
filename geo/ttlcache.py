"""Values worth keeping for a short while (area outlines, hotspot studies), per store.

Entries are keyed by their owner (a store) weakly, so that they go when the store object does
(not when it is closed: a store opened again is served them until they expire), and live
`ttl_s` seconds; every `put` drops the expired ones. A bound on their total
weight (a study weighs its report count, an outline one), over all owners or for each owner
alone (`per_owner`), drops the oldest entries to make room for a new one. A missing value is
made outside the lock: two callers missing at once both make it, and the later one is kept;
the weights counted are always those of the entries kept."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
Entries = dict  # key -> (stored at, weight, value)


class TTLCache(Generic[V]):
    """Values per (owner, key), fresh for `ttl_s` seconds, weighing at most `max_weight`
    in all (or per owner, with `per_owner`)."""

    def __init__(self, ttl_s: float, max_weight: float | None = None,
                 weight: Callable[[V], float] = lambda value: 1, per_owner: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.max_weight, self.weight = ttl_s, max_weight, weight
        self.per_owner, self.clock = per_owner, clock
        self._owners: weakref.WeakKeyDictionary[object, Entries] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, owner: object, key: Hashable) -> V | None:
        """The value kept for `key`, or None when there is none or it has expired."""
        with self._lock:
            hit = self._owners.get(owner, {}).get(key)
        if hit and self.clock() - hit[0] < self.ttl_s:
            return hit[2]
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
        """Keep `value` in place of any value of `key`, after making room for its weight; a
        value heavier than the whole bound is not kept."""
        weight = self.weight(value)
        with self._lock:
            entries = self._owners.setdefault(owner, {})
            entries.pop(key, None)
            now = self.clock()
            self._drop_expired(now)
            if self.max_weight is None:
                entries[key] = (now, weight, value)
            elif weight <= self.max_weight:
                self._make_room([entries] if self.per_owner else list(self._owners.values()),
                                self.max_weight - weight)
                entries[key] = (now, weight, value)

    def values(self, owner: object) -> list[V]:
        """The values kept for `owner`, fresh or not yet dropped."""
        with self._lock:
            return [value for _, _, value in self._owners.get(owner, {}).values()]

    def total_weight(self) -> float:
        """What the values kept weigh in all, over every owner."""
        with self._lock:
            return _weight(list(self._owners.values()))

    def _drop_expired(self, now: float) -> None:
        for entries in list(self._owners.values()):
            for key in [k for k, (at, _, _) in entries.items() if now - at >= self.ttl_s]:
                del entries[key]

    @staticmethod
    def _make_room(groups: list[Entries], room: float) -> None:
        """Drop the oldest entries of `groups` until they weigh at most `room`."""
        total = _weight(groups)
        while total > room:
            _, entries, key = min(((at, entries, key) for entries in groups
                                   for key, (at, _, _) in entries.items()), key=lambda e: e[0])
            total -= entries.pop(key)[1]


def _weight(groups: list[Entries]) -> float:
    return sum(weight for entries in groups for _, weight, _ in entries.values())
