"""Repeat spots (rework in the field): a report of the same category within `radius_m` of an
earlier one, made within `days` after that one was closed. The problem came back.

Closed reports are bucketed on a lattice of `radius_m` and sorted by closing time, so each
report looks only at the nine buckets around it and, by binary search, at the closures of
the `days` before it: the work grows with the local density, not with the square of the
number of reports, and `budget.repeat_checks` prices it before it runs. Chains of repeats
at one place form a spot."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from geo.hotspots.reports import Reports


@numba.njit(cache=True)
def _previous(rx, ry, rt, rcat, rkey, order, starts, ckey, cx, cy, ct, ct_sorted, ccat, cidx, radius,
              window):
    """For each report, the closed report it repeats (index into the reports), or -1: the
    latest closure before it within the radius and window, of the same category."""
    n = rx.shape[0]
    out = np.full(n, -1, np.int64)
    r2 = radius * radius
    for i in range(n):
        best_t = -np.inf
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                key = (rkey[i, 0] + dx) * 4294967296 + (rkey[i, 1] + dy)
                b = np.searchsorted(ckey, key)
                if b >= ckey.shape[0] or ckey[b] != key:
                    continue
                lo, hi = starts[b], starts[b + 1]
                # closures in (rt - window, rt): binary search on the bucket's sorted times
                first = lo + np.searchsorted(ct_sorted[lo:hi], rt[i] - window, side="right")
                for k in range(first, hi):
                    j = order[k]
                    if ct[j] >= rt[i]:
                        break
                    if ccat[j] != rcat[i]:
                        continue
                    ddx, ddy = cx[j] - rx[i], cy[j] - ry[i]
                    if ddx * ddx + ddy * ddy <= r2 and ct[j] > best_t:
                        best_t = ct[j]
                        out[i] = cidx[j]
    return out


def previous_report(reports: Reports, radius_m: float, days: float) -> np.ndarray:
    """For each report, the index of the earlier report it repeats, or -1."""
    n = len(reports)
    if n == 0:
        return np.zeros(0, np.int64)
    codes, cat = np.unique(reports.category.astype(str), return_inverse=True)
    closed = np.flatnonzero(~np.isnan(reports.closed))
    cx, cy, ct = reports.x[closed], reports.y[closed], reports.closed[closed]
    ckeys = np.floor(np.column_stack([cx, cy]) / radius_m).astype(np.int64)
    flat = ckeys[:, 0] * 4294967296 + ckeys[:, 1]
    order = np.lexsort((ct, flat))
    sorted_keys = flat[order]
    bucket_keys, starts = np.unique(sorted_keys, return_index=True)
    starts = np.append(starts, len(sorted_keys)).astype(np.int64)
    rkeys = np.floor(np.column_stack([reports.x, reports.y]) / radius_m).astype(np.int64)
    return _previous(reports.x, reports.y, reports.reported, cat.astype(np.int64), rkeys,
                     order.astype(np.int64), starts, bucket_keys, cx, cy, ct, ct[order],
                     cat[closed].astype(np.int64), closed.astype(np.int64), float(radius_m),
                     days * 86400.0)


@dataclass(frozen=True)
class Spot:
    members: np.ndarray  # report indices, oldest first
    repeats: int  # reports in the spot that repeat an earlier one


def spots(previous: np.ndarray) -> list[Spot]:
    """Chains of repeats, most repeats first."""
    child = np.flatnonzero(previous >= 0)
    if child.size == 0:
        return []
    n = len(previous)
    graph = sp.coo_matrix((np.ones(child.size), (child, previous[child])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    involved = np.zeros(n, bool)
    involved[child] = True
    involved[previous[child]] = True
    idx = np.flatnonzero(involved)
    idx = idx[np.argsort(label[idx], kind="stable")]
    groups = np.split(idx, np.flatnonzero(np.diff(label[idx])) + 1)
    out = [Spot(g, int((previous[g] >= 0).sum())) for g in groups]
    out.sort(key=lambda s: (-s.repeats, int(s.members[0])))
    return out
