"""Teams ranked by ETA for one point, with the reasons a dispatcher reads: the road time and
distance, the straight line, the bridge or detour, a stale position, the workload."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from geo.i18n import _, ngettext
from geo.model import EtaMatch, TeamFilter, Workload, ordinal, team_origin
from geo.roads.eta import (
    ROUTED,
    IssueSearch,
    Route,
    route,
    straight_line_eta,
    time_teams,
    why_straight,
)
from geo.roads.network import RoadNetwork
from geo.teamrank import TeamTable

NO_NETWORK = -1  # a store without roads: every team by straight line
DETOUR_RATIO = 2.0  # road distance this many times the straight line is called a detour


def _minutes(seconds: float) -> str:
    return _("{minutes} min").format(minutes=f"{seconds / 60:.1f}")


def _explain(rank: int, recommended: bool, eta: float, straight: float, road: Route | None,
             why: str | None, source: str, at: datetime | None, open_n: int,
             workload: Workload, team_filter: TeamFilter) -> str:
    """The reason a dispatcher reads: how the ETA was found (the road, its bridges, a detour,
    or the straight line and why), then the rank or why the team is held back, and its load.
    Each part is a whole phrase of the catalogue, placed by the sentence that holds it."""
    facts = {"eta": _minutes(eta), "straight": f"{straight:,.0f}",
             "origin": team_origin(source, at)}
    if road is None:
        head = _("ETA {eta} estimated from the straight line ({straight} m from {origin}): "
                 "{why}").format(why=why, **facts)
    else:
        facts["road"] = f"{road.road_m:,.0f}"
        if road.bridges:
            # TRANSLATORS: {bridges} names the bridges the route crosses the river by.
            head = _("ETA {eta} by road, {road} m from {origin} ({straight} m as the crow "
                     "flies), across the river via {bridges}").format(
                         bridges=_(", ").join(road.bridges), **facts)
        else:
            head = _("ETA {eta} by road, {road} m from {origin} ({straight} m as the crow "
                     "flies)").format(**facts)
        if straight > 0 and road.road_m > DETOUR_RATIO * straight:
            head = _("{route}; a detour of {ratio}x the straight line").format(
                route=head, ratio=f"{road.road_m / straight:.1f}")
    load = ngettext("{n} open assignment", "{n} open assignments", open_n).format(n=open_n)
    if not recommended:
        return _("not recommended: {load}, at the limit of {limit}; {eta}").format(
            load=load, limit=workload.policy.max_open, eta=head)
    return _("{rank} by ETA of the teams matching {filter}: {eta}; {load}").format(
        rank=ordinal(rank), filter=team_filter.describe(), eta=head, load=load)


def rank_by_eta(net: RoadNetwork | None, teams: TeamTable, x: float, y: float, k: int,
                team_filter: TeamFilter, workload: Workload | None = None,
                geometry: bool = True) -> list[EtaMatch]:
    """The k quickest recommended teams of `teams` (those that passed the filter) to the
    point (x, y in EPSG:4551), ranked by ETA plus the workload's cost, ties by team id; then
    at most k teams held back at their limit that are quicker than the last of them, flagged.
    Without `geometry` the routes' lines are left out (their metres and bridges are not)."""
    workload = workload or Workload()
    n = len(teams.ids)
    if n == 0:
        return []
    straight_m = np.hypot(teams.x - x, teams.y - y)
    open_n = np.zeros(n, dtype=np.int64)
    if workload.open_assignments:  # a few busy teams among many: look up theirs only
        busy = teams.rows_of(workload.open_assignments)
        open_n[busy[busy >= 0]] = np.array(list(workload.open_assignments.values()))[busy >= 0]
    held = open_n >= workload.policy.max_open
    extra = open_n * workload.policy.per_open_s
    search = snap = None
    if net is None or len(net) == 0:
        eta = straight_line_eta(straight_m)
        straight = np.full(n, NO_NETWORK, dtype=np.int8)
        leave = np.zeros(n, dtype=np.int8)
    else:
        search = IssueSearch(net, x, y)
        snap = net.snap_teams(teams)
        timed = time_teams(search, snap, straight_m, k, extra, held)
        eta, straight, leave = timed.eta_s, timed.straight, timed.leave
    key = eta + extra
    order = np.lexsort((teams.ids, key, held))
    order = order[np.isfinite(key[order])]
    chosen = order[~held[order]][:k]
    limit_key = key[chosen[-1]] if len(chosen) == k else np.inf
    picked = set(chosen.tolist())
    # Held teams worth a word: those that would have arrived before the last recommended
    # one (all of them when fewer than k may be recommended), at most k.
    quicker = [i for i in order if held[i] and eta[i] <= limit_key][:k]
    shown = [i for i in order if i in picked] + quicker
    out = []
    rank = 0
    for i in shown:
        road = why = None
        if straight[i] == ROUTED:
            road = route(search, teams.x[i], teams.y[i], int(snap.edge[i]),
                         float(snap.fraction[i]), int(leave[i]), geometry)
        elif straight[i] == NO_NETWORK:
            why = _("the city has no road network")
        else:
            why = why_straight(int(straight[i]), float(snap.offset_m[i]), search.offset_m)
        recommended = not held[i]
        rank += recommended
        out.append(EtaMatch(
            rank=rank if recommended else 0, team_id=teams.ids[i], name=teams.names[i],
            kind=teams.kinds[i], status=teams.statuses[i], distance_m=float(straight_m[i]),
            position_source=teams.position_source[i], position_at=teams.position_at[i],
            eta_s=float(eta[i]), road_m=None if road is None else float(road.road_m),
            basis="road" if road else "straight_line", via=tuple(road.bridges) if road else (),
            route=tuple(road.lonlat) if road else (), open_assignments=int(open_n[i]),
            recommended=recommended,
            reason=_explain(rank, recommended, float(eta[i]), float(straight_m[i]), road, why,
                            teams.position_source[i], teams.position_at[i], int(open_n[i]),
                            workload, team_filter)))
    return out
