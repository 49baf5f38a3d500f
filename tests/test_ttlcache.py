"""The cache of area outlines and hotspot studies: expiry, the weight bound, replacement,
weak owners and concurrent callers."""

from __future__ import annotations

import gc
import threading

from geo.ttlcache import TTLCache


class Owner:
    """Stands for a store: hashable, weakly referable."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_value_expires_after_its_time_to_live():
    clock, owner = Clock(), Owner()
    cache: TTLCache[str] = TTLCache(ttl_s=60.0, clock=clock)
    cache.put(owner, "k", "v")
    clock.now = 59.9
    assert cache.get(owner, "k") == "v"
    clock.now = 60.0
    assert cache.get(owner, "k") is None
    assert cache.get_or_make(owner, "k", lambda: "new") == "new"


def test_expired_values_are_dropped_on_put_without_a_bound():
    clock, owner, other = Clock(), Owner(), Owner()
    cache: TTLCache[str] = TTLCache(ttl_s=10.0, clock=clock)
    cache.put(owner, "old", "v")
    cache.put(other, "old", "v")
    clock.now = 10.0
    cache.put(owner, "new", "w")
    assert cache.values(owner) == ["w"] and cache.values(other) == []


def test_the_oldest_values_make_room_for_a_new_one():
    clock, owner, other = Clock(), Owner(), Owner()
    cache: TTLCache[int] = TTLCache(ttl_s=60.0, max_weight=10, weight=lambda v: v, clock=clock)
    for at, (who, value) in enumerate([(owner, 4), (other, 3), (owner, 2)]):
        clock.now = float(at)
        cache.put(who, value, value)
    clock.now = 3.0
    cache.put(other, 6, 6)  # 4 + 3 + 2 + 6 > 10: the 4, then the 3, go
    assert cache.values(owner) == [2] and cache.values(other) == [6]
    assert cache.total_weight() == 8


def test_a_value_heavier_than_the_bound_is_not_kept_and_evicts_nothing():
    owner = Owner()
    cache: TTLCache[int] = TTLCache(ttl_s=60.0, max_weight=10, weight=lambda v: v)
    cache.put(owner, "small", 4)
    cache.put(owner, "huge", 11)
    assert cache.get(owner, "huge") is None and cache.values(owner) == [4]


def test_replacing_a_value_counts_only_the_new_one():
    clock, owner = Clock(), Owner()
    cache: TTLCache[int] = TTLCache(ttl_s=60.0, max_weight=10, weight=lambda v: v, clock=clock)
    cache.put(owner, "a", 3)
    clock.now = 1.0
    cache.put(owner, "b", 6)
    clock.now = 2.0
    cache.put(owner, "b", 7)  # 3 + 7 fits once the old 6 is gone: "a" stays
    assert sorted(cache.values(owner)) == [3, 7] and cache.total_weight() == 10
    clock.now = 3.0
    cache.put(owner, "a", 1)
    assert cache.get(owner, "a") == 1 and cache.total_weight() == 8


def test_a_bound_per_owner_leaves_other_owners_alone():
    clock, owner, other = Clock(), Owner(), Owner()
    cache: TTLCache[str] = TTLCache(ttl_s=60.0, max_weight=2, per_owner=True, clock=clock)
    for at, key in enumerate("abc"):
        clock.now = float(at)
        cache.put(owner, key, key)
    cache.put(other, "x", "x")
    cache.put(other, "y", "y")
    assert sorted(cache.values(owner)) == ["b", "c"]
    assert sorted(cache.values(other)) == ["x", "y"] and cache.total_weight() == 4


def test_an_owner_s_values_go_with_it():
    cache: TTLCache[str] = TTLCache(ttl_s=60.0, max_weight=10)
    owner, other = Owner(), Owner()
    cache.put(owner, "k", "v")
    cache.put(other, "k", "w")
    del owner
    gc.collect()
    assert cache.total_weight() == 1 and cache.values(other) == ["w"]


def test_concurrent_callers_keep_the_accounting_right():
    """Threads missing the same keys at once may each make a value; whichever is kept, the
    weight counted is that of the values kept, within the bound, and each key's value is one
    made for that key."""
    owners = [Owner(), Owner()]
    cache: TTLCache[tuple] = TTLCache(ttl_s=60.0, max_weight=50, weight=lambda v: v[1])
    made: list[tuple] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        start.wait()
        for i in range(300):
            key = i % 13
            owner = owners[(i + worker) % 2]

            def make(key=key, worker=worker, i=i):
                value = (key, 1 + (worker + i) % 5)
                made.append(value)
                return value

            assert cache.get_or_make(owner, key, make)[0] == key
            if i % 7 == 0:
                cache.put(owner, key, (key, 1 + i % 9))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = [v for owner in owners for v in cache.values(owner)]
    assert made and cache.total_weight() == sum(v[1] for v in kept) <= 50
    found = [(key, cache.get(owner, key)) for owner in owners for key in range(13)]
    assert all(value[0] == key for key, value in found if value is not None)
