"""The demo city: deterministic, consistent hierarchy, seed counts and the seeds' stories;
its history ends at the moment it is built, with lights, positions and today's figures as a
command centre sees them that day."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely

from fixtures import shulan
from fixtures.jilin import LAODONG_CLEARED, NIGHT_MARKET_CLOSED, REFERENCE_TIME, generate
from geo.casework.dispatch import STALE_AFTER
from geo.codes import LENGTHS
from geo.crs import to_metric
from geo.workflow import OPEN_STATES, due_at, light


def test_same_seed_same_city(city):
    again = generate(400, 4000, seed=7, now=REFERENCE_TIME)
    assert again.grids.code.tolist() == city.grids.code.tolist()
    assert again.issues.geometry.equals(city.issues.geometry)
    assert again.issues.drop(columns="geometry").equals(city.issues.drop(columns="geometry"))
    assert again.events.equals(city.events) and again.assignments.equals(city.assignments)
    other = generate(400, 4000, seed=8, now=REFERENCE_TIME)
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
    # 天胜社区 lies in 文庙街道, 昌邑区 (seed 000), not in 北极街道.
    tiansheng = city.communities.set_index("name").code["天胜社区"]
    street_of = city.streets.set_index("code").name
    district_of = city.districts.set_index("code").name
    assert street_of[tiansheng[:9]] == "文庙街道" and district_of[tiansheng[:6]] == "昌邑区"
    assert set(city.districts.name) == {"昌邑区", "龙潭区", "船营区", "丰满区", "舒兰市"}
    assert len(city.cameras) == 565 and (city.cameras.kind == "high_dome").sum() == 16
    urban = ~city.teams.jurisdiction.map(lambda j: shulan.is_part(j).any())
    assert (city.teams.kind[urban] == "enforcement").sum() == 144  # and two a street in 舒兰
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


# A build time that is neither the reference nor a UTC midnight: 10:30 in Jilin.
BUILT = datetime(2027, 3, 15, 2, 30, 17, tzinfo=UTC)


@pytest.fixture(scope="module")
def built():
    """The test city as built at BUILT (microseconds dropped: the history counts seconds)."""
    return generate(400, 4000, seed=7, now=BUILT.replace(microsecond=123456))


def open_lights(city) -> Counter:
    now = city.dates.now
    issues = city.issues[city.issues.state.isin(OPEN_STATES)]
    return Counter(light(r.state, r.state_since, due_at(r.category_code, r.state, r.state_since),
                         now) for r in issues.itertuples())


def test_the_history_ends_when_the_city_is_built(built):
    now = built.dates.now
    assert now == BUILT
    moments = {"reported": pd.to_datetime(built.issues.reported_at, utc=True),
               "state_since": pd.to_datetime(built.issues.state_since, utc=True),
               "events": built.events["at"], "assignments": built.assignments.assigned_at,
               "positions": pd.to_datetime(built.teams.position_at.dropna(), utc=True)}
    for name, times in moments.items():
        assert (times <= now).all(), name  # nothing in the future
    # The year before: reports from its first days to its last hour.
    reported = moments["reported"]
    assert reported.min() < pd.Timestamp(now - timedelta(days=360))
    assert reported.max() > pd.Timestamp(now - timedelta(hours=1))
    assert (pd.to_datetime(built.grids.valid_from, utc=True) <= reported.min()).all()


def test_at_build_time_lights_are_mostly_green(built, city):
    # Built on any day, the city shows the same picture at its "now": the history moves with it.
    for each in (built, city):
        lights = open_lights(each)
        total = sum(lights.values())
        assert total > 20 and set(lights) == {"green", "yellow", "red"}, lights
        assert lights["green"] > 0.7 * total and lights["red"] < 0.2 * total, lights


def test_team_positions_were_reported_minutes_ago(built):
    teams = built.teams
    age = built.dates.now - pd.to_datetime(teams.position_at, utc=True)
    on_duty = (teams.status != "off_duty").to_numpy() & teams.position_at.notna().to_numpy()
    assert on_duty.sum() > 0.6 * len(teams)
    # Not stale (geo.casework.dispatch.STALE_AFTER) for the dispatcher on duty.
    assert (age[on_duty] <= STALE_AFTER).all() and (age[on_duty] > timedelta(0)).all()
    off = (teams.status == "off_duty").to_numpy() & teams.position_at.notna().to_numpy()
    assert off.any() and (age[off] > timedelta(hours=1)).all()


def test_today_has_reports_and_steps_of_every_kind(built):
    midnight = pd.Timestamp(built.dates.now).tz_convert("Asia/Shanghai").normalize()
    today = Counter(built.events.action[built.events["at"] >= midnight])
    for action in ("report", "accept", "dispatch", "claim", "resolve", "check"):
        assert today[action] > 0, (action, today)
    assert today["rate"] + today["close"] > 0


def test_vendors_come_in_the_afternoon_and_evening_whatever_the_build_hour(built):
    vendors = built.issues[built.issues.category_code == "L01"]
    x, y = to_metric(vendors.geometry.x, vendors.geometry.y)
    px, py = to_metric(*[[v] for v in built.landmarks["电东胡同小学门口"]])
    at_school = vendors[np.hypot(x - px[0], y - py[0]) < 100]
    hours = pd.to_datetime(at_school.reported_at, utc=True).dt.tz_convert("Asia/Shanghai").dt.hour
    assert len(hours) > 50 and hours.between(15, 20).mean() > 0.9


def test_same_seed_and_now_same_city_a_week_later_the_same_story_shifted(built):
    again = generate(400, 4000, seed=7, now=BUILT)
    assert again.issues.drop(columns="geometry").equals(built.issues.drop(columns="geometry"))
    assert again.events.equals(built.events) and again.teams.equals(built.teams)
    week = timedelta(days=7)
    later = generate(400, 4000, seed=7, now=BUILT + week)
    assert later.dates.night_market_closed == built.dates.night_market_closed + week
    shifted = pd.to_datetime(built.issues.reported_at, utc=True) + week
    assert (pd.to_datetime(later.issues.reported_at, utc=True) == shifted).all()
    assert later.issues.state.equals(built.issues.state)


def test_by_default_the_city_is_built_now():
    before = datetime.now(UTC).replace(microsecond=0)
    city = generate(400, 0, seed=7)
    assert before <= city.dates.now <= datetime.now(UTC)
    with pytest.raises(ValueError, match="time zone"):
        generate(400, 0, seed=7, now=datetime(2027, 3, 15, 10, 30))
