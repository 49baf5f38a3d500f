"""Batch locate on a real Dask cluster: a scheduler and two worker processes on 127.0.0.1,
started with the `dask` command as the README says. `griddispatch locate --scheduler` writes
the file the in-process command writes, byte for byte, on both backends, with the partitions
spread over both workers; a scheduler that does not answer is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from tests.test_cli import ENGLISH, run

DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a scheduler with two worker processes of one thread each."""
    folder = tmp_path_factory.mktemp("dask")
    spec = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(spec)],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not spec.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        procs += [subprocess.Popen([DASK, "worker", "--scheduler-file", str(spec),
                                    "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                    "--host", "127.0.0.1", "--name", f"w{i}"],
                                   cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) for i in range(2)]
        from distributed import Client

        with Client(scheduler_file=str(spec), timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


@pytest.fixture(params=["sqlite", "postgis"])
def url(request):
    return request.getfixturevalue({"sqlite": "sqlite_url", "postgis": "pg_url"}[request.param])


def test_the_cluster_writes_what_one_process_writes(scheduler, url, city, tmp_path):
    """Random points, every grid's vertices (shared by neighbours: the tie rule) and points
    outside, in partitions of 500 points over the two workers."""
    rng = np.random.default_rng(6)
    x0, y0, x1, y1 = city.grids.total_bounds
    vertices = np.unique(shapely.get_coordinates(city.grids.geometry.to_numpy()), axis=0)
    lon = np.concatenate([rng.uniform(x0 - 0.01, x1 + 0.01, 4000), vertices[:2000, 0]])
    lat = np.concatenate([rng.uniform(y0 - 0.01, y1 + 0.01, 4000), vertices[:2000, 1]])
    src = tmp_path / "points.csv"
    pd.DataFrame({"id": [f"p{i}" for i in range(len(lon))], "lon": lon, "lat": lat}).to_csv(
        src, index=False, float_format="%.17g")
    here, there = tmp_path / "here.csv", tmp_path / "there.csv"
    run("--db", url, "locate", str(src), "-o", str(here))
    done = run("--db", url, "locate", str(src), "-o", str(there), "--scheduler", scheduler,
               "--partition", "500")
    assert there.read_bytes() == here.read_bytes()
    got = pd.read_csv(there, dtype=str, keep_default_na=False)
    used = min(2000, len(vertices))  # every vertex lies in some grid
    assert (got.grid_code != "").sum() >= used and (got.grid_code == "").sum() > 100
    spread = done.stderr.split("located on 2 workers: ", 1)[1].splitlines()[0]
    counts = [int(part.rsplit(" ", 2)[1]) for part in spread.split(", ")]
    assert len(counts) == 2 and sum(counts) == -(-len(lon) // 500) and min(counts) > 0


def test_a_scheduler_that_does_not_answer_is_a_clear_error(sqlite_url, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,lon,lat\n1,126.5,43.8\n")
    env = {**ENGLISH, "GRIDDISPATCH_SCHEDULER": "tcp://127.0.0.1:9"}
    done = run("--db", sqlite_url, "locate", str(src), "-o", str(tmp_path / "o.csv"), ok=False,
               env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert not (tmp_path / "o.csv").exists()
