"""Benchmark batch locate and nearest-3 against geopandas.sjoin and PostGIS, in one run.

    python bench/bench_spatial.py [--grids 200000] [--points 1000000] [--pg-points 100000]

Builds the demo city with N grids, loads it into SQLite and a throwaway PostGIS cluster,
draws random points over the city and prints points per second (median of --repeat runs)
and ratios. PostGIS works on a subset (--pg-points) to bound the run; its rate is what is
compared. Single-call latency (locate + nearest-3, in process) is the median over 1,000 calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import shulan  # noqa: E402
from fixtures.jilin import generate  # noqa: E402
from geo.gridindex import GridIndex, start_compiled  # noqa: E402
from geo.model import TeamFilter  # noqa: E402
from geo.store import open_store  # noqa: E402
from geo.store.pgspatial import PostgisSqlStore  # noqa: E402
from tests.pgcluster import start  # noqa: E402


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grids", type=int, default=200_000)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--pg-points", type=int, default=100_000)
    ap.add_argument("--pg-nearest-points", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t = time.perf_counter()
    city = generate(args.grids, 0, progress=lambda m: print("  ", m))
    print(f"generated {len(city.grids):,} grids in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(1)
    # Over the urban districts (舒兰市 lies 70 km off: its box would be mostly empty land).
    minx, miny, maxx, maxy = city.grids[~shulan.is_part(city.grids.code)].total_bounds
    lon = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)

    folder = Path(tempfile.mkdtemp(prefix="gd-bench-"))
    sqlite = open_store(f"sqlite:///{folder / 'bench.sqlite'}")
    sqlite.migrate()
    t = time.perf_counter()
    sqlite.load_city(city)
    print(f"SQLite load {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    index = GridIndex(city.grids.code.to_numpy(), city.grids.geometry.to_numpy())
    print(f"grid index build {time.perf_counter() - t:.2f} s (once per boundary revision)")
    start_compiled()  # as a server does when it starts: in process means a long-lived one
    sqlite.locate_many(lon[:1000], lat[:1000])  # the store's indexes built outside the timing

    cluster = start()
    try:
        url = cluster.new_database("bench")
        pg = open_store(url)
        pg.migrate()
        pg_sql = PostgisSqlStore(url).open()  # the same database, spatial work done in SQL
        t = time.perf_counter()
        pg.load_city(city)
        print(f"PostGIS load {time.perf_counter() - t:.1f} s")

        rows = []

        def rate(label, n, fn, repeat=args.repeat):
            s = median_seconds(fn, repeat)
            rows.append((label, n / s))
            print(f"  {label:<44} {n:>9,} pts  {s:8.3f} s  {n / s:>12,.0f} pts/s")
            return n / s

        print("\nbatch locate (median of runs)")
        kernel = rate("griddispatch GridIndex.locate (grid only)", args.points,
                      lambda: index.locate(lon, lat))
        ours = rate("griddispatch locate_many (SQLite, in process)", args.points,
                    lambda: sqlite.locate_many(lon, lat))
        grids = city.grids[["code", "geometry"]]
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
        sjoin = rate("geopandas.sjoin (intersects)", args.points,
                     lambda: gpd.sjoin(points, grids, predicate="intersects", how="left"))
        n_pg = min(args.pg_points, args.points)
        postgis = rate("PostGIS batch join (ST_Covers, GiST)", n_pg,
                       lambda: pg_sql.locate_many(lon[:n_pg], lat[:n_pg]), repeat=1)
        print(f"  ratio: GridIndex.locate {kernel / sjoin:.1f}x geopandas.sjoin; locate_many (six "
              f"code columns) {ours / sjoin:.1f}x geopandas.sjoin, {ours / postgis:.1f}x PostGIS")
        assert index.size == len(city.grids)

        print("\nbatch nearest-3 teams (median of runs)")
        f = TeamFilter()
        ours_n = rate("griddispatch nearest_teams_many (cKDTree)", args.points,
                      lambda: sqlite.nearest_teams_many(lon, lat, k=3, team_filter=f))
        n_pgn = min(args.pg_nearest_points, args.points)
        pg_n = rate("PostGIS KNN (<-> on EPSG:4551 GiST)", n_pgn,
                    lambda: pg_sql.nearest_teams_many(lon[:n_pgn], lat[:n_pgn], k=3), repeat=1)
        print(f"  ratio: {ours_n / pg_n:.1f}x PostGIS")

        print("\nsingle call: locate + nearest-3 (median of 1,000 calls)")
        pg.locate_many(lon[:1000], lat[:1000])  # the kept indexes built outside the timing
        pg.nearest_teams_many(lon[:10], lat[:10], k=3)
        for name, store, n in (("SQLite, in process", sqlite, 1000),
                               ("PostGIS, in process", pg, 1000),
                               ("PostGIS, SQL", pg_sql, 200)):
            times = []
            for i in range(n):
                t = time.perf_counter()
                store.locate(lon[i], lat[i])
                store.nearest_teams(lon[i], lat[i], k=3)
                times.append(time.perf_counter() - t)
            print(f"  {name:<20} median {statistics.median(times) * 1e3:.3f} ms, "
                  f"p99 {np.percentile(times, 99) * 1e3:.3f} ms over {n} calls")
        pg.close()
        pg_sql.close()
    finally:
        cluster.stop()
        sqlite.close()


if __name__ == "__main__":
    main()
