"""The demo city: deterministic, consistent hierarchy, seed counts and the seeds' stories."""

import numpy as np
import pandas as pd
import shapely

from fixtures.jilin import LAODONG_CLEARED, NIGHT_MARKET_CLOSED, generate
from geo.codes import LENGTHS
from geo.crs import to_metric


def test_same_seed_same_city(city):
    again = generate(400, 4000, seed=7)
    assert again.grids.code.tolist() == city.grids.code.tolist()
    assert again.issues.geometry.equals(city.issues.geometry)
    assert again.issues.drop(columns="geometry").equals(city.issues.drop(columns="geometry"))
    assert again.events.equals(city.events) and again.assignments.equals(city.assignments)
    other = generate(400, 4000, seed=8)
    assert not other.issues.geometry.equals(city.issues.geometry)
    assert not other.events.actor.equals(city.events.actor)


def test_grids_tile_their_communities_without_overlap(city):
    g = city.grids.to_crs(4551)
    assert g.is_valid.all() and g.code.is_unique
    union = shapely.coverage_union_all(g.geometry.to_numpy())
    assert abs(union.area - g.area.sum()) < 1e-3 * g.area.sum()  # no overlaps
    communities = city.communities.set_index("code").to_crs(4551)
    for code, part in g.groupby("community_code"):
        outline = communities.geometry[code]
        assert abs(shapely.coverage_union_all(part.geometry.to_numpy()).area - outline.area) < 1
    assert (g.code.str[:LENGTHS["community"]] == g.community_code).all()


def test_named_places_and_seed_counts(city):
    streets = set(city.streets.name)
    assert {"长春路街道", "向阳街道", "北极街道", "大东街道", "文庙街道", "山前街道"} <= streets
    assert {"天胜社区", "港湾社区", "华南社区"} <= set(city.communities.name)
    assert set(city.districts.name) == {"昌邑区", "龙潭区", "船营区", "丰满区"}
    assert len(city.cameras) == 565 and (city.cameras.kind == "high_dome").sum() == 16
    assert (city.teams.kind == "enforcement").sum() == 144
    assert set(city.teams.kind) == {"safety_livelihood", "grid_worker", "enforcement",
                                    "enterprise_service", "party_volunteer"}
    assert {"sewer", "manhole_cover", "school_gate", "market"} <= set(city.sites.kind)


def vendor_reports_near(city, place, radius_m, start=None, end=None):
    issues = city.issues
    vendors = issues[issues.category_code == "L01"]
    t = pd.to_datetime(vendors.reported_at, utc=True)
    keep = np.ones(len(vendors), bool)
    if start is not None:
        keep &= (t >= start).to_numpy()
    if end is not None:
        keep &= (t < end).to_numpy()
    vendors = vendors[keep]
    x, y = to_metric(vendors.geometry.x, vendors.geometry.y)
    px, py = to_metric(*[[v] for v in city.landmarks[place]])
    return int((np.hypot(x - px[0], y - py[0]) < radius_m).sum())


def test_vendor_stories(city):
    # The school gate is a year-round hotspot.
    assert vendor_reports_near(city, "电东胡同小学门口", 120) > 50
    # 珲春街 before the night market closed, 岭北胡同 after: the vendors moved.
    assert vendor_reports_near(city, "珲春街夜市", 150, end=NIGHT_MARKET_CLOSED) > 40
    assert vendor_reports_near(city, "珲春街夜市", 150, start=NIGHT_MARKET_CLOSED) < 5
    assert vendor_reports_near(city, "岭北胡同", 150, end=NIGHT_MARKET_CLOSED) < 5
    assert vendor_reports_near(city, "岭北胡同", 150, start=NIGHT_MARKET_CLOSED) > 40
    # 劳动路 falls quiet after the stalls were cleared.
    before = vendor_reports_near(city, "劳动路", 350, end=LAODONG_CLEARED)
    after = vendor_reports_near(city, "劳动路", 350, start=LAODONG_CLEARED)
    assert before > 4 * after
