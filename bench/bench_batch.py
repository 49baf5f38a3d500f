"""The whole batch command, file to file, against a plain geopandas script, in one run.

    python bench/bench_batch.py [--grids 2000] [--points 1000000] [--repeat 3]

Builds the demo city (SQLite), exports its grids to a GeoPackage (the geopandas script's
input, as a planner would hand it over), draws random points over the urban districts into
CSV and Parquet, then times each command as a fresh process, imports included (median of --repeat):

- `griddispatch locate points.csv -o out.csv` and the same from and to Parquet: grid,
  community, street, district, compound and building codes per point;
- the geopandas script: `read_csv` → `points_from_xy` → `sjoin` (intersects) with the grids
  → `to_csv` of id and grid code.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import shulan  # noqa: E402
from fixtures.jilin import generate  # noqa: E402
from geo.store import open_store  # noqa: E402

EXE = str(Path(sys.executable).with_name("griddispatch"))
GEOPANDAS_SCRIPT = """
import sys
import geopandas as gpd
import pandas as pd
points_csv, grids_gpkg, out = sys.argv[1:4]
df = pd.read_csv(points_csv, dtype={"id": str})
points = gpd.GeoDataFrame(df[["id"]], geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
grids = gpd.read_file(grids_gpkg, engine="pyogrio")[["code", "geometry"]]
joined = gpd.sjoin(points, grids, how="left", predicate="intersects")
joined = joined[~joined.index.duplicated()]  # a point on a shared edge: one row, any grid
joined[["id", "code"]].rename(columns={"code": "grid_code"}).to_csv(out, index=False)
"""


def median_seconds(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        city = generate(args.grids, 1000, seed=1)
        url = f"sqlite:///{tmp / 'city.sqlite'}"
        with open_store(url) as store:
            store.migrate()
            store.load_city(city)
        subprocess.run([EXE, "--db", url, "export", "grids", "-o", str(tmp / "grids.gpkg")],
                       check=True, capture_output=True)
        # Over the urban districts (舒兰市 lies 70 km off: its box would be mostly empty land).
        x0, y0, x1, y1 = city.grids[~shulan.is_part(city.grids.code)].total_bounds
        rng = np.random.default_rng(7)
        frame = pd.DataFrame({"id": [f"p{i}" for i in range(args.points)],
                              "lon": rng.uniform(x0, x1, args.points),
                              "lat": rng.uniform(y0, y1, args.points)})
        frame.to_csv(tmp / "points.csv", index=False)
        frame.to_parquet(tmp / "points.parquet", index=False)
        print(f"{args.points:,} points over {len(city.grids):,} grids; medians of {args.repeat} "
              "runs, each command a fresh process (imports included)")
        runs = {
            "griddispatch locate CSV -> CSV": [EXE, "--db", url, "locate", str(tmp / "points.csv"),
                                               "-o", str(tmp / "ours.csv")],
            "griddispatch locate Parquet -> Parquet": [
                EXE, "--db", url, "locate", str(tmp / "points.parquet"), "-o",
                str(tmp / "ours.parquet")],
            "geopandas read_csv/sjoin/to_csv": [
                sys.executable, "-c", GEOPANDAS_SCRIPT, str(tmp / "points.csv"),
                str(tmp / "grids.gpkg"), str(tmp / "theirs.csv")],
        }
        seconds = {name: median_seconds(cmd, args.repeat) for name, cmd in runs.items()}
        for name, s in seconds.items():
            print(f"  {name:42s} {s:6.2f} s  {args.points / s / 1e6:5.2f} M points/s")
        base = seconds["geopandas read_csv/sjoin/to_csv"]
        for name in list(runs)[:2]:
            print(f"  ratio: {name} is {base / seconds[name]:.2f}x the geopandas script")
        ours = pd.read_csv(tmp / "ours.csv", dtype=str, keep_default_na=False)
        theirs = pd.read_csv(tmp / "theirs.csv", dtype=str, keep_default_na=False)
        same = (ours.grid_code == theirs.grid_code).mean()
        print(f"  same grid as geopandas for {same:.4%} of points (the rest lie on shared edges, "
              "where only ours applies the tie rule)")
        t = time.perf_counter()
        subprocess.run([EXE, "--help"], check=True, capture_output=True)
        print(f"  griddispatch --help (start-up alone): {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
