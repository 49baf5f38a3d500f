"""One vector tile of a layer for a reader: the areas meeting it, each with the open issues in
it that the reader may see, read in one snapshot."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import shapely

from geo.casework.errors import NotFound
from geo.casework.read import open_load
from geo.casework.scope import Actor
from geo.i18n import _
from geo.layers.areas import indexed_outlines
from geo.store import Store
from geo.tiles import encode, postgis
from geo.tiles.layers import LOAD, MAX_FEATURES, TILE_LAYERS, TileLayer
from geo.tiles.pyramid import BUFFER, Tile

_NO_LOAD = dict.fromkeys(LOAD[:-1], 0)


def find_layer(name: str) -> TileLayer:
    if name not in TILE_LAYERS:
        raise NotFound(_("no tile layer {name}; there are {layers}").format(
            name=name, layers=", ".join(TILE_LAYERS)), code="no_such_layer")
    return TILE_LAYERS[name]


def vector_tile(store: Store, actor: Actor, name: str, tile: Tile, now: datetime) -> bytes:
    """The Mapbox Vector Tile of layer `name` at `tile` (b"" when no area meets it)."""
    layer = find_layer(name)
    layer.check(tile)
    if store.dialect.name == "postgis":
        with store.snapshot() as tx:
            codes = postgis.tile_codes(tx, layer, tile)
            if len(codes) > MAX_FEATURES:
                raise layer.too_many(MAX_FEATURES)
            return postgis.encode(tx, layer, tile, open_load(tx, actor, layer.level, codes, now))
    codes, geoms, props = _in_process(store, layer, tile)
    with store.snapshot() as tx:
        load = open_load(tx, actor, layer.level, codes, now)
    properties = [{**{c: p[c] for c in layer.columns},
                   **{n: p["code"][:k] for n, k in layer.prefixes},
                   **load.get(p["code"], _NO_LOAD)} for p in props]
    return encode.encode(layer.name, tile, geoms, [int(c) for c in codes], properties)


def _in_process(store: Store, layer: TileLayer, tile: Tile):
    """Codes, lon/lat shapes and columns of the areas whose bounding box meets the tile and its
    buffer, from the shapes the embedded backend keeps (grids per revision, outlines for a
    minute, as the GeoJSON layers)."""
    box = shapely.box(*tile.lonlat_bounds(BUFFER))
    if layer.table == "grid":
        frame = store.current_grids()
        hits = np.sort(frame.sindex.query(box))
        if len(hits) > MAX_FEATURES:  # before any row is read
            raise layer.too_many(MAX_FEATURES)
        frame = frame.iloc[hits]
        return (list(frame.code), frame.geometry.values,
                [_plain(r) for r in frame.drop(columns="geometry").to_dict("records")])
    codes, geoms, props, tree = indexed_outlines(store, layer.name)
    hits = np.sort(tree.query(box))
    if len(hits) > MAX_FEATURES:
        raise layer.too_many(MAX_FEATURES)
    return [codes[i] for i in hits], geoms[hits], [props[i] for i in hits]


def _plain(row: dict) -> dict:
    """numpy scalars and missing values as Python's (the encoder drops what it cannot write);
    whole numbers that pandas made floats (a count column with gaps) as ints, as in SQL."""
    out = {}
    for k, v in row.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float):
            v = None if np.isnan(v) else int(v) if v.is_integer() else v
        out[k] = v
    return out
