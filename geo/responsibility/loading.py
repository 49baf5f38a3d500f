"""Writing a generated city's part of this room into a store (see geo.store.cityparts)."""

from __future__ import annotations

from geo.responsibility.writing import add_people


def load(store, city) -> None:
    """Write the city's responsible people (四级包保); nothing when it has none."""
    people = getattr(city, "responsibilities", None)
    if people is not None and len(people):
        add_people(store, people)
