"""How fast the live map opens, zooms and pans, and how heavy it is, in headless Chromium on
this machine.

Builds a city of --grids grids (20,000 by default) on the embedded SQLite backend (or
--backend postgis on a throwaway cluster) and runs `griddispatch serve` twice as processes of
their own: one drawing grids from vector tiles at grid level (the default), one fetching them
as GeoJSON pages of the view (GRIDDISPATCH_MAP_GRID_TILES=false). Opens /maps/live as the
admin (who sees the whole city) --runs times on each, alternating, each in a fresh browser
context (cold cache). For each run: the time from navigation to every layer having answered
(`griddispatch.ready()`), the bytes on the wire (compressed) and decoded, the time for the
grids to be drawn after zooming in to grid level, and after panning half a screen there.
The same run opens the obvious alternative, a folium page with every grid embedded as GeoJSON
(same local assets), and prints the ratios. Medians of --runs.

    python bench/bench_maps.py --grids 20000 --runs 5
    python bench/bench_maps.py --grids 200000 --runs 5 --skip-naive
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import folium  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from api.settings import Settings  # noqa: E402
from bench.bench_api import free_port, prepare, start_server  # noqa: E402
from fixtures.jilin import generate  # noqa: E402
from maps.base import base_map, page  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

WEIGHT_JS = """() => {
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  return {wire: entries.reduce((s, e) => s + (e.transferSize || 0), 0),
          decoded: entries.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
          requests: entries.length};
}"""


SLOWEST_JS = """() => performance.getEntriesByType('resource')
  .map(e => [e.name.replace(location.origin, '').split('?')[0], Math.round(e.responseEnd),
             Math.round(e.responseEnd - e.startTime), e.transferSize, e.decodedBodySize])
  .sort((a, b) => b[1] - a[1]).slice(0, 6)"""


def login(context, base: str) -> None:
    r = context.request.post(f"{base}/api/v1/auth/session",
                             form={"username": "admin", "password": "demo"})
    assert r.status == 204, r.text()


def open_live(browser, base: str) -> dict:
    """One cold visit: a fresh browser context (empty cache), logged in, opening the page."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    login(context, base)
    tab = context.new_page()
    start = time.perf_counter()
    tab.goto(f"{base}/maps/live")
    tab.wait_for_function("() => window.griddispatch && griddispatch.ready()", timeout=120_000)
    ready_s = time.perf_counter() - start
    weight = tab.evaluate(WEIGHT_JS)
    weight["slowest"] = tab.evaluate(SLOWEST_JS)
    counts = tab.evaluate("() => griddispatch.counts")
    # Zoom to grid level at the centre: the worst case of grids in view.
    loaded = tab.evaluate("() => griddispatch.loaded.grids")
    start = time.perf_counter()
    tab.evaluate("() => { const map = griddispatch.map; let z = map.getZoom(); "
                 "while (griddispatch.areaLevel(map) !== 'grids' && z < 19) "
                 "map.setZoom(++z, {animate: false}); }")
    tab.wait_for_function("(n) => griddispatch.loaded.grids > n", arg=loaded, timeout=120_000)
    tab.wait_for_function(SETTLED, timeout=120_000)
    zoom_s = time.perf_counter() - start
    weight["slowest_zoom"] = tab.evaluate(SLOWEST_JS)
    grids_in_view = tab.evaluate(GRIDS_DRAWN)
    # Half a screen east at grid level: what a dispatcher does all day.
    start = time.perf_counter()
    tab.evaluate("() => { const map = griddispatch.map; "
                 "map.panBy([map.getSize().x / 2, 0], {animate: false}); }")
    tab.wait_for_function(SETTLED, timeout=120_000)
    pan_s = time.perf_counter() - start
    context.close()
    return {"ready_s": ready_s, "zoom_s": zoom_s, "pan_s": pan_s, "grids_in_view": grids_in_view,
            "counts": counts, **weight}


# Every layer shows the view's answer, and the grids drawn from tiles (when the page uses
# them) are all loaded; the grids drawn, from tiles or from GeoJSON.
SETTLED = "() => griddispatch.settled()"
GRIDS_DRAWN = ("() => griddispatch.gridTiles && griddispatch.gridTiles.wanted() ? "
               "griddispatch.gridTiles.count() : griddispatch.counts.grids")
MODES = {"tiles": {}, "geojson": {"GRIDDISPATCH_MAP_GRID_TILES": "false"}}


def naive_page(city) -> str:
    """Every grid embedded in the page as GeoJSON, the way a folium map is usually made."""
    bounds = city.grids.total_bounds
    m = base_map(Settings(), [], bounds)
    folium.GeoJson(city.grids[["code", "name", "geometry"]], name="grids",
                   tooltip=folium.GeoJsonTooltip(["code", "name"])).add_to(m)
    m.get_root().html.add_child(folium.Element(
        "<script>window.addEventListener('load', () => { window.naiveReady = true; });</script>"))
    return page(m, "all grids embedded")


def open_naive(context, base: str, html: str) -> dict:
    tab = context.new_page()
    tab.route(f"{base}/bench/naive", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=html))
    start = time.perf_counter()
    tab.goto(f"{base}/bench/naive")
    tab.wait_for_function("() => window.naiveReady === true", timeout=300_000)
    ready_s = time.perf_counter() - start
    weight = tab.evaluate(WEIGHT_JS)
    tab.close()
    return {"ready_s": ready_s, "html_bytes": len(html.encode()), **weight}


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grids", type=int, default=20_000)
    ap.add_argument("--issues", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", choices=("sqlite", "postgis"), default="sqlite")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--keep", metavar="FILE.sqlite",
                    help="build the SQLite city into FILE and keep it; reuse it if it exists "
                         "(a 200,000-grid city takes minutes to build)")
    args = ap.parse_args(argv)

    kept = Path(args.keep) if args.keep else None
    city = None
    if not (kept and kept.exists()) or not args.skip_naive:
        t = time.perf_counter()
        city = generate(args.grids, args.issues, seed=11)
        print(f"city: {len(city.grids):,} grids, {len(city.issues):,} issues "
              f"({time.perf_counter() - t:.1f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        cluster = None
        if args.backend == "postgis":
            from tests.pgcluster import start
            cluster = start()
            url = cluster.url("postgres")
        else:
            url = f"sqlite:///{kept or Path(tmp) / 'bench.sqlite'}"
        if not (kept and kept.exists() and args.backend == "sqlite"):
            prepare(url, city)
        servers = {}
        try:
            for mode, env in MODES.items():
                port = free_port()
                servers[mode] = (start_server(url, port, workers=1, env=env),
                                 f"http://127.0.0.1:{port}")
            live = {mode: [] for mode in MODES}
            naive = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for _, base in servers.values():
                    open_live(browser, base)  # each server's first answers (outline cache) once
                for _ in range(args.runs):
                    for mode, (_, base) in servers.items():
                        live[mode].append(open_live(browser, base))
                if not args.skip_naive:
                    base = servers["tiles"][1]
                    html = naive_page(city)
                    context = browser.new_context(viewport={"width": 1600, "height": 900})
                    login(context, base)
                    naive = [open_naive(context, base, html) for _ in range(args.runs)]
                browser.close()
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
            if cluster:
                cluster.stop()

    for mode, runs in live.items():
        report(mode, runs, args)
    tiles, geojson = live["tiles"], live["geojson"]
    print("\nratios (GeoJSON pages / vector tiles): "
          f"open {median(geojson, 'ready_s') / median(tiles, 'ready_s'):.2f}x, "
          f"zoom to grids {median(geojson, 'zoom_s') / median(tiles, 'zoom_s'):.2f}x, "
          f"pan at grid level {median(geojson, 'pan_s') / median(tiles, 'pan_s'):.2f}x, "
          f"decoded weight {median(geojson, 'decoded') / median(tiles, 'decoded'):.2f}x")
    if naive:
        print(f"\nall {len(city.grids):,} grids embedded in the page (folium.GeoJson), "
              f"medians of {args.runs}:")
        print(f"  opens: {median(naive, 'ready_s'):.2f} s; HTML {naive[0]['html_bytes'] / 1e6:.1f} MB, "
              f"{median(naive, 'decoded') / 1e6:.2f} MB decoded")
        print(f"  ratios (embedded / live map with tiles): open time "
              f"{median(naive, 'ready_s') / median(tiles, 'ready_s'):.1f}x, decoded weight "
              f"{median(naive, 'decoded') / median(tiles, 'decoded'):.1f}x")


def report(mode: str, live: list[dict], args) -> None:
    print(f"\n/maps/live ({args.backend}, grids at grid level from {mode}), medians of "
          f"{args.runs} runs, 1600x900 viewport:")
    runs = ", ".join(f"{r['ready_s']:.2f}" for r in live)
    print(f"  opens (all layers answered): {median(live, 'ready_s'):.2f} s  [runs: {runs}]")
    print(f"  page weight: {median(live, 'wire') / 1e6:.2f} MB on the wire, "
          f"{median(live, 'decoded') / 1e6:.2f} MB decoded, {median(live, 'requests'):.0f} requests")
    print(f"  at start: {live[0]['counts']}")
    print("  last to arrive (path, done at ms, took ms, wire bytes, decoded bytes):")
    for row in live[0]["slowest"]:
        print(f"    {row}")
    print("  last to arrive after zooming in:")
    for row in live[0]["slowest_zoom"]:
        print(f"    {row}")
    runs = ", ".join(f"{r['zoom_s']:.2f}" for r in live)
    print(f"  zoom to grid level: {median(live, 'zoom_s'):.2f} s for "
          f"{median(live, 'grids_in_view'):.0f} grids in view  [runs: {runs}]")
    runs = ", ".join(f"{r['pan_s']:.2f}" for r in live)
    print(f"  pan half a screen at grid level: {median(live, 'pan_s'):.2f} s  [runs: {runs}]")


if __name__ == "__main__":
    main()
