"""Reading a real road network from a file: OpenStreetMap extracts (`.osm.pbf`, through
pyrosm) and line files (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, through pyogrio), as a
road layer that `geo.roads.frame.check_roads` has checked.

OpenStreetMap ways are read as pyrosm's driving network, one row per segment between two
consecutive nodes of a way, so roads meet exactly where ways share a node. Their tags become
our columns by `from_osm_tags`; a line file may carry either our columns (`class`) or the
same OpenStreetMap tags (`highway`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.i18n import _
from geo.roads.classes import OSM_HIGHWAY_CLASS, ROAD_CLASSES
from geo.roads.frame import MAX_SPEED_KMH, RoadError, check_roads

PBF_SUFFIXES = (".osm.pbf", ".pbf")
LINE_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")

_ONEWAY_FORWARD = {"yes", "true", "1"}
_ONEWAY_BACKWARD = {"-1"}  # one-way against the order of the way's nodes
_ONE_WAY_JUNCTIONS = {"roundabout", "circular"}  # one-way by definition (OSM wiki)
_ONE_WAY_HIGHWAYS = {"motorway"}  # one-way unless a oneway tag says otherwise (OSM wiki)
_CHANGING = {"reversible", "alternating"}  # direction by time of day: not routed
_NOT_A_BRIDGE = {"no", "false", "0", ""}
# maxspeed units other than km/h, as OpenStreetMap writes them ("30 mph").
_KMH_PER_UNIT = {"": 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "knots": 1.852}


def read_roads(path: str | Path) -> gpd.GeoDataFrame:
    """The road layer in a file, checked; RoadError names the file and what is wrong."""
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise RoadError(_("{path}: no such file").format(path=path))
    if name.endswith(PBF_SUFFIXES):
        frame = _read_pbf(path)
    elif name.endswith(LINE_SUFFIXES):
        frame = _read_lines(path)
    else:
        raise RoadError(_("{path}: unknown kind of road file; expected one of {kinds}").format(
            path=path, kinds=", ".join(PBF_SUFFIXES + LINE_SUFFIXES)))
    try:
        return check_roads(frame)
    except RoadError as exc:
        raise RoadError(_("{path}: {problem}").format(path=path, problem=exc)) from None


def _read_pbf(path: Path) -> gpd.GeoDataFrame:
    from pyrosm import OSM
    from pyrosm.exceptions import PBFException

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyrosm warns of an empty network; we say so below
            network = OSM(str(path)).get_network(network_type="driving", nodes=True,
                                                 extra_attributes=["junction"])
    except PBFException as exc:
        raise RoadError(_("{path}: not a readable OpenStreetMap PBF file ({problem})").format(
            path=path, problem=exc)) from None
    edges = None if network is None else network[1]
    if edges is None or len(edges) == 0:
        raise RoadError(_("{path}: the file has no drivable ways (highway=* roads a vehicle may "
                          "use), so there are no roads to import").format(path=path))
    roads = from_osm_tags(edges)
    if len(roads) == 0:
        found = ", ".join(sorted(edges["highway"].dropna().astype(str).unique()))
        raise RoadError(_("{path}: none of the file's ways has a highway class we route on "
                          "(found highway={found})").format(path=path, found=found))
    return roads


def _read_lines(path: Path) -> gpd.GeoDataFrame:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        layer = _pick_layer(path, pyogrio.list_layers(path)[:, 0].tolist())
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (DataSourceError, DataLayerError) as exc:
        raise RoadError(_("{path}: not a readable road file ({problem})").format(
            path=path, problem=exc)) from None
    except shapely.errors.GEOSException as exc:  # a line GEOS cannot build, e.g. of one point
        raise RoadError(_("{path}: {row} has a broken line ({problem})").format(
            path=path, row=_undecodable(path, layer), problem=str(exc).strip())) from None
    frame["source_row"] = np.arange(1, len(frame) + 1)  # errors name the file's own rows
    if "class" not in frame and "highway" in frame:
        # OpenStreetMap tags, as an export from OSM tools gives them.
        roads = from_osm_tags(frame)
        if len(roads) == 0 and len(frame):
            found = ", ".join(sorted(frame["highway"].dropna().astype(str).unique()))
            raise RoadError(_("{path}: no line has a highway class we route on (found "
                              "highway={found}); expected one of {classes}").format(
                                  path=path, found=found, classes=", ".join(OSM_HIGHWAY_CLASS)))
        return roads
    if "speed_kmh" not in frame and "maxspeed" in frame:
        frame["speed_kmh"] = maxspeed_kmh(frame["maxspeed"])
    return frame


def _undecodable(path: Path, layer: str | None) -> str:
    """Which feature's geometry cannot be made into a shape, as "row N"."""
    import pyogrio.raw

    wkb = pyogrio.raw.read(path, layer=layer, columns=[])[2]
    shapes = shapely.from_wkb(wkb, on_invalid="ignore")
    bad = np.flatnonzero(shapely.is_missing(shapes) & pd.notna(wkb))
    return _("row {row}").format(row=bad[0] + 1) if len(bad) else _("a feature")


def _pick_layer(path: Path, layers: list[str]) -> str | None:
    """The file's only layer, else the one named roads (as `griddispatch export` writes)."""
    if len(layers) <= 1:
        return None
    if "roads" in layers:
        return "roads"
    raise RoadError(_("{path}: the file has {n} layers ({layers}) and none is named roads; keep "
                      "the road layer only, or name it roads").format(
                          path=path, n=len(layers), layers=", ".join(layers)))


def from_osm_tags(ways: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ways with OpenStreetMap tags (highway, and where present name, oneway, junction,
    bridge, maxspeed) as a road layer, not yet checked. Ways whose highway is not one a
    vehicle drives (OSM_HIGHWAY_CLASS) are left out. A bridge takes the class bridge and
    keeps its road's speed; the speed is a speed_kmh column's where it has one, else maxspeed
    where it is a number, else the class's default; oneway=-1 is one-way against the way's
    order, so its line is turned round; a motorway is one-way unless tagged otherwise (as
    OSM implies); a reversible or alternating way, whose direction changes by the hour, is
    left out, as routers do (OSRM's car profile)."""
    road_class = _tag(ways, "highway").map(OSM_HIGHWAY_CLASS)
    keep = (road_class.notna() & ~_tag(ways, "oneway").isin(_CHANGING)).to_numpy()
    ways, road_class = ways[keep], road_class[keep]

    default_speed = road_class.map(lambda c: ROAD_CLASSES[c].speed_kmh)
    speed = maxspeed_kmh(_tag(ways, "maxspeed")).fillna(default_speed).astype(object)
    if "speed_kmh" in ways:  # a file's own speeds win; check_roads reads them strictly
        speed = ways["speed_kmh"].where(ways["speed_kmh"].notna(), speed)

    bridge = ~_tag(ways, "bridge").isin(_NOT_A_BRIDGE).to_numpy()
    oneway = _tag(ways, "oneway")
    backward = oneway.isin(_ONEWAY_BACKWARD).to_numpy()
    implied = _tag(ways, "highway").isin(_ONE_WAY_HIGHWAYS) & (oneway == "")
    one_way = (oneway.isin(_ONEWAY_FORWARD).to_numpy() | backward | implied.to_numpy()
               | _tag(ways, "junction").isin(_ONE_WAY_JUNCTIONS).to_numpy())

    lines = ways.geometry.values
    lines = np.where(backward, shapely.reverse(lines), lines)
    names = ways["name"] if "name" in ways else pd.Series("", index=ways.index)
    roads = gpd.GeoDataFrame({
        "name": names.to_numpy(dtype=object),
        "class": np.where(bridge, "bridge", road_class.to_numpy(dtype=object)),
        "oneway": one_way,
        "speed_kmh": speed.to_numpy(dtype=object),
    }, geometry=gpd.array.from_shapely(lines), crs=ways.crs)
    if "source_row" in ways:
        roads["source_row"] = ways["source_row"].to_numpy()
    return roads.reset_index(drop=True)


def _tag(ways: pd.DataFrame, key: str) -> pd.Series:
    """A tag's values as lower-case text, '' where the way lacks it."""
    if key not in ways:
        return pd.Series("", index=ways.index, dtype=object)
    values = ways[key].astype(object)
    return values.where(values.notna(), "").astype(str).str.strip().str.lower()


def maxspeed_kmh(values: pd.Series) -> pd.Series:
    """OpenStreetMap maxspeed values ("50", "50 km/h", "30 mph"; the first of "50;30") in
    km/h, NaN where they are no number ("none", "walk", "RU:urban") or not above 0. A speed
    above MAX_SPEED_KMH (an unlimited motorway) is taken as that limit."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    first = text.str.split(";").str[0].str.strip().str.lower()
    parts = first.str.extract(r"^(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")
    number = pd.to_numeric(parts[0], errors="coerce")
    kmh = number * parts[1].fillna("").map(_KMH_PER_UNIT).astype(float)
    kmh = kmh.where(kmh > 0).clip(upper=MAX_SPEED_KMH)
    kmh.index = values.index
    return kmh
