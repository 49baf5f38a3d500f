"""Boundaries from planners' files: GeoJSON, GeoPackage or Shapefile in whatever CRS the file
declares (GeoJSON without one is WGS84 by its standard), converted to the storage CRS; GCJ-02
or BD-09 coordinates when the planner says the file holds them. Geometries are not repaired:
what the file says is what validation judges. Every limit is checked before the costly step
it bounds: a GeoJSON file's arrays and objects before they are built, a zip archive's
members and their unpacked sizes before anything is unpacked (GDAL never opens the archive)."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio
import shapely

from geo.crs import STORAGE_EPSG, CoordinateError, geoms_to_storage
from geo.i18n import _
from geo.planning import rawgeojson

SHIFTED = ("gcj02", "bd09")
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
# One file is one area's grids: a district has a few thousand (the demo city has 2,000 in
# all; the largest district of the 20,000-grid bench city has 6,779), each of tens of vertices.
MAX_FEATURES = 10_000
MAX_VERTICES = 500_000
MAX_SECONDS = 20.0
# A file within those limits has at most this many arrays and objects: one per position, far
# fewer rings and polygons (a ring has four positions or more), and a few per feature.
MAX_CONTAINERS = 2 * MAX_VERTICES + 16 * MAX_FEATURES
# What a zipped Shapefile within the limits unpacks to, member by member (bytes). A vertex
# takes 16 bytes (x, y), 32 with z and m; a record has a header of about 100 bytes. The .dbf
# is the grids' attributes: 6 KiB a grid. Spatial indexes are let through but never read.
SHAPEFILE_MEMBERS = {".shp": 40 * MAX_VERTICES + 128 * MAX_FEATURES,
                    ".shx": 100 + 8 * MAX_FEATURES, ".dbf": 6 * 1024 * MAX_FEATURES + 2**20,
                    ".prj": 64 * 1024, ".cpg": 1024}
_SPATIAL_INDEXES = (".qix", ".sbn", ".sbx")
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')


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
        raise BoundaryFileTooLarge(_("{file}: {step} took longer than the {seconds} s limit; "
                                     "split the file by street or community").format(
                                         file=what, step=step, seconds=f"{MAX_SECONDS:g}"))


def _check_containers(data: bytes, filename: str) -> None:
    """Refuse, before json.loads builds them, more arrays and objects than a file within the
    limits has. Brackets inside strings are not counted: they are stripped only when the plain
    count, an upper bound, is over."""
    containers = data.count(b"[") + data.count(b"{")
    if containers > MAX_CONTAINERS:
        bare = _JSON_STRING.sub(b'""', data)
        containers = bare.count(b"[") + bare.count(b"{")
    if containers > MAX_CONTAINERS:
        raise BoundaryFileTooLarge(_(
            "{file} has {n} arrays and objects; a file within the limits ({vertices} vertices, "
            "{features} features) has at most {max}").format(
                file=filename, n=f"{containers:,}", vertices=f"{MAX_VERTICES:,}",
                features=f"{MAX_FEATURES:,}", max=f"{MAX_CONTAINERS:,}"))


def _check_geojson(path: Path, code_field: str, name_field: str, deadline: float) -> None:
    """The raw GeoJSON checked before any parser reads it (see rawgeojson)."""
    data = path.read_bytes()
    _check_containers(data, path.name)
    try:
        doc = rawgeojson.load(data, path.name)
        rawgeojson.check(doc, path.name, code_field, name_field, MAX_FEATURES, MAX_VERTICES,
                         deadline, MAX_SECONDS)
    except rawgeojson.OverLimit as exc:
        raise BoundaryFileTooLarge(str(exc)) from None
    except rawgeojson.RawFileError as exc:
        raise BoundaryFileError(str(exc)) from None


def _check_counts(path: Path, layer: str | None, filename: str) -> None:
    """A GeoPackage's or Shapefile's feature count, from its header, before reading it."""
    try:
        features = pyogrio.read_info(path, layer=layer)["features"]
    except Exception as exc:  # pyogrio raises its own errors for unreadable files
        raise BoundaryFileError(_("{file} cannot be read: {problem}").format(
            file=filename, problem=exc)) from None
    if features > MAX_FEATURES:
        raise BoundaryFileTooLarge(_("{file} has {n} features; at most {max} grids are accepted "
                                     "in one file").format(file=filename, n=f"{features:,}",
                                                           max=f"{MAX_FEATURES:,}"))


def _shapefile_members(archive: zipfile.ZipFile, filename: str) -> list[zipfile.ZipInfo]:
    """The members of a zipped Shapefile to unpack, checked from the archive's directory: one
    .shp and its companions, of sizes a file within the limits has, stored or deflated."""
    members: dict[str, zipfile.ZipInfo] = {}
    stems = set()
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts:
            raise BoundaryFileError(_("{file} holds {member}, a path outside the archive").format(
                file=filename, member=info.filename))
        suffix = name.suffix.lower()
        if suffix in _SPATIAL_INDEXES:
            continue
        if suffix not in SHAPEFILE_MEMBERS:
            raise BoundaryFileError(_(
                "{file} holds {member}; a zipped Shapefile holds only {kinds} files (send a "
                "GeoJSON or GeoPackage file as it is)").format(
                    file=filename, member=name.name,
                    kinds=", ".join((*SHAPEFILE_MEMBERS, *_SPATIAL_INDEXES))))
        if suffix in members:
            raise BoundaryFileError(_("{file} holds {first} and {second}; one Shapefile is "
                                      "accepted in one file").format(
                                          file=filename, first=members[suffix].filename,
                                          second=info.filename))
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BoundaryFileError(_("{file}: {member} is compressed with method {method}; only "
                                      "stored or deflated files are read").format(
                                          file=filename, member=name.name,
                                          method=info.compress_type))
        if info.flag_bits & 0x1:
            raise BoundaryFileError(_("{file}: {member} is encrypted").format(
                file=filename, member=name.name))
        if info.file_size > SHAPEFILE_MEMBERS[suffix]:
            raise BoundaryFileTooLarge(_(
                "{file}: {member} unpacks to {size} bytes; within the limits ({vertices} "
                "vertices, {features} features) a {suffix} file has at most {max}").format(
                    file=filename, member=name.name, size=f"{info.file_size:,}",
                    vertices=f"{MAX_VERTICES:,}", features=f"{MAX_FEATURES:,}", suffix=suffix,
                    max=f"{SHAPEFILE_MEMBERS[suffix]:,}"))
        members[suffix] = info
        stems.add(name.stem.lower())
    if ".shp" not in members:
        raise BoundaryFileError(_("{file} holds no .shp file; a zipped Shapefile holds "
                                  "one").format(file=filename))
    if len(stems) > 1:
        raise BoundaryFileError(_("{file} holds files of several names ({names}); a Shapefile's "
                                  "files share one").format(file=filename,
                                                            names=", ".join(sorted(stems))))
    return list(members.values())


def _unzip_shapefile(path: Path, into: Path) -> Path:
    """The Shapefile of a zip archive, unpacked into `into`. Returns the .shp's path. zipfile
    stops each member at the size it declares (then checks its CRC), and deflate is inflated
    a megabyte at a time, so no member writes or holds more than its checked size."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in _shapefile_members(archive, path.name):
                suffix = PurePosixPath(info.filename).suffix.lower()
                with archive.open(info) as member, open(into / f"boundaries{suffix}", "wb") as out:
                    shutil.copyfileobj(member, out, 2**20)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise BoundaryFileError(_("{file} is not a readable zip archive: {problem}").format(
            file=path.name, problem=exc)) from None
    return into / "boundaries.shp"


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
        raise BoundaryFileError(_("{file}: expected GeoJSON, GeoPackage or a zipped Shapefile "
                                  "({suffixes})").format(file=path.name,
                                                         suffixes=", ".join(SUFFIXES)))
    if shifted not in (None, *SHIFTED):
        raise BoundaryFileError(_("shifted must be one of {values}").format(
            values=", ".join(SHIFTED)))
    with tempfile.TemporaryDirectory(prefix="griddispatch-import-") as unpacked:
        source = path
        if path.suffix.lower() in (".geojson", ".json"):
            _check_geojson(path, code_field, name_field, deadline)
        else:
            if path.suffix.lower() == ".zip":
                source = _unzip_shapefile(path, Path(unpacked))
                _in_time(deadline, path.name, _("unpacking"))
            _check_counts(source, layer, path.name)
        try:
            frame = pyogrio.read_dataframe(source, layer=layer)
        except Exception as exc:  # pyogrio raises its own errors for unreadable files
            raise BoundaryFileError(_("{file} cannot be read: {problem}").format(
                file=path.name, problem=exc)) from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise BoundaryFileError(_("{file} holds no geometries").format(file=path.name))
    vertices = int(shapely.get_num_coordinates(frame.geometry.values).sum())
    if vertices > MAX_VERTICES:
        raise BoundaryFileTooLarge(_("{file} has {n} vertices; at most {max} are accepted in one "
                                     "file").format(file=path.name, n=f"{vertices:,}",
                                                    max=f"{MAX_VERTICES:,}"))
    what = _("{file} ({features} features, {vertices} vertices)").format(
        file=path.name, features=f"{len(frame):,}", vertices=f"{vertices:,}")
    _in_time(deadline, what, _("reading"))
    declared = frame.crs.to_string() if frame.crs is not None else "EPSG:4326"
    if shifted and frame.crs is not None and frame.crs.to_epsg() != STORAGE_EPSG:
        raise BoundaryFileError(_("{file} declares {crs}; GCJ-02 and BD-09 files are lon/lat "
                                  "files declared as WGS84 or with no CRS").format(
                                      file=path.name, crs=declared))
    try:
        if frame.crs is None:
            frame = frame.set_crs(STORAGE_EPSG)
        elif frame.crs.to_epsg() != STORAGE_EPSG:
            frame = frame.to_crs(STORAGE_EPSG)
        if shifted:
            frame = frame.set_geometry(geoms_to_storage(frame.geometry.values, shifted),
                                       crs=STORAGE_EPSG)
    except (ValueError, CoordinateError) as exc:  # pyproj, or lon/lat out of range
        raise BoundaryFileError(_("{file}: its coordinates cannot be converted: {problem}").format(
            file=path.name, problem=exc)) from None
    _in_time(deadline, what, _("converting the coordinates"))
    return Imported(frame, shifted or declared)
