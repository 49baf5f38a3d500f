"""The XYZ tile pyramid of web maps (OpenStreetMap's numbering, Web Mercator): a tile's
bounds and the tile coordinates (0..EXTENT, y down) that Mapbox Vector Tiles are drawn in.

Web Mercator is only the drawing surface of tiles: nothing is measured in it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyproj import Transformer

from geo.casework.errors import NotFound
from geo.crs import STORAGE_EPSG
from geo.i18n import _

MERCATOR_EPSG = 3857
EXTENT = 4096  # tile coordinate units per side (the MVT default)
BUFFER = 64  # units drawn beyond each edge, so that no outline stops at a tile's border
HALF_WORLD_M = math.pi * 6378137.0  # Web Mercator's x (and y) at 180°E
MAX_ZOOM = 18  # the finest tiles served; maps draw them larger beyond
TO_MERCATOR = Transformer.from_crs(STORAGE_EPSG, MERCATOR_EPSG, always_xy=True)
FROM_MERCATOR = Transformer.from_crs(MERCATOR_EPSG, STORAGE_EPSG, always_xy=True)


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def __post_init__(self):
        if not 0 <= self.z <= MAX_ZOOM:
            raise NotFound(_("tiles exist from zoom 0 to {max}").format(max=MAX_ZOOM),
                           code="no_such_tile")
        if not (0 <= self.x < 2 ** self.z and 0 <= self.y < 2 ** self.z):
            raise NotFound(_("zoom {z} has tiles 0 to {last} across and down").format(
                z=self.z, last=2 ** self.z - 1), code="no_such_tile")

    @classmethod
    def containing(cls, lon: float, lat: float, z: int) -> Tile:
        """The tile of zoom `z` that holds the point."""
        n = 2 ** z
        x = (lon + 180.0) / 360.0 * n
        y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
        return cls(z, min(n - 1, max(0, int(x))), min(n - 1, max(0, int(y))))

    @property
    def size_m(self) -> float:
        """The tile's side in Web Mercator units."""
        return 2 * HALF_WORLD_M / 2 ** self.z

    def mercator_bounds(self, buffer: int = 0) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in EPSG:3857, widened by `buffer` tile units each side."""
        size, pad = self.size_m, self.size_m * buffer / EXTENT
        minx = -HALF_WORLD_M + self.x * size
        maxy = HALF_WORLD_M - self.y * size
        return minx - pad, maxy - size - pad, minx + size + pad, maxy + pad

    def lonlat_bounds(self, buffer: int = 0) -> tuple[float, float, float, float]:
        """The same box in lon/lat (Web Mercator maps x to lon and y to lat separately, so a
        tile is a lon/lat box too)."""
        minx, miny, maxx, maxy = self.mercator_bounds(buffer)
        lon, lat = FROM_MERCATOR.transform(
            [max(minx, -HALF_WORLD_M), min(maxx, HALF_WORLD_M)],
            [max(miny, -HALF_WORLD_M), min(maxy, HALF_WORLD_M)])
        return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])
