/* Grids drawn from vector tiles (/tiles/grids/{z}/{x}/{y}.mvt, by Leaflet.VectorGrid) when the
 * map shows grids: a city of 200,000 grids costs the browser only the tiles in view. The
 * GeoJSON grids layer stands aside at grid level and keeps the coarser ones (communities,
 * streets). Each refresh loads a fresh set of tiles over the shown one and drops the old set
 * once all have arrived, so the big screen never blinks. */
(function () {
  "use strict";
  var gd = window.griddispatch, _ = gdI18n.t, fmt = gdI18n.fmt;

  // VectorGrid 1.3.0 calls L.DomEvent.fakeStop on a click; Leaflet 1.8 renamed it stop
  // (mended upstream in Leaflet.VectorGrid#288, not yet released).
  if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = L.DomEvent.stop;

  var PANE = "gdGridTiles";

  var tiles = (gd.gridTiles = {
    layer: null,    // the VectorGrid shown
    incoming: null, // the one loading over it after a refresh
    version: 0,     // in each tile's URL: a refresh asks anew rather than reuse a tile
    loads: 0,       // sets of tiles completely loaded (for tests and benchmarks)
    failures: 0,
  });

  function style(properties) {
    return L.extend({ fill: true }, gd.gridStyle({ properties: properties }));
  }

  /* Whether the map shows grids now (rather than communities or streets). */
  tiles.wanted = function () {
    var map = tiles.map;
    return !!(map && map.hasLayer(tiles.grids) && gd.areaLevel(map) === "grids" && gd.tiledGrids(map));
  };

  /* Tiles drawn 512 pixels wide: each is the server's tile of the zoom below, so that a view
   * asks for a quarter as many (each request costs the server more than its shapes do).
   * VectorGrid takes no zoomOffset, so the zoom asked for is lowered here. */
  var Protobuf512 = L.VectorGrid.Protobuf.extend({
    _getVectorTilePromise: function (coords) {
      var asked = L.point(coords.x, coords.y);
      asked.z = coords.z - 1;
      // A request that fails outright (network down, server restarting) would leave the tile
      // loading for ever, and with it the layer: it is drawn empty and said instead.
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, asked)
        .catch(function (error) {
          failed(_("no answer") + " (" + error.message + ")");
          return { layers: {} };
        });
    },
  });

  function failed(problem) {
    tiles.failures += 1;
    gd.failed("gridTiles", fmt(_("{layer}: {problem}"), { layer: gd.layerLabel("grids"), problem: problem }));
  }

  /* A set of tiles loaded: if none of its tiles failed, the grids' failure is over. */
  function loaded(layer) {
    tiles.loads += 1;
    if (tiles.failures === layer.gdFailuresAtStart) gd.recovered("gridTiles");
    gd.status();
  }

  function make(options) {
    var layer = new Protobuf512(options.url + "?v={v}", {
      v: tiles.version, pane: PANE, rendererFactory: L.canvas.tile, interactive: true,
      vectorTileLayerStyles: { grids: style }, tileSize: 512,
      getFeatureId: function (f) { return f.properties.code; },
      minNativeZoom: options.fromZoom, maxNativeZoom: options.maxZoom + 1,
      fetchOptions: { credentials: "same-origin" },
      // as many tiles kept around the view as Leaflet's raster layers keep
      keepBuffer: 2, updateWhenZooming: false,
    });
    // the failures a set of loads starts from (Leaflet says "loading" as it starts one)
    layer.gdFailuresAtStart = tiles.failures;
    layer.on("loading", function () { layer.gdFailuresAtStart = tiles.failures; });
    return layer;
  }

  function show(layer) {
    layer.addTo(tiles.map);
  }

  /* The properties of the grid drawn under `latlng`, or null. The tiles take no pointer
   * events (the markers' and outlines' layers lie over them), so the page hit-tests the
   * shapes VectorGrid keeps per tile (in the tile's pixels at its zoom). */
  tiles.featureAt = function (latlng) {
    var layer = tiles.layer;
    if (!layer || !layer._vectorTiles || layer._tileZoom === undefined) return null;
    var size = layer.getTileSize(), z = layer._tileZoom;
    var p = tiles.map.project(latlng, z), coords = p.unscaleBy(size).floor();
    coords.z = z;
    var renderer = layer._vectorTiles[layer._tileCoordsToKey(coords)];
    if (!renderer) return null;
    var local = p.subtract(coords.scaleBy(size));
    for (var id in renderer._layers) {
      var shape = renderer._layers[id];
      if (shape.properties && shape._containsPoint(local)) return shape.properties;
    }
    return null;
  };

  function hover(e) {
    var target = e.originalEvent && e.originalEvent.target;
    var p = target && target.closest && target.closest(".leaflet-marker-pane, .leaflet-popup-pane")
      ? null : tiles.featureAt(e.latlng);
    if (!p) {
      tiles.map.closeTooltip(tiles.tooltip);
      return;
    }
    tiles.tooltip.setLatLng(e.latlng).setContent(gd.areaTooltipHtml(p));
    if (!tiles.map.hasLayer(tiles.tooltip)) tiles.map.openTooltip(tiles.tooltip);
  }

  /* Load the tiles of the view anew (new load and lights), over the ones shown. */
  tiles.refresh = function () {
    if (!tiles.wanted()) return;
    if (tiles.incoming) {  // asked again (the colour switch) while loading: once it is in
      tiles.again = true;
      return;
    }
    tiles.version += 1;
    // Drawn unseen until complete: two sets of half-transparent fills would darken the map.
    var next = (tiles.incoming = make(tiles.options).setOpacity(0));
    var swap = function () {
      clearTimeout(late);
      if (tiles.incoming !== next) return;
      next.setOpacity(1);
      if (tiles.layer) tiles.map.removeLayer(tiles.layer);
      tiles.layer = next;
      tiles.incoming = null;
      loaded(next);
      if (tiles.again) {
        tiles.again = false;
        tiles.refresh();
      }
    };
    // A set that never completes (a tile the browser holds back) is given up, not waited for.
    var late = setTimeout(function () {
      if (tiles.incoming !== next) return;
      tiles.map.removeLayer(next);
      tiles.incoming = null;
    }, 2 * tiles.options.refreshMs + 10000);
    next.once("load", swap);
    show(next);
  };

  /* Show or hide the tiles as the view and the layer control say. */
  tiles.follow = function () {
    var map = tiles.map;
    if (tiles.wanted()) {
      if (!tiles.layer) {
        var first = (tiles.layer = make(tiles.options));
        first.on("load", function () { loaded(first); });
        show(tiles.layer);
      }
    } else {
      [tiles.layer, tiles.incoming].forEach(function (l) { if (l) map.removeLayer(l); });
      tiles.layer = tiles.incoming = null;
    }
  };

  /* Grids drawn now: {code: properties}, from every tile on the map. */
  tiles.features = function () {
    var out = {}, layer = tiles.layer;
    if (!layer || !layer._vectorTiles) return out;
    Object.keys(layer._vectorTiles).forEach(function (key) {
      var features = layer._vectorTiles[key]._features || {};
      Object.keys(features).forEach(function (code) { out[code] = features[code].feature.properties; });
    });
    return out;
  };

  tiles.count = function () { return Object.keys(tiles.features()).length; };

  /* Whether the tiles shown are those of the view (all loaded, none loading over them). */
  tiles.settled = function () {
    if (!tiles.wanted()) return !tiles.layer;
    return !!tiles.layer && !tiles.incoming && tiles.layer._loading === false;
  };

  // A tile that fails comes back empty from VectorGrid; the browser's resource timings tell
  // the status, so that the page says so (and sends an ended session to the login).
  function watchFailures() {
    if (!window.PerformanceObserver) return;
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (entry) {
        var status = entry.responseStatus || 0;
        if (entry.name.indexOf(location.origin + "/tiles/grids/") !== 0 || status < 400) return;
        if (status === 401) { gd.sessionExpired(); return; }
        failed(fmt(_("tile answered {status}"), { status: status }));
      });
    }).observe({ type: "resource", buffered: false });
  }

  /* Start on `map` beside the GeoJSON layer `grids`: options {url, fromZoom (the first map
   * zoom drawn from tiles), maxZoom (the server's finest tiles), refreshMs}. */
  tiles.attach = function (map, grids, options) {
    tiles.map = map;
    tiles.grids = grids;
    tiles.options = options;
    tiles.tooltip = L.tooltip({ className: "gd-tile-tip" });
    var pane = map.createPane(PANE);
    pane.style.zIndex = 390; // over the basemap, under the outlines and markers
    pane.style.pointerEvents = "none";
    map.on("mousemove", hover);
    map.on("mouseout", function () { map.closeTooltip(tiles.tooltip); });
    map.on("zoomend moveend", tiles.follow);
    grids.on("add remove", function () { setTimeout(tiles.follow, 0); });
    setInterval(tiles.refresh, options.refreshMs);
    watchFailures();
    tiles.follow();
  };
})();
