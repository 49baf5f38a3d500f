"""Alarms from key sites and cameras, over real HTTP on both backends: only devices raise them,
within their jurisdiction; each files an issue of the kind's category at its source, and
further alarms attach to it while it is open; two alarms at once on two server processes file
one issue; retries with an Idempotency-Key are answered as the first was."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fixtures.timeline import REFERENCE_TIME
from geo.alarms.kinds import KINDS, kinds_for
from geo.cameras import visible
from geo.casework.users import add_user
from geo.crs import GEOD
from geo.store import open_store
from tests.processes import together

NOW = REFERENCE_TIME
_keys = itertools.count()


def ok(r, status=200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def staff_streets(store, city) -> set[str]:
    from fixtures.accounts import STORY_PLACES
    return {store.locate(*city.landmarks[p]).street_code for p in STORY_PLACES}


def sources(store, city, inside: bool = True):
    """Sites (by kind) and cameras inside (or outside) the demo device's streets, with the
    street each lies in."""
    streets = staff_streets(store, city)
    sites = store.read_layer("sites")
    spots = sites.geometry.representative_point()
    where = store.locate_many(spots.x, spots.y)
    sites = sites.assign(street=where.street_code.to_numpy(), lon=spots.x, lat=spots.y)
    cams = store.read_layer("cameras")
    cwhere = store.locate_many(cams.geometry.x, cams.geometry.y)
    cams = cams.assign(street=cwhere.street_code.to_numpy(), lon=cams.geometry.x,
                       lat=cams.geometry.y)
    pick = (lambda f: f[f.street.isin(streets)]) if inside else (
        lambda f: f[f.street.notna() & ~f.street.isin(streets)])
    return pick(sites), pick(cams)


def alarm(c, status=None, key=None, **body):
    body.setdefault("observed_at", (NOW - timedelta(minutes=1)).isoformat())
    headers = {"Idempotency-Key": key} if key else {}
    r = c.post("/api/v1/alarms", json=body, headers=headers)
    if status is not None:
        assert r.status_code == status, r.text
    return r


@pytest.fixture
def world(api, city):
    api.now = NOW
    sites, cams = sources(api.store, city)
    return api, sites, cams


def test_only_devices_raise_alarms_within_their_jurisdiction(world, city):
    api, sites, _cams = world
    site = sites[sites.kind == "manhole_cover"].iloc[0]
    body = {"site_id": site.id, "kind": "manhole_cover_displaced"}
    for role in ("grid_worker", "citizen", "operator"):
        r = alarm(api.client(role), **body)
        assert r.status_code == 403, (role, r.text)
        assert "alarms:raise" in r.text
    # A device of another street: refused with the place, and nothing filed.
    out_sites, _ = sources(api.store, city, inside=False)
    other = out_sites.iloc[0].street
    add_user(api.store, "dev-other", "demo", "device", [other])
    r = alarm(api.client("dev-other"), **body)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "outside_jurisdiction"
    with api.store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM alarm")["n"] == 0
    # The same device may raise for a site of its own street.
    s = out_sites.iloc[0]  # the site whose street the device was given
    got = ok(alarm(api.client("dev-other"), site_id=s.id, kind=kinds_for(s.kind)[0]), 201)
    assert got["issue"]["street_code"] == other


def test_each_kind_files_under_its_category_at_its_source(world):
    api, sites, cams = world
    device = api.client("device")
    admin = api.client("admin")
    for site_kind in ("manhole_cover", "sewer", "school_gate", "market"):
        rows = sites[sites.kind == site_kind]
        assert len(rows), f"the demo city has no {site_kind} in the device's streets"
        site = rows.iloc[0]
        for kind in kinds_for(site_kind):
            got = ok(alarm(device, site_id=site.id, kind=kind, confidence=0.9, note="探测"), 201)
            issue = got["issue"]
            assert issue["category_code"] == KINDS[kind].category_code
            assert got["alarm"]["kind"] == kind and got["alarm"]["site_id"] == site.id
            assert got["alarm"]["name"] == site["name"] and got["alarm"]["count"] == 1
            _az, _b, off = GEOD.inv(site.lon, site.lat, issue["lon"], issue["lat"])
            assert off < 0.01, (kind, off)
            trail = ok(admin.get(f"/api/v1/issues/{issue['id']}/events"))
            assert trail[0]["action"] == "report" and trail[0]["actor"] == "device"
            assert issue["reported_by"] == "device"
    cam = cams[cams.kind == "fixed"].iloc[0]
    # At the camera, or at the observed point inside its view.
    got = ok(alarm(device, camera_id=cam.id, kind="illegal_parking"), 201)["issue"]
    assert got["category_code"] == "L04"
    assert (round(got["lon"], 9), round(got["lat"], 9)) == (round(cam.lon, 9), round(cam.lat, 9))
    lon, lat, _ = GEOD.fwd(cam.lon, cam.lat, cam.heading_deg, cam.range_m * 0.5)
    assert visible([cam.lon], [cam.lat], [cam.heading_deg], [cam.fov_deg], [cam.range_m],
                   lon, lat)[0][0]
    got = ok(alarm(device, camera_id=cam.id, kind="vendor_detected", lon=lon, lat=lat), 201)
    assert got["issue"]["category_code"] == "L01"
    assert abs(got["issue"]["lon"] - lon) < 1e-9 and abs(got["issue"]["lat"] - lat) < 1e-9
    behind_lon, behind_lat, _ = GEOD.fwd(cam.lon, cam.lat, (cam.heading_deg + 180) % 360, 30)
    r = alarm(device, 422, camera_id=cam.id, kind="crowd", lon=behind_lon, lat=behind_lat)
    assert r.json()["code"] == "outside_camera_view"


def test_alarms_attach_while_the_issue_is_open_and_file_anew_after(world):
    api, sites, _ = world
    device, operator = api.client("device"), api.client("operator")
    sewer, manhole = (sites[sites.kind == k].iloc[0] for k in ("sewer", "manhole_cover"))
    first = ok(alarm(device, site_id=sewer.id, kind="sewer_overflow"), 201)
    iid = first["issue"]["id"]
    second = ok(alarm(device, site_id=sewer.id, kind="sewer_overflow"), 200)
    assert second["created"] is False and second["issue"]["id"] == iid
    assert second["alarm"]["count"] == 2 and second["alarm"]["id"] == first["alarm"]["id"]
    # Another kind of the same source is another alarm.
    other = ok(alarm(device, site_id=sewer.id, kind="sewer_blockage"), 201)
    assert other["issue"]["id"] != iid
    listed = {a["id"]: a for a in ok(operator.get("/api/v1/alarms"))["items"]}
    mine = listed[first["alarm"]["id"]]
    assert mine["count"] == 2 and mine["open"] and mine["issue_state"] == "reported"
    assert mine["issue_id"] == iid and mine["site_id"] == sewer.id and mine["camera_id"] is None
    assert set(mine) >= {"id", "kind", "kind_label", "site_id", "camera_id", "issue_id",
                         "issue_state", "raised_at", "count", "lon", "lat", "name"}
    # Accepted: no longer open (it stops flashing), but alarms still attach while it is worked.
    ok(operator.post(f"/api/v1/issues/{iid}/accept", json={}))
    assert first["alarm"]["id"] not in {a["id"] for a in ok(operator.get("/api/v1/alarms"))["items"]}
    every = {a["id"]: a for a in ok(operator.get("/api/v1/alarms?status=all"))["items"]}
    assert every[first["alarm"]["id"]]["issue_state"] == "accepted"
    assert not every[first["alarm"]["id"]]["open"]
    assert ok(alarm(device, site_id=sewer.id, kind="sewer_overflow"), 200)["issue"]["id"] == iid
    # Finished (rejected here): the next alarm files a new issue.
    m1 = ok(alarm(device, site_id=manhole.id, kind="manhole_cover_missing"), 201)
    ok(operator.post(f"/api/v1/issues/{m1['issue']['id']}/reject",
                     json={"reason": "误报：井盖完好"}))
    m2 = ok(alarm(device, site_id=manhole.id, kind="manhole_cover_missing"), 201)
    assert m2["issue"]["id"] != m1["issue"]["id"] and m2["alarm"]["count"] == 1
    rejected = {a["id"]: a for a in ok(operator.get("/api/v1/alarms?status=all"))["items"]}
    assert rejected[m1["alarm"]["id"]]["issue_state"] == "rejected"
    assert not rejected[m1["alarm"]["id"]]["active"]


def test_the_list_keeps_to_the_readers_jurisdiction(world, city):
    api, sites, _ = world
    site = sites[sites.kind == "sewer"].iloc[0]
    got = ok(alarm(api.client("device"), site_id=site.id, kind="water_level"), 201)
    out_sites, _ = sources(api.store, city, inside=False)
    add_user(api.store, "op-other", "demo", "operator", [out_sites.iloc[0].street])
    theirs = ok(api.client("op-other").get("/api/v1/alarms?status=all"))["items"]
    assert got["alarm"]["id"] not in {a["id"] for a in theirs}
    ours = ok(api.client("operator").get("/api/v1/alarms?status=all"))["items"]
    assert got["alarm"]["id"] in {a["id"] for a in ours}
    assert api.client("device").get("/api/v1/alarms").status_code == 403


def test_idempotent_retries_are_answered_as_the_first(world):
    api, sites, _ = world
    device = api.client("device")
    site = sites[sites.kind == "manhole_cover"].iloc[1]
    key = f"alarm-{next(_keys)}"
    body = {"site_id": site.id, "kind": "manhole_cover_displaced",
            "observed_at": (NOW - timedelta(seconds=30)).isoformat()}
    first = alarm(device, 201, key=key, **body)
    again = alarm(device, 201, key=key, **body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    with api.store.snapshot() as tx:
        row = tx.one("SELECT count, issue_id FROM alarm WHERE id = :a",
                     {"a": first.json()["alarm"]["id"]})
        raises = tx.one("SELECT count(*) AS n FROM alarm_raise WHERE alarm_id = :a",
                        {"a": first.json()["alarm"]["id"]})["n"]
    assert row["count"] == 1 and raises == 1
    r = alarm(device, 422, key=key, **{**body, "note": "different"})
    assert r.json()["code"] == "idempotency_key_reused"


def test_bad_alarms_are_refused_with_a_reason(world):
    api, sites, cams = world
    device = api.client("device")
    sewer = sites[sites.kind == "sewer"].iloc[0]
    cam = cams.iloc[0]
    cases = [
        ({"site_id": "SITE-9999", "kind": "sewer_overflow"}, "unknown_site", "SITE-9999"),
        ({"camera_id": "CAM-NONE", "kind": "crowd"}, "unknown_camera", "CAM-NONE"),
        ({"site_id": sewer.id, "camera_id": cam.id, "kind": "crowd"}, "alarm_source", "site_id"),
        ({"kind": "crowd"}, "alarm_source", "camera_id"),
        ({"site_id": sewer.id, "kind": "manhole_cover_missing"}, "kind_not_for_source",
         "sewer_overflow"),
        ({"camera_id": cam.id, "kind": "sewer_overflow"}, "kind_not_for_source", "crowd"),
        ({"site_id": sewer.id, "kind": "earthquake"}, "unknown_alarm_kind", "earthquake"),
        ({"site_id": sewer.id, "kind": "sewer_overflow",
          "observed_at": (NOW + timedelta(minutes=10)).isoformat()}, "observed_at_future",
         "observed_at"),
    ]
    with api.store.snapshot() as tx:
        before = tx.one("SELECT count(*) AS n FROM issue")["n"]
    for body, code, named in cases:
        r = api.client("device", headers={"Accept-Language": "en"}).post(
            "/api/v1/alarms", json={"observed_at": NOW.isoformat(), **body})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["code"] == code, (body, r.text)
        assert named in r.json()["detail"], (body, r.text)
    # A small clock skew is fine; a body of the wrong types is a 422 naming the field.
    alarm(device, 201, site_id=sewer.id, kind="sewer_overflow",
          observed_at=(NOW + timedelta(seconds=30)).isoformat())
    r = alarm(device, 422, site_id=sewer.id, kind="sewer_overflow", confidence="high")
    assert "confidence" in r.text
    with api.store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM issue")["n"] == before + 1


ROUNDS = 6


def test_two_alarms_at_once_on_two_processes_file_one_issue(two_servers, city):
    """Each round: the same source and kind raised on both processes at the same moment."""
    with open_store(two_servers.db_url) as store:
        sites, cams = sources(store, city)
    pairs = [(s.id, "sewer_overflow") for s in sites[sites.kind == "sewer"].itertuples()]
    pairs += [(s.id, "manhole_cover_displaced")
              for s in sites[sites.kind == "manhole_cover"].itertuples()]
    rng = np.random.default_rng(len(pairs))
    rounds = [pairs[k] for k in rng.choice(len(pairs), min(ROUNDS, len(pairs)), replace=False)]
    clients = [two_servers.client(i, "device") for i in range(2)]
    observed = datetime.now(UTC).isoformat()
    try:
        for site_id, kind in rounds:
            body = {"site_id": site_id, "kind": kind, "observed_at": observed}
            a, b = together(*(lambda c=c, body=body: c.post("/api/v1/alarms", json=body)
                              for c in clients))
            assert sorted((a.status_code, b.status_code)) == [200, 201], (a.text, b.text)
            assert a.json()["issue"]["id"] == b.json()["issue"]["id"]
            with open_store(two_servers.db_url) as store, store.snapshot() as tx:
                rows = tx.rows("SELECT id, issue_id, count FROM alarm WHERE site_id = :s AND "
                               "kind = :k", {"s": site_id, "k": kind})
                issue = rows[0]["issue_id"]
                raises = tx.one("SELECT count(*) AS n FROM alarm_raise WHERE alarm_id = :a",
                                {"a": rows[0]["id"]})["n"]
                reports = tx.one("SELECT count(*) AS n FROM issue_event WHERE issue_id = :i "
                                 "AND action = 'report'", {"i": issue})["n"]
            assert len(rows) == 1 and rows[0]["count"] == 2 and raises == 2 and reports == 1
    finally:
        for c in clients:
            c.close()


def test_a_claim_left_by_a_dead_filer_is_taken_over_or_linked(world):
    """A process killed between claiming a source and linking its issue: a claim without an
    issue blocks the source only until it is stale; one whose issue was filed is linked."""
    from geo.alarms.raising import CLAIM_STALE, FILER

    api, sites, _ = world
    device = api.client("device")
    s1, s2 = sites[sites.kind == "sewer"].iloc[1], sites[sites.kind == "sewer"].iloc[2]
    with api.store.tx() as tx:
        tx.run("INSERT INTO alarm (site_id, kind, category_code, raised_by, raised_at, "
               "last_raised_at, observed_at, last_observed_at) VALUES (:s, 'sewer_overflow', "
               "'L02', 'device', :t, :t, :t, :t)", {"s": s1.id, "t": NOW - 2 * CLAIM_STALE})
    got = ok(alarm(device, site_id=s1.id, kind="sewer_overflow"), 201)
    assert got["alarm"]["site_id"] == s1.id and got["issue"]["category_code"] == "L02"
    # Filed but not linked: the next alarm links the issue and counts.
    first = ok(alarm(device, site_id=s2.id, kind="sewer_overflow"), 201)
    with api.store.tx() as tx:
        tx.run("UPDATE alarm SET issue_id = NULL WHERE id = :a", {"a": first["alarm"]["id"]})
    with api.store.snapshot() as tx:
        assert tx.one("SELECT 1 AS x FROM idempotency WHERE username = :u AND key = :k",
                      {"u": FILER, "k": str(first["alarm"]["id"])})
    again = ok(alarm(device, site_id=s2.id, kind="sewer_overflow"), 200)
    assert again["issue"]["id"] == first["issue"]["id"] and again["alarm"]["count"] == 2


def test_alarm_issues_come_by_the_device_channel_in_the_citys_language(world):
    """An alarm's issue is the device's (channel 'device', not an operator's report), and its
    text is the command centre's language whatever the device asks in."""
    api, sites, cams = world
    device = api.client("device", lang="en")
    admin = api.client("admin")
    site = sites[sites.kind == "sewer"].iloc[0]
    got = ok(alarm(device, site_id=site.id, kind="sewer_overflow", confidence=0.87,
                   note="液位持续上升"), 201)
    issue = ok(admin.get(f"/api/v1/issues/{got['issue']['id']}"))
    assert issue["channel"] == "device"
    assert issue["description"] == (f"告警：{site['name']}（{site.id}）下水道冒溢，置信度 87%，"
                                    "上报设备 device。备注：液位持续上升")
    assert got["alarm"]["kind_label"] == "sewer overflow"  # the answer is in the device's language
    cam = cams.iloc[0]
    got = ok(alarm(device, camera_id=cam.id, kind="crowd"), 201)
    issue = ok(admin.get(f"/api/v1/issues/{got['issue']['id']}"))
    assert issue["channel"] == "device"
    assert issue["description"] == f"告警：摄像头 {cam.id} 发现人员聚集，上报设备 device"
    # A person's report keeps its own channel.
    lon, lat = site.lon + 0.0005, site.lat
    mine = ok(api.client("operator").post("/api/v1/issues", json={
        "category_code": "L02", "description": "人工上报", "lon": lon, "lat": lat}), 201)
    assert ok(admin.get(f"/api/v1/issues/{mine['issue']['id']}"))["channel"] == "operator"


def test_a_kind_the_source_cannot_raise_is_refused_with_the_source_named(world):
    api, sites, _ = world
    sewer = sites[sites.kind == "sewer"].iloc[0]
    body = {"site_id": sewer.id, "kind": "fall", "observed_at": NOW.isoformat()}
    zh = alarm(api.client("device"), 422, **body).json()
    assert zh["code"] == "kind_not_for_source" and "下水道" in zh["detail"], zh
    en = alarm(api.client("device", lang="en"), 422, **body).json()
    assert en["detail"].startswith("a sewer cannot raise fall"), en


def test_an_unlinked_claim_whose_issue_has_finished_files_a_new_issue(world):
    """The claim's issue was filed but not linked, and finished before the next alarm: that
    alarm must not attach to the finished issue."""
    api, sites, _ = world
    device, operator = api.client("device"), api.client("operator")
    site = sites[sites.kind == "manhole_cover"].iloc[2]
    first = ok(alarm(device, site_id=site.id, kind="manhole_cover_missing"), 201)
    with api.store.tx() as tx:
        tx.run("UPDATE alarm SET issue_id = NULL WHERE id = :a", {"a": first["alarm"]["id"]})
    ok(operator.post(f"/api/v1/issues/{first['issue']['id']}/reject", json={"reason": "误报"}))
    again = ok(alarm(device, site_id=site.id, kind="manhole_cover_missing"), 201)
    assert again["issue"]["id"] != first["issue"]["id"] and again["alarm"]["count"] == 1
    assert again["issue"]["state"] == "reported"
    with api.store.snapshot() as tx:
        old = tx.one("SELECT issue_id, active, count FROM alarm WHERE id = :a",
                     {"a": first["alarm"]["id"]})
    assert old["issue_id"] == first["issue"]["id"] and not old["active"] and old["count"] == 1


def test_a_chattering_source_is_throttled_and_its_raises_are_capped(world):
    from geo.alarms.raising import KEEP_RAISES
    from geo.alarms.throttle import DEFAULT_LIMITS

    api, sites, _ = world
    device = api.client("device", lang="en")
    site, other = sites[sites.kind == "sewer"].iloc[3], sites[sites.kind == "sewer"].iloc[4]
    first = ok(alarm(device, site_id=site.id, kind="water_level"), 201)
    for _n in range(DEFAULT_LIMITS.per_source - 1):
        ok(alarm(device, site_id=site.id, kind="water_level"), 200)
    r = alarm(device, 429, site_id=site.id, kind="water_level")
    assert r.json()["code"] == "too_many_alarms"
    assert site.id in r.json()["detail"] and "send again in" in r.json()["detail"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    zh = alarm(api.client("device"), 429, site_id=site.id, kind="water_level").json()
    assert "秒后重新发送" in zh["detail"]
    with api.store.snapshot() as tx:
        row = tx.one("SELECT count FROM alarm WHERE id = :a", {"a": first["alarm"]["id"]})
    assert row["count"] == DEFAULT_LIMITS.per_source  # the refused ones counted nothing
    # Another source of the same device is not held back; the window's end lets it in again.
    ok(alarm(device, site_id=other.id, kind="water_level"), 201)
    api.now = NOW + DEFAULT_LIMITS.window + timedelta(seconds=1)
    ok(alarm(device, site_id=site.id, kind="water_level"), 200)
    # Past KEEP_RAISES raises, the alarm counts on but keeps no more rows.
    with api.store.tx() as tx:
        tx.run("UPDATE alarm SET count = :n WHERE id = :a",
               {"n": KEEP_RAISES, "a": first["alarm"]["id"]})
        before = tx.one("SELECT count(*) AS n FROM alarm_raise WHERE alarm_id = :a",
                        {"a": first["alarm"]["id"]})["n"]
    got = ok(alarm(device, site_id=site.id, kind="water_level"), 200)
    assert got["alarm"]["count"] == KEEP_RAISES + 1
    with api.store.snapshot() as tx:
        assert tx.one("SELECT count(*) AS n FROM alarm_raise WHERE alarm_id = :a",
                      {"a": first["alarm"]["id"]})["n"] == before


def test_the_list_says_how_many_it_returned(world):
    api, sites, _ = world
    device = api.client("device")
    for site in sites[sites.kind == "manhole_cover"].iloc[3:6].itertuples():
        ok(alarm(device, site_id=site.id, kind="manhole_cover_displaced"), 201)
    body = ok(api.client("operator").get("/api/v1/alarms?limit=2"))
    assert body["returned"] == len(body["items"]) == 2 and "total" not in body


def _apply_sqlite(conn, upto: str) -> None:
    """Apply the SQLite migrations up to and including `upto`, as SqliteStore.migrate does."""
    from geo.store.base import migrations

    conn.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, "
                 "applied_at TEXT NOT NULL)")
    for version, sql in migrations("sqlite"):
        conn.executescript(f"BEGIN;\n{sql}\nINSERT INTO schema_migrations VALUES "
                           f"('{version}', '2026-01-01T00:00:00+00:00');\nCOMMIT;")
        if version == upto:
            return


def test_a_populated_sqlite_database_keeps_everything_through_011(tmp_path):
    """011 rebuilds app_user (for the role 'device') and issue (for the channel 'device'); the
    rows that hang off them, their indexes and triggers, must all come through."""
    import sqlite3

    from geo.store.base import upsert_categories

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    store = open_store(url)
    conn = store._conn
    _apply_sqlite(conn, "010_workload")
    with store.tx() as tx:
        upsert_categories(tx)
    t = "2026-01-01T08:00:00+00:00"
    due = "2026-01-02T08:00:00+00:00"
    conn.executescript(f"""
    BEGIN;
    INSERT INTO team (id, name, kind, home_lon, home_lat, status, categories, jurisdiction, roster)
        SELECT 'T1', '城管一队', 'enforcement', 126.55, 43.84, 'available', '["L01"]', '[]', 'A';
    INSERT INTO app_user VALUES ('op1', 'h1', 'operator', '["220102001"]', NULL, '值班员', 1, '{t}'),
                                ('tm1', 'h2', 'team', '[]', 'T1', '', 1, '{t}'),
                                ('gone', 'h3', 'citizen', '[]', NULL, '', 0, '{t}');
    INSERT INTO api_key VALUES ('k1', 'op1', 'open311', '{t}'), ('k2', 'tm1', 'app', '{t}');
    INSERT INTO auth_session VALUES ('{'a' * 16}', 'op1', NULL, '{t}', '{due}'),
        ('{'b' * 16}', 'op1', '{'a' * 16}', '{t}', '{due}'),
        ('{'c' * 16}', 'op1', '{'b' * 16}', '{t}', '{due}'),
        ('{'d' * 16}', 'tm1', NULL, '{t}', '{due}');
    INSERT INTO issue (id, category_code, description, lon, lat, source_crs, reported_at, state,
                       state_since, due_at, updated_at, closed_at, channel, reported_by,
                       duplicate_of, open311_token)
        VALUES (1, 'L01', '占道经营', 126.55, 43.84, 'wgs84', '{t}', 'dispatched', '{t}', '{due}',
                '{t}', NULL, 'grid_worker', 'op1', NULL, 'tok1'),
               (2, 'L01', '同一摊贩', 126.55, 43.84, 'wgs84', '{t}', 'merged', '{t}', NULL, '{t}',
                '{t}', 'open311', NULL, 1, NULL);
    INSERT INTO issue_event (issue_id, at, actor, action, from_state, to_state, reason, details)
        VALUES (1, '{t}', 'op1', 'report', NULL, 'reported', '', '{{}}'),
               (1, '{t}', 'op1', 'dispatch', 'accepted', 'dispatched', '', '{{}}'),
               (2, '{t}', 'op1', 'merge', 'reported', 'merged', '重复', '{{}}');
    INSERT INTO assignment (issue_id, team_id, lead, assigned_at, assigned_by, active)
        VALUES (1, 'T1', 1, '{t}', 'op1', 1);
    INSERT INTO photo (issue_id, content_type, data, sha256, uploaded_by, uploaded_at)
        VALUES (1, 'image/jpeg', x'ffd8ff', 'abc', 'op1', '{t}');
    COMMIT;""")
    tables = ("app_user", "api_key", "auth_session", "issue", "issue_event", "assignment",
              "photo", "team")

    # The columns held before: later migrations add columns (013 the account's company and
    # department, 014 the issue's compound and building), which must leave these as they were.
    columns = {name: [r[1] for r in conn.execute(f"PRAGMA table_info({name})")] for name in tables}

    def contents():
        return {name: conn.execute(f"SELECT {', '.join(columns[name])} FROM {name} "
                                   "ORDER BY 1").fetchall() for name in tables}

    def schema(table):
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? "
                                   "AND type IN ('index', 'trigger')", (table,)).fetchall(),
                      key=lambda r: r[1])

    before = contents()
    before_schema = {t: schema(t) for t in ("issue", "app_user", "auth_session", "issue_event")}
    assert store.migrate() == ["011_alarms", "012_water", "013_accounts", "014_compounds",
                               "015_property", "016_mediation", "017_escalation",
                               "018_whistle", "019_grid_plan", "020_revisions"]
    assert contents() == before
    # Every index and trigger is still there as it was, but the session trigger that 013 widens
    # to the account's company and department.
    kept = {t: {r[1] for r in rows} - {"app_user_ends_sessions"} for t, rows in before_schema.items()}
    after_schema = {t: [r for r in schema(t) if r[1] in kept[t]] for t in before_schema}
    assert after_schema == {t: [r for r in rows if r[1] in kept[t]]
                            for t, rows in before_schema.items()}
    assert any(r[1] == "app_user_ends_sessions" for r in schema("app_user"))
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The CHECKs: the new role and channel are allowed, others still refused.
    conn.execute("INSERT INTO app_user (username, password_hash, role, jurisdiction, team_id, "
                 "display_name, active, created_at) VALUES ('dev1', 'h', 'device', '[]', NULL, "
                 "'', 1, ?)", (t,))
    conn.execute("UPDATE issue SET channel = 'device' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE issue SET channel = 'fax' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE app_user SET role = 'king' WHERE username = 'op1'")
    # The foreign keys point at the rebuilt tables: cascades and the self-reference hold.
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE issue SET duplicate_of = 99 WHERE id = 2")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO api_key VALUES ('k9', 'nobody', '', ?)", (t,))
    # The trigger that ends sessions still fires, through the parent chain.
    conn.execute("UPDATE app_user SET role = 'supervisor' WHERE username = 'op1'")
    assert conn.execute("SELECT jti FROM auth_session").fetchall() == [("d" * 16,)]
    conn.execute("DELETE FROM issue WHERE id = 2")
    conn.execute("DELETE FROM issue WHERE id = 1")
    for child in ("issue_event", "assignment", "photo"):
        assert conn.execute(f"SELECT count(*) FROM {child}").fetchone()[0] == 0, child
    conn.execute("DELETE FROM app_user WHERE username = 'tm1'")
    assert conn.execute("SELECT count(*) FROM api_key WHERE username = 'tm1'").fetchone()[0] == 0
    store.close()


def test_the_postgis_channel_check_takes_device(pg_store):
    with pg_store.snapshot() as tx:
        check = tx.one("SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint "
                       "WHERE conname = 'issue_channel_check'")["d"]
    assert "'device'" in check and "'operator'" in check
