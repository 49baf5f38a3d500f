"""A throwaway PostgreSQL cluster with PostGIS on 127.0.0.1, for tests and benchmarks.

Runs initdb/pg_ctl from the installed PostgreSQL; as root it runs them as the `postgres`
user, since the server refuses to run as root. The cluster lives in a temporary folder and
is removed on stop.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass


class ClusterError(RuntimeError):
    """PostgreSQL or PostGIS could not be started."""


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ClusterError("PostgreSQL server binaries not found under /usr/lib/postgresql; "
                           "install postgresql-15-postgis-3")
    return os.path.dirname(found[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running throwaway cluster; `url(db)` gives a connection URL."""

    folder: str
    port: int
    user: str
    _run_as: list[str]
    _bin: str

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, name: str) -> str:
        """Create an empty database in the cluster; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self._run_as, f"{self._bin}/pg_ctl", "-D", f"{self.folder}/data",
                        "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Cluster:
    """Start a cluster and check that PostGIS can be created in it; raise ClusterError if not."""
    bindir = _bindir()
    folder = tempfile.mkdtemp(prefix="griddispatch-pg-")
    run_as: list[str] = []
    user = os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
        user = "postgres"
    port = _free_port()
    data = f"{folder}/data"
    steps = [
        [*run_as, f"{bindir}/initdb", "-D", data, "-U", user, "-A", "trust", "-E", "UTF8",
         "--locale=C.UTF-8"],
        [*run_as, f"{bindir}/pg_ctl", "-D", data, "-l", f"{folder}/server.log", "-w", "-o",
         f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
         "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
         "start"],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            log = ""
            if os.path.exists(f"{folder}/server.log"):
                log = open(f"{folder}/server.log", encoding="utf-8").read()[-2000:]
            shutil.rmtree(folder, ignore_errors=True)
            raise ClusterError(f"{' '.join(cmd[len(run_as):][:1])} failed: "
                               f"{done.stderr.strip()} {log}")
    cluster = Cluster(folder, port, user, run_as, bindir)
    import psycopg

    try:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        cluster.stop()
        raise ClusterError(f"PostGIS is not available in the cluster: {exc}") from exc
    return cluster
