"""District, street and community outlines (区, 街道, 社区) in a box, with the open issues in
each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import compress

import numpy as np
import shapely

from geo.casework.read import Box, open_load
from geo.casework.scope import Actor
from geo.simplify import simplified
from geo.store import Store
from geo.store.base import AREA_TABLES
from geo.ttlcache import TTLCache

# Outlines change only when planners publish; map clients ask for a handful of tolerances
# (one per zoom level) of three layers: 64 of them per store.
OUTLINES: TTLCache[tuple] = TTLCache(ttl_s=60.0, max_weight=64, per_owner=True)


@dataclass(frozen=True)
class AreaPage:
    """The areas of one layer in a box, in code order."""

    codes: list[str]
    geoms: np.ndarray  # WGS84, simplified as asked
    props: list[dict]  # the layer's columns: code, name, parent codes...
    load: dict[str, dict]  # per area code with open issues: open, yellow, overdue, worst_light


def outlines(store: Store, layer: str, simplify_m: float) -> tuple[list, np.ndarray, list[dict]]:
    """Codes, simplified geometries and properties of one layer's areas, kept for a minute:
    simplifying street outlines costs far more than serving them."""
    def make():
        frame = store.read_layer(layer)
        return (list(frame.code), simplified(frame.geometry.values, simplify_m),
                frame.drop(columns="geometry").to_dict("records"))
    return OUTLINES.get_or_make(store, (layer, simplify_m), make)


def indexed_outlines(store: Store, layer: str) -> tuple[list, np.ndarray, list[dict],
                                                        shapely.STRtree]:
    """`outlines(store, layer, 0)` with a spatial index of those very geometries, kept
    together for a minute."""
    def make():
        codes, geoms, props = outlines(store, layer, 0.0)
        return codes, geoms, props, shapely.STRtree(geoms)
    return OUTLINES.get_or_make(store, (layer, "indexed"), make)


def areas_in_box(store: Store, actor: Actor, layer: str, box: Box | None, simplify_m: float,
                 now: datetime) -> AreaPage:
    """The areas of `layer` ("districts", "streets" or "communities") whose outline meets
    `box`, with the open issues in each that `actor` may see."""
    codes, geoms, props = outlines(store, layer, simplify_m)
    if box is not None:
        keep = shapely.intersects(geoms, shapely.box(*box))
        codes, geoms, props = list(compress(codes, keep)), geoms[keep], list(compress(props, keep))
    with store.snapshot() as tx:
        load = open_load(tx, actor, AREA_TABLES[layer], codes, now)
    return AreaPage(codes, geoms, props, load)
