"""Behaviour of both backends: the same questions must get the same answers."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.crs import GEOD, CoordinateError, from_storage, to_metric
from geo.i18n import using
from geo.model import TeamFilter
from geo.store import StoreError


@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def random_points(city, n, seed=5, margin=0.01):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = city.grids.total_bounds
    return (rng.uniform(minx - margin, maxx + margin, n),
            rng.uniform(miny - margin, maxy + margin, n))


def test_locate_story_places(store, city):
    expected = {"电东胡同小学门口": ("电东社区", "长春路街道", "船营区"),
                "劳动路": ("劳动社区", "山前街道", "龙潭区"),
                "珲春街夜市": ("珲春社区", "向阳街道", "船营区"),
                "岭北胡同": ("华南社区", "向阳街道", "船营区")}
    for place, names in expected.items():
        where = store.locate(*city.landmarks[place])
        assert (where.community_name, where.street_name, where.district_name) == names
        assert where.grid_code.startswith(where.community_code)


def test_locate_accepts_phone_app_coordinates(store, city):
    lon, lat = city.landmarks["岭北胡同"]
    truth = store.locate(lon, lat)
    for crs in ("gcj02", "bd09"):
        shifted = from_storage(lon, lat, crs)
        assert store.locate(float(shifted[0][0]), float(shifted[1][0]), crs=crs) == truth


def test_outside_is_reported_not_guessed(store):
    assert store.locate(126.0, 43.0) is None
    located = store.locate_many([126.0, 127.5], [43.0, 44.9])
    assert located.grid_code.isna().all() and located.district_code.isna().all()


def smallest_covering_code(city, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """The tie rule by brute force: for each point, the smallest code among the grids whose
    closed polygon covers it ("" when none does), and how many grids cover it."""
    codes = city.grids.code.to_numpy()
    tree = shapely.STRtree(city.grids.geometry.to_numpy())
    point, grid = tree.query(shapely.points(lon, lat), predicate="covered_by")
    want = np.full(len(lon), "", dtype=object)
    smallest = pd.Series(codes[grid]).groupby(point).min()
    want[smallest.index.to_numpy()] = smallest.to_numpy()
    return want, np.bincount(point, minlength=len(lon))


def test_locate_applies_the_tie_rule_on_every_vertex_and_both_backends_agree(sqlite_store,
                                                                              pg_store, city):
    """Every vertex of every grid of the test city (where grids meet, several cover a point)
    and 2,000 random points: on both backends, batch and single locate give the smallest code
    of the grids that cover the point, and its community, street and district."""
    vertices = np.unique(shapely.get_coordinates(city.grids.geometry.to_numpy()), axis=0)
    rlon, rlat = random_points(city, 2000)
    lon, lat = np.r_[vertices[:, 0], rlon], np.r_[vertices[:, 1], rlat]
    want, covering = smallest_covering_code(city, lon, lat)
    shared = covering[:len(vertices)] >= 2
    assert shared.sum() > len(city.grids)  # corners of three or four grids are most of them
    for s in (sqlite_store, pg_store):
        got = s.locate_many(lon, lat)
        assert got.grid_code.fillna("").tolist() == want.tolist(), s.backend
        inside = got.grid_code.notna()
        assert (got.community_code[inside] == got.grid_code[inside].str[:12]).all()
        assert (got.street_code[inside] == got.grid_code[inside].str[:9]).all()
        assert (got.district_code[inside] == got.grid_code[inside].str[:6]).all()
        single = [s.locate(x, y) for x, y in vertices]
        assert [w.grid_code for w in single] == want[:len(vertices)].tolist(), s.backend


def test_single_and_batch_locate_agree(store, city):
    lon, lat = random_points(city, 40, seed=9)
    batch = store.locate_many(lon, lat)
    for i in range(len(lon)):
        one = store.locate(lon[i], lat[i])
        assert (one.grid_code if one else "") == ("" if pd.isna(batch.grid_code[i])
                                                  else batch.grid_code[i])


def brute_nearest(city, lon, lat, k, keep):
    teams = city.teams[keep(city.teams)]
    plon = teams.position_lon.fillna(teams.geometry.x).to_numpy()
    plat = teams.position_lat.fillna(teams.geometry.y).to_numpy()
    tx, ty = to_metric(plon, plat)
    qx, qy = to_metric([lon], [lat])
    d = np.hypot(tx - qx[0], ty - qy[0])
    order = sorted(range(len(d)), key=lambda i: (d[i], teams.id.iloc[i]))[:k]
    return [teams.id.iloc[i] for i in order], d[order], plon[order], plat[order]


@pytest.mark.parametrize("team_filter, keep", [
    (TeamFilter(), lambda t: np.ones(len(t), bool)),
    (TeamFilter(kind="enforcement", statuses=("available",)),
     lambda t: (t.kind == "enforcement") & (t.status == "available")),
    (TeamFilter(category="S02"), lambda t: t.categories.map(lambda c: "S02" in c)),
    (TeamFilter(street_code="220204002", rosters=("A",)),
     lambda t: t.jurisdiction.map(lambda j: "220204002" in j) & (t.roster == "A")),
])
def test_nearest_matches_brute_force(store, city, team_filter, keep):
    lon, lat = random_points(city, 25, seed=11, margin=0)
    for x, y in zip(lon, lat, strict=True):
        got = store.nearest_teams(x, y, k=3, team_filter=team_filter)
        ids, dist, tlon, tlat = brute_nearest(city, x, y, 3, keep)
        assert [m.team_id for m in got] == ids
        assert [m.rank for m in got] == [1, 2, 3]
        assert np.allclose([m.distance_m for m in got], dist, atol=1e-3)
        _, _, geodesic = GEOD.inv(np.full(3, x), np.full(3, y), tlon, tlat)
        assert np.all(np.abs(dist / geodesic - 1) < 1e-3)
        assert all(team_filter.describe() in m.reason for m in got)


def test_batch_nearest_agrees_with_single_and_across_backends(sqlite_store, pg_store, city):
    lon, lat = random_points(city, 300, seed=13, margin=0)
    f = TeamFilter(kind="enforcement")
    a = sqlite_store.nearest_teams_many(lon, lat, k=3, team_filter=f)
    b = pg_store.nearest_teams_many(lon, lat, k=3, team_filter=f)
    assert list(a.team_id) == list(b.team_id)
    assert np.allclose(a.distance_m, b.distance_m, atol=1e-3)
    assert list(a.point) == list(np.repeat(np.arange(300), 3))
    single = sqlite_store.nearest_teams(lon[7], lat[7], k=3, team_filter=f)
    assert [m.team_id for m in single] == list(a.team_id[21:24])


def test_nearest_explains_home_base_and_live_positions(store, city):
    lon, lat = city.landmarks["劳动路"]
    matches = store.nearest_teams(lon, lat, k=20)
    sources = {m.position_source for m in matches}
    assert sources == {"live", "home"}
    for m in matches:
        assert ("home base" in m.reason) == (m.position_source == "home")
        assert (m.position_at is None) == (m.position_source == "home")


def test_nearest_rejects_bad_requests(store):
    with pytest.raises(ValueError, match="k must be"):
        store.nearest_teams(126.55, 43.84, k=0)
    with pytest.raises(ValueError, match="unknown team kind police"):
        store.nearest_teams(126.55, 43.84, team_filter=TeamFilter(kind="police"))
    with pytest.raises(CoordinateError, match="outside the area"):
        store.nearest_teams(100.0, 30.0)


def test_batch_nearest_leaves_out_points_where_metres_would_be_wrong(store):
    ranked = store.nearest_teams_many([126.55, 100.0, 126.6], [43.84, 30.0, 43.85], k=2)
    assert list(ranked.point) == [0, 0, 2, 2]


def offset(lon, lat, bearing, metres):
    x, y, _ = GEOD.fwd(lon, lat, bearing, metres)
    return x, y


def test_cameras_see_inside_their_sector_and_range(store, city):
    cam = city.cameras.set_index("id").loc["CAM-S01"]  # fixed, facing north, 70°, 150 m
    cx, cy = cam.geometry.x, cam.geometry.y
    seen = lambda x, y: {c.camera_id for c in store.cameras_seeing(x, y)}  # noqa: E731
    assert "CAM-S01" in seen(*offset(cx, cy, 20, 100))  # in front, inside 35° half-angle
    assert "CAM-S01" not in seen(*offset(cx, cy, 50, 100))  # outside the sector
    assert "CAM-S01" not in seen(*offset(cx, cy, 180, 50))  # behind
    assert "CAM-S01" not in seen(*offset(cx, cy, 0, 170))  # beyond range
    dome = city.cameras[city.cameras.kind == "high_dome"].iloc[0]
    for bearing in (0, 135, 270):
        x, y = offset(dome.geometry.x, dome.geometry.y, bearing, 1400)
        views = {c.camera_id: c for c in store.cameras_seeing(x, y)}
        assert dome.id in views
        assert views[dome.id].distance_m == pytest.approx(1400, abs=0.01)
        off = (views[dome.id].bearing_deg - bearing + 540) % 360 - 180  # camera → point
        assert abs(off) < 0.01


def test_cameras_agree_across_backends_and_skip_offline(sqlite_store, pg_store, city):
    lon, lat = random_points(city, 150, seed=17, margin=0)
    offline = set(city.cameras.id[city.cameras.status != "online"])
    for x, y in zip(lon, lat, strict=True):
        a = [(c.camera_id, round(c.distance_m, 2)) for c in sqlite_store.cameras_seeing(x, y)]
        b = [(c.camera_id, round(c.distance_m, 2)) for c in pg_store.cameras_seeing(x, y)]
        assert a == b
        assert not offline & {c for c, _ in a}
    dark = city.cameras[(city.cameras.status == "offline") & (city.cameras.kind == "dome")].iloc[0]
    x, y = offset(dark.geometry.x, dark.geometry.y, 90, 20)
    for s in (sqlite_store, pg_store):
        assert dark.id not in {c.camera_id for c in s.cameras_seeing(x, y)}
        assert dark.id in {c.camera_id for c in s.cameras_seeing(x, y, include_offline=True)}


def test_migrations_are_idempotent_and_uninitialised_stores_say_so(empty_store):
    for backend in ("sqlite", "postgis"):
        s = empty_store(backend)
        with pytest.raises(StoreError, match="griddispatch init"):
            s.locate(126.55, 43.84)
        assert s.migrate() == ["001_core", "002_casework", "003_open_issue_index",
                               "004_open_issue_places", "005_plans", "006_sessions",
                               "007_draft_base", "008_assignment_issue", "009_roads",
                               "010_workload", "011_alarms", "012_water", "013_accounts", "014_compounds",
                               "015_property", "016_mediation", "017_escalation", "018_whistle",
                               "019_grid_plan", "020_revisions"]
        assert s.migrate() == []
        assert s.schema_version() == "020_revisions"
        assert s.counts()["grids"] == 0


def test_migrating_a_database_with_history_closes_the_old_issues(empty_store, city):
    """A database filled under 001 keeps its issues through 002; they count as closed."""
    from geo.store.base import migrations

    for backend in ("sqlite", "postgis"):
        s = empty_store(backend)
        first = dict(migrations(backend))["001_core"]
        if backend == "sqlite":
            s._conn.executescript(first)
        else:
            with s.tx() as tx:
                tx.conn.execute(first)
        with s.tx() as tx:
            tx.run("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at text)")
            tx.run("INSERT INTO schema_migrations VALUES ('001_core', :t)", {"t": city.grids.valid_from[0]})
            tx.run("INSERT INTO category (code, network, name_zh, name_en, handled_by, "
                   "duplicate_radius_m) VALUES ('L01', 'livelihood', 'x', 'x', :h, 100)",
                   {"h": ["enforcement"]})
            tx.run(f"INSERT INTO issue (category_code, {tx.dialect.point_columns()}, source_crs, "
                   f"reported_at) VALUES ('L01', {tx.dialect.point_values()}, 'wgs84', :t)",
                   {"lon": 126.55, "lat": 43.84, "t": city.grids.valid_from[0]})
        assert s.migrate() == ["002_casework", "003_open_issue_index", "004_open_issue_places",
                                "005_plans", "006_sessions", "007_draft_base",
                                "008_assignment_issue", "009_roads", "010_workload",
                                "011_alarms", "012_water", "013_accounts", "014_compounds",
                               "015_property", "016_mediation", "017_escalation", "018_whistle",
                               "019_grid_plan", "020_revisions"]
        issues = s.read_layer("issues")
        assert list(issues.state) == ["closed"]
        assert issues.closed_at.notna().all()


def test_issues_are_located_when_stored(store, city):
    issues = store.read_layer("issues")
    assert len(issues) == len(city.issues)
    again = store.locate_many(issues.geometry.x, issues.geometry.y)
    assert (issues.grid_code.fillna("").to_numpy() == again.grid_code.fillna("").to_numpy()).all()
    assert issues.grid_code.notna().mean() > 0.99


def test_locate_at_a_past_date_uses_the_grids_valid_then(store, city):
    before = datetime(2024, 6, 1, tzinfo=UTC)  # the demo grids start on 2025-01-01
    lon, lat = city.landmarks["劳动路"]
    assert store.locate(lon, lat, at=before) is None
    assert store.locate(lon, lat, at=datetime(2025, 6, 1, tzinfo=UTC)) == store.locate(lon, lat)
