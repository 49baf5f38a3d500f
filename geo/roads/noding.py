"""Where roads meet: junctions from road ends that lie within `NODE_TOLERANCE_M` of each other,
and lines cut at the vertices they share with other lines.

Routing data (OpenStreetMap's ways as pyrosm splits them, our demo network) meet only at
their ends; centreline files and exports of whole OSM ways often share a vertex in the
middle of two lines where they cross. Such a shared vertex is a junction too, so the lines
are cut there. Lines that cross without sharing a vertex (a bridge over a road) stay apart.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

NODE_TOLERANCE_M = 0.5  # road ends closer than this (directly or through others) are one junction


def node_ids(x0, y0, x1, y1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Junction numbers of each road's first and last point (metres), and the junctions'
    coordinates (n, 2), each that of its first road end."""
    ends = np.column_stack([np.concatenate([x0, x1]), np.concatenate([y0, y1])])
    pairs = cKDTree(ends).query_pairs(NODE_TOLERANCE_M, output_type="ndarray")
    near = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                      shape=(len(ends), len(ends)))
    _, label = connected_components(near, directed=False)
    _, first, label = np.unique(label, return_index=True, return_inverse=True)
    n = len(x0)
    return label[:n], label[n:], ends[first]


def split_at_shared_vertices(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lines cut at every inner vertex that another line has too (exactly), and for each
    piece the index of the line it came from. Lines that share none come back whole."""
    coords, line = shapely.get_coordinates(lines, return_index=True)
    if len(coords) == 0:
        return lines, np.arange(len(lines))
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    place = np.unique(coords, axis=0, return_inverse=True)[1].ravel()
    owners = np.unique(np.column_stack([place, line]), axis=0)[:, 0]
    lines_at = np.bincount(owners, minlength=place.max() + 1)
    cut = ~first & ~last & (lines_at[place] >= 2)
    if not cut.any():
        return lines, np.arange(len(lines))
    # A cut vertex ends one piece and, repeated, starts the next.
    vertex = np.repeat(np.arange(len(coords)), np.where(cut, 2, 1))
    starts = first[vertex] | np.r_[False, vertex[1:] == vertex[:-1]]
    piece = np.cumsum(starts) - 1
    return shapely.linestrings(coords[vertex], indices=piece), line[vertex][starts]
