"""Four-level responsibility (四级包保) over real HTTP on both backends: the chain of named
people from the district down to a grid, by code and by point, against the generated city's
own table; phones only with scope people:read; unknown areas and points outside refused."""

from __future__ import annotations

import pytest

from geo.codes import LENGTHS
from tests.citycopy import private_server


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def api(request, tmp_path_factory):
    """One server per backend for the module, on a private copy of the test city."""
    with private_server(request, tmp_path_factory) as server:
        yield server


def expected_chain(city, grid_code: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """From the generated table: per level's code, (name, title) in the table's order."""
    people = city.responsibilities
    return [(grid_code[:n], [(r.name, r.title) for r in
                             people[people.area_code == grid_code[:n]].itertuples()])
            for n in LENGTHS.values()]


def test_the_chain_for_a_grid_and_for_a_point(api, city):
    grid = city.grids.iloc[len(city.grids) // 2]
    with api.client("dispatcher") as c:
        got = ok(c.get("/api/v1/responsibility", params={"code": grid.code}))
        assert [lv["level"] for lv in got["levels"]] == ["district", "street", "community",
                                                          "grid"]
        assert [(lv["area_code"], [(p["name"], p["title"]) for p in lv["people"]])
                for lv in got["levels"]] == expected_chain(city, grid.code)
        assert got["levels"][-1]["area_name"] == grid["name"]
        assert [lv["level_name"] for lv in got["levels"]] == ["区县", "街道", "社区", "网格"]
        titles = [lv["people"][0]["title"] for lv in got["levels"]]
        assert titles == ["区级包保领导", "街道包保干部", "社区书记", "网格长"]
        people = city.responsibilities.set_index(["area_code", "name"]).phone
        assert all(p["phone"] == people[(lv["area_code"], p["name"])]
                   for lv in got["levels"] for p in lv["people"])
        point = grid.geometry.representative_point()
        at = ok(c.get("/api/v1/responsibility", params={"lon": point.x, "lat": point.y}))
        assert at["code"] == grid.code and at["levels"] == got["levels"]
        street = ok(c.get("/api/v1/responsibility", params={"code": grid.code[:9]}))
        assert street["levels"] == got["levels"][:2]


def test_phones_only_with_people_read(api, city):
    code = city.grids.code.iloc[0]
    with api.client("planner") as c:  # reads the map, calls nobody
        got = ok(c.get("/api/v1/responsibility", params={"code": code}))
    assert got["phones"] is False and all(lv["people"] for lv in got["levels"])
    assert not any("phone" in p for lv in got["levels"] for p in lv["people"])
    with api.client("grid_worker") as c:
        assert all(p["phone"] for lv in ok(c.get("/api/v1/responsibility",
                                                 params={"code": code}))["levels"]
                   for p in lv["people"])
    with api.client("department") as c:  # no map, no people
        assert c.get("/api/v1/responsibility", params={"code": code}).status_code == 403


def test_unknown_areas_and_points_outside(api, city):
    with api.client("dispatcher") as c:
        unknown = ok(c.get("/api/v1/responsibility", params={"code": "220204999001"}), 404)
        assert unknown["code"] == "unknown_area"
        outside = ok(c.get("/api/v1/responsibility", params={"lon": 120.0, "lat": 30.0}), 404)
        assert outside["code"] == "outside_city"
        both = ok(c.get("/api/v1/responsibility",
                        params={"code": "220204", "lon": 126.5, "lat": 43.8}), 422)
        assert both["code"] == "code_or_point"
        assert c.get("/api/v1/responsibility", params={"code": "2202"}).status_code == 422
