"""Writing a generated city's part of this room into a store (see geo.store.cityparts)."""

from __future__ import annotations

from geo.compounds.writing import write


def load(store, city) -> None:
    """Write the city's property companies, compounds, buildings, units and heads in one
    transaction; nothing when it has none."""
    if getattr(city, "compounds", None) is None:
        return
    with store.tx() as tx:
        write(tx, getattr(city, "property_companies", None), city.compounds, city.buildings,
              city.building_units, city.resident_heads)
