"""The live map during a simulated run, in Chromium: a team's marker moves along its way and a
new report appears, without reloading. Screenshot: test-artifacts/maps/live-simulated.png."""

from __future__ import annotations

import threading

import pytest

from fixtures.simulation.run import run
from tests.http import Server
from tests.pages import Tab, browser
from tests.test_simulation import (  # noqa: F401 - the demo city built now
    demo_file,
    demo_store,
    only_state_conflicts,
)

REFRESH_S = 1.0

TEAM_POINTS = """() => Object.fromEntries(Object.entries(griddispatch.layers.teams._features)
    .map(([id, f]) => [id, f.geometry.coordinates]))"""
ISSUE_IDS = "() => Object.keys(griddispatch.layers.issues._features)"
MOVED = """(before) => Object.entries(griddispatch.layers.teams._features).some(([id, f]) =>
    before[id] && (before[id][0] !== f.geometry.coordinates[0]
                   || before[id][1] !== f.geometry.coordinates[1]))"""
NEW_REPORT = """(before) => Object.keys(griddispatch.layers.issues._features)
    .some((id) => !before.includes(id))"""


@pytest.fixture
def server(demo_store):  # noqa: F811 - the imported fixture
    s = Server(demo_store, map_refresh_seconds=REFRESH_S)
    yield s
    s.stop()


def test_the_live_map_moves_with_the_simulated_city(server):
    with browser() as b:
        tab = Tab(b, server, "operator", "/maps/live", viewport=(1600, 900))
        try:
            tab.wait("() => Object.keys(griddispatch.layers.teams._features).length > 0"
                     " && Object.keys(griddispatch.layers.issues._features).length > 0")
            teams_before = tab.js(TEAM_POINTS)
            issues_before = tab.js(ISSUE_IDS)
            assert teams_before and tab.js("() => griddispatch.counts.teams") > 0
            done = {}
            sim = threading.Thread(target=lambda: done.setdefault("summary", run(
                server.url, rate=240.0, duration_s=15.0, seed=11)), daemon=True)
            sim.start()
            try:
                tab.wait(NEW_REPORT, issues_before, timeout_s=40)
                tab.wait(MOVED, teams_before, timeout_s=40)
            finally:
                sim.join(timeout=60)
            summary = done["summary"]
            assert summary.counts["position"] > 0, summary.counts
            assert only_state_conflicts(summary.errors), summary.errors
            moved = [i for i, xy in tab.js(TEAM_POINTS).items()
                     if i in teams_before and xy != teams_before[i]]
            new = [i for i in tab.js(ISSUE_IDS) if i not in issues_before]
            assert moved and new
            # The new reports are the simulator's, in Chinese, lit green as they come in.
            feature = tab.js("(id) => griddispatch.layers.issues._features[id]", new[-1])
            assert any("\u4e00" <= ch <= "\u9fff" for ch in feature["properties"]["description"])
            tab.wait("() => griddispatch.settled()")
            tab.shot("live-simulated")
            assert tab.console_errors == [] and tab.foreign_requests() == []
        finally:
            tab.close()
