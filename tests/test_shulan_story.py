"""The seeds' 舒兰市 北城街道 story (seed 000) in the demo city, over real HTTP on both backends.

舒兰市 lies 70 km from the urban districts, a part of the city with its own grids, teams, roads
and compounds. In 正阳社区's old compound 制动器小区 the sewer kept blocking: grid worker 王春红
took the residents' call and reported it to the community, which called in 北城司法所 and
舒兰市调解中心 and brought the property company's manager and the residents together; once
they agreed, the pipes were cleared."""

from __future__ import annotations

import numpy as np

from fixtures import shulan
from geo.crs import GEOD


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _story_issue_id(store, city) -> int:
    row = city.issues.iloc[city.sewer_story.issue_row]
    with store.snapshot() as tx:
        return int(tx.one("SELECT id FROM issue WHERE reported_at = :t AND category_code = 'L02' "
                          "AND description = :d", {"t": row.reported_at.to_pydatetime(),
                                                   "d": row.description})["id"])


def test_the_blocked_sewer_of_zhidongqi_compound_solved_together(api, city):
    story = city.sewer_story
    issue_id = _story_issue_id(api.store, city)
    admin = api.client("admin")
    issue = ok(admin.get(f"/api/v1/issues/{issue_id}"))
    assert issue["district_code"] == shulan.CODE and issue["street_code"] == "220283001"
    assert issue["community_code"] == story.community_code
    assert issue["grid_code"] == story.grid_code
    assert issue["state"] == "closed" and issue["rating"] == 5
    assert issue["channel"] == "grid_worker" and "制动器小区" in issue["description"]
    # Reported by the grid's worker, accepted by the community's desk, the grid-worker team
    # sent once the residents had agreed, checked and rated; the whistle on the trail.
    events = ok(admin.get(f"/api/v1/issues/{issue_id}/events"))
    actions = [e["action"] for e in events]
    assert [a for a in actions if a not in ("whistle", "escalate")] == [
        "report", "accept", "dispatch", "claim", "resolve", "check", "rate"]
    assert actions.count("whistle") == 1
    assert events[0]["actor"] == f"gw{story.grid_code}"
    assert {e["actor"] for e in events if e["action"] in ("claim", "resolve")} == {story.team_id}
    whistle_at = next(e["at"] for e in events if e["action"] == "whistle")
    dispatch_at = next(e["at"] for e in events if e["action"] == "dispatch")
    assert whistle_at < dispatch_at  # they met before the pipes were cleared

    # The community's joint case: the street's judicial office, the city's mediation centre
    # and the compound's property company each reported in on time and did their part.
    listed = ok(admin.get("/api/v1/whistles", params={"state": "all", "limit": 500}))
    [summary] = [w for w in listed["items"] if w["issue_id"] == issue_id]
    whistle = ok(admin.get(f"/api/v1/whistles/{summary['id']}"))
    compound = ok(admin.get(f"/api/v1/compounds/{story.compound_code}"))
    company = compound["property_company"]["name"]
    assert compound["name"] == "制动器小区" and compound["built_year"] < 2000
    assert whistle["state"] == "evaluated" and not whistle["open"]
    assert {u["name"] for u in whistle["units"]} == {
        "北城司法所", "舒兰市调解中心", company}
    assert all(u["reported_in_at"] and not u["reported_in_late"] and u["done_at"]
               for u in whistle["units"])
    assert "杨焕秀" in whistle["plan"] and "孙立臣" in whistle["plan"]
    assert "彻底解决" in whistle["evaluation"]
    property_unit = next(u for u in whistle["units"] if u["name"] == company)
    assert property_unit["done_at"] == max(u["done_at"] for u in whistle["units"])


def test_a_report_in_shulan_is_placed_there_and_sent_by_its_own_roads(api, city):
    """A new report at the compound: located to its grid, compound and building (if it falls
    in one), and the teams that may go are 北城街道's own, timed along 舒兰's roads."""
    story = city.sewer_story
    lon, lat = story.lonlat
    where = ok(api.client("admin").get("/api/v1/locate", params={"lon": lon, "lat": lat}))
    assert (where["district_name"], where["street_name"], where["community_name"],
            where["compound_name"]) == ("舒兰市", "北城街道", "正阳社区", "制动器小区")
    assert where["grid_code"] == story.grid_code
    with api.client("admin") as c:
        made = ok(c.post("/api/v1/issues", json={
            "category_code": "L02", "description": "制动器小区下水道又堵了", "lon": lon,
            "lat": lat}), 201)["issue"]
        ranked = ok(c.get(f"/api/v1/issues/{made['id']}/candidates"))
    assert made["grid_code"] == story.grid_code
    teams = ranked["candidates"]
    assert teams and all(t["team_id"].split("-")[2] == "220283001" for t in teams)
    by_road = [t for t in teams if t["basis"] == "road"]
    assert by_road, teams
    # 70 km from the urban districts and no road out of 舒兰: every route stays inside it.
    for t in by_road:
        assert t["eta_s"] > 0 and t["road_m"] > 0
        lons, lats = np.array(t["route"]).T
        _az, _baz, d = GEOD.inv(np.full(len(lons), lon), np.full(len(lats), lat), lons, lats)
        assert d.max() < 15_000
