"""Locate, team ranking and camera checks answered in process in front of PostGIS
(geo.store.kept): the same answers as PostGIS's own SQL, and kept coherent through the
revision counters, across stores and across server processes."""

from __future__ import annotations

import threading
import time

import numpy as np
import psycopg
import pytest

from geo.model import TeamFilter
from geo.store import open_store
from geo.store.pgspatial import PostgisSqlStore
from tests.plans import publish_a_split


def _points(city, n: int, seed: int = 7):
    """Points a few hundred metres from the grids' centres: most inside one, some on the
    far side of an edge or outside the city."""
    rng = np.random.default_rng(seed)
    centres = city.grids.geometry.representative_point().iloc[rng.integers(0, len(city.grids), n)]
    return (centres.x.to_numpy() + rng.normal(0, 0.004, n),
            centres.y.to_numpy() + rng.normal(0, 0.003, n))


def _revisions(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT layer, n FROM revision").fetchall())


def test_in_process_answers_equal_postgis_sql(pg_url, city):
    kept, sql = open_store(pg_url), PostgisSqlStore(pg_url).open()
    try:
        lon, lat = _points(city, 3000)
        a, b = kept.locate_many(lon, lat), sql.locate_many(lon, lat)
        assert 1000 < a.grid_code.notna().sum() < len(a)
        assert a.equals(b)
        for f in (TeamFilter(), TeamFilter(kind="enforcement"),
                  TeamFilter(statuses=("available",), category="L01")):
            a = kept.nearest_teams_many(lon[:500], lat[:500], k=3, team_filter=f)
            b = sql.nearest_teams_many(lon[:500], lat[:500], k=3, team_filter=f)
            assert len(a) > 0
            assert list(a.team_id) == list(b.team_id) and list(a.point) == list(b.point)
            assert np.allclose(a.distance_m, b.distance_m, atol=1e-3)
        for x, y in zip(lon[:60], lat[:60], strict=True):
            assert kept.locate(x, y) == sql.locate(x, y)
            assert kept.locate_below(x, y) == sql.locate_below(x, y)
            mine = kept.nearest_teams(x, y, k=3)
            theirs = sql.nearest_teams(x, y, k=3)
            assert [m.team_id for m in mine] == [m.team_id for m in theirs]
        cams = city.cameras.geometry
        seen = 0
        for p in cams.iloc[:40]:
            # A step off each camera: inside its range, in front of it or not.
            mine = kept.cameras_seeing(p.x + 2e-4, p.y + 1e-4, include_offline=True)
            theirs = sql.cameras_seeing(p.x + 2e-4, p.y + 1e-4, include_offline=True)
            assert [v.camera_id for v in mine] == [v.camera_id for v in theirs]
            assert np.allclose([v.distance_m for v in mine], [v.distance_m for v in theirs],
                               atol=1e-3)
            seen += len(mine)
        assert seen > 0
    finally:
        kept.close()
        sql.close()


def test_a_change_moves_the_revision_once_per_transaction_at_commit(pg_url):
    store = open_store(pg_url)
    try:
        before = _revisions(pg_url)
        with store.tx() as tx:
            tx.run("UPDATE team SET status = 'busy' WHERE id IN "
                   "(SELECT id FROM team ORDER BY id LIMIT 3)")
            tx.run("UPDATE team SET status = 'available' WHERE id IN "
                   "(SELECT id FROM team ORDER BY id LIMIT 2)")
            # Not yet: the counter moves at commit, with the rows.
            assert tx.one("SELECT n FROM revision WHERE layer = 'team'")["n"] == before["team"]
        after = _revisions(pg_url)
        assert after["team"] == before["team"] + 1
        assert {k: v for k, v in after.items() if k != "team"} == \
            {k: v for k, v in before.items() if k != "team"}
        with pytest.raises(RuntimeError), store.tx() as tx:
            tx.run("UPDATE grid SET households = households + 1")
            raise RuntimeError("rolled back")
        assert _revisions(pg_url) == after
    finally:
        store.close()


def test_two_transactions_moving_teams_do_not_wait_on_the_counter(pg_url):
    """Each holds its own team's row until it commits; neither waits for the other's."""
    before = _revisions(pg_url)["team"]
    with psycopg.connect(pg_url) as first, psycopg.connect(pg_url) as second:
        ids = [r[0] for r in first.execute("SELECT id FROM team ORDER BY id LIMIT 2")]
        first.execute("UPDATE team SET status = 'busy' WHERE id = %s", (ids[0],))
        second.execute("SET lock_timeout = '2s'")
        second.execute("UPDATE team SET status = 'busy' WHERE id = %s", (ids[1],))
        second.commit()  # would fail with a lock timeout if the first held the counter
        first.commit()
    assert _revisions(pg_url)["team"] == before + 2  # one for each transaction


def test_a_team_moved_through_one_store_is_ranked_there_by_the_other(pg_url, city):
    """Two stores on one database, as two server processes hold: the second ranks by its kept
    team table, and sees the move at its next ranking."""
    mover, ranker = open_store(pg_url), open_store(pg_url)
    try:
        x, y = city.landmarks["电东胡同小学门口"]
        first = ranker.nearest_teams(x, y, k=1)[0]
        far = [t for t in ranker.nearest_teams(x, y, k=20)][-1]
        assert far.team_id != first.team_id and far.distance_m > first.distance_m + 50
        with mover.tx() as tx:
            tx.run(f"UPDATE team SET {tx.dialect.set_team_position()}, position_at = now() "
                   "WHERE id = :t", {"lon": x, "lat": y, "t": far.team_id})
        now_first = ranker.nearest_teams(x, y, k=1)[0]
        assert now_first.team_id == far.team_id and now_first.distance_m < 1.0
        assert now_first.position_source == "live"
    finally:
        mover.close()
        ranker.close()


def test_concurrent_first_use_builds_one_index(pg_url, city, monkeypatch):
    """Threads asking at once for a structure not yet kept get the same one, built once."""
    import geo.store.kept as kept

    store = open_store(pg_url)
    built = []

    class Counting(kept.GridIndex):
        def __init__(self, *args):
            built.append(len(args[0]))
            time.sleep(0.2)  # long enough for the others to arrive while it builds
            super().__init__(*args)

    monkeypatch.setattr(kept, "GridIndex", Counting)
    try:
        got = []
        threads = [threading.Thread(target=lambda: got.append(store.grid_index()))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert built == [len(city.grids)] and len({id(g) for g in got}) == 1
        assert got[0].size == len(city.grids)
    finally:
        store.close()


class _Process:
    """What `publish_a_split` drives (`now`, `client(user)`), on one server process; the
    process keeps its own clock."""

    def __init__(self, servers, i: int):
        self.servers, self.i, self.now = servers, i, None

    def client(self, user: str):
        return self.servers.client(self.i, user)


def test_a_grid_published_through_one_process_is_used_by_the_others_next_locate(
        two_servers, city):
    """Process 1 has its grid index built before process 0 publishes a split; its next
    locate answers with the new grid."""
    from datetime import UTC, datetime

    with two_servers.client(1, "admin") as c:
        x, y = city.landmarks["电东胡同小学门口"]
        assert c.get("/api/v1/locate", params={"lon": x, "lat": y}).json()["grid_code"]
        key, added, east, _before, _draft = publish_a_split(_Process(two_servers, 0),
                                                             datetime.now(UTC))
        r = c.get("/api/v1/locate", params={"lon": east[0], "lat": east[1]})
        assert r.status_code == 200, r.text
        assert r.json()["grid_code"] == added != key


def test_a_renamed_community_is_told_by_the_next_locate(store, city):
    """The names a located point is told are kept with the grids, under the areas' own
    revision: a community renamed (in QGIS, say) is seen at once."""
    x, y = city.landmarks["电东胡同小学门口"]
    where = store.locate(x, y)
    with store.tx() as tx:
        tx.run("UPDATE community SET name = :n WHERE code = :c",
               {"n": "新名社区", "c": where.community_code})
    again = store.locate(x, y)
    assert again.community_name == "新名社区" != where.community_name
    assert again.grid_code == where.grid_code


def test_what_a_rolled_back_transaction_showed_is_not_kept(store, city):
    """A locate inside a transaction that is then rolled back (SQLite reads within it) must
    not leave its view behind, even once a later commit brings the counters to the numbers
    it saw."""
    x, y = city.landmarks["电东胡同小学门口"]
    where = store.locate(x, y)
    with pytest.raises(RuntimeError), store.tx() as tx:
        tx.run("UPDATE grid SET name = :n WHERE code = :c", {"n": "未提交", "c": where.grid_code})
        store.locate(x, y)
        raise RuntimeError("rolled back")
    with store.tx() as tx:  # another grid changes: the grid counter moves on by one
        tx.run("UPDATE grid SET households = households + 1 WHERE code = "
               "(SELECT min(code) FROM grid WHERE code <> :c)", {"c": where.grid_code})
    assert store.locate(x, y).grid_name == where.grid_name


def test_past_indexes_are_dropped_oldest_first_while_others_read():
    from geo.store.kept import KeptValues

    kept = KeptValues()
    errors = []

    def churn(offset: int):
        try:
            for i in range(300):
                kept.get(("past", offset, i), 1, lambda i=i: i)
                kept.drop_older("past", 4)
        except Exception as exc:  # a dictionary changed size during iteration, say
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(6):
        kept.get(("past", 9, i), 1, lambda i=i: i)
    kept.drop_older("past", 4)
    left = [n for n in kept._values if n[0] == "past"]
    assert len(left) == 4 and left[-1] == ("past", 9, 5) and ("past", 9, 0) not in left
