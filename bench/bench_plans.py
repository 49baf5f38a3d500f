"""Publishing a large area's new boundaries: open a draft of a district of about 5,000 grids
in a city with 1,000,000 historical issues, split --splits grids, validate, preview the
impact and publish (retiring and inserting grids, re-locating the district's open issues);
then ask where points were before and after. On SQLite. Each step is timed; --runs repeats
from a fresh copy of the database.

In the same run, the obvious alternative for locating issues in grids: geopandas.sjoin of
the city's open issues with its grids, against the batch locate (GridIndex) that publish and
the preview use.

    python bench/bench_plans.py --grids 20000 --issues 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import shapely  # noqa: E402

from bench.bench_hotspots import ADMIN, timed  # noqa: E402
from fixtures.jilin import REFERENCE_TIME, generate  # noqa: E402
from geo.planning import drafts  # noqa: E402
from geo.planning.impact import assign, impact  # noqa: E402
from geo.planning.publish import publish  # noqa: E402
from geo.store import open_store  # noqa: E402


def one_run(url: str, splits: int) -> dict:
    store = open_store(url)
    grids = store.read_layer("grids")
    district = grids.district_code.value_counts().index[0]
    times = {}
    times["open draft"], draft = timed(lambda: drafts.open_draft(store, ADMIN, district, "bench",
                                                                REFERENCE_TIME))
    ordered = sorted(draft.grids, key=lambda g: -shapely.area(g.geom))[:splits]
    started = time.perf_counter()
    for g in ordered:  # as a client would: each split's answer holds the next ETags
        current = draft.grid(g.key)
        x0, y0, x1, y1 = current.geom.bounds
        mid = (x0 + x1) / 2
        line = shapely.LineString([(mid, y0 - 0.01), (mid, y1 + 0.01)])
        draft = drafts.split(store, ADMIN, draft.id, g.key, line, [current.etag(draft.id)])
    times[f"{splits} splits"] = time.perf_counter() - started
    times["validate"], (draft, problems) = timed(lambda: drafts.check_draft(store, ADMIN, draft.id))
    assert not problems, problems[:3]
    times["impact preview"], preview = timed(lambda: impact(store, ADMIN, draft.id,
                                                            REFERENCE_TIME))
    times["publish"], result = timed(lambda: publish(store, ADMIN, draft.id, [draft.etag],
                                                     REFERENCE_TIME + timedelta(hours=1)))
    probe = ordered[0].geom.representative_point()
    before = store.locate(probe.x, probe.y, at=REFERENCE_TIME).grid_code
    after = store.locate(probe.x, probe.y).grid_code
    print(f"  district {district}: {len(draft.grids):,} grids in the draft, "
          f"{len(result['added'])} added, {len(result['changed'])} changed, "
          f"{result['relocated_issues']} open issues re-located, "
          f"{len(preview['changes_hands'])} things changing grid; a point in the first split "
          f"grid: {before} before, {after} after", flush=True)
    store.close()
    return times


def relocation_alternative(url: str) -> tuple[float, float, int]:
    store = open_store(url)
    grids = store.read_layer("grids")
    issues = store.read_layer("issues")
    open_ = issues[~issues.state.isin(["closed", "rejected", "merged"])]
    labels, geoms = list(grids.code), list(grids.geometry.values)
    lon, lat = open_.geometry.x.to_numpy(), open_.geometry.y.to_numpy()
    ours = timed(lambda: assign(labels, geoms, lon, lat))[0]
    frame = gpd.GeoDataFrame({"code": labels}, geometry=geoms, crs=4326)
    theirs = timed(lambda: gpd.sjoin(open_[["geometry"]], frame, predicate="within"))[0]
    store.close()
    return ours, theirs, len(open_)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=20000)
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--splits", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", metavar="PATH", help="build the city here once and reuse it")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    base = Path(args.keep) if args.keep else Path(tmp.name) / "city.sqlite"
    if not base.exists():
        t, city = timed(lambda: generate(args.grids, args.issues, now=REFERENCE_TIME))
        store = open_store(f"sqlite:///{base}")
        store.migrate()
        t2, _ = timed(lambda: store.load_city(city))
        store.close()
        print(f"city of {args.grids:,} grids and {args.issues:,} issues built in {t:.1f} s, "
              f"stored in {t2:.1f} s", flush=True)
    else:
        store = open_store(f"sqlite:///{base}")
        store.migrate()
        store.close()
    parts: dict[str, list[float]] = {}
    for run in range(args.runs):
        copy = Path(tmp.name) / f"run{run}.sqlite"
        shutil.copy(base, copy)
        for suffix in ("-wal", "-shm"):
            if Path(str(base) + suffix).exists():
                shutil.copy(str(base) + suffix, str(copy) + suffix)
        print(f"run {run + 1}:", flush=True)
        for name, t in one_run(f"sqlite:///{copy}", args.splits).items():
            parts.setdefault(name, []).append(t)
    print(f"\nmedians of {args.runs}:")
    for name, times in parts.items():
        print(f"  {name:16s} {statistics.median(times):7.2f} s   (runs: "
              f"{', '.join(f'{v:.2f}' for v in times)})")
    ours, theirs, n = relocation_alternative(f"sqlite:///{base}")
    print(f"\nlocating the city's {n:,} open issues in its grids: GridIndex (publish, preview) "
          f"{ours * 1000:.0f} ms, geopandas.sjoin {theirs * 1000:.0f} ms ({theirs / ours:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
