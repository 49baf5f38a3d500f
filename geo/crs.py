"""Coordinate reference systems: one storage CRS, one metric CRS, conversion at the edges.

* Storage: WGS84 lon/lat (EPSG:4326), what GPS and GeoJSON (RFC 7946) speak.
* Metric: CGCS2000 / 3-degree Gauss-Kruger CM 126E (EPSG:4551) for distances in metres
  around Jilin City; its scale error there is below 3e-5, far inside the 0.1% we promise.
* Input: WGS84, CGCS2000 (EPSG:4490, within a metre of WGS84, taken as equal, as PROJ does),
  GCJ-02 and BD-09 (Chinese phone maps), converted exactly by `geo.chinacoords`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import shapely
from pyproj import Geod, Transformer

from geo import chinacoords
from geo.i18n import _

STORAGE_EPSG = 4326
METRIC_EPSG = 4551

SourceCRS = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
SOURCE_CRS: tuple[str, ...] = get_args(SourceCRS)

GEOD = Geod(ellps="WGS84")

# Metres in a degree of longitude at the equator, and within 0.7% in a degree of latitude
# anywhere (110,574 m at the equator to 111,694 m at the poles). For the size of shapes too
# small to project and for padding search boxes (`degree_box`); never for a measurement.
METRES_PER_DEGREE = 111_320.0


class CoordinateError(ValueError):
    """A coordinate that cannot be a place on Earth, or a CRS we do not know."""


@lru_cache(maxsize=4)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def check_lonlat(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Return lon/lat as float arrays, or raise CoordinateError naming the first bad value."""
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    if lon.shape != lat.shape:
        raise CoordinateError(_("lon has {lon} values but lat has {lat}").format(
            lon=lon.size, lat=lat.size))
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        i = int(np.argmax(bad))
        raise CoordinateError(_("coordinate #{i} ({lon}, {lat}) is not a finite number").format(
            i=i + 1, lon=lon[i], lat=lat[i]))
    bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.argmax(bad))
        message = (_("coordinate #{i} (lon {lon}, lat {lat}) is outside lon -180..180, lat "
                     "-90..90; lon and lat look swapped")
                   if abs(lon[i]) <= 90 and abs(lat[i]) <= 180 else
                   _("coordinate #{i} (lon {lon}, lat {lat}) is outside lon -180..180, lat "
                     "-90..90"))
        raise CoordinateError(message.format(i=i + 1, lon=lon[i], lat=lat[i]))
    return lon, lat


def to_storage(lon, lat, crs: str = "wgs84") -> tuple[np.ndarray, np.ndarray]:
    """Convert lon/lat from a source CRS to the storage CRS (WGS84), validating on the way."""
    lon, lat = check_lonlat(lon, lat)
    if crs in ("wgs84", "cgcs2000"):
        return lon, lat
    if crs == "gcj02":
        return chinacoords.gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return chinacoords.bd09_to_wgs84(lon, lat)
    raise CoordinateError(_unknown(crs))


def from_storage(lon, lat, crs: str = "wgs84") -> tuple[np.ndarray, np.ndarray]:
    """Convert storage lon/lat to a target CRS (for exports to Chinese map apps)."""
    lon, lat = check_lonlat(lon, lat)
    if crs in ("wgs84", "cgcs2000"):
        return lon, lat
    if crs == "gcj02":
        return chinacoords.wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return chinacoords.wgs84_to_bd09(lon, lat)
    raise CoordinateError(_unknown(crs))


def _unknown(crs: str) -> str:
    return _("unknown CRS {crs}; expected one of {known}").format(
        crs=crs, known=", ".join(SOURCE_CRS))


# EPSG:4551's area of use (its 3-degree zone, CM 126E), widened by half a degree of longitude:
# a Gauss-Kruger scale error stays below 0.03% there, inside the 0.1% distances promise.
METRIC_AREA = (124.0, 40.0, 128.0, 53.6)  # west, south, east, north


def in_metric_area(lon, lat) -> np.ndarray:
    """True where EPSG:4551 distances are accurate to 0.1%."""
    west, south, east, north = METRIC_AREA
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def check_metric_area(lon, lat) -> None:
    """Raise CoordinateError for the first point where metric distances would be wrong."""
    ok = in_metric_area(lon, lat)
    if not np.all(ok):
        i = int(np.argmin(ok))
        west, south, east, north = METRIC_AREA
        raise CoordinateError(_(
            "point ({lon}, {lat}) is outside the area this city measures distances in "
            "(EPSG:{epsg}: lon {west}..{east}, lat {south}..{north}); is it in the right CRS, or "
            "are lon and lat swapped?").format(
                lon=float(np.atleast_1d(lon)[i]), lat=float(np.atleast_1d(lat)[i]),
                epsg=METRIC_EPSG, west=west, east=east, south=south, north=north))


def to_metric(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Project storage lon/lat to EPSG:4551 easting/northing in metres."""
    x, y = _transformer(STORAGE_EPSG, METRIC_EPSG).transform(
        np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    )
    return np.asarray(x), np.asarray(y)


def from_metric(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Unproject EPSG:4551 metres to storage lon/lat."""
    lon, lat = _transformer(METRIC_EPSG, STORAGE_EPSG).transform(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    )
    return np.asarray(lon), np.asarray(lat)


def _through(convert):
    def apply(coords):
        a, b = convert(coords[:, 0], coords[:, 1])
        return np.column_stack([a, b])
    return apply


def geoms_to_metric(geoms):
    """Shapely geometries (one or an array) from storage lon/lat to EPSG:4551 metres."""
    return shapely.transform(geoms, _through(to_metric))


def geoms_from_metric(geoms):
    """Shapely geometries from EPSG:4551 metres back to storage lon/lat."""
    return shapely.transform(geoms, _through(from_metric))


def geoms_to_storage(geoms, crs: str):
    """Shapely geometries from a source CRS's lon/lat (GCJ-02, BD-09, ...) to storage."""
    return shapely.transform(geoms, _through(lambda lon, lat: to_storage(lon, lat, crs)))


def area_m2(geoms):
    """Area in square metres (EPSG:4551) of one geometry or of each in an array."""
    return shapely.area(geoms_to_metric(geoms))


def degree_box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees around a storage point that holds every point
    within `metres` of it: a coarse filter before an exact test in metres. Padded by 1%, more
    than a degree of latitude is ever shorter than METRES_PER_DEGREE."""
    dlat = metres / METRES_PER_DEGREE * 1.01
    dlon = dlat / max(float(np.cos(np.radians(lat))), 0.01)
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat
