"""Benchmark ranking teams by travel time along the roads, in process against pgRouting, in one run.

    python bench/bench_roads.py [--grids 200000] [--reports 1000] [--pg-reports 50]
                                [--table-issues 1000] [--pg-table-issues 20]

Builds the demo city with its road network, loads it into SQLite and a throwaway PostGIS
cluster (with pgRouting) and measures:
- top-3 teams by ETA per report (the dispatch's filter: category L01, available, the report's
  street, roster A), per call, in process on both backends, with and without the routes' lines;
- pgRouting's `pgr_withPointsCost` for the same answer on a subset (--pg-reports), whose top-3
  must equal the in-process one;
- a batch table as OSRM's table service gives: --table-issues issues x every available
  enforcement team, in process, and pgRouting on --pg-table-issues of them;
- the whole command `griddispatch nearest IN.csv -o OUT.csv --by eta` on 1,000 points.
Latencies are medians and 99th percentiles over the calls; ratios are pgRouting over in process.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.jilin import generate  # noqa: E402
from geo.crs import from_metric, to_metric  # noqa: E402
from geo.model import TeamFilter  # noqa: E402
from geo.roads.classes import OFF_NETWORK_SPEED_MS, SNAP_MAX_M  # noqa: E402
from geo.roads.eta import IssueSearch, straight_line_eta  # noqa: E402
from geo.roads.pgrouting import pgrouting_eta  # noqa: E402
from geo.store import open_store  # noqa: E402
from geo.store.pgspatial import PostgisSqlStore  # noqa: E402
from tests.pgcluster import start  # noqa: E402

CLI_POINTS = 1000
WARM_UP = 3
TABLE_FILTER = TeamFilter(kind="enforcement", statuses=("available",))


def dispatch_filter(street: str) -> TeamFilter:
    """The filter the dispatch ranks a report's candidates with."""
    return TeamFilter(category="L01", statuses=("available",), street_code=street, rosters=("A",))


def report_points(store, city, n: int, rng) -> pd.DataFrame:
    """n random points uniform in the city's bounds that fall inside a grid, with their street."""
    minx, miny, maxx, maxy = city.grids.total_bounds
    kept = []
    while sum(len(k) for k in kept) < n:
        lon = rng.uniform(minx, maxx, 2 * n)
        lat = rng.uniform(miny, maxy, 2 * n)
        located = store.locate_many(lon, lat)
        inside = located.grid_code.notna().to_numpy()
        kept.append(pd.DataFrame({"lon": lon[inside], "lat": lat[inside],
                                  "street": located.street_code.to_numpy()[inside]}))
    return pd.concat(kept, ignore_index=True).iloc[:n]


def latency(label: str, fn: Callable[[int], object], n: int, few: np.ndarray | None = None
            ) -> tuple[float, float, list, list]:
    """Median and p99 seconds of fn(i) for i < n after WARM_UP calls; fn's answers and each
    call's seconds. With `few` (per call: fewer than k teams pass its filter) the medians of
    both sorts of call are shown too."""
    for i in range(min(WARM_UP, n)):
        fn(i)
    times, answers = [], []
    for i in range(n):
        t = time.perf_counter()
        answers.append(fn(i))
        times.append(time.perf_counter() - t)
    med, p99 = statistics.median(times), float(np.percentile(times, 99))
    print(f"  {label:<52} median {med * 1e3:8.3f} ms  p99 {p99 * 1e3:8.3f} ms  ({n:,} calls)")
    if few is not None and few[:n].any() and not few[:n].all():
        split = np.asarray(times)
        print(f"  {'':<52} median {np.median(split[~few[:n]]) * 1e3:8.3f} ms with 3 or more "
              f"teams passing, {np.median(split[few[:n]]) * 1e3:8.3f} ms with fewer")
    return med, p99, answers, times


def top_ids(matches) -> list[str]:
    return [m.team_id for m in matches if m.recommended]


def pgrouting_top(pg, teams, lon: float, lat: float, k: int) -> tuple[list[str], np.ndarray]:
    """pgRouting's times for the teams and the k quickest by them (ties by team id); a team
    pgRouting finds no route for is timed by the straight line, as in process."""
    tlon, tlat = from_metric(teams.x, teams.y)
    eta = pgrouting_eta(pg, (lon, lat), tlon, tlat)
    lost = np.isnan(eta)
    if lost.any():
        ix, iy = (float(v[0]) for v in to_metric([lon], [lat]))
        eta[lost] = straight_line_eta(np.hypot(teams.x[lost] - ix, teams.y[lost] - iy))
    order = np.lexsort((teams.ids, eta))[:k]
    return teams.ids[order].tolist(), eta


def matrix_row(net, snap, teams, x: float, y: float) -> np.ndarray:
    """Every team's seconds to one issue (x, y in EPSG:4551): one whole-network search from
    the issue, each team's road point timed from it, plus the walks; the straight-line
    fallback where the issue or team is off the network or no route exists, as in process."""
    search = IssueSearch(net, x, y)
    straight = straight_line_eta(np.hypot(teams.x - x, teams.y - y))
    if not search.on_network:
        return straight
    search.search(np.inf)
    on_road, _ = search.team_times(snap.edge, snap.fraction)
    eta = on_road + (snap.offset_m + search.offset_m) / OFF_NETWORK_SPEED_MS
    fallback = (snap.offset_m > SNAP_MAX_M) | ~np.isfinite(eta)
    return np.where(fallback, straight, eta)


def profile_top3(store, points: pd.DataFrame, n: int, geometry: bool, out: Path) -> None:
    """cProfile of n top-3 calls; the heaviest functions printed, the whole profile saved."""
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        p = points.iloc[i]
        store.nearest_by_eta(p.lon, p.lat, 3, dispatch_filter(p.street), geometry=geometry)
    prof.disable()
    prof.dump_stats(out)
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(18)
    print(f"  profile of {n} calls (geometry={geometry}) saved to {out}:")
    print("\n".join("    " + line for line in text.getvalue().splitlines()
                    if line.strip() and "Ordered by" not in line)[:6000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grids", type=int, default=200_000)
    ap.add_argument("--reports", type=int, default=1000)
    ap.add_argument("--pg-reports", type=int, default=50)
    ap.add_argument("--table-issues", type=int, default=1000)
    ap.add_argument("--pg-table-issues", type=int, default=20)
    ap.add_argument("--profile", type=Path, default=Path("/tmp/bench_roads.prof"),
                    help="where the cProfile of the in-process top-3 goes")
    args = ap.parse_args()
    rows: list[tuple[str, str, str, str, str]] = []  # measure, SQLite, PostGIS, pgRouting, ratio

    t = time.perf_counter()
    city = generate(args.grids, 0, progress=lambda m: print("  ", m))
    print(f"generated {len(city.grids):,} grids in {time.perf_counter() - t:.1f} s")
    folder = Path(tempfile.mkdtemp(prefix="gd-bench-roads-"))
    db_path = folder / "bench.sqlite"
    sqlite = open_store(f"sqlite:///{db_path}")
    sqlite.migrate()
    t = time.perf_counter()
    sqlite.load_city(city)
    print(f"SQLite load {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    net = sqlite.road_network()
    print(f"road network build {time.perf_counter() - t:.2f} s (once per road revision)")
    print(f"grids {len(city.grids):,}, roads {len(net):,}, junctions {net.n_nodes:,}, "
          f"teams {len(city.teams):,}")

    rng = np.random.default_rng(1)
    points = report_points(sqlite, city, max(args.reports, args.table_issues, CLI_POINTS), rng)
    reports = points.iloc[:args.reports]
    filters = [dispatch_filter(s) for s in reports.street]
    passing = np.array([len(sqlite._teams_passing(f).ids) for f in filters])
    print(f"{len(reports):,} reports on {reports.street.nunique():,} streets; teams passing "
          f"the dispatch filter: median {np.median(passing):.0f}, min {passing.min()}, "
          f"max {passing.max()}; {int((passing < 3).sum())} reports with fewer than 3")

    cluster = start()
    try:
        pg = open_store(cluster.new_database("bench"))
        pg.migrate()
        t = time.perf_counter()
        pg.load_city(city)
        print(f"PostGIS load {time.perf_counter() - t:.1f} s")

        def top3(store, geometry):
            return lambda i: top_ids(store.nearest_by_eta(
                reports.lon.iat[i], reports.lat.iat[i], 3, filters[i], geometry=geometry))

        print("\ntop-3 by ETA per report, in process")
        got = {}
        for geometry in (False, True):
            for name, store in (("SQLite", sqlite), ("PostGIS", pg)):
                got[name, geometry] = latency(
                    f"{name} nearest_by_eta(k=3, geometry={geometry})", top3(store, geometry),
                    len(reports), passing < 3)
        answers = got["SQLite", False][2]
        differ = sum(a != b for a, b in zip(answers, got["PostGIS", False][2], strict=True))
        print(f"  SQLite and PostGIS answers differ on {differ} of {len(answers)} reports")
        if got["SQLite", False][0] > 0.005 or got["SQLite", True][0] > 0.005:
            profile_top3(sqlite, reports, min(200, len(reports)), True, args.profile)

        print("\npgRouting (pgr_withPointsCost) for the same top-3")
        # Reports no team passes for have nothing to route (pgRouting refuses an empty start
        # list): the first --pg-reports that have at least one.
        routable = np.flatnonzero(passing > 0)[:args.pg_reports]
        n_pg = len(routable)
        pg_sql = PostgisSqlStore(pg.url).open()  # the filter as a query, as pgRouting needs it
        pg_teams = [pg_sql._teams_passing(filters[i]) for i in routable]
        t = time.perf_counter()
        for i in routable:
            pg_sql._teams_passing(filters[i])
        filter_ms = (time.perf_counter() - t) / max(n_pg, 1) * 1e3
        pg_med, pg_p99, pg_answers, _ = latency(
            "pgrouting_eta + top-3 (filter query not timed)",
            lambda j: pgrouting_top(pg, pg_teams[j], reports.lon.iat[routable[j]],
                                    reports.lat.iat[routable[j]], 3), n_pg)
        print(f"  (the PostGIS filter query for the teams, not in that time: {filter_ms:.2f} ms "
              "per report)")
        agree = 0
        for j, (theirs, eta) in enumerate(pg_answers):
            i = routable[j]
            ours = answers[i]
            if theirs == ours:
                agree += 1
            else:
                times = dict(zip(pg_teams[j].ids.tolist(), eta.tolist(), strict=True))
                print(f"  DISAGREE report {i} ({reports.lon.iat[i]:.6f}, {reports.lat.iat[i]:.6f})"
                      f": in process {ours}, pgRouting {theirs} with "
                      f"{ {t: round(times[t], 3) for t in dict.fromkeys(ours + theirs)} }")
        print(f"  top-3 agree on {agree} of {n_pg} reports")
        sq_med, sq_p99 = got["SQLite", False][:2]
        pgi_med, pgi_p99 = got["PostGIS", False][:2]
        # Like for like: the in-process times of the same reports.
        same = {name: statistics.median(np.asarray(got[name, False][3])[routable])
                for name in ("SQLite", "PostGIS")}
        print(f"  in process on the same {n_pg} reports: median {same['SQLite'] * 1e3:.3f} ms "
              f"(SQLite), {same['PostGIS'] * 1e3:.3f} ms (PostGIS store); ratio pgRouting / in "
              f"process {pg_med / same['SQLite']:.1f}x (SQLite), {pg_med / same['PostGIS']:.1f}x "
              "(PostGIS store)")
        print(f"  ratio pgRouting / in process (all reports): {pg_med / sq_med:.1f}x (SQLite), "
              f"{pg_med / pgi_med:.1f}x (PostGIS store)")
        ms = lambda med, p99: f"{med * 1e3:.2f} ms / {p99 * 1e3:.2f} ms"  # noqa: E731
        rows.append(("top-3 by ETA, no lines (median / p99)", ms(sq_med, sq_p99),
                     ms(pgi_med, pgi_p99), ms(pg_med, pg_p99),
                     f"{pg_med / same['SQLite']:.0f}x SQLite, {pg_med / same['PostGIS']:.0f}x "
                     f"PostGIS (on the same {n_pg} reports)"))
        rows.append(("top-3 by ETA, with route lines (median / p99)", ms(*got["SQLite", True][:2]),
                     ms(*got["PostGIS", True][:2]), "", ""))
        rows.append(("pgRouting top-3 equal to in process", "", "", f"{agree} of {n_pg}", ""))

        print("\nbatch table: issues x every available enforcement team")
        teams = sqlite._teams_passing(TABLE_FILTER)
        snap = net.snap(teams.x, teams.y)
        off = int((snap.offset_m > SNAP_MAX_M).sum())
        issues = points.iloc[:args.table_issues]
        ix, iy = to_metric(issues.lon.to_numpy(), issues.lat.to_numpy())
        print(f"  {len(issues):,} issues x {len(teams.ids):,} teams ({off} teams farther than "
              f"{SNAP_MAX_M:.0f} m from a road)")
        # The two honest ways: the whole-network search per issue, or the ranking asked for
        # every team (it also finds each route's metres and bridges). Check they agree, time both.
        n_try = min(5, len(issues))
        t = time.perf_counter()
        direct = [matrix_row(net, snap, teams, ix[i], iy[i]) for i in range(n_try)]
        direct_s = (time.perf_counter() - t) / n_try
        t = time.perf_counter()
        ranked = [sqlite.nearest_by_eta(issues.lon.iat[i], issues.lat.iat[i], len(teams.ids),
                                        TABLE_FILTER, geometry=False) for i in range(n_try)]
        ranked_s = (time.perf_counter() - t) / n_try
        for row, matches in zip(direct, ranked, strict=True):
            by_id = {m.team_id: m.eta_s for m in matches}
            assert len(by_id) == len(teams.ids), "the ranking dropped teams"
            assert np.allclose(row, [by_id[t] for t in teams.ids], rtol=1e-9, atol=1e-9), \
                "the matrix row and the ranking give different times"
        print(f"  per issue: whole-network search {direct_s * 1e3:.1f} ms, nearest_by_eta(k=all) "
              f"{ranked_s * 1e3:.1f} ms (same times on {n_try} issues)")
        use_direct = direct_s <= ranked_s
        how = "whole-network search per issue" if use_direct else "nearest_by_eta(k=all)"
        t = time.perf_counter()
        if use_direct:
            matrix = np.vstack([matrix_row(net, snap, teams, ix[i], iy[i])
                                for i in range(len(issues))])
        else:
            matrix = np.vstack([[{m.team_id: m.eta_s for m in sqlite.nearest_by_eta(
                issues.lon.iat[i], issues.lat.iat[i], len(teams.ids), TABLE_FILTER,
                geometry=False)}[tid] for tid in teams.ids] for i in range(len(issues))])
        table_s = time.perf_counter() - t
        cells = matrix.size
        ours_rate = cells / table_s
        print(f"  in process ({how}): {table_s:.2f} s, {ours_rate:,.0f} cells/s")

        n_pgt = min(args.pg_table_issues, len(issues))
        tlon, tlat = from_metric(teams.x, teams.y)
        t = time.perf_counter()
        pg_matrix = np.vstack([pgrouting_eta(pg, (issues.lon.iat[i], issues.lat.iat[i]), tlon, tlat)
                               for i in range(n_pgt)])
        pg_table_s = time.perf_counter() - t
        pg_rate = pg_matrix.size / pg_table_s
        # Compared where both time by road: pgRouting has no straight-line fallback, so a team
        # (or issue) off the network is routed by it and timed by the straight line in process.
        issue_off = net.snap(ix[:n_pgt], iy[:n_pgt]).offset_m > SNAP_MAX_M
        by_road = (np.isfinite(pg_matrix) & ~issue_off[:, None]
                   & ~(snap.offset_m > SNAP_MAX_M)[None, :])
        ours_part = matrix[:n_pgt][by_road]
        worst = float(np.max(np.abs(pg_matrix[by_road] - ours_part)
                             / np.maximum(ours_part, 1e-9))) if by_road.any() else 0.0
        print(f"  pgRouting on {n_pgt} issues: {pg_table_s:.2f} s, {pg_rate:,.0f} cells/s; "
              f"ratio {ours_rate / pg_rate:.0f}x; largest relative difference from in process "
              f"{worst:.1e} over the {int(by_road.sum()):,} cells both time by road "
              f"({int(np.isnan(pg_matrix).sum())} cells without a pgRouting route)")
        rows.append((f"table {len(issues):,} x {len(teams.ids):,} ({how})",
                     f"{table_s:.1f} s, {ours_rate:,.0f} cells/s", "",
                     f"{n_pgt} x {len(teams.ids):,}: {pg_table_s:.1f} s, {pg_rate:,.0f} cells/s",
                     f"{ours_rate / pg_rate:.0f}x"))

        print("\nwhole command: griddispatch nearest --by eta")
        cli = ROOT / ".venv" / "bin" / "griddispatch"
        helps = subprocess.run([cli, "nearest", "--help"], capture_output=True, text=True).stdout
        if "--by" not in helps:
            print("  skipped: `griddispatch nearest --help` does not list --by")
            rows.append(("griddispatch nearest --by eta", "skipped (no --by)", "", "", ""))
        else:
            src, out = folder / "in.csv", folder / "out.csv"
            cmd_points = points.iloc[:CLI_POINTS]
            pd.DataFrame({"id": np.arange(len(cmd_points)), "lon": cmd_points.lon,
                          "lat": cmd_points.lat}).to_csv(src, index=False)
            cmd = [str(cli), "--db", f"sqlite:///{db_path}", "nearest", str(src), "-o", str(out),
                   "--by", "eta"]
            t = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if done.returncode != 0:
                raise SystemExit(f"griddispatch nearest failed ({done.returncode}): "
                                 f"{done.stderr.strip()[-2000:]}")
            written = len(pd.read_csv(out))
            print(f"  {' '.join(cmd[0:1] + cmd[3:])}: {wall:.2f} s wall for {len(cmd_points):,} "
                  f"points ({written:,} rows); it says: {done.stdout.strip()}")
            rows.append((f"griddispatch nearest --by eta, {len(cmd_points):,} points",
                         f"{wall:.2f} s wall ({len(cmd_points) / wall:,.0f} points/s)", "", "", ""))
        pg.close()
        pg_sql.close()
    finally:
        cluster.stop()
        sqlite.close()
        shutil.rmtree(folder, ignore_errors=True)

    print(f"\n## Roads benchmark: {len(city.grids):,} grids, {len(net):,} roads, "
          f"{net.n_nodes:,} junctions, {len(city.teams):,} teams\n")
    print("| measure | in process (SQLite) | in process (PostGIS store) | pgRouting | "
          "in process vs pgRouting |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
