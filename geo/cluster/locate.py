"""Batch locate on a Dask cluster.

The polygons (grids valid at the moment asked, compounds, buildings) are read once from the
store and sent to every worker; the points go in partitions, and each worker locates its
partitions with the same `GridIndex` as a single process, built once per job on that
worker. The answers are the in-process ones row for row: the same polygons, byte for byte
(WKB), the same index and tie rule. The result comes back factorised, as
`Store.locate_factorised` gives it, so the command writes it the same way."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from geo.crs import to_storage
from geo.store import Store
from geo.store.base import level_tables, utc

PARTITION = 250_000  # points a task locates: big enough to amortise a task, small to spread
LAYERS = ("grid", "compound", "building")
_BUILT: dict[str, object] = {}  # on a worker: the indexes of the jobs it ran, by job


@dataclass(frozen=True)
class ClusterRun:
    """What a cluster job did: its result, and how its partitions were spread."""

    located: dict[str, tuple[np.ndarray, np.ndarray]]
    partitions_by_worker: dict[str, int]


def _indexes(job: str, polygons: dict):
    """This worker's indexes of the job's polygons (built on the first partition)."""
    import shapely

    from geo.gridindex import GridIndex

    built = _BUILT.get(job)
    if built is None:
        _BUILT.clear()  # one job's indexes at a time: a worker serves job after job
        built = _BUILT[job] = {layer: GridIndex(codes, shapely.from_wkb(wkb))
                               for layer, (codes, wkb) in polygons.items()}
    return built


def _locate_partition(job: str, polygons: dict, lon: np.ndarray, lat: np.ndarray):
    from distributed import get_worker

    indexes = _indexes(job, polygons)
    return get_worker().address, {layer: indexes[layer].locate(lon, lat).astype(np.int32)
                                  for layer in LAYERS}


def locate(client, store: Store, lon, lat, crs: str = "wgs84", at: datetime | None = None,
           partition: int = PARTITION) -> ClusterRun:
    """Batch locate of (lon, lat) in `crs` on the cluster of `client` (a distributed.Client):
    per column of LOCATED_COLUMNS a table of codes and per point an index into it, or -1."""
    x, y = to_storage(lon, lat, crs)
    polygons = {layer: store.polygons(layer, utc(at) if layer == "grid" else None)
                for layer in LAYERS}
    job = f"locate-{uuid.uuid4().hex}"
    [shared] = client.scatter([polygons], broadcast=True)
    futures = [client.submit(_locate_partition, job, shared, x[i:i + partition],
                             y[i:i + partition], pure=False) for i in range(0, len(x), partition)]
    parts = client.gather(futures)
    by_worker: dict[str, int] = {}
    for address, _ in parts:
        by_worker[address] = by_worker.get(address, 0) + 1
    idx = {layer: (np.concatenate([p[layer] for _, p in parts]).astype(np.int64) if parts
                   else np.zeros(0, dtype=np.int64)) for layer in LAYERS}
    located = {f"{level}_code": (prefixes, np.where(idx["grid"] < 0, -1, which[idx["grid"]]))
               for level, (prefixes, which) in level_tables(polygons["grid"][0]).items()}
    for layer in ("compound", "building"):
        located[f"{layer}_code"] = (polygons[layer][0], idx[layer])
    return ClusterRun(located, by_worker)
