"""Boundaries from planners' files: GeoJSON, GeoPackage or Shapefile in whatever CRS the file
declares (GeoJSON without one is WGS84 by its standard), converted to the storage CRS; GCJ-02
or BD-09 coordinates when the planner says the file holds them. Geometries are not repaired:
what the file says is what validation judges."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from geo.crs import STORAGE_EPSG, to_storage
from geo.planning.validate import Problem, raw_ring_problems

SHIFTED = ("gcj02", "bd09")
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")


class BoundaryFileError(ValueError):
    """A file that cannot be read as boundaries (the message says why)."""


@dataclass
class Imported:
    frame: gpd.GeoDataFrame  # WGS84, the file's attributes kept
    problems: list[Problem]  # what only the raw file shows (unclosed rings)
    source_crs: str


def _shifted_to_wgs84(geoms, crs: str):
    def f(c):
        lon, lat = to_storage(c[:, 0], c[:, 1], crs)
        return np.column_stack([lon, lat])
    return shapely.transform(np.asarray(geoms, dtype=object), f)


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
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise BoundaryFileError(f"{path.name} cannot be read: {exc}") from None
    problems: list[Problem] = []
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raw = {}
        features = raw.get("features") if isinstance(raw, dict) else None
        for k, feature in enumerate(features if isinstance(features, list) else []):
            if not isinstance(feature, dict):
                continue
            code = str((feature.get("properties") or {}).get(code_field, f"#{k + 1}"))
            problems.extend(raw_ring_problems(code, feature.get("geometry") or {}))
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise BoundaryFileError(f"{path.name} holds no geometries")
    declared = frame.crs.to_string() if frame.crs is not None else "EPSG:4326"
    if frame.crs is None:
        frame = frame.set_crs(STORAGE_EPSG)
    elif frame.crs.to_epsg() != STORAGE_EPSG:
        if shifted:
            raise BoundaryFileError(f"{path.name} declares {declared}; GCJ-02 and BD-09 files are "
                               "lon/lat files declared as WGS84 or with no CRS")
        frame = frame.to_crs(STORAGE_EPSG)
    if shifted:
        frame = frame.set_geometry(_shifted_to_wgs84(frame.geometry.values, shifted), crs=STORAGE_EPSG)
    return Imported(frame, problems, shifted or declared)
