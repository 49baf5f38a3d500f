"""Load test of the HTTP service on loopback: post reports, accept and dispatch them.

Starts a throwaway PostGIS cluster (or uses --db), loads the demo city, runs
`griddispatch serve` as its own process(es), and drives it from here with a small keep-alive
HTTP/1.1 client on asyncio (closed loop: each connection sends its next request when the
last answer arrived). Bounded by --reports and --seconds. Prints throughput and p50/p99 per
request kind; with --compare-sqlite the same load against the embedded backend, and ratios.

    python bench/bench_api.py --reports 3000 --connections 16 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures import accounts  # noqa: E402
from fixtures.jilin import generate  # noqa: E402
from geo.codes import LENGTHS  # noqa: E402
from geo.store import open_store  # noqa: E402
from geo.taxonomy import CATEGORIES  # noqa: E402

EXE = str(Path(sys.executable).with_name("griddispatch"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str, city) -> None:
    store = open_store(url)
    store.migrate()
    store.load_city(city)
    accounts.install(store, city.landmarks)
    store.close()


def start_server(url: str, port: int, workers: int, env: dict | None = None) -> subprocess.Popen:
    """`griddispatch serve` in its own process; `env` adds settings (GRIDDISPATCH_...)."""
    proc = subprocess.Popen([EXE, "--db", url, "serve", "--port", str(port), "--workers",
                             str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "GRIDDISPATCH_ACTOR_CACHE_SECONDS": "5",
                                 **(env or {})})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start within 60 s")


def token(port: int, user: str) -> str:
    data = urllib.parse.urlencode({"username": user, "password": "demo"}).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/auth/token", data) as r:
        return json.load(r)["access_token"]


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough protocol for JSON requests."""

    def __init__(self, port: int, auth: str):
        self.port, self.auth = port, auth

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: dict | None) -> tuple[int, dict, float]:
        """POST a JSON body, or GET when `body` is None."""
        if body is None:
            request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       f"Authorization: Bearer {self.auth}\r\n\r\n").encode()
        else:
            payload = json.dumps(body).encode()
            request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                       f"{self.auth}\r\nContent-Type: application/json\r\nContent-Length: "
                       f"{len(payload)}\r\n\r\n").encode() + payload
        started = time.perf_counter()
        self.writer.write(request)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        elapsed = time.perf_counter() - started
        return int(status_line.split()[1]), json.loads(data) if data else {}, elapsed


async def drive(port: int, auth: str, points: np.ndarray, reports: int, connections: int,
                seconds: float, mode: str = "cycle") -> dict:
    latencies: dict[str, list[float]] = {"report": [], "accept": [], "dispatch": [],
                                         "users/me": []}
    statuses: dict[str, dict[int, int]] = {k: {} for k in latencies}
    issued = 0
    stop_at = time.perf_counter() + seconds
    categories = [c.code for c in CATEGORIES]
    rng = random.Random(7)

    async def record(kind, call):
        status, body, elapsed = await call
        latencies[kind].append(elapsed)
        statuses[kind][status] = statuses[kind].get(status, 0) + 1
        return status, body

    async def worker():
        nonlocal issued
        conn = Connection(port, auth)
        await conn.open()
        while issued < reports and time.perf_counter() < stop_at:
            issued += 1
            if mode == "floor":  # an authenticated request that does no casework
                await record("users/me", conn.post("/api/v1/users/me", None))
                continue
            lon, lat = points[rng.randrange(len(points))]
            status, body = await record("report", conn.post("/api/v1/issues", {
                "category_code": rng.choice(categories), "description": "load test",
                "lon": float(lon), "lat": float(lat)}))
            if status != 201 or mode != "cycle":
                continue
            iid = body["issue"]["id"]
            status, _ = await record("accept", conn.post(f"/api/v1/issues/{iid}/accept", {}))
            teams = body["recommended_teams"]
            if status == 200 and teams:
                await record("dispatch", conn.post(f"/api/v1/issues/{iid}/dispatch",
                                                   {"team_ids": [teams[0]["team_id"]]}))
        conn.writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    wall = time.perf_counter() - started
    done = len(latencies["report"]) or len(latencies["users/me"])
    out = {"wall_s": wall, "reports": done, "reports_per_s": done / wall,
           "requests_per_s": sum(len(v) for v in latencies.values()) / wall}
    for kind, values in latencies.items():
        ms = np.array(values) * 1000
        out[kind] = {"n": len(values), "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
                     "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
                     "statuses": statuses[kind]}
    return out


def run_backend(url: str, city, points, args, workers: int) -> dict:
    prepare(url, city)
    port = free_port()
    proc = start_server(url, port, workers)
    try:
        auth = token(port, "dispatcher")
        # Warm-up: caches, pools and the JIT-compiled locate kernel.
        asyncio.run(drive(port, auth, points, 50, 4, 30, args.mode))
        return asyncio.run(drive(port, auth, points, args.reports, args.connections,
                                 args.seconds, args.mode))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def show(name: str, r: dict, noun: str = "reports") -> None:
    print(f"{name}: {r['reports']:,} {noun} in {r['wall_s']:.1f} s = {r['reports_per_s']:.0f} "
          f"{noun}/s ({r['requests_per_s']:.0f} requests/s)")
    for kind in ("report", "accept", "dispatch", "users/me"):
        k = r[kind]
        if k["n"]:
            print(f"  {kind:9s} n={k['n']:6,}  p50 {k['p50_ms']:6.1f} ms  p99 {k['p99_ms']:6.1f} ms"
                  f"  statuses {k['statuses']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="server processes (PostGIS)")
    parser.add_argument("--mode", choices=("cycle", "intake", "floor"), default="cycle",
                        help="cycle: report, accept, dispatch; intake: reports only; floor: "
                             "GET /api/v1/users/me, the cost of the HTTP stack and auth alone")
    parser.add_argument("--compare-sqlite", action="store_true",
                        help="run the same load against the embedded SQLite backend too")
    args = parser.parse_args()
    args.reports = min(args.reports, 100_000)
    args.seconds = min(args.seconds, 300.0)

    city = generate()
    # Report where the demo dispatcher works: the grids of their two streets.
    streets = set()
    probe = tempfile.mkdtemp()
    sqlite_url = f"sqlite:///{probe}/bench.sqlite"
    prepare(sqlite_url, city)
    with open_store(sqlite_url) as store, store.tx() as tx:
        streets = set(json.loads(tx.one("SELECT jurisdiction FROM app_user WHERE username = "
                                        "'dispatcher'")["jurisdiction"]))
    grids = city.grids[city.grids.code.str[:LENGTHS["street"]].isin(streets)]
    centroids = grids.geometry.representative_point()
    points = np.column_stack([centroids.x, centroids.y])
    print(f"demo city: {len(city.grids):,} grids, {len(city.teams):,} teams; reports go to "
          f"{len(grids)} grids of streets {', '.join(sorted(streets))}")
    what = {"cycle": "report→accept→dispatch cycles", "intake": "reports",
            "floor": "GET /api/v1/users/me requests"}[args.mode]
    print(f"load: up to {args.reports:,} {what} on {args.connections} connections, at most "
          f"{args.seconds:.0f} s")

    cluster = None
    url = args.db
    if url is None:
        from tests.pgcluster import start

        cluster = start()
        url = cluster.new_database("bench")
    try:
        pg = run_backend(url, city, points, args, args.workers)
    finally:
        if cluster:
            cluster.stop()
    noun = "requests" if args.mode == "floor" else "reports"
    show(f"PostGIS, {args.workers} worker process(es)", pg, noun)
    if args.compare_sqlite:
        fresh = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
        lite = run_backend(fresh, city, points, args, 1)
        show("SQLite, 1 process", lite, noun)
        print(f"ratio PostGIS/SQLite {noun}/s: {pg['reports_per_s'] / lite['reports_per_s']:.2f}")


if __name__ == "__main__":
    main()
