"""The demo city's roads and river: a noded network of named arterials, local streets and
one-way pairs that keeps off the Songhua River except on its bridges, built without moving
any other layer; and the river story, where the team nearest as the crow flies is across the
water and another, on the market's bank, arrives first by road."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from fixtures import roads as demo_roads
from fixtures import shulan
from fixtures.jilin import CENTRE_LONLAT, REFERENCE_TIME, generate
from fixtures.landmarks import RIVER_STORY
from fixtures.river import songhua
from geo.casework.dispatch import candidates
from geo.casework.scope import Actor
from geo.crs import geoms_to_metric, to_metric
from geo.gridindex import GridIndex
from geo.model import TeamFilter
from geo.roads.classes import OFF_NETWORK_SPEED_MS, ROAD_CLASSES
from geo.roads.frame import check_roads
from geo.roads.network import RoadNetwork
from geo.roads.noding import NODE_TOLERANCE_M

ARTERIALS = {"长春路", "解放路", "劳动路", "珲春街", "吉林大街", "松江路", "北京路", "重庆路", "遵义路",
             "延安路", "东市场街", "中康路"}
BRIDGE_NAMES = {"吉林大桥", "临江门大桥", "松江大桥", "清源大桥", "雾凇大桥"}


@pytest.fixture(scope="module")
def network(city):
    return RoadNetwork(city.roads)


@pytest.fixture(scope="module")
def water(city):
    return geoms_to_metric(city.river)


def metric(point) -> np.ndarray:
    x, y = to_metric([point[0]], [point[1]])
    return np.array([x[0], y[0]])


def test_the_layer_is_a_road_layer_of_city_size(city):
    roads = city.roads
    assert roads.crs.to_epsg() == 4326
    assert list(roads.columns) == ["name", "class", "oneway", "speed_kmh", "geometry"]
    checked = check_roads(roads)
    assert len(checked) == len(roads) and (checked["class"] == roads["class"]).all()
    assert set(roads["class"]) == {"arterial", "secondary", "local", "bridge"}
    assert (roads.geom_type == "LineString").all()
    # About 21,000 edges for the 449 km² outline, whatever the number of grids.
    assert 15_000 <= len(roads) <= 40_000
    local = roads[roads["class"] == "local"]
    assert (local.speed_kmh == ROAD_CLASSES["local"].speed_kmh).all()
    assert (roads[roads["class"] == "secondary"].speed_kmh == 30).all()
    assert roads[roads["class"] == "arterial"].speed_kmh.between(40, 50).all()
    lengths = geoms_to_metric(local.geometry.to_numpy())
    assert 150 < np.median(shapely.length(lengths)) < 250  # streets about 200 m apart


def test_roads_meet_only_at_their_ends_and_form_a_network_per_part(city, network):
    lines = network.lines
    tree = shapely.STRtree(lines)
    assert tree.query(lines, predicate="crosses").size == 0
    assert tree.query(lines, predicate="overlaps").size == 0
    # No road ends on another road's inside: a junction is where both end.
    ends = np.concatenate([shapely.get_point(lines, 0), shapely.get_point(lines, -1)])
    end, road = tree.query(ends, predicate="dwithin", distance=NODE_TOLERANCE_M)
    off = np.minimum(shapely.distance(ends[end], shapely.get_point(lines[road], 0)),
                     shapely.distance(ends[end], shapely.get_point(lines[road], -1)))
    assert (off < NODE_TOLERANCE_M).all()
    # One network in the urban districts and one in 舒兰市, 60 km off, without a road between.
    parts = network.component[network.source]
    sizes = np.bincount(parts)
    urban, detached = np.argsort(-sizes)[:2]
    assert sizes[urban] + sizes[detached] >= 0.99 * len(network)
    shulan_area = city.districts.geometry[shulan.is_part(city.districts.code)].union_all()
    assert shapely.within(city.roads.geometry.to_numpy()[parts == detached], shulan_area).all()
    assert not shapely.intersects(city.roads.geometry.to_numpy()[parts == urban],
                                  shulan_area).any()
    assert len(network) > 1.8 * network.n_nodes  # a lattice: about two roads a junction


def test_only_bridges_cross_the_river(city, network, water):
    bridge = network.classes == "bridge"
    assert not shapely.intersects(network.lines[~bridge], water).any()
    assert 4 <= bridge.sum() <= 6 and set(network.names[bridge]) <= BRIDGE_NAMES
    assert shapely.crosses(network.lines[bridge], water).all()
    degree = np.bincount(np.concatenate([network.source, network.target]),
                         minlength=network.n_nodes)
    for k in np.flatnonzero(bridge):
        # Each end on a bank, joined there to 松江路 and to the arterial it carries over.
        for node in (network.source[k], network.target[k]):
            assert degree[node] >= 3
            assert shapely.distance(water, shapely.Point(network.nodes[node])) > 10
    # 松江路 runs along both banks, the river parts the city.
    riverside = network.lines[network.names == "松江路"]
    assert (np.abs(shapely.distance(water, riverside) - demo_roads.RIVERSIDE_M) < 1).all()
    outline = shapely.union_all(geoms_to_metric(city.districts.geometry.to_numpy()))
    banks = shapely.get_parts(shapely.difference(outline, water))
    assert sorted(shapely.area(banks))[-2] > 0.25 * outline.area


def test_the_river_is_the_songhua_through_the_centre():
    origin = metric(CENTRE_LONLAT)
    river = songhua(tuple(origin))
    assert river.polygon.is_valid
    assert shapely.distance(river.line, shapely.Point(origin)) < 300
    assert 300 <= river.width_m.min() and river.width_m.max() <= 400
    upstream, downstream = river.centreline[0] - origin, river.centreline[-1] - origin
    assert upstream[0] > 0 > upstream[1] and downstream[0] < 0 < downstream[1]  # SE → NW


def test_named_arterials_and_story_roads(city, network):
    named = set(network.names[network.classes == "arterial"])
    assert ARTERIALS <= named
    for road, place in (("劳动路", "劳动路"), ("珲春街", "珲春街夜市"), ("长春路", "电东胡同小学门口")):
        lines = network.lines[network.names == road]
        assert shapely.distance(shapely.Point(metric(city.landmarks[place])),
                                shapely.union_all(lines)) < 150, road


@pytest.mark.parametrize("pair, axis", [(demo_roads.ONE_WAY_NORTH_SOUTH[0], 1),
                                        (demo_roads.ONE_WAY_EAST_WEST[0], 0)])
def test_one_way_pairs_run_opposite_ways(network, pair, axis):
    heading = []
    for street in pair:
        mine = network.names == street
        assert mine.sum() >= 8 and network.oneway[mine].all()
        step = (shapely.get_coordinates(shapely.get_point(network.lines[mine], -1))
                - shapely.get_coordinates(shapely.get_point(network.lines[mine], 0)))
        assert (np.sign(step[:, axis]) == np.sign(step[0, axis])).all()  # all one way
        heading.append(np.sign(step[0, axis]))
        # One way only: no road takes the opposite direction between the same junctions.
        back = set(zip(network.target[mine].tolist(), network.source[mine].tolist(),
                       strict=True))
        assert not back & set(network.arc_edge)
    assert heading[0] == -heading[1]
    first, second = (shapely.union_all(network.lines[network.names == s]) for s in pair)
    assert 150 < shapely.hausdorff_distance(first, second) < 300  # parallel, a block apart


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of a frame's values: geometries by their coordinates to 1e-9 degree, lists
    and other objects by their text."""
    h = hashlib.sha256()
    for column in frame.columns:
        values = frame[column]
        h.update(column.encode())
        if column == "geometry":
            coords = shapely.get_coordinates(values.to_numpy()).round(9)
            h.update(coords.tobytes())
            h.update(shapely.get_num_coordinates(values.to_numpy()).tobytes())
        elif pd.api.types.is_datetime64_any_dtype(values):
            h.update(values.astype("int64").to_numpy().tobytes())
        else:
            h.update("\x1f".join(map(str, values.tolist())).encode())
    return h.hexdigest()[:16]


# Of generate(400, 4000, seed=7) without the river story's rows, frozen from the city as it
# was generated before it had roads: the roads draw from a stream of their own and the story
# changes only its own rows. (Another cast of the story changes "on_duty", another replaced
# report "issues", "events" and "assignments": freeze them again from such a city.)
# "communities", "grids" and "sites" were frozen again when 天胜社区 moved to 文庙街道: the
# names of the two streets' communities, their grids and sites changed, no shape did.
# "issues" and "events" were frozen again when most parking and property complaints moved
# into compounds of their streets (fixtures.compounds): those reports' points, grid workers
# and report entries changed.
FROZEN = {"districts": "e6f7efd63b6a8da4", "streets": "bdd3292d604aecaa",
          "communities": "fab89e0807322e27", "grids": "07dfa5e6ab8f0f2c",
          "cameras": "16d1f84ed5a050ac", "sites": "6bef51ab195bf11f", "teams": "adba85488d84388e",
          "on_duty": "1eb3a2f229d32612", "issues": "94bcfab236d609bd",
          "events": "8d8e658b73083bdd", "assignments": "e4a7bbcd83dd9ad0"}


def without_story(city) -> dict[str, pd.DataFrame]:
    """The layers but the stories' rows: the river story's report, the status and positions
    of its two teams (they keep their homes, rosters and streets, which the history
    dispatched by); and 舒兰市, the detached part, with its story's report."""
    story = city.river_story
    rows = [story.issue_row, city.sewer_story.issue_row]
    cast = city.teams.id.isin([story.across_team, story.same_bank_team])
    on_duty = ["status", "position_lon", "position_lat", "position_at"]
    teams = city.teams[~city.teams.jurisdiction.map(lambda j: shulan.is_part(j).any())]
    return {"districts": _urban(city.districts), "streets": _urban(city.streets),
            "communities": _urban(city.communities), "grids": _urban(city.grids),
            "cameras": city.cameras, "sites": city.sites, "teams": teams.drop(columns=on_duty),
            "on_duty": teams.loc[~cast, on_duty], "issues": city.issues.drop(index=rows),
            "events": city.events[~city.events.issue.isin(rows)],
            "assignments": city.assignments[~city.assignments.issue.isin(rows)]}


def _urban(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~shulan.is_part(frame.code)]


def test_roads_and_story_leave_the_other_layers_as_they_were(city):
    digests = {name: frame_digest(frame) for name, frame in without_story(city).items()}
    assert digests == FROZEN
    story_teams = city.teams.set_index("id").loc[[city.river_story.across_team,
                                                   city.river_story.same_bank_team]]
    assert (story_teams.roster == "A").all() and story_teams.jurisdiction.map(len).eq(1).all()


def test_same_seed_same_roads_and_story_without_issues(city):
    again = generate(400, 0, seed=7)
    assert again.roads.equals(city.roads)
    assert shapely.equals_exact(again.river, city.river, 0)
    assert again.river_story.lonlat == city.river_story.lonlat
    assert again.landmarks == city.landmarks and again.river_story.issue_row is None


def story_rankings(city, network) -> pd.DataFrame:
    """The teams that may be sent to the story's report (enforcement, available, A roster,
    jurisdiction over its street), each with its straight-line metres and its minutes by road:
    an independent search (scipy's Dijkstra from the report's nearest junction over the
    reversed graph), walking to and from the nearest junctions."""
    story = city.river_story
    teams = city.teams
    able = teams[(teams.kind == "enforcement") & (teams.status == "available")
                 & (teams.roster == "A") & teams.jurisdiction.map(lambda j: story.street_code in j)
                 & teams.categories.map(lambda c: RIVER_STORY["category"] in c)]
    live = able.position_at.notna().to_numpy()
    lon = np.where(live, able.position_lon, able.geometry.x)
    lat = np.where(live, able.position_lat, able.geometry.y)
    where = np.column_stack(to_metric(lon, lat))
    issue = metric(story.lonlat)
    junctions = cKDTree(network.nodes)
    walk, node = junctions.query(issue)
    seconds = dijkstra(network.reversed_graph, indices=int(node))
    off, start = junctions.query(where)
    return pd.DataFrame({
        "team_id": able.id.to_numpy(),
        "crow_m": np.hypot(*(where - issue).T),
        "minutes": (seconds[start] + (walk + off) / OFF_NETWORK_SPEED_MS) / 60}).set_index("team_id")


def test_the_river_story(city, network, water):
    story = city.river_story
    report = city.issues.iloc[story.issue_row]
    assert (report.category_code, report.state) == (RIVER_STORY["category"], "accepted")
    assert report.description == RIVER_STORY["description"]
    assert REFERENCE_TIME - pd.Timestamp(report.reported_at) < timedelta(hours=1)
    assert city.landmarks[story.place] == story.lonlat == (report.geometry.x, report.geometry.y)
    market = shapely.Point(metric(story.lonlat))
    assert 50 < shapely.distance(water, market) < 150  # by the river
    index = GridIndex(city.grids.code.to_numpy(), city.grids.geometry.to_numpy())
    assert index.locate_codes([story.lonlat[0]], [story.lonlat[1]])[0] == story.grid_code

    ranked = story_rankings(city, network)
    across, inland = story.across_team, story.same_bank_team
    assert {across, inland} <= set(ranked.index)
    teams = city.teams.set_index("id")
    for team in (across, inland):
        at = teams.position_at[team]
        assert timedelta(0) < REFERENCE_TIME - at < timedelta(minutes=15)
    over_water = shapely.intersects(
        shapely.linestrings([[market.coords[0], metric(story.across_lonlat)],
                             [market.coords[0], metric(story.same_bank_lonlat)]]), water)
    assert over_water.tolist() == [True, False]
    assert 400 < ranked.crow_m[across] < 700 and 2000 < ranked.crow_m[inland] < 3000
    # Nearest as the crow flies of every team that may go; first by road of them all.
    assert ranked.crow_m.idxmin() == across and ranked.minutes.idxmin() == inland
    assert ranked.minutes[inland] < ranked.minutes[across]
    # The team across has to go round by a bridge: without them it cannot get there at all.
    bridges = network.lines[network.classes == "bridge"]
    assert shapely.distance(market, shapely.union_all(bridges)) > 1500
    dry = RoadNetwork(city.roads[city.roads["class"] != "bridge"])
    parts = dry.component[cKDTree(dry.nodes).query(
        np.array([market.coords[0], metric(story.across_lonlat)]))[1]]
    assert parts[0] != parts[1]


def story_issue(store) -> dict:
    with store.snapshot() as tx:
        rows = tx.rows("SELECT id, state, category_code, street_code FROM issue "
                       "WHERE description = :d", {"d": RIVER_STORY["description"]})
    assert len(rows) == 1
    return rows[0]


def test_the_river_story_through_the_store(store, city):
    story = city.river_story
    across, inland = story.across_team, story.same_bank_team
    issue = story_issue(store)
    assert (issue["state"], issue["street_code"]) == ("accepted", story.street_code)
    f = TeamFilter(kind="enforcement", statuses=("available",), category=RIVER_STORY["category"],
                   street_code=story.street_code, rosters=("A",))
    by_crow = [m.team_id for m in store.nearest_teams(*story.lonlat, k=20, team_filter=f)]
    assert by_crow.index(across) < by_crow.index(inland) and by_crow[0] == across
    by_eta = {m.team_id: m for m in store.nearest_by_eta(*story.lonlat, k=20, team_filter=f)}
    order = list(by_eta)
    assert order.index(inland) < order.index(across) and order[0] == inland
    assert by_eta[inland].basis == by_eta[across].basis == "road"
    assert by_eta[across].via and set(by_eta[across].via) <= set(story.bridges)
    assert not by_eta[inland].via
    assert by_eta[across].distance_m < by_eta[inland].distance_m
    # What the dispatcher is offered, with the workload policy: the same order.
    offer = candidates(store, Actor("admin", "admin"), issue["id"], REFERENCE_TIME, k=20)
    ranked = [c["team_id"] for c in offer["candidates"]]
    assert ranked[0] == inland and offer["candidates"][0]["recommended"]
    assert ranked.index(inland) < ranked.index(across)
    nearest = candidates(store, Actor("admin", "admin"), issue["id"], REFERENCE_TIME, k=20,
                         by="distance")["candidates"]
    assert nearest[0]["team_id"] == across
