"""Compounds over real HTTP on both backends: the intake answers and stores the compound and
building of a report; the layers and one compound's detail need layers:read and give heads'
phones only with people:read; the emergency switch per street or district changes the
candidates of an issue there and not elsewhere, within the switcher's jurisdiction."""

from __future__ import annotations

import shapely

from geo.casework.scope import Actor
from geo.compounds.read import below_at

SCHOOL = "电东胡同小学门口"  # 长春路街道
LINGBEI = "岭北胡同"  # 向阳街道: both in the demo staff's jurisdiction


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def staff_streets(api, city) -> list[str]:
    return [api.store.locate(*city.landmarks[p]).street_code for p in (SCHOOL, LINGBEI)]


def test_intake_layers_detail_and_who_sees_phones(api, city):
    streets = staff_streets(api, city)
    buildings = city.buildings[city.buildings.code.str[:9].isin(streets)]
    b = buildings.sort_values("code").iloc[0]
    p = b.geometry.representative_point()
    with api.client("dispatcher") as c:
        body = ok(c.post("/api/v1/issues", json={"category_code": "L07", "description": "楼道漏水",
                                                 "lon": p.x, "lat": p.y}), 201)
    name = city.compounds.set_index("code").name[b.compound_code]
    assert body["compound"] == {"code": b.compound_code, "name": name}
    assert body["building"] == {"code": b.code, "name": b["name"]}
    with api.store.snapshot() as tx:
        row = tx.one("SELECT compound_code, building_code FROM issue WHERE id = :i",
                     {"i": body["issue"]["id"]})
    assert row == {"compound_code": b.compound_code, "building_code": b.code}
    # Layers in a box: every polygon meeting it, by code, bounded by `limit`.
    minx, miny, maxx, maxy = shapely.bounds(b.geometry).tolist()
    box = f"{minx - 0.01},{miny - 0.01},{maxx + 0.01},{maxy + 0.01}"
    want = {f: set(frame.code[shapely.intersects(frame.geometry.to_numpy(),
                                                 shapely.box(minx - 0.01, miny - 0.01,
                                                             maxx + 0.01, maxy + 0.01))])
            for f, frame in (("compounds", city.compounds), ("buildings", city.buildings))}
    with api.client("planner") as c:  # layers:read, not people:read
        for layer in ("compounds", "buildings"):
            doc = ok(c.get(f"/api/v1/{layer}", params={"bbox": box}))
            got = {f["properties"]["code"] for f in doc["features"]}
            # Boxes meet by bounding box on SQLite, by geometry on PostGIS: a superset at most.
            assert want[layer] <= got and doc["numberMatched"] == len(got), layer
        one = ok(c.get("/api/v1/buildings", params={"limit": 1}))
        assert one["numberReturned"] == 1 and one["numberMatched"] == len(city.buildings)
        assert c.get("/api/v1/buildings", params={"limit": 100_000}).status_code == 422
        hidden = ok(c.get(f"/api/v1/compounds/{b.compound_code}"))
        assert c.get("/api/v1/heads", params={"area": streets[0]}).status_code == 403
        assert c.get("/api/v1/compounds/220204001001XQ999").status_code == 404
    heads = city.resident_heads
    mine = heads[(heads.area_code == b.compound_code)
                 | heads.area_code.str.startswith(b.compound_code + "-")]
    assert len(hidden["heads"]) == len(mine) and all(h["phone"] is None for h in hidden["heads"])
    assert {x["code"] for x in hidden["buildings"]} == set(
        city.buildings.code[city.buildings.compound_code == b.compound_code])
    units = city.building_units[city.building_units.building_code == b.code]
    shown = next(x for x in hidden["buildings"] if x["code"] == b.code)["units"]
    assert [u["number"] for u in shown] == sorted(units.number)
    foreign = city.compounds.code[~city.compounds.code.str[:6].isin({s[:6] for s in streets})]
    with api.client("operator") as c:  # people:read
        full = ok(c.get(f"/api/v1/compounds/{b.compound_code}"))
        far = ok(c.get(f"/api/v1/compounds/{foreign.iloc[0]}"))  # outside the jurisdiction
    assert sorted(h["phone"] for h in full["heads"]) == sorted(mine.phone)
    assert far["heads"] and all(h["phone"] is None for h in far["heads"])
    # What the places answer shows at the point: the compound, the building and their heads.
    here = below_at(api.store, Actor("operator", "operator", tuple(streets)), p.x, p.y,
                    phones=True)
    assert (here["compound"]["code"], here["building"]["code"]) == (b.compound_code, b.code)
    want = mine[(mine.area_code == b.compound_code) | (mine.area_code == b.code)
                | mine.area_code.str.startswith(b.code + "-")]
    assert sorted(h["phone"] for h in here["heads"]) == sorted(want.phone)
    away = below_at(api.store, Actor("op2", "operator", ("220203",)), p.x, p.y, phones=True)
    assert away["heads"] and all(h["phone"] is None for h in away["heads"])
    assert below_at(api.store, Actor("admin", "admin"), 126.0, 43.0) == {
        "compound": None, "building": None, "heads": []}
    company = city.compounds.set_index("code").property_company_id[b.compound_code]
    assert (full["property_company"] or {}).get("id") == company
    with api.client("citizen") as c:
        assert c.get("/api/v1/compounds").status_code == 403
    with api.client() as c:
        assert c.get(f"/api/v1/compounds/{b.compound_code}").status_code == 401


def _reserve(api, city, street: str) -> str:
    """One of the street's available enforcement teams, put on the B (emergency) roster."""
    t = city.teams[(city.teams.kind == "enforcement") & (city.teams.status == "available")
                   & city.teams.jurisdiction.map(lambda j: street in j)
                   & city.teams.categories.map(lambda c: "L01" in c)].id.iloc[-1]
    with api.store.tx() as tx:
        tx.run("UPDATE team SET roster = 'B' WHERE id = :t", {"t": t})
    return t


def _candidates(api, iid) -> dict:
    with api.client("dispatcher") as c:
        return ok(c.get(f"/api/v1/issues/{iid}/candidates", params={"k": 50}))


def test_emergency_per_area_changes_the_candidates_there_only(api, city):
    streets = staff_streets(api, city)
    assert streets[0] != streets[1] and streets[0][:6] == streets[1][:6]
    issues = []
    for place in (SCHOOL, LINGBEI):
        lon, lat = city.landmarks[place]
        with api.client("dispatcher") as c:
            iid = ok(c.post("/api/v1/issues", json={"category_code": "L01", "description": "摊贩",
                                                    "lon": lon, "lat": lat}), 201)["issue"]["id"]
            ok(c.post(f"/api/v1/issues/{iid}/accept", json={}))
        issues.append(iid)
    reserves = [_reserve(api, city, s) for s in streets]
    before = [{t["team_id"] for t in _candidates(api, i)["candidates"]} for i in issues]
    assert not any(r in b for r, b in zip(reserves, before, strict=True))
    with api.client("supervisor") as c:  # the district 船营区 is their jurisdiction
        mode = ok(c.put("/api/v1/mode", json={"mode": "emergency", "reason": "暴雨",
                                              "area": streets[0]}))
        assert mode["mode"] == "normal" and [a["area"] for a in mode["areas"]] == [streets[0]]
        r = c.put("/api/v1/mode", json={"mode": "emergency", "area": "220203001"})
        assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    urgent, calm = (_candidates(api, i) for i in issues)
    assert urgent["mode"] == "emergency" and calm["mode"] == "normal"
    assert {t["team_id"] for t in urgent["candidates"]} == before[0] | {reserves[0]}
    assert {t["team_id"] for t in calm["candidates"]} == before[1]
    with api.client("dispatcher") as c:
        r = c.post(f"/api/v1/issues/{issues[1]}/dispatch", json={"team_ids": [reserves[1]]})
        assert r.status_code == 422 and r.json()["code"] == "team_b_roster"
        ok(c.post(f"/api/v1/issues/{issues[0]}/dispatch", json={"team_ids": [reserves[0]]}))
        assert c.put("/api/v1/mode", json={"mode": "emergency",
                                           "area": streets[1]}).status_code == 403
    with api.client("supervisor") as c:  # the whole district: its other street too
        ok(c.put("/api/v1/mode", json={"mode": "emergency", "area": streets[1][:6]}))
    assert reserves[1] in {t["team_id"] for t in _candidates(api, issues[1])["candidates"]}
    # The B roster's heads of the street in emergency, for the people who call them in.
    with api.client("operator") as c:
        b_heads = ok(c.get("/api/v1/heads", params={"area": streets[0], "roster": "B"}))
        assert c.get("/api/v1/heads", params={"area": "220203001"}).status_code == 403
    heads = city.resident_heads
    want = heads[(heads.roster == "B") & heads.area_code.str.startswith(streets[0])]
    assert sorted(h["phone"] for h in b_heads) == sorted(want.phone) and len(want)
    assert all(h["agency"] and h["compound_code"][:9] == streets[0] for h in b_heads)
