"""The full hotspot analysis of a year of reports, and the obvious alternatives.

Builds the demo city with --reports reports over its year (1,000,000 by default; the
street-vendor stories included) on the embedded SQLite backend, then --runs times: reads the
reports back (`load_reports`) and runs the whole analysis the hotspot map draws
(`analysis.analyse`: heat per monthly slice, DBSCAN clusters, Gi* on grids, the space-time
cube with emerging patterns, displacement, repeat spots), timing each part. Medians.

In the same run, the alternatives:
- Gi* of the monthly cube with esda (`G_Local(star=True, permutations=0)`, one slice per
  call) against our single sparse product;
- DBSCAN on the raw positions of --raw-sample reports (memory grows with the neighbours of
  every report, so not on all of them) against our snapped and weighted DBSCAN on the same.

    python bench/bench_hotspots.py --reports 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from fixtures.jilin import REFERENCE_TIME, generate  # noqa: E402
from geo.casework.scope import Actor  # noqa: E402
from geo.hotspots import analysis  # noqa: E402
from geo.hotspots.bins import assign, pearson  # noqa: E402
from geo.hotspots.clusters import auto_min_reports, dbscan  # noqa: E402
from geo.hotspots.emerging import slice_edges  # noqa: E402
from geo.hotspots.gistar import gi_star  # noqa: E402
from geo.hotspots.reports import HotspotQuery, epoch  # noqa: E402
from geo.hotspots.study import open_study  # noqa: E402
from geo.store import open_store  # noqa: E402

ADMIN = Actor("bench", "admin")


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def one_run(store, q, p):
    """Read the study, then run each part of the analysis; seconds per part."""
    times = {}
    def read():
        study = open_study(store, ADMIN, q)
        study.reports  # noqa: B018 (read on first use: the read is part of this step)
        return study

    times["read reports and grids"], study = timed(read)
    times["grid bins and neighbours"], bins = timed(lambda: study.bins("grid"))
    steps = {
        "heat per month": lambda: analysis.heat_slices(study.reports, q, p),
        "clusters (DBSCAN)": lambda: analysis.clusters(study.reports, p, study.area_m2),
        "Gi* on grids": lambda: analysis.gistar(study.reports, bins, True),
        "emerging patterns": lambda: analysis.emerging(analysis.cube(study.reports, bins, q, p), p),
        "displacement": lambda: analysis.displacement(study.reports, q, p, study.area_m2),
        "repeat spots": lambda: analysis.repeat_spots(study.reports, p),
    }
    for name, step in steps.items():
        times[name] = timed(step)[0]
    return study, times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--raw-sample", type=int, default=100_000)
    parser.add_argument("--db", help="an existing database holding the city (skips building)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.db or f"sqlite:///{Path(tmp.name) / 'hot.sqlite'}"
    store = open_store(url)
    if not args.db:
        t, city = timed(lambda: generate(args.grids, args.reports, now=REFERENCE_TIME))
        print(f"generated {args.grids:,} grids and {args.reports:,} reports in {t:.1f} s")
        store.migrate()
        t, _ = timed(lambda: store.load_city(city))
        print(f"stored in {t:.1f} s")
    q = HotspotQuery.build(REFERENCE_TIME)
    p = analysis.Params()
    parts: dict[str, list[float]] = {}
    study = None
    for run in range(args.runs):
        study, times = one_run(store, q, p)
        for name, t in times.items():
            parts.setdefault(name, []).append(t)
        parts.setdefault("TOTAL", []).append(sum(times.values()))
        print(f"run {run + 1}: {len(study.reports):,} reports, total {parts['TOTAL'][-1]:.2f} s",
              flush=True)
    print(f"\nfull analysis of {len(study.reports):,} reports, medians of {args.runs}:")
    for name, times in parts.items():
        print(f"  {name:28s} {statistics.median(times):7.2f} s   (runs: "
              f"{', '.join(f'{v:.2f}' for v in times)})")

    # Alternative 1: esda's G_Local once per slice, against one sparse product.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import esda
        import libpysal
    bins = study.bins("grid")
    edges = slice_edges(epoch(q.since), epoch(q.until), p.slice)
    where = assign(bins, study.reports)
    slot = np.searchsorted(edges, study.reports.reported, side="right") - 1
    ok = (slot >= 0) & (slot < len(edges) - 1) & (where >= 0)
    counts = np.zeros((len(bins), len(edges) - 1))
    np.add.at(counts, (where[ok], slot[ok]), 1.0)
    values = pearson(counts, bins.area_m2)
    w = libpysal.weights.WSP(bins.neighbours - sp.identity(len(bins), format="csr")).to_W(
        silence_warnings=True)
    ours, esdas = [], []
    for _ in range(args.runs):
        ours.append(timed(lambda: gi_star(bins.neighbours, values))[0])
        esdas.append(timed(lambda: [esda.G_Local(values[:, k], w, transform="B", star=True,
                                                 permutations=0).Zs
                                    for k in range(values.shape[1])])[0])
    a, b = statistics.median(ours), statistics.median(esdas)
    print(f"\nGi* of the {values.shape[1]}-slice cube on {len(bins):,} grids: ours {a * 1000:.1f} ms,"
          f" esda one slice per call {b * 1000:.1f} ms ({b / a:.1f}x)")

    # Alternative 2: DBSCAN on raw positions vs snapped and weighted, same sample.
    from sklearn.cluster import DBSCAN

    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(study.reports), min(args.raw_sample, len(study.reports)),
                              replace=False))
    sample = study.reports.take(pick)
    m = auto_min_reports(sample.x, sample.y, p.eps_m, study.area_m2)
    raw_t, snapped_t = [], []
    for _ in range(args.runs):
        raw_t.append(timed(lambda: DBSCAN(eps=p.eps_m, min_samples=m).fit(
            np.column_stack([sample.x, sample.y])))[0])
        snapped_t.append(timed(lambda: dbscan(sample, p.eps_m, m))[0])
    a, b = statistics.median(snapped_t), statistics.median(raw_t)
    print(f"DBSCAN on {len(sample):,} reports (eps {p.eps_m:.0f} m, min {m}): snapped and "
          f"weighted {a:.2f} s, raw positions {b:.2f} s ({b / a:.1f}x)")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
