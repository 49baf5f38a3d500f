"""Displacement: a hotspot that cools while a new one appears nearby, about the same time.

On the space-time cube, a bin has *cooled* when it was a hot spot for at least `min_slices`
slices and has not been one for at least `min_slices` slices up to the end; it has *appeared*
when it was not a hot spot for its first `min_slices` slices and has been one in at least
`min_slices` slices since it first was. Adjacent cooled bins form one cooled place (likewise
appeared ones). A place that appeared within `max_lag_slices` of a cooled place's last hot
slice, and within `max_distance_m` of it, is drawn as displacement from the nearer cooled
place: the vendors cleared from one street turning up on another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

from geo.hotspots.emerging import Cube


@dataclass(frozen=True)
class Place:
    """Adjacent bins that cooled (or appeared) together."""

    bins: np.ndarray  # bin indices
    x: float  # report-weighted centre, EPSG:4551
    y: float
    slice: int  # last hot slice (cooled) or first hot slice (appeared)
    reports: int  # while hot: before cooling, or since appearing


@dataclass(frozen=True)
class Move:
    source: Place
    target: Place
    distance_m: float


def _places(cube: Cube, members: np.ndarray, when: np.ndarray, hot: np.ndarray,
            cooled: bool) -> list[Place]:
    idx = np.flatnonzero(members)
    if idx.size == 0:
        return []
    sub = cube.bins.neighbours[idx][:, idx]
    _, label = connected_components(sub, directed=False)
    places = []
    for lab in np.unique(label):
        group = idx[label == lab]
        t = int(np.median(when[group]))
        span = slice(0, t + 1) if cooled else slice(t, None)
        weight = (cube.counts[group, span] * hot[group, span]).sum(axis=1)
        if weight.sum() == 0:
            weight = np.ones(len(group))
        places.append(Place(group, float(np.average(cube.bins.cx[group], weights=weight)),
                            float(np.average(cube.bins.cy[group], weights=weight)), t,
                            int(weight.sum())))
    return places


def displacements(cube: Cube, max_distance_m: float = 3000.0, min_slices: int = 2,
                  max_lag_slices: int = 1, level: int = 1) -> tuple[list[Move], list[Place],
                                                                     list[Place]]:
    """Moves from cooled to appeared places, and the cooled and appeared places themselves.
    `level`: the Gi* confidence bin counted as hot (1 = 90%)."""
    hot = cube.gbin >= level
    slices = hot.shape[1]
    order = np.arange(slices)
    any_hot = hot.any(axis=1)
    last = np.where(any_hot, slices - 1 - np.argmax(hot[:, ::-1], axis=1), -1)
    first = np.where(any_hot, np.argmax(hot, axis=1), slices)
    n_hot = hot.sum(axis=1)
    cooled = any_hot & (n_hot >= min_slices) & (last <= slices - 1 - min_slices)
    since_first = hot & (order[None, :] >= first[:, None])
    appeared = any_hot & (first >= min_slices) & (since_first.sum(axis=1) >= min_slices)
    sources = _places(cube, cooled, last, hot, cooled=True)
    targets = _places(cube, appeared, first, hot, cooled=False)
    moves = []
    for target in targets:
        best = None
        for source in sources:
            lag = target.slice - source.slice
            if not -max_lag_slices <= lag - 1 <= max_lag_slices:
                continue
            d = float(np.hypot(target.x - source.x, target.y - source.y))
            if d <= max_distance_m and (best is None or d < best.distance_m):
                best = Move(source, target, d)
        if best is not None:
            moves.append(best)
    return moves, sources, targets
