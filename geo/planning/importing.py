"""Boundaries from planners' files: GeoJSON, GeoPackage or Shapefile in whatever CRS the file
declares (GeoJSON without one is WGS84 by its standard), converted to the storage CRS; GCJ-02
or BD-09 coordinates when the planner says the file holds them. Geometries are not repaired:
what the file says is what validation judges."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio

from geo.crs import STORAGE_EPSG, CoordinateError, geoms_to_storage
from geo.planning.validate import Problem, raw_ring_problems

SHIFTED = ("gcj02", "bd09")
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")


class BoundaryFileError(ValueError):
    """A file that cannot be read as boundaries (the message says why)."""


@dataclass
class Imported:
    frame: gpd.GeoDataFrame  # WGS84, the file's attributes kept
    source_crs: str


def _unclosed_rings(path: Path, code_field: str) -> list[Problem]:
    """Rings of a GeoJSON file that do not end where they began. GEOS cannot even build such
    a ring, so they are found in the raw text, where they can still be named."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return []  # not JSON: the reader says so
    features = raw.get("features") if isinstance(raw, dict) else None
    found = []
    for k, feature in enumerate(features if isinstance(features, list) else []):
        if isinstance(feature, dict):
            code = str((feature.get("properties") or {}).get(code_field, f"#{k + 1}"))
            found.extend(raw_ring_problems(code, feature.get("geometry") or {}))
    return found


def read_boundaries(path: str | Path, code_field: str = "code", shifted: str | None = None,
                    layer: str | None = None) -> Imported:
    """The polygons of a file as WGS84. `shifted`: 'gcj02' or 'bd09' when the coordinates are
    in a Chinese map app's system (the file's CRS then says WGS84 or nothing)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise BoundaryFileError(f"{path.name}: expected GeoJSON, GeoPackage or a zipped Shapefile "
                           f"({', '.join(SUFFIXES)})")
    if shifted not in (None, *SHIFTED):
        raise BoundaryFileError(f"shifted must be one of {', '.join(SHIFTED)}")
    if path.suffix.lower() in (".geojson", ".json"):
        unclosed = _unclosed_rings(path, code_field)
        if unclosed:
            raise BoundaryFileError(f"{path.name}: " + "; ".join(p.message for p in unclosed[:5])
                                    + (f"; and {len(unclosed) - 5} more" if len(unclosed) > 5
                                       else ""))
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise BoundaryFileError(f"{path.name} cannot be read: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise BoundaryFileError(f"{path.name} holds no geometries")
    declared = frame.crs.to_string() if frame.crs is not None else "EPSG:4326"
    if shifted and frame.crs is not None and frame.crs.to_epsg() != STORAGE_EPSG:
        raise BoundaryFileError(f"{path.name} declares {declared}; GCJ-02 and BD-09 files are "
                                "lon/lat files declared as WGS84 or with no CRS")
    try:
        if frame.crs is None:
            frame = frame.set_crs(STORAGE_EPSG)
        elif frame.crs.to_epsg() != STORAGE_EPSG:
            frame = frame.to_crs(STORAGE_EPSG)
        if shifted:
            frame = frame.set_geometry(geoms_to_storage(frame.geometry.values, shifted),
                                       crs=STORAGE_EPSG)
    except (ValueError, CoordinateError) as exc:  # pyproj, or lon/lat out of range
        raise BoundaryFileError(f"{path.name}: its coordinates cannot be converted: {exc}") from None
    return Imported(frame, shifted or declared)
