"""Team ranking in process: the kept tree of a filter's teams gives the brute force's answer,
ties by id included, for one point or a few, and a batch's answer is the same either way."""

import numpy as np
import pytest

import geo.teamrank as teamrank
from geo.crs import from_metric
from geo.model import TeamFilter
from geo.teamrank import TeamTable


def city_of_teams(n: int, seed: int) -> TeamTable:
    """n teams on a 50 m lattice (many equal distances) around Jilin City, two kinds."""
    rng = np.random.default_rng(seed)
    ex, ny = 500_000 + 50.0 * rng.integers(0, 200, n), 4_860_000 + 50.0 * rng.integers(0, 200, n)
    lon, lat = from_metric(ex, ny)
    return TeamTable.from_rows([
        {"id": f"T{i:05d}", "name": f"队{i}", "kind": "enforcement" if i % 3 else "grid",
         "status": "available", "roster": "A", "categories": ["L01"] if i % 2 else ["L02"],
         "jurisdiction": ["220204001"], "lon": lon[i], "lat": lat[i],
         "position_source": "live", "position_at": None} for i in range(n)])


@pytest.mark.parametrize("f", [TeamFilter(), TeamFilter(kind="enforcement", category="L01")])
def test_the_kept_tree_ranks_as_the_brute_force_ties_included(monkeypatch, f):
    teams = city_of_teams(12_000, seed=3)
    rng = np.random.default_rng(8)
    # points on the lattice and between: equal distances to two, four, eight teams
    ex = 500_000 + 25.0 * rng.integers(0, 400, 40)
    ny = 4_860_000 + 25.0 * rng.integers(0, 400, 40)
    lon, lat = from_metric(ex, ny)
    monkeypatch.setattr(teamrank, "TREE_FROM_TEAMS", 10**9)
    want = [teams.nearest_many(lon[i:i + 1], lat[i:i + 1], 5, f) for i in range(40)]
    monkeypatch.setattr(teamrank, "TREE_FROM_TEAMS", 1)
    got = [teams.nearest_many(lon[i:i + 1], lat[i:i + 1], 5, f) for i in range(40)]
    few = teams.nearest_many(lon[:10], lat[:10], 5, f)  # a few points at once, on the tree
    ties = 0
    for (_, _, team_want, d_want), (_, _, team_got, d_got) in zip(want, got, strict=True):
        assert list(teams.ids[team_got]) == list(teams.ids[team_want])
        assert np.array_equal(d_got, d_want)
        ties += int(np.any(np.diff(d_want) == 0))
    assert ties > 5  # the case that matters was there
    assert list(few[2]) == [t for _, _, team, _ in want[:10] for t in team]
    assert ("tree", f) in teams.__dict__["_passing"]  # kept for the next call
    # the passing teams as a snapshot of their own, made of the kept rows
    assert list(teams.passing(f).ids) == list(teams.ids[teams.passing_rows(f)])
    assert teams.passing(f) is teams.passing(f)
