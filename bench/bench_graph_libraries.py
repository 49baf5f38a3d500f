"""Which graph library the in-process ranking searches with: one search from an issue over
the demo city's road network, in scipy's csgraph, igraph and networkx, in one run.

    python bench/bench_graph_libraries.py [--grids 2000] [--searches 200]

Prints the median milliseconds of a search to every junction and of a search bounded at
300 s (what a top-3 ranking usually needs; igraph has no bound), and the ratios to scipy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.jilin import generate  # noqa: E402
from geo.roads.frame import check_roads  # noqa: E402
from geo.roads.network import RoadNetwork  # noqa: E402


def median_ms(fn, sources) -> float:
    times = []
    for s in sources:
        t = time.perf_counter()
        fn(int(s))
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    import igraph
    import networkx as nx
    from scipy.sparse.csgraph import dijkstra

    parser = argparse.ArgumentParser()
    parser.add_argument("--grids", type=int, default=2000)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args()
    net = RoadNetwork(check_roads(generate(args.grids, 0).roads))
    graph = net.reversed_graph
    frm, to, sec, _ = net._arcs
    ig = igraph.Graph(n=net.n_nodes, edges=list(zip(to.tolist(), frm.tolist(), strict=True)),
                      directed=True)
    ig.es["w"] = sec.tolist()
    nxg = nx.DiGraph()
    nxg.add_weighted_edges_from(zip(to.tolist(), frm.tolist(), sec.tolist(), strict=True))
    sources = np.random.default_rng(0).integers(0, net.n_nodes, args.searches)
    print(f"{len(net):,} roads, {net.n_nodes:,} junctions, {graph.nnz:,} arcs; "
          f"medians of {args.searches} searches")
    rows = [
        ("scipy.sparse.csgraph.dijkstra", lambda s: dijkstra(graph, indices=[s]),
         lambda s: dijkstra(graph, indices=[s], limit=300.0)),
        ("igraph Graph.distances", lambda s: ig.distances(source=[s], weights="w", mode="out"),
         None),
        ("networkx single_source_dijkstra",
         lambda s: nx.single_source_dijkstra_path_length(nxg, s),
         lambda s: nx.single_source_dijkstra_path_length(nxg, s, cutoff=300.0)),
    ]
    base = None
    print("| library | every junction | ratio | bounded at 300 s | ratio |\n|---|---|---|---|---|")
    for name, full, bounded in rows:
        f = median_ms(full, sources)
        b = median_ms(bounded, sources) if bounded else float("nan")
        base = base or (f, b)
        print(f"| {name} | {f:.3f} ms | {f / base[0]:.1f}x | "
              + (f"{b:.3f} ms | {b / base[1]:.1f}x |" if bounded else "no bound | |"))


if __name__ == "__main__":
    main()
