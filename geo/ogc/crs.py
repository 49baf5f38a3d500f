"""The CRSs of OGC API - Features Part 2 that the collections offer, by URI, each in the axis
order its authority defines: CRS84 is lon/lat (the default, as RFC 7946), EPSG:4326 and
CGCS2000 (EPSG:4490, taken as equal to WGS84, as geo.crs does) are lat/lon, and EPSG:4551
(CGCS2000 / 3-degree Gauss-Kruger CM 126E, the city's metric CRS) is northing/easting."""

from __future__ import annotations

import numpy as np
import shapely

from geo.crs import from_metric, to_metric
from geo.i18n import _

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{code}"
WGS84_LATLON, CGCS2000, METRIC = (EPSG.format(code=c) for c in (4326, 4490, 4551))
SUPPORTED = (CRS84, WGS84_LATLON, CGCS2000, METRIC)


class UnknownCrs(ValueError):
    """A CRS the collections are not offered in."""


def check(uri: str | None, parameter: str) -> str:
    """The URI (CRS84 when None), or UnknownCrs naming those offered."""
    uri = uri or CRS84
    if uri not in SUPPORTED:
        raise UnknownCrs(_("{parameter}: {uri} is not offered; use one of {offered}").format(
            parameter=parameter, uri=uri, offered=", ".join(SUPPORTED)))
    return uri


def _from_storage(xy: np.ndarray, uri: str) -> np.ndarray:
    if uri == CRS84:
        return xy
    if uri == METRIC:
        east, north = to_metric(xy[:, 0], xy[:, 1])
        return np.column_stack([north, east])
    return xy[:, ::-1].copy()  # lat, lon


def _to_storage(xy: np.ndarray, uri: str) -> np.ndarray:
    if uri == CRS84:
        return xy
    if uri == METRIC:
        lon, lat = from_metric(xy[:, 1], xy[:, 0])
        return np.column_stack([lon, lat])
    return xy[:, ::-1].copy()


def geometries_in(geoms, uri: str) -> np.ndarray:
    """Stored (WGS84 lon/lat) geometries in the CRS `uri`, in its axis order."""
    geoms = np.asarray(geoms, dtype=object)
    if uri == CRS84 or not len(geoms):
        return geoms
    return shapely.transform(geoms, lambda xy: _from_storage(xy, uri))


def geometries_to_storage(geoms, uri: str) -> np.ndarray:
    """Geometries given in the CRS `uri`, in its axis order, as stored (WGS84 lon/lat)."""
    geoms = np.asarray(geoms, dtype=object)
    if uri == CRS84 or not len(geoms):
        return geoms
    return shapely.transform(geoms, lambda xy: _to_storage(xy, uri))


def bbox_to_storage(bbox: tuple[float, float, float, float], uri: str
                    ) -> tuple[float, float, float, float]:
    """A bbox given in `uri` (its first axis first, as Part 2 says) as a lon/lat box that
    holds it: the corners and edge midpoints projected, their extent taken."""
    a0, b0, a1, b1 = bbox
    if uri == CRS84:
        return a0, b0, a1, b1
    ta, tb = np.linspace(a0, a1, 9), np.linspace(b0, b1, 9)
    edge = np.concatenate([np.column_stack([ta, np.full(9, b0)]),
                           np.column_stack([ta, np.full(9, b1)]),
                           np.column_stack([np.full(9, a0), tb]),
                           np.column_stack([np.full(9, a1), tb])])
    xy = _to_storage(edge, uri)
    return (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()),
            float(xy[:, 1].max()))
