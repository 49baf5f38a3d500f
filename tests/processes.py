"""Real `griddispatch serve` processes sharing one database, for races between processes and
for crashes: requests sent to different processes meet only in the database, as they do in
production, and a process can be killed with SIGKILL and started again.

`two_servers` (once per backend for the whole session: starting a process takes seconds)
gives a `Servers` pair on its own copy of the test city, with the demo accounts (password
`demo`). Tests that use it make their own issues and drafts, leave the mode as they found it,
and may kill and restart the processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

GRIDDISPATCH = str(Path(sys.executable).with_name("griddispatch"))
ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One `griddispatch serve` process on a loopback port, its output in `log`."""

    def __init__(self, db_url: str, log: Path):
        self.db_url, self.log = db_url, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from tests.http import TEST_SECRET  # imports the app, which a test process has anyway

        env = {**os.environ, "GRIDDISPATCH_SECRET_KEY": TEST_SECRET,
               "GRIDDISPATCH_ENVIRONMENT": "demo"}
        env.pop("GRIDDISPATCH_DATABASE_URL", None)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [GRIDDISPATCH, "--db", self.db_url, "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT, env=env,
                cwd=ROOT, start_new_session=True)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"griddispatch serve exited with {self.proc.returncode}:\n"
                                   f"{self.tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"griddispatch serve did not answer /healthz within "
                           f"{START_TIMEOUT_S} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


class Servers:
    """Several server processes on one database. Tokens are JWTs signed with one key, so a
    token from one process works on all of them."""

    def __init__(self, backend: str, db_url: str, log_dir: Path, n: int = 2):
        self.backend, self.db_url = backend, db_url
        self.procs = [ServerProcess(db_url, log_dir / f"server{i}.log") for i in range(n)]
        self._tokens: dict[str, str] = {}
        self._token_lock = threading.Lock()  # one login per user: logins are throttled

    def __len__(self) -> int:
        return len(self.procs)

    def start(self) -> None:
        for p in self.procs:  # all at once: each spends its start-up importing
            p.start()
        for p in self.procs:
            p.wait_ready()

    def kill_all(self) -> None:
        for p in self.procs:
            p.kill()

    def stop(self) -> None:
        for p in self.procs:
            p.stop()

    def url(self, i: int) -> str:
        return self.procs[i % len(self.procs)].url

    def token(self, user: str, password: str = "demo") -> str:
        with self._token_lock:
            if user in self._tokens:
                return self._tokens[user]
            r = httpx.post(f"{self.url(0)}/api/v1/auth/token", timeout=30,
                           data={"username": user, "password": password})
            r.raise_for_status()
            self._tokens[user] = r.json()["access_token"]
            return self._tokens[user]

    def client(self, i: int, user: str, **kwargs) -> httpx.Client:
        """A keep-alive client of process `i` (modulo the count) as `user`."""
        return httpx.Client(base_url=self.url(i), timeout=60,
                            headers={"Authorization": f"Bearer {self.token(user)}"}, **kwargs)

    def logs(self) -> str:
        return "\n".join(f"--- {p.log.name}\n{p.tail()}" for p in self.procs)


def together(*calls: Callable[[], object]) -> list:
    """Run each call in its own thread, released at the same moment by a barrier; their
    results in order (an exception is re-raised)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = [None] * len(calls)

    def run(k: int) -> None:
        barrier.wait()
        try:
            results[k] = calls[k]()
        except BaseException as exc:  # handed to the caller below
            errors[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results


def jurisdiction_points(store, landmarks: dict, streets: list[str] | None = None) -> list:
    """(lon, lat) inside each grid of the demo staff's streets (those of the story places),
    where the demo dispatcher may report."""
    from fixtures.accounts import STORY_PLACES
    from geo.codes import LENGTHS

    streets = streets or sorted({store.locate(*landmarks[p]).street_code for p in STORY_PLACES})
    grids = store.read_layer("grids")
    inner = grids[grids.code.str[:LENGTHS["street"]].isin(streets)].geometry.representative_point()
    return list(zip(inner.x, inner.y, strict=True))


@dataclass
class CrashRun:
    """What a crash during intake did: keys are Idempotency-Keys, values issue ids."""

    sent: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # 201 before the crash
    unanswered: list[str] = field(default_factory=list)  # sent, no answer: the crash
    unsent: list[str] = field(default_factory=list)
    retried: dict[str, int] = field(default_factory=dict)  # 201 after the restart
    replayed: set[str] = field(default_factory=set)  # ... of which were stored before it
    stored: dict[str, list[int]] = field(default_factory=dict)  # key -> issue ids in the DB
    audited: dict[int, int] = field(default_factory=dict)  # issue id -> its report events
    remembered: set[str] = field(default_factory=set)  # keys with a stored answer

    def lost(self) -> list[str]:
        """Acknowledged reports that are not in the database (under the acknowledged id)."""
        return [k for k, i in self.acknowledged.items() if self.stored.get(k) != [i]]

    def duplicated(self) -> list[str]:
        return [k for k, ids in self.stored.items() if len(ids) > 1]

    def unaudited(self) -> list[int]:
        return [i for ids in self.stored.values() for i in ids if self.audited.get(i) != 1]

    def summary(self) -> str:
        return (f"{self.sent} sent before the kill: {len(self.acknowledged)} acknowledged, "
                f"{len(self.unanswered)} unanswered; {len(self.unsent)} sent after the restart; "
                f"retries: {len(self.retried)} answered, {len(self.replayed)} of them replays of "
                f"reports stored before the kill; in the database: "
                f"{sum(len(v) for v in self.stored.values())} reports for {len(self.stored)} "
                f"keys; lost {len(self.lost())}, duplicated {len(self.duplicated())}, "
                f"without exactly one audit row {len(self.unaudited())}")


def crash_intake(servers: Servers, points: list, reports: int, connections: int,
                 kill_after: int, tag: str, user: str = "dispatcher") -> CrashRun:
    """Post `reports` reports with Idempotency-Keys on `connections` connections spread over
    the processes; SIGKILL every process once `kill_after` are acknowledged; start them
    again; send the unanswered ones again with the same keys, and the unsent ones; then read
    what the database holds. Descriptions carry the key, so that duplicates would show."""
    from geo.store import open_store

    keys = [f"{tag}-{k}" for k in range(reports)]
    body = {key: {"category_code": "L01", "description": key, "lon": float(points[k % len(points)][0]),
                  "lat": float(points[k % len(points)][1])} for k, key in enumerate(keys)}
    run, lock, killed = CrashRun(), threading.Lock(), threading.Event()
    todo = list(reversed(keys))

    def post(c: httpx.Client, key: str) -> httpx.Response:
        return c.post("/api/v1/issues", json=body[key], headers={"Idempotency-Key": key})

    def before_crash(i: int) -> None:
        with servers.client(i, user) as c:
            while True:
                with lock:
                    if killed.is_set() or not todo:
                        return
                    key = todo.pop()
                    run.sent += 1
                try:
                    r = post(c, key)
                except httpx.TransportError:
                    r = None
                with lock:
                    if r is not None and r.status_code == 201:
                        run.acknowledged[key] = r.json()["issue"]["id"]
                    else:
                        run.unanswered.append(key)
                    if len(run.acknowledged) >= kill_after and not killed.is_set():
                        killed.set()
                        servers.kill_all()

    _in_threads(before_crash, connections)
    servers.kill_all()  # in case every report was answered before the count was reached
    run.unsent = list(reversed(todo))
    servers.start()
    again = run.unanswered + run.unsent

    def after_restart(i: int) -> None:
        with servers.client(i, user) as c:
            for key in again[i::connections]:
                r = post(c, key)
                assert r.status_code == 201, f"{key}: {r.status_code} {r.text}"
                with lock:
                    run.retried[key] = r.json()["issue"]["id"]
                    if r.headers.get("Idempotent-Replayed") == "true":
                        run.replayed.add(key)

    _in_threads(after_restart, connections)
    with open_store(servers.db_url) as store, store.snapshot() as tx:
        d = tx.dialect
        for r in tx.rows(f"SELECT id, description FROM issue WHERE {d.in_list('description', 'k')} "
                         "ORDER BY id", {"k": keys}):
            run.stored.setdefault(r["description"], []).append(r["id"])
        ids = [i for v in run.stored.values() for i in v]
        for r in tx.rows("SELECT issue_id, count(*) AS n FROM issue_event WHERE action = 'report' "
                         f"AND {d.in_list('issue_id', 'ids')} GROUP BY issue_id", {"ids": ids}):
            run.audited[r["issue_id"]] = int(r["n"])
        run.remembered = {r["key"] for r in tx.rows(
            f"SELECT key FROM idempotency WHERE username = :u AND {d.in_list('key', 'k')}",
            {"u": user, "k": keys})}
    return run


def _in_threads(work: Callable[[int], None], n: int) -> None:
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _pg_database(admin_url: str, template: str, name: str):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _pg_drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session", params=["postgis", "sqlite"])
def two_servers(request, tmp_path_factory):
    """Two server processes on one fresh copy of the test city, per backend."""
    backend = request.param
    work = tmp_path_factory.mktemp(f"servers-{backend}")
    if backend == "postgis":
        admin = request.getfixturevalue("pg_admin_url")
        name = f"gd_proc_{os.getpid()}_{work.name.replace('-', '_')}"
        url = _pg_database(admin, request.getfixturevalue("pg_template"), name)
    else:
        path = work / "city.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    servers = Servers(backend, url, work)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
        if backend == "postgis":
            _pg_drop(admin, name)
