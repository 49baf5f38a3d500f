"""Rank teams by distance in metres (EPSG:4551) from one point or many, in process.

Teams move, so the ranking works on a columnar snapshot (rebuilt when a team changes). The
teams passing a filter are found once per filter and snapshot (`passing_rows`); among
them a small problem is solved by brute force, a larger one on a cKDTree of the passing
teams, kept with them for the life of the snapshot, so that one point against tens of
thousands of teams costs a tree query, not a scan. Equal distances are broken by team id,
as the PostGIS backend's ORDER BY does, and the tree gives the brute force's answer: the
teams within its k-th distance (and a hair) are ranked by the same arithmetic.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from geo.crs import to_metric
from geo.model import TeamFilter, TeamMatch, explain_rank

_PASSING_KEPT = 512  # filters kept per snapshot: a category per street, and some
BRUTE_FORCE_PAIRS = 2_000_000  # point-team pairs up to which a batch is ranked by brute force
TREE_FROM_TEAMS = 4_096  # passing teams from which a few points are ranked on the kept tree
TREE_SINGLE_POINTS = 64  # ... "a few": each answered exactly, one by one


@dataclass
class TeamTable:
    """Columnar snapshot of the teams: one array per attribute, positions in EPSG:4551 metres."""

    ids: np.ndarray
    names: np.ndarray
    kinds: np.ndarray
    statuses: np.ndarray
    rosters: np.ndarray
    categories: list[frozenset[str]]
    jurisdictions: list[frozenset[str]]
    x: np.ndarray
    y: np.ndarray
    position_source: np.ndarray
    position_at: list[datetime | None]

    @classmethod
    def from_rows(cls, rows: list[dict]) -> TeamTable:
        """Build from dicts with id, name, kind, status, roster, categories, jurisdiction,
        lon, lat (the position to rank by), position_source and position_at."""
        rows = sorted(rows, key=lambda r: r["id"])
        lon = np.array([r["lon"] for r in rows], dtype=float)
        lat = np.array([r["lat"] for r in rows], dtype=float)
        x, y = to_metric(lon, lat) if rows else (np.zeros(0), np.zeros(0))
        column = lambda key: np.array([r[key] for r in rows], dtype=object)  # noqa: E731
        return cls(
            ids=column("id"), names=column("name"), kinds=column("kind"),
            statuses=column("status"), rosters=column("roster"),
            categories=[frozenset(r["categories"]) for r in rows],
            jurisdictions=[frozenset(r["jurisdiction"]) for r in rows],
            x=np.asarray(x, float), y=np.asarray(y, float),
            position_source=column("position_source"),
            position_at=[r["position_at"] for r in rows],
        )

    def passing(self, f: TeamFilter) -> TeamTable:
        """The teams that pass the filter, as a snapshot of their own (see passing_rows)."""
        return self._kept(("table", f), lambda: self.take(self.passing_rows(f)))

    def passing_rows(self, f: TeamFilter) -> np.ndarray:
        """Rows of the teams that pass the filter, kept per filter for the life of this
        snapshot: a filter's mask scans every team's categories and jurisdiction, which at a
        city's tens of thousands of teams costs more than the ranking itself."""
        return self._kept(("rows", f), lambda: np.flatnonzero(self.mask(f)))

    def _kept(self, key, make):
        """make()'s value, kept under `key` for the life of this snapshot (made outside the
        lock: a value may be made of others kept here)."""
        cache = self.__dict__.setdefault("_passing", {})
        hit = cache.get(key)
        if hit is None:
            hit = make()
            with self.__dict__.setdefault("_passing_lock", threading.Lock()):
                if len(cache) >= _PASSING_KEPT:
                    cache.pop(next(iter(cache)))  # the oldest
                hit = cache.setdefault(key, hit)
        return hit

    def rows_of(self, team_ids) -> np.ndarray:
        """The row of each team id, -1 for an id not in this table (the lookup kept)."""
        row = self._kept(("row_of",), lambda: {t: i for i, t in enumerate(self.ids.tolist())})
        return np.array([row.get(t, -1) for t in team_ids], dtype=np.int64)

    def _tree(self, rows: np.ndarray, key):
        """A cKDTree of the teams at `rows`, kept with them."""
        def make():
            from scipy.spatial import cKDTree  # scipy takes 0.3 s to load: not for small work

            return cKDTree(np.column_stack([self.x[rows], self.y[rows]]))
        return self._kept(("tree", key), make)

    def take(self, rows: np.ndarray) -> TeamTable:
        """The teams at `rows` (an index array), in that order."""
        return TeamTable(
            ids=self.ids[rows], names=self.names[rows], kinds=self.kinds[rows],
            statuses=self.statuses[rows], rosters=self.rosters[rows],
            categories=[self.categories[i] for i in rows],
            jurisdictions=[self.jurisdictions[i] for i in rows], x=self.x[rows], y=self.y[rows],
            position_source=self.position_source[rows],
            position_at=[self.position_at[i] for i in rows])

    def mask(self, f: TeamFilter) -> np.ndarray:
        """Boolean mask of the teams that pass the filter."""
        keep = np.ones(len(self.ids), dtype=bool)
        if f.kind:
            keep &= self.kinds == f.kind
        if f.statuses:
            keep &= np.isin(self.statuses, list(f.statuses))
        if f.rosters:
            keep &= np.isin(self.rosters, list(f.rosters))
        if f.category:
            keep &= np.fromiter((f.category in c for c in self.categories), bool, len(keep))
        if f.street_code:
            keep &= np.fromiter(
                (f.street_code in j for j in self.jurisdictions), bool, len(keep)
            )
        return keep

    def nearest_many(self, lon, lat, k: int, f: TeamFilter):
        """For each point, the k nearest qualifying teams: arrays (point, rank, team index, metres)."""
        candidates = self.passing_rows(f)
        n_points = len(lon)
        k = min(k, len(candidates))
        if k == 0 or n_points == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, np.zeros(0)
        qx, qy = to_metric(lon, lat)
        if n_points <= TREE_SINGLE_POINTS and len(candidates) >= TREE_FROM_TEAMS:
            team, dist = self._tree_exact(candidates, f, qx, qy, k)
        elif n_points * len(candidates) <= BRUTE_FORCE_PAIRS:
            order, dist = self._brute_force(candidates, qx, qy, k)
            team = candidates[order]
        else:
            tree = self._tree(candidates, f)
            dist, order = tree.query(np.column_stack([qx, qy]), k=k)
            dist = dist.reshape(n_points, k)
            team = candidates[order.reshape(n_points, k)]
        point = np.repeat(np.arange(n_points), k)
        rank = np.tile(np.arange(1, k + 1), n_points)
        return point, rank, team.ravel(), dist.ravel()

    def _brute_force(self, rows, qx, qy, k):
        """Exact (distance, id) order of the k nearest of `rows`: positions into rows, metres."""
        d = np.hypot(self.x[rows][None, :] - qx[:, None], self.y[rows][None, :] - qy[:, None])
        # Partition out the k nearest, then order just those by (distance, team id); rows are
        # in id order, so the column index breaks ties by id.
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else \
            np.broadcast_to(np.arange(d.shape[1]), d.shape).copy()
        part_d = np.take_along_axis(d, part, axis=1)
        # The partition keeps any of the teams tied at the k-th distance: where more are tied
        # than fit, the lowest ids are taken.
        kth = part_d.max(axis=1)
        for p in np.flatnonzero((d <= kth[:, None]).sum(axis=1) > k):
            tied = np.flatnonzero(d[p] <= kth[p])
            part[p] = tied[np.lexsort((tied, d[p, tied]))[:k]]
        part_d = np.take_along_axis(d, part, axis=1)
        within = np.lexsort((part, part_d), axis=1)
        order = np.take_along_axis(part, within, axis=1)
        return order, np.take_along_axis(d, order, axis=1)

    def _tree_exact(self, rows, key, qx, qy, k):
        """The brute force's answer for a few points from the kept tree: the teams within the
        k-th tree distance (widened past any rounding) are ranked by the brute force."""
        tree = self._tree(rows, key)
        teams, dists = [], []
        for x, y in zip(qx, qy, strict=True):
            far = np.atleast_1d(tree.query([x, y], k=k)[0])[-1]
            near = np.sort(np.asarray(tree.query_ball_point([x, y], far * (1 + 1e-9) + 1e-6),
                                      dtype=np.int64))
            order, dist = self._brute_force(rows[near], np.array([x]), np.array([y]), k)
            teams.append(rows[near][order[0]])
            dists.append(dist[0])
        return np.array(teams), np.array(dists)

    def matches(self, lon: float, lat: float, k: int, f: TeamFilter) -> list[TeamMatch]:
        """The k nearest qualifying teams to one point, each with the reason it ranked."""
        _, rank, team, dist = self.nearest_many(np.array([lon]), np.array([lat]), k, f)
        return [
            TeamMatch(
                rank=int(r), team_id=self.ids[t], name=self.names[t], kind=self.kinds[t],
                status=self.statuses[t], distance_m=float(d),
                position_source=self.position_source[t], position_at=self.position_at[t],
                reason=explain_rank(int(r), float(d), self.position_source[t],
                                    self.position_at[t], f),
            )
            for r, t, d in zip(rank, team, dist, strict=True)
        ]
