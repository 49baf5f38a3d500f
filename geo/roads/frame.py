"""A road layer as every part of the system exchanges it: a GeoDataFrame in the storage CRS
with one LineString per row and the columns of `ROAD_COLUMNS`, the forward direction being
the order of its vertices. `check_roads` makes one out of what a file or a generator gives,
or says exactly what is wrong with it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import STORAGE_EPSG, in_metric_area
from geo.i18n import _
from geo.roads.classes import ROAD_CLASSES, ROAD_COLUMNS
from geo.roads.noding import split_at_shared_vertices

MAX_ROADS = 2_000_000  # rows one import may bring: a province's network, not the planet's
MAX_SPEED_KMH = 150.0


class RoadError(ValueError):
    """A road layer that cannot be stored, with what is wrong and where."""


SOURCE_ROW = "source_row"  # a reader's own row numbers (1 = the file's first feature), if given


def _where(frame: gpd.GeoDataFrame, bad: np.ndarray) -> str:
    """The first bad row by the number it has in the file (its source_row), with its name."""
    rows = np.flatnonzero(bad)
    first = rows[0]
    name = frame["name"].iloc[first] if "name" in frame else None
    facts = {"row": frame[SOURCE_ROW].iloc[first], "name": name, "more": f"{len(rows) - 1:,}"}
    named = isinstance(name, str) and name
    if len(rows) > 1:
        return (_("row {row} ({name}) (and {more} more)") if named
                else _("row {row} (and {more} more)")).format(**facts)
    return (_("row {row} ({name})") if named else _("row {row}")).format(**facts)


def check_roads(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer with its columns normalised (name text, class one of ROAD_CLASSES, oneway
    bool, speed_kmh the class's default where missing), MultiLineStrings split into their
    parts and lines cut where they share a vertex (geo.roads.noding), in the storage CRS.
    RoadError names the first problem and its row (`source_row` if the frame has it): no
    lines, a missing geometry, no or a wrong CRS, a broken line, an unknown class, a speed
    out of range."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise RoadError(_("the layer has no geometry column"))
    if len(frame) == 0:
        raise RoadError(_("the layer has no features: there are no roads to import"))
    if len(frame) > MAX_ROADS:
        raise RoadError(_("the layer has {n} features; at most {max} may be imported at "
                          "once").format(n=f"{len(frame):,}", max=f"{MAX_ROADS:,}"))
    if frame.crs is None:
        raise RoadError(_("the layer declares no coordinate reference system; give it one (for "
                          "example EPSG:4326 or EPSG:4551)"))
    frame = frame.copy()
    if SOURCE_ROW not in frame:
        frame[SOURCE_ROW] = np.arange(1, len(frame) + 1)
    missing = frame.geometry.isna().to_numpy()
    if missing.all():
        raise RoadError(_("the layer has no geometries: there are no roads to import"))
    if missing.any():
        raise RoadError(_("{row} has no geometry").format(row=_where(frame, missing)))
    kinds = frame.geom_type.to_numpy(dtype=object)
    lines = np.isin(kinds, ["LineString", "MultiLineString"])
    if not lines.any():
        found = ", ".join(sorted(set(kinds))) or _("nothing")
        raise RoadError(_("the layer has no lines (found {found}): roads must be "
                          "LineStrings").format(found=found))
    if not lines.all():
        raise RoadError(_("{row} is a {type}, not a line: a road layer holds LineStrings "
                          "only").format(row=_where(frame, ~lines), type=kinds[~lines][0]))
    frame = frame.explode(index_parts=False, ignore_index=True)  # a part keeps its row number
    broken = ~shapely.is_valid(frame.geometry.values) | shapely.is_empty(frame.geometry.values)
    coords = shapely.get_coordinates(frame.geometry.values)
    if not np.isfinite(coords).all():
        raise RoadError(_("the layer has coordinates that are not finite numbers"))
    if broken.any():
        raise RoadError(_("{row} has a broken or empty line (fewer than two distinct "
                          "points)").format(row=_where(frame, broken)))
    pieces, row = split_at_shared_vertices(frame.geometry.values)
    frame = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name).iloc[row].reset_index(
        drop=True), geometry=pieces, crs=frame.crs).to_crs(STORAGE_EPSG)
    coords = shapely.get_coordinates(frame.geometry.values)
    outside = ~in_metric_area(coords[:, 0], coords[:, 1])
    if outside.any():
        lon, lat = coords[np.argmax(outside)]
        raise RoadError(_("the layer reaches ({lon}, {lat}), outside the city's area (longitude "
                          "124-128E of EPSG:4551): is its CRS declared correctly?").format(
                              lon=f"{lon:.5f}", lat=f"{lat:.5f}"))
    out = gpd.GeoDataFrame(
        {"name": _names(frame), "class": _classes(frame), "oneway": _oneway(frame)},
        geometry=frame.geometry.values, crs=STORAGE_EPSG)
    out["speed_kmh"] = _speeds(frame, out["class"])
    return out[[*ROAD_COLUMNS, "geometry"]]


def _names(frame) -> np.ndarray:
    if "name" not in frame:
        return np.full(len(frame), "", dtype=object)
    names = frame["name"].astype(object)
    return names.where(names.notna(), "").astype(str).str.strip().to_numpy(dtype=object)


def _classes(frame) -> np.ndarray:
    if "class" not in frame:
        return np.full(len(frame), "local", dtype=object)
    cls = frame["class"].astype(object).where(frame["class"].notna(), "local").astype(str)
    unknown = ~cls.isin(list(ROAD_CLASSES)).to_numpy()
    if unknown.any():
        raise RoadError(_("{row} has the road class {value}; expected one of {classes}").format(
            row=_where(frame, unknown), value=cls.iloc[np.argmax(unknown)],
            classes=", ".join(ROAD_CLASSES)))
    return cls.to_numpy(dtype=object)


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def _oneway(frame) -> np.ndarray:
    if "oneway" not in frame:
        return np.zeros(len(frame), dtype=bool)
    text = frame["oneway"].astype(object).where(frame["oneway"].notna(), "").astype(str)
    text = text.str.strip().str.lower()
    wrong = ~text.isin(_TRUE | _FALSE).to_numpy()
    if wrong.any():
        raise RoadError(_("{row} has oneway {value}; expected true/false (a one-way road runs in "
                          "the order of its points)").format(
                              row=_where(frame, wrong), value=text.iloc[np.argmax(wrong)]))
    return text.isin(_TRUE).to_numpy()


def _speeds(frame, classes: pd.Series) -> np.ndarray:
    default = classes.map(lambda c: ROAD_CLASSES[c].speed_kmh).to_numpy(dtype=float)
    if "speed_kmh" not in frame:
        return default
    given = pd.to_numeric(frame["speed_kmh"], errors="coerce").to_numpy(dtype=float)
    text = frame["speed_kmh"].astype(object)
    unreadable = np.isnan(given) & text.notna().to_numpy() & (text.astype(str).str.strip() != "")
    if unreadable.any():
        raise RoadError(_("{row} has speed_kmh {value}, not a number").format(
            row=_where(frame, unreadable), value=text.iloc[np.argmax(unreadable)]))
    speed = np.where(np.isnan(given), default, given)
    wrong = (speed <= 0) | (speed > MAX_SPEED_KMH)
    if wrong.any():
        raise RoadError(_("{row} has speed_kmh {value}; expected above 0 and at most "
                          "{max}").format(row=_where(frame, wrong),
                                          value=f"{speed[np.argmax(wrong)]:g}",
                                          max=f"{MAX_SPEED_KMH:g}"))
    return speed
