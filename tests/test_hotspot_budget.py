"""The cost model of the hotspot analyses (`geo.hotspots.budget`) on the test city, on both
backends: reports are counted as they will be read, the estimates hold for what the
analyses build, and the advice of every refusal, once followed, is accepted."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely

from fixtures.jilin import REFERENCE_TIME
from geo.casework.scope import Actor
from geo.crs import geoms_to_metric
from geo.hotspots import budget
from geo.hotspots.analysis import Params
from geo.hotspots.bins import auto_resolution, expected_cells
from geo.hotspots.clusters import part_gap as cluster_gap
from geo.hotspots.density import frame, kde, part_lattices, surfaces
from geo.hotspots.emerging import slice_edges
from geo.hotspots.parts import split
from geo.hotspots.reports import HotspotQuery, count_reports, epoch, load_reports
from geo.hotspots.study import open_study
from geo.i18n import using

ADMIN = Actor("admin", "admin")
OPERATOR = Actor("operator", "operator", ("220204001", "220204002"))
THREE_YEARS = datetime(2023, 11, 25, tzinfo=UTC)

@pytest.fixture(autouse=True)
def english():
    """The core's messages as their English ids: outside a request the language is Chinese
    (tests/test_i18n_*.py test the choosing and the translations)."""
    with using("en"):
        yield


def _query(since=None, categories=()):
    return HotspotQuery.build(REFERENCE_TIME, since, None, categories)


def test_reports_are_counted_as_they_are_read(store):
    for actor, q in ((ADMIN, _query()), (OPERATOR, _query(categories=("L01",))),
                     (ADMIN, _query(datetime(2026, 11, 1, tzinfo=UTC)))):
        n = count_reports(store, actor, q)
        assert n > 0 and n == len(load_reports(store, actor, q)), (actor.role, q)


def test_estimates_hold_for_what_the_analyses_build(store, monkeypatch):
    study = open_study(store, ADMIN, _query())
    for res in (7, 8, 9):
        built = len(study.bins("h3", res))
        assert abs(expected_cells(study.outline, res) - built) <= 0.05 * built + 2, res
    # ~20 reports a cell, unless the city holds more cells of that resolution than allowed
    assert study.resolution() == auto_resolution(study.outline, len(study.reports)) == 7
    monkeypatch.setattr(budget, "LIMITS", budget.Limits(bins=100))
    assert expected_cells(study.outline, 7) > 100 and study.resolution() == 6
    r = study.reports
    built = part_lattices(r.x, r.y, 60.0, 20.0)
    assert len(built.frames) >= 2  # the urban districts, 舒兰市, and reports far off either
    extents = budget.heat_extents(study, 60.0)
    assert built.cells <= budget.heat_lattice(extents, 60.0)
    # The estimate prices land: near the lattice where reports cover it (the urban districts;
    # 舒兰市 holds only its story's report).
    urban = max(rows * cols for _x, _y, rows, cols, _c in built.frames)
    assert budget.heat_lattice([max(extents, key=_area)], 60.0) <= 1.05 * urban
    cell = 50.0 * 0.25  # clusters' snapping lattice at eps 50 m
    cx, cy = np.floor(r.x / cell), np.floor(r.y / cell)
    part = split(cx, cy, cluster_gap(50.0) / cell)  # clusters._may_cluster's parts
    spans = [(np.ptp(cx[part == k]) + 9) * (np.ptp(cy[part == k]) + 9)
             for k in range(part.max() + 1)]
    extents = budget.cluster_extents(study, 50.0)
    assert sum(spans) <= budget.cluster_lattice(extents, 50.0)
    assert budget.cluster_lattice([max(extents, key=_area)], 50.0) <= 1.05 * max(spans)


def _area(extent: tuple[float, float]) -> float:
    return extent[0] * extent[1]


def test_a_detached_part_costs_its_own_land_not_the_land_between(store):
    """舒兰市 lies 70 km from the urban districts: priced and built on a lattice of its own,
    the whole city costs about what its parts cost alone, not its bounding box's worth."""
    study = open_study(store, ADMIN, _query())
    whole = budget.heat_extents(study, 60.0)
    assert len(whole) == 2
    box = shapely.bounds(geoms_to_metric(np.array([study.outline], dtype=object)))[0]
    one_lattice = np.ceil((box[2] - box[0] + 360) / 20) * np.ceil((box[3] - box[1] + 360) / 20)
    assert budget.heat_lattice(whole, 60.0) < 0.2 * one_lattice
    r = study.reports
    far = r.y > r.y.min() + 40_000  # 舒兰's reports, 60 km north
    assert 0 < far.sum() < len(r.x)
    built = part_lattices(r.x, r.y, 60.0, 20.0)
    assert not set(built.part[far]) & set(built.part[~far])
    # Each part's surface is the part's density alone: the other is too far to add to it.
    s = surfaces(r.x, r.y, 60.0, 20.0)
    lattice = frame(r.x[far], r.y[far], 60.0, 20.0)
    alone = kde(r.x[far], r.y[far], 60.0, lattice=lattice)
    px, py = alone.centres()
    assert np.allclose(s.at(px, py), alone.at(px, py))
    assert s.max() == pytest.approx(max(alone.values.max(),
                                        kde(r.x[~far], r.y[~far], 60.0, 20.0).values.max()))


def _follow(advice: str, q: HotspotQuery, p: Params, res: int | None):
    """The settings after one piece of a refusal's advice."""
    if m := re.fullmatch(r"since (\d{4}-\d\d-\d\d) or later", advice):
        return replace(q, since=datetime.fromisoformat(m[1]).replace(tzinfo=UTC)), p, res
    if m := re.fullmatch(r"(?:bins h3 with )?h3_resolution (\d+)", advice):
        return q, replace(p, bins="h3"), int(m[1])
    if m := re.fullmatch(r"eps_m (\d+) or more", advice):
        return q, replace(p, eps_m=float(m[1])), res
    if advice == "slice month":
        return q, replace(p, slice="month"), res
    if m := re.fullmatch(r"radius_m (\d+) or less", advice):
        return q, replace(p, repeat_radius_m=float(m[1])), res
    if m := re.fullmatch(r"days (\d+) or less", advice):
        return q, replace(p, repeat_days=float(m[1])), res
    raise AssertionError(f"unexpected advice {advice!r}")


COSTLY = [  # analysis, window start, settings, H3 resolution
    ("gistar", None, Params(bins="h3"), 11),
    ("emerging", THREE_YEARS, Params(bins="h3", slice="week"), 10),
    ("displacement", THREE_YEARS, Params(slice="week"), None),
    ("map", THREE_YEARS, Params(slice="week"), None),
    ("map", THREE_YEARS, Params(slice="week", bins="h3"), None),
]


def test_the_advice_of_every_refusal_is_accepted(store):
    followed = 0
    for analysis, since, p, res in COSTLY:
        q = _query(since)
        with pytest.raises(budget.TooCostly) as refusal:
            budget.afford(open_study(store, ADMIN, q), analysis, p, res)
        advice = str(refusal.value).split("; choose ", 1)[1]
        for option in re.split(r", or |, | or (?=a smaller)", advice):
            if option == "a smaller area":
                continue
            q2, p2, res2 = _follow(option, q, p, res)
            budget.afford(open_study(store, ADMIN, q2), analysis, p2, res2)  # no refusal
            followed += 1
    assert followed >= 2 * len(COSTLY)


def test_the_benchmark_year_fits():
    """bench/bench_hotspots.py's whole map: a million reports over 5,000 grids, a year of
    monthly slices on grid bins, priced on its city's extent (27.7 km × 22.6 km)."""
    extent, p, months = [(27_665.0, 22_590.0)], Params(), 11
    budget.check_reports(1_000_000, REFERENCE_TIME.replace(year=2025), REFERENCE_TIME, "the city")
    assert len(slice_edges(epoch(REFERENCE_TIME.replace(year=2025)), epoch(REFERENCE_TIME),
                           "month")) - 1 == months
    assert 5_000 <= budget.LIMITS.bins and 5_000 * months <= budget.LIMITS.cube_cells
    assert months * budget.heat_lattice(extent, p.bandwidth_m) <= budget.LIMITS.heat_cells
    assert (months + 1) * budget.cluster_lattice(extent, p.eps_m) <= budget.LIMITS.cluster_cells


def _compared(r, radius_m: float, days: float) -> int:
    """What the repeat search compares, pair by pair: each report against the closures in the
    nine buckets around its own, in the `days` before it."""
    closed = np.flatnonzero(~np.isnan(r.closed))
    bx, by = np.floor(r.x / radius_m), np.floor(r.y / radius_m)
    total = 0
    for start in range(0, len(r), 500):
        s = slice(start, start + 500)
        near = (np.abs(bx[s, None] - bx[closed]) <= 1) & (np.abs(by[s, None] - by[closed]) <= 1)
        since = r.reported[s, None] - r.closed[closed]
        total += int((near & (since > 0) & (since < days * 86400)).sum())
    return total


def test_the_repeat_search_is_priced_as_it_compares(store):
    reports = open_study(store, ADMIN, _query()).reports
    for radius, days in ((10, 30), (30, 30), (300, 100), (1000, 365)):
        compared = _compared(reports, radius, days)
        assert compared > 100
        assert abs(budget.repeat_checks(reports, radius, days) - compared) <= 0.15 * compared


def test_a_costly_repeat_search_is_refused_with_advice_that_fits(store, monkeypatch):
    q, p = _query(), Params(repeat_radius_m=1000, repeat_days=365)
    study = open_study(store, ADMIN, q)
    checks = budget.repeat_checks(study.reports, 1000, 365)
    monkeypatch.setattr(budget, "LIMITS", budget.Limits(repeat_checks=int(checks / 20)))
    with pytest.raises(budget.TooCostly) as refusal:
        budget.afford(study, "repeats", p)
    message = str(refusal.value)
    assert message.startswith(f"repeat spots within radius_m 1000 and days 365 make about "
                              f"{checks:,.0f} comparisons in the whole city")
    advice = message.split("; choose ", 1)[1]
    options = [o for o in re.split(r", or |, ", advice) if o not in ("fewer categories",
                                                                      "a smaller area")]
    assert [o.split()[0] for o in options] == ["radius_m", "days"]
    for option in options:
        _, p2, _ = _follow(option, q, p, None)
        budget.afford(study, "repeats", p2)  # no refusal
        assert budget.repeat_checks(study.reports, p2.repeat_radius_m, p2.repeat_days) \
            > budget.LIMITS.repeat_checks / 4  # not needlessly small
    with pytest.raises(budget.TooCostly) as map_refusal:  # the map's settings are fixed
        budget.afford(study, "map", replace(p, slice="month"))
    assert "choose fewer categories or a smaller area" in str(map_refusal.value)


def test_the_benchmark_repeat_search_fits(store):
    """The demo city's repeat search grows with the square of its reports (the same places,
    denser): scaled from the test city to the bench's 1,000,000 reports, the defaults fit
    with room to spare, and the widest settings do not."""
    reports = open_study(store, ADMIN, _query()).reports
    scale = (1_000_000 / len(reports)) ** 2
    defaults = Params()
    assert budget.repeat_checks(reports, defaults.repeat_radius_m, defaults.repeat_days) * scale \
        <= budget.LIMITS.repeat_checks / 10
    assert budget.repeat_checks(reports, 1000, 365) * scale > budget.LIMITS.repeat_checks
