"""The cost of one report without HTTP: `geo.casework.intake.report` called in a loop.

Separates the casework (locate, rank, duplicates, the write transaction) from the web stack
that bench_api.py measures. PostGIS on a throwaway cluster and SQLite, the same reports.

    python bench/bench_intake.py --reports 300 --repeat 3 [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures import accounts  # noqa: E402
from fixtures.jilin import generate  # noqa: E402
from geo.casework.intake import Report, report  # noqa: E402
from geo.casework.scope import Actor  # noqa: E402
from geo.store import open_store  # noqa: E402


def run(store, city, n: int, repeat: int, profile: bool) -> list[float]:
    store.migrate()
    store.load_city(city)
    accounts.install(store, city.landmarks)
    lon, lat = city.landmarks[accounts.STORY_PLACES[0]]
    actor = Actor("dispatcher", "dispatcher", tuple(
        {store.locate(*city.landmarks[p]).street_code for p in accounts.STORY_PLACES}))
    rng = random.Random(7)

    def one():
        report(store, actor, Report(rng.choice(["L01", "L02", "S01"]), "bench",
                                    lon + rng.uniform(-0.003, 0.003), lat), datetime.now(UTC))

    for _ in range(20):  # warm caches, prepared statements and the locate kernel
        one()
    per_report = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(n):
            one()
        per_report.append((time.perf_counter() - started) / n * 1000)
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(n):
            one()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return per_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round")
    args = parser.parse_args()
    city = generate()
    from tests.pgcluster import start

    cluster = start()
    try:
        with open_store(cluster.new_database("intake")) as store:
            pg = run(store, city, args.reports, args.repeat, args.profile)
    finally:
        cluster.stop()
    with open_store(f"sqlite:///{tempfile.mkdtemp()}/intake.sqlite") as store:
        lite = run(store, city, args.reports, args.repeat, args.profile)
    pg_ms, lite_ms = statistics.median(pg), statistics.median(lite)
    print(f"one report, no HTTP, median of {args.repeat} rounds of {args.reports}:")
    print(f"  PostGIS {pg_ms:.2f} ms   SQLite {lite_ms:.2f} ms   ratio PostGIS/SQLite "
          f"{pg_ms / lite_ms:.2f}")


if __name__ == "__main__":
    main()
