"""Boundaries from planners' files: GeoJSON, GeoPackage or Shapefile in whatever CRS the file
declares (GeoJSON without one is WGS84 by its standard), converted to the storage CRS; GCJ-02
or BD-09 coordinates when the planner says the file holds them. Geometries are not repaired:
what the file says is what validation judges."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from geo.crs import STORAGE_EPSG, CoordinateError, geoms_to_storage
from geo.planning import rawgeojson

SHIFTED = ("gcj02", "bd09")
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
# One file is one area's grids: a district has a few thousand (the demo city has 2,000 in
# all; the largest district of the 20,000-grid bench city has 6,779), each of tens of vertices.
MAX_FEATURES = 10_000
MAX_VERTICES = 500_000
MAX_SECONDS = 20.0


class BoundaryFileError(ValueError):
    """A file that cannot be read as boundaries (the message says why)."""


class BoundaryFileTooLarge(BoundaryFileError):
    """A file over an import limit: features, vertices or time (the message says which)."""


@dataclass
class Imported:
    frame: gpd.GeoDataFrame  # WGS84, the file's attributes kept
    source_crs: str


def _in_time(deadline: float, what: str, step: str) -> None:
    """Stop between steps once the time limit has passed (a step itself is bounded by the
    feature and vertex limits)."""
    if time.monotonic() > deadline:
        raise BoundaryFileTooLarge(f"{what}: {step} took longer than the {MAX_SECONDS:g} s "
                                   "limit; split the file by street or community")


def _check_geojson(path: Path, code_field: str, name_field: str, deadline: float) -> None:
    """The raw GeoJSON checked before any parser reads it (see rawgeojson)."""
    try:
        doc = rawgeojson.load(path.read_bytes(), path.name)
        rawgeojson.check(doc, path.name, code_field, name_field, MAX_FEATURES, MAX_VERTICES,
                         deadline, MAX_SECONDS)
    except rawgeojson.OverLimit as exc:
        raise BoundaryFileTooLarge(str(exc)) from None
    except rawgeojson.RawFileError as exc:
        raise BoundaryFileError(str(exc)) from None


def _check_counts(path: Path, layer: str | None) -> None:
    """A GeoPackage's or Shapefile's feature count, from its header, before reading it."""
    try:
        features = pyogrio.read_info(path, layer=layer)["features"]
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise BoundaryFileError(f"{path.name} cannot be read: {exc}") from None
    if features > MAX_FEATURES:
        raise BoundaryFileTooLarge(f"{path.name} has {features:,} features; at most "
                                   f"{MAX_FEATURES:,} grids are accepted in one file")


def read_boundaries(path: str | Path, code_field: str = "code", shifted: str | None = None,
                    layer: str | None = None, name_field: str = "name",
                    deadline: float | None = None) -> Imported:
    """The polygons of a file as WGS84. `shifted`: 'gcj02' or 'bd09' when the coordinates are
    in a Chinese map app's system (the file's CRS then says WGS84 or nothing). Files over
    MAX_FEATURES or MAX_VERTICES, or still being read at `deadline` (time.monotonic; default
    MAX_SECONDS from now), raise BoundaryFileTooLarge."""
    path = Path(path)
    deadline = time.monotonic() + MAX_SECONDS if deadline is None else deadline
    if path.suffix.lower() not in SUFFIXES:
        raise BoundaryFileError(f"{path.name}: expected GeoJSON, GeoPackage or a zipped Shapefile "
                           f"({', '.join(SUFFIXES)})")
    if shifted not in (None, *SHIFTED):
        raise BoundaryFileError(f"shifted must be one of {', '.join(SHIFTED)}")
    if path.suffix.lower() in (".geojson", ".json"):
        _check_geojson(path, code_field, name_field, deadline)
    else:
        _check_counts(path, layer)
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise BoundaryFileError(f"{path.name} cannot be read: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise BoundaryFileError(f"{path.name} holds no geometries")
    vertices = int(shapely.get_num_coordinates(frame.geometry.values).sum())
    if vertices > MAX_VERTICES:
        raise BoundaryFileTooLarge(f"{path.name} has {vertices:,} vertices; at most "
                                   f"{MAX_VERTICES:,} are accepted in one file")
    what = f"{path.name} ({len(frame):,} feature(s), {vertices:,} vertices)"
    _in_time(deadline, what, "reading")
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
    _in_time(deadline, what, "converting the coordinates")
    return Imported(frame, shifted or declared)
