"""Crash during intake, at full size: two `griddispatch serve` processes on one database take
reports with Idempotency-Keys on several connections; once half are acknowledged, every
process is killed with SIGKILL; they are started again, the clients send the unanswered
reports again with the same keys (and the ones not sent yet), and the database is read back.

The database itself is not crashed: on PostgreSQL this shows what a crash of the service
costs (the throwaway cluster runs with fsync off, so it says nothing about the machine
losing power); on SQLite the killed processes are the database, so it shows what a process
crash costs the file (WAL, synchronous=NORMAL).

Prints, per backend, what was acknowledged, unanswered and replayed, and whether any
acknowledged report was lost, duplicated, or left without its audit row. Exit status 1 if so.

    python bench/crash_intake.py --reports 2000 --connections 8
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import accounts  # noqa: E402
from fixtures.jilin import generate  # noqa: E402
from geo.store import open_store  # noqa: E402
from tests.processes import Servers, crash_intake, jurisdiction_points  # noqa: E402


def prepare(url: str, city) -> list:
    with open_store(url) as store:
        store.migrate()
        store.load_city(city)
        accounts.install(store, city.landmarks)
        return jurisdiction_points(store, city.landmarks)


def run_backend(backend: str, url: str, city, args) -> bool:
    points = prepare(url, city)
    servers = Servers(backend, url, Path(tempfile.mkdtemp(prefix=f"crash-{backend}-")))
    started = time.perf_counter()
    try:
        servers.start()
        run = crash_intake(servers, points, args.reports, args.connections,
                           args.reports // 2, tag=f"crash-{backend}-{int(time.time())}")
    finally:
        servers.stop()
    wall = time.perf_counter() - started
    lost, dup, unaudited = run.lost(), run.duplicated(), run.unaudited()
    print(f"{backend}: {run.summary()} ({wall:.1f} s with the restart)")
    if lost or dup or unaudited:
        print(f"  lost: {lost[:10]}, duplicated: {dup[:10]}, without audit: {unaudited[:10]}")
    return not (lost or dup or unaudited or len(run.stored) != args.reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="PostgreSQL URL of an empty database (default: a "
                                     "throwaway cluster)")
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--backend", choices=("both", "postgis", "sqlite"), default="both")
    args = parser.parse_args()
    city = generate()
    print(f"demo city: {len(city.grids):,} grids; {args.reports:,} reports on "
          f"{args.connections} connections over 2 server processes, all killed after "
          f"{args.reports // 2:,} answers")
    good = True
    if args.backend in ("both", "postgis"):
        cluster, url = None, args.db
        if url is None:
            from tests.pgcluster import start

            cluster = start()
            url = cluster.new_database("crash")
        try:
            good &= run_backend("postgis", url, city, args)
        finally:
            if cluster:
                cluster.stop()
    if args.backend in ("both", "sqlite"):
        good &= run_backend("sqlite", f"sqlite:///{tempfile.mkdtemp()}/crash.sqlite", city, args)
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
