"""Durability of intake: every server process is killed (SIGKILL) while reports arrive on
several connections, started again, and the clients retry what was not answered with the
same Idempotency-Keys. Every acknowledged report must be there exactly once, under the id
its answer gave, with its audit row; no retry may create a second copy.
(bench/crash_intake.py runs the same at full size.)"""

from __future__ import annotations

from geo.store import open_store
from tests.processes import crash_intake, jurisdiction_points

REPORTS, CONNECTIONS, KILL_AFTER = 200, 4, 100


def test_killing_every_server_loses_no_acknowledged_report(two_servers, city):
    with open_store(two_servers.db_url) as store:
        points = jurisdiction_points(store, city.landmarks)
    run = crash_intake(two_servers, points, REPORTS, CONNECTIONS, KILL_AFTER,
                       tag=f"crash-{two_servers.backend}")
    summary = run.summary()
    assert len(run.acknowledged) >= KILL_AFTER and run.unsent, summary  # killed mid-way
    assert run.lost() == [], summary
    assert len(run.stored) == REPORTS and run.duplicated() == [], summary
    assert run.unaudited() == [], summary
    assert run.remembered == set(run.stored), summary  # each key's answer kept for retries
    # A retry got the report's own id: replayed when the report was stored before the kill.
    assert all(run.stored[k] == [i] for k, i in run.retried.items()), summary
    assert run.replayed <= set(run.unanswered), summary
    assert set(run.retried) == set(run.unanswered) | set(run.unsent), summary
