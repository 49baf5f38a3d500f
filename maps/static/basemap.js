/* The offline basemap, for pages with no tile server (the default on an intranet): our own
 * roads with their names, the river, and the names of districts, streets and communities,
 * from /api/v1/layers/{roads,water,labels} for the current view. Drawn under every other
 * layer; the names sit above the area fills but under markers, and a name is left out where
 * it would overlap another or not fit in its area. Each answer is bounded by the server and
 * coarser zoomed out, so the basemap costs the live map little. */
(function () {
  "use strict";
  var gd = window.griddispatch;
  var _ = gdI18n.t, fmt = gdI18n.fmt;

  // Per road class: fill, casing, width in pixels at street zoom (16), and from which zoom
  // its name is written.
  var ROADS = {
    expressway: { fill: "#f8b563", casing: "#b9762c", width: 7, named: 13 },
    bridge: { fill: "#ffe38f", casing: "#5f6b73", width: 6, named: 14 },
    arterial: { fill: "#ffe38f", casing: "#c49a35", width: 6, named: 14 },
    secondary: { fill: "#ffffff", casing: "#aaa195", width: 4.5, named: 15 },
    local: { fill: "#ffffff", casing: "#c6bfb4", width: 3, named: 16 },
    service: { fill: "#fbfaf7", casing: "#d6d0c6", width: 1.8, named: 17 },
  };
  var DRAW_ORDER = ["service", "local", "secondary", "arterial", "bridge", "expressway"];
  var LAND = "#f3f0ea";
  var WATER = { fill: "#a8cfe8", line: "#79acd3" };
  // Which area names a zoom shows (coarsest first): a district's name zoomed out, a
  // community's at street zoom.
  var LABEL_LEVELS = [
    { upto: 11, levels: ["districts"] },
    { upto: 13, levels: ["districts", "streets"] },
    { upto: 15, levels: ["streets", "communities"] },
    { upto: 99, levels: ["communities"] },
  ];
  var AREA_FONT = { districts: "bold 16px", streets: "bold 14px", communities: "13px" };
  var ROAD_FONT = "12px";
  var FAMILY = " system-ui, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif";
  var LABEL_EVERY_PX = 420; // along a long road, a name about this often
  var EDGE_PX = 12;         // names keep this far inside the map's edge
  // The legend's words for what the basemap draws (the most important road first).
  var ROAD_WORDS = {
    expressway: _("expressway"), bridge: _("bridge"), arterial: _("arterial road"),
    secondary: _("secondary road"), local: _("local street"), service: _("service lane"),
  };
  var LABEL_WORDS = {
    districts: _("district names (zoomed out)"), streets: _("street names"),
    communities: _("community names (zoomed in)"),
  };

  var state = gd.basemapState = {
    roads: EMPTY(), water: EMPTY(), labels: {}, shown: [], asked: 0, answered: 0, failures: 0,
  };

  function EMPTY() { return { type: "FeatureCollection", features: [] }; }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* The legend's section: each road class as drawn (fill in its casing), the water, and how
   * each kind of name is written. */
  function legendHtml() {
    var key = function (style, label) {
      return "<div><i class='gd-swatch' style='" + style + "'></i>" + esc(label) + "</div>";
    };
    var html = DRAW_ORDER.slice().reverse().map(function (cls) {
      var s = ROADS[cls];
      return key("background:" + s.fill + ";border:2px solid " + s.casing +
        ";height:" + Math.max(2, Math.round(s.width / 2)) + "px;width:18px;vertical-align:2px",
        ROAD_WORDS[cls]);
    }).join("");
    html += key("background:" + WATER.fill + ";border-color:" + WATER.line, _("river, lake"));
    var named = function (cls, font, label) {
      return "<div><span class='gd-bm-key " + cls + "' style=\"font:" + font + FAMILY + "\">" +
        esc(label) + "</span></div>";
    };
    html += named("gd-bm-road", ROAD_FONT, _("road names (along the road)"));
    html += named("gd-bm-water", "italic 13px", _("river names"));
    ["districts", "streets", "communities"].forEach(function (level) {
      html += named("gd-bm-" + level, AREA_FONT[level].replace(/\d+px/, "13px"), LABEL_WORDS[level]);
    });
    return html;
  }

  /* What went wrong with an answer, in the reader's words (never a script's own error). */
  function problem(error) {
    if (error && error.status === 401) return _("the session has ended");
    if (error && error.status) return fmt(_("the server answered {status}"), { status: error.status });
    if (error && error.unreachable) return _("The server cannot be reached");
    return _("the basemap could not be drawn");
  }

  function style() {
    if (document.getElementById("gd-basemap-style")) return;
    var css = document.createElement("style");
    css.id = "gd-basemap-style";
    css.textContent =
      ".gd-bm-label { position: absolute; white-space: nowrap; pointer-events: none;" +
      " color: #37474f; transform-origin: 50% 50%;" +
      " text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff, 0 0 4px #fff; }" +
      ".gd-bm-road { color: #3e3a33; }" +
      ".gd-bm-districts { color: #263238; letter-spacing: 2px; }" +
      ".gd-bm-streets { color: #455a64; }" +
      ".gd-bm-communities { color: #5d6d75; }" +
      ".gd-bm-water { color: #2c6e9e; font-style: italic; }" +
      ".gd-bm-key { display: inline-block; margin: 1px 0; }";
    document.head.appendChild(css);
  }

  var measurer = document.createElement("canvas").getContext("2d");
  function textWidth(text, font) {
    measurer.font = font + FAMILY;
    return measurer.measureText(text).width;
  }

  function zoomWidth(base, zoom) {
    return base * Math.max(0.35, Math.min(1.5, Math.pow(2, (zoom - 16) / 2)));
  }

  function levelsFor(zoom) {
    for (var i = 0; i < LABEL_LEVELS.length; i++) {
      if (zoom <= LABEL_LEVELS[i].upto) return LABEL_LEVELS[i].levels;
    }
    return [];
  }

  /* ---- the boxes names take, so that none overlaps another ---- */

  function box(x, y, w, h, angle) {
    var c = Math.abs(Math.cos(angle)), s = Math.abs(Math.sin(angle));
    var bw = w * c + h * s, bh = w * s + h * c;
    return { x: x - bw / 2, y: y - bh / 2, w: bw, h: bh };
  }

  function overlaps(a, b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  }

  /* Where along a line (container pixels) its name goes: about every LABEL_EVERY_PX of the
   * stretches inside the view, each with the direction of the line there. */
  function spotsAlong(map, latlngs, minLength) {
    var size = map.getSize(), out = [];
    var inside = function (p) {
      return p.x > EDGE_PX && p.y > EDGE_PX && p.x < size.x - EDGE_PX && p.y < size.y - EDGE_PX;
    };
    var run = [], runs = [];
    latlngs.forEach(function (ll) {
      var p = map.latLngToContainerPoint(ll);
      if (inside(p)) run.push(p);
      else { if (run.length > 1) runs.push(run); run = []; }
    });
    if (run.length > 1) runs.push(run);
    runs.forEach(function (pts) {
      var cum = [0];
      for (var i = 1; i < pts.length; i++) cum.push(cum[i - 1] + pts[i].distanceTo(pts[i - 1]));
      var length = cum[cum.length - 1];
      if (length < minLength) return;
      var n = Math.max(1, Math.floor(length / LABEL_EVERY_PX));
      for (var k = 0; k < n; k++) {
        var at = (k + 0.5) * length / n, j = 1;
        while (j < cum.length - 1 && cum[j] < at) j++;
        var a = pts[j - 1], b = pts[j], f = (at - cum[j - 1]) / ((cum[j] - cum[j - 1]) || 1);
        var angle = Math.atan2(b.y - a.y, b.x - a.x);
        if (angle > Math.PI / 2) angle -= Math.PI;   // names read left to right, never upside down
        if (angle < -Math.PI / 2) angle += Math.PI;
        out.push({ x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f, angle: angle });
      }
    });
    return out;
  }

  function lines(geometry) {
    if (!geometry) return [];
    var flip = function (c) { return L.latLng(c[1], c[0]); };
    if (geometry.type === "LineString") return [geometry.coordinates.map(flip)];
    if (geometry.type === "MultiLineString") {
      return geometry.coordinates.map(function (part) { return part.map(flip); });
    }
    return [];
  }

  /* ---- drawing ---- */

  gd.basemap = function (map) {
    // A saved page opened from a disk has no API to draw from: it keeps its own layers only.
    if (window.location.protocol === "file:") return;
    style();
    map.getContainer().style.background = LAND;
    var panes = { gdWater: 150, gdRoads: 160, gdNames: 450 };
    for (var name in panes) {
      map.createPane(name).style.zIndex = panes[name];
    }
    map.getPane("gdNames").style.pointerEvents = "none";
    var renderer = L.canvas({ pane: "gdRoads", padding: 0.2 });
    var waterRenderer = L.canvas({ pane: "gdWater", padding: 0.2 });
    var water = L.geoJSON(null, {
      pane: "gdWater", renderer: waterRenderer, interactive: false,
      style: function () {
        return { color: WATER.line, weight: 1, fillColor: WATER.fill, fillOpacity: 1 };
      },
    }).addTo(map);
    // Each class as casing under fill, the more important classes over the lesser.
    var roadLayers = {};
    DRAW_ORDER.forEach(function (cls) {
      ["casing", "fill"].forEach(function (part) {
        roadLayers[cls + part] = L.geoJSON(null, {
          pane: "gdRoads", renderer: renderer, interactive: false,
          style: function () {
            var s = ROADS[cls], w = zoomWidth(s.width, map.getZoom());
            return part === "casing"
              ? { color: s.casing, weight: w + 2, opacity: 1, lineCap: "round", lineJoin: "round" }
              : { color: s.fill, weight: w, opacity: 1, lineCap: "round", lineJoin: "round" };
          },
        }).addTo(map);
      });
    });
    var names = L.DomUtil.create("div", "gd-bm-names", map.getPane("gdNames"));
    if (map.attributionControl) {
      map.attributionControl.addAttribution(_("Basemap: our own roads, rivers and area names"));
    }
    gd.basemapLayers = { water: water, roads: roadLayers };
    if (gd.legendSections) {
      gd.legendSections.push({ id: "basemap", title: _("Basemap"), html: legendHtml, closed: true });
      if (gd.legend) gd.legend();
    }

    function drawRoads() {
      DRAW_ORDER.forEach(function (cls) {
        var mine = state.roads.features.filter(function (f) {
          return f.properties["class"] === cls;
        });
        ["casing", "fill"].forEach(function (part) {
          roadLayers[cls + part].clearLayers();
          if (mine.length) roadLayers[cls + part].addData({ type: "FeatureCollection", features: mine });
        });
      });
      water.clearLayers();
      water.addData(state.water);
    }

    /* The names that fit: roads first (the more important first), then areas, coarser
     * levels first and roomier areas first; each only where it overlaps nothing placed. */
    function placeNames() {
      names.innerHTML = "";
      var zoom = map.getZoom(), placed = [], shown = [], nearSame = {};
      var mpp = gd.metresPerPixel(map);
      var put = function (text, cls, font, p, angle) {
        var w = textWidth(text, font) + 4, h = parseInt(font.replace(/\D+/g, " ").trim(), 10) + 4;
        var b = box(p.x, p.y, w, h, angle);
        for (var i = 0; i < placed.length; i++) if (overlaps(b, placed[i])) return false;
        placed.push(b);
        var at = map.containerPointToLayerPoint(L.point(p.x, p.y));
        var el = L.DomUtil.create("div", "gd-bm-label " + cls, names);
        el.textContent = text;
        if (gd.isChinese(text)) el.lang = "zh-CN";  // names of roads, rivers and areas are data
        el.style.font = font + FAMILY;
        el.style.left = at.x + "px";
        el.style.top = at.y + "px";
        el.style.transform = "translate(-50%, -50%) rotate(" + (angle * 180 / Math.PI).toFixed(1) + "deg)";
        shown.push(text);
        return true;
      };
      var roads = state.roads.features.filter(function (f) {
        var s = ROADS[f.properties["class"]];
        return f.properties.name && s && zoom >= s.named;
      });
      var weight = function (f) { return DRAW_ORDER.indexOf(f.properties["class"]); };
      roads.sort(function (a, b) { return weight(b) - weight(a); }); // the most important first
      roads.forEach(function (f) {
        var text = f.properties.name, width = textWidth(text, ROAD_FONT);
        lines(f.geometry).forEach(function (part) {
          spotsAlong(map, part, width + 24).forEach(function (p) {
            // the same name again only well away from where it already stands
            var seen = nearSame[text] || [];
            if (seen.some(function (q) { return Math.hypot(q.x - p.x, q.y - p.y) < LABEL_EVERY_PX / 2; })) return;
            if (put(text, "gd-bm-road", ROAD_FONT, p, p.angle)) (nearSame[text] = seen).push(p);
          });
        });
      });
      state.water.features.forEach(function (f) {
        // the river's name at the point of its water in the view that is farthest from the banks
        var c = f.properties.label_at, size = map.getSize();
        if (!f.properties.name || !c || zoom < 12) return;
        var p = map.latLngToContainerPoint([c[1], c[0]]);
        if (p.x > 40 && p.y > 40 && p.x < size.x - 40 && p.y < size.y - 40) {
          put(f.properties.name, "gd-bm-water", "italic 14px", p, 0);
        }
      });
      levelsFor(zoom).forEach(function (level) {
        var collection = state.labels[level] || EMPTY(), font = AREA_FONT[level];
        collection.features.forEach(function (f) {
          var text = f.properties.name, room = f.properties.width_m / mpp;
          if (!text || textWidth(text, font) > room) return; // does not fit in its area
          var c = f.geometry.coordinates, p = map.latLngToContainerPoint([c[1], c[0]]);
          var size = map.getSize();
          if (p.x < EDGE_PX || p.y < EDGE_PX || p.x > size.x - EDGE_PX || p.y > size.y - EDGE_PX) return;
          put(text, "gd-bm-" + level, font, p, 0);
        });
      });
      state.shown = shown;
    }

    var ticket = 0, timer = null;
    function load() {
      var mine = ++ticket, zoom = map.getZoom();
      state.waiting = false;
      var asks = {
        roads: "/api/v1/layers/roads?" + gd.view(map, true),
        water: "/api/v1/layers/water?" + gd.view(map, true),
      };
      levelsFor(zoom).forEach(function (level) {
        asks["labels:" + level] = "/api/v1/layers/labels?level=" + level + "&" + gd.view(map);
      });
      state.asked = mine;
      var keys = Object.keys(asks);
      Promise.all(keys.map(function (k) {
        return fetch(asks[k], { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
          .catch(function (error) {
            error.unreachable = true; // no answer at all
            throw error;
          })
          .then(function (r) {
            if (!r.ok) {
              var failed = new Error(r.status + " " + asks[k]);
              failed.status = r.status;
              throw failed;
            }
            return r.json();
          });
      })).then(function (answers) {
        if (mine !== ticket) return; // a newer view's answers are on their way
        var labels = {};
        keys.forEach(function (k, i) {
          if (k === "roads") state.roads = answers[i];
          else if (k === "water") state.water = answers[i];
          else labels[k.slice(7)] = answers[i];
        });
        state.labels = labels;
        drawRoads();
        placeNames();
        state.answered = mine;
        if (gd.recovered) gd.recovered("basemap");
      }).catch(function (error) {
        state.failures += 1;
        if (error && error.status === 401 && gd.sessionExpired) gd.sessionExpired();
        if (gd.failed) gd.failed("basemap", fmt(_("{layer}: {problem}"), { layer: _("Basemap"), problem: problem(error) }));
      });
    }

    map.on("zoomstart", function () { names.style.display = "none"; });
    map.on("zoomend", function () { names.style.display = ""; });
    map.on("moveend", function () {
      placeNames(); // at once for what is held; the new view's answers follow
      clearTimeout(timer);
      state.waiting = true;
      timer = setTimeout(load, 200);
    });
    map.whenReady(load);
  };

  /* Whether the basemap shows the answers for the current view (for tests). */
  gd.basemapSettled = function () {
    return state.asked > 0 && state.answered === state.asked && !state.waiting;
  };
})();
