"""Vector tiles encoded in process (the embedded backend): shapes clipped to the tile and its
buffer, snapped to the tile's integer grid by GEOS (which keeps them valid and drops those
that collapse), then written by mapbox-vector-tile."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import shapely

from geo.tiles.pyramid import BUFFER, EXTENT, TO_MERCATOR, Tile


def tile_shapes(tile: Tile, geoms: np.ndarray) -> np.ndarray:
    """Lon/lat shapes in tile coordinates (y down), clipped and snapped; empty where a shape
    misses the tile or is smaller than its grid."""
    minx, _, _, maxy = tile.mercator_bounds()
    scale = EXTENT / tile.size_m

    def to_tile(xy: np.ndarray) -> np.ndarray:
        x, y = TO_MERCATOR.transform(xy[:, 0], xy[:, 1])
        return np.column_stack(((np.asarray(x) - minx) * scale, (maxy - np.asarray(y)) * scale))

    # Cut in lon/lat first (Web Mercator maps the tile's box to a lon/lat box), so that a
    # district's whole outline is not projected for a corner of it.
    shapes = shapely.clip_by_rect(np.asarray(geoms, dtype=object), *tile.lonlat_bounds(BUFFER))
    shapes = shapely.transform(shapes, to_tile)
    shapes = shapely.clip_by_rect(shapes, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    return shapely.set_precision(shapes, 1.0)


def encode(layer: str, tile: Tile, geoms: np.ndarray, ids: list[int],
           properties: list[dict]) -> bytes:
    """One layer's tile: the features whose shape meets the tile, properties without nulls."""
    shapes = tile_shapes(tile, geoms)
    features = [{"geometry": shape, "id": fid,
                 "properties": {k: v for k, v in props.items() if v is not None}}
                for shape, fid, props in zip(shapes, ids, properties, strict=True)
                if not shape.is_empty]
    if not features:
        return b""
    return mapbox_vector_tile.encode({"name": layer, "features": features},
                                     default_options={"extents": EXTENT, "y_coord_down": True})
