/* griddispatch map pages: every layer is loaded from the API for the current view (bbox,
 * simplification for the zoom), refreshed by leaflet-realtime and on every pan or zoom.
 * Nothing here talks to any host but the one that served the page. */
(function () {
  "use strict";

  var gd = (window.griddispatch = {
    config: {
      cameraZoom: 14, viewZoom: 16, loginUrl: "/maps/login", categories: {},
      // finest first: [{level: "grids", mean_m2}, {level: "communities", ...}, ...]
      areaLevels: [{ level: "grids", mean_m2: 0 }],
      maxAreas: 1200, // the most areas drawn at once; coarser levels beyond
    },
    layers: {},   // name → L.Realtime
    loaded: {},   // name → number of answers received
    counts: {},   // name → features in the last answer
    matched: {},  // name → numberMatched of the last answer, when the API pages
    failures: [], // messages of failed loads, newest last
    sources: {},  // name → function giving the URL for the current view
    shown: {},    // name → the URL whose answer the layer shows
    colourBy: "open",
  });

  var LIGHT = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828" };
  var TEAM_STATUS = { available: "#2e7d32", busy: "#ef6c00", off_duty: "#757575" };
  var OPEN_STEPS = [0, 1, 3, 6, 11];
  var OPEN_COLOURS = ["#eceff1", "#ffe0b2", "#ffb74d", "#f57c00", "#bf360c"];

  gd.configure = function (options) {
    for (var k in options) gd.config[k] = options[k];
  };

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function when(value) {
    return value ? esc(String(value).replace("T", " ").slice(0, 16)) : "";
  }

  function rows(pairs) {
    return "<table class='gd-tip'>" + pairs.filter(function (p) {
      return p[1] !== null && p[1] !== undefined && p[1] !== "";
    }).map(function (p) {
      return "<tr><th>" + esc(p[0]) + "</th><td>" + p[1] + "</td></tr>";
    }).join("") + "</table>";
  }

  /* ---- where to load from ---- */

  gd.metresPerPixel = function (map) {
    var lat = map.getCenter().lat * Math.PI / 180;
    return 40075016.686 * Math.cos(lat) / Math.pow(2, map.getZoom() + 8);
  };

  gd.view = function (map, simplify) {
    var b = map.getBounds().pad(0.15);
    var q = "bbox=" + [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(5);
    }).join(",");
    // About a pixel, as a power of two so that the server's cache sees few distinct values.
    if (simplify) {
      q += "&simplify_m=" + Math.min(256, Math.pow(2, Math.round(Math.log2(gd.metresPerPixel(map)))));
    }
    return q;
  };

  /* The finest level of areas (grids, communities, streets) of which at most maxAreas fit
   * in the view, judged by the level's mean area: zoomed out, the map shows fewer, larger
   * areas instead of thousands of tiny grids. */
  gd.areaLevel = function (map) {
    var b = map.getBounds(), c = b.getCenter();
    var w = map.distance([c.lat, b.getWest()], [c.lat, b.getEast()]);
    var h = map.distance([b.getSouth(), c.lng], [b.getNorth(), c.lng]);
    var levels = gd.config.areaLevels;
    if (!levels.length) return "grids";
    for (var i = 0; i < levels.length; i++) {
      if (w * h / levels[i].mean_m2 <= gd.config.maxAreas) return levels[i].level;
    }
    return levels[levels.length - 1].level;
  };

  gd.urls = {
    grids: function (map) {
      var level = gd.areaLevel(map);
      return level === "grids"
        ? "/api/v1/layers/grids?limit=5000&" + gd.view(map, true)
        : "/api/v1/layers/areas/" + level + "?" + gd.view(map, true);
    },
    /* Community outlines over the grids, when grids are what the view shows. */
    communities: function (map) {
      return gd.areaLevel(map) === "grids"
        ? "/api/v1/layers/areas/communities?" + gd.view(map, true) : null;
    },
    area: function (level) {
      return function (map) { return "/api/v1/layers/areas/" + level + "?" + gd.view(map, true); };
    },
    issues: function (map) { return "/api/v1/layers/live/issues?limit=5000&" + gd.view(map); },
    teams: function (map) { return "/api/v1/layers/live/teams?" + gd.view(map); },
    cameras: function (map) {
      return map.getZoom() >= gd.config.cameraZoom ? "/api/v1/layers/cameras?" + gd.view(map) : null;
    },
    cameraViews: function (map) {
      return map.getZoom() >= gd.config.viewZoom
        ? "/api/v1/layers/cameras?geometry=view&" + gd.view(map) : null;
    },
    sites: function (map) { return "/api/v1/layers/sites?" + gd.view(map); },
    fixed: function (url) { return function () { return url; }; },
  };

  var EMPTY = { type: "FeatureCollection", features: [] };

  /* A leaflet-realtime source: fetch `urlFor(map)` with the page's session cookie. */
  gd.source = function (name, map, urlFor) {
    gd.sources[name] = function () { return urlFor(map); };
    return function (ok, fail) {
      var url = urlFor(map);
      // leaflet-realtime numbers its requests and drops answers that a newer one overtook;
      // remember which request this is to know whether its answer is the one shown.
      var layer = gd.layers[name];
      var ticket = layer ? layer._requestCount : null;
      var apply = function (collection) {
        if (!layer || gd.layers[name]._requestCount === ticket) gd.shown[name] = url;
        gd._answered(name, collection);
        ok(collection);
      };
      if (!url) {
        apply(EMPTY);
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
        .then(function (response) {
          if (response.status === 401) {
            gd.sessionExpired();
            throw new Error("the session has ended");
          }
          if (!response.ok) {
            return response.json().then(function (body) {
              throw new Error(response.status + ": " + (body.detail || response.statusText));
            });
          }
          return response.json();
        })
        .then(apply)
        .catch(function (error) {
          gd.failures.push(name + ": " + error.message);
          gd.status();
          fail(error, name + " could not be loaded");
        });
    };
  };

  gd._answered = function (name, collection) {
    gd.loaded[name] = (gd.loaded[name] || 0) + 1;
    gd.counts[name] = collection.features.length;
    gd.matched[name] = collection.numberMatched;
    gd.updatedAt = new Date();
    gd.status();
  };

  /* Whether every layer of the page has answered at least once (for tests and benchmarks). */
  gd.ready = function () {
    var names = Object.keys(gd.layers);
    return names.length > 0 && names.every(function (name) { return gd.loaded[name] > 0; });
  };

  /* Whether every layer on the map shows the answer for the current view (after a pan or
   * zoom, until the new answers are in, it does not). */
  gd.settled = function () {
    return gd.ready() && Object.keys(gd.layers).every(function (name) {
      var layer = gd.layers[name];
      return !gd.map.hasLayer(layer) || !gd.sources[name] || gd.shown[name] === gd.sources[name]();
    });
  };

  /* Reload every layer when the view changes (debounced), and remember them by name. */
  gd.follow = function (map, layers) {
    var timer = null;
    gd.map = map;
    for (var name in layers) gd.layers[name] = layers[name];
    map.on("moveend", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        for (var n in layers) if (map.hasLayer(layers[n])) layers[n].update();
      }, 200);
    });
  };

  /* Keep a feature's layer while nothing about it changed; otherwise draw it anew, so that an
   * icon or tooltip never shows stale properties. */
  gd.updateFeature = function (feature, old) {
    if (!old) return undefined;
    var same = JSON.stringify(old.feature.properties) === JSON.stringify(feature.properties) &&
      JSON.stringify(old.feature.geometry) === JSON.stringify(feature.geometry);
    return same ? old : null;
  };

  gd.featureId = function (feature) { return feature.id; };

  /* ---- grids and areas ---- */

  function openColour(n) {
    var i = 0;
    while (i + 1 < OPEN_STEPS.length && n >= OPEN_STEPS[i + 1]) i++;
    return OPEN_COLOURS[i];
  }

  gd.gridStyle = function (feature) {
    var p = feature.properties;
    var fill = gd.colourBy === "light"
      ? (p.worst_light ? LIGHT[p.worst_light] : "#eceff1")
      : openColour(p.open || 0);
    var community = !p.community_code;
    return {
      color: community ? "#455a64" : "#78909c", weight: community ? 1.2 : 0.8,
      fillColor: fill, fillOpacity: (p.open || 0) > 0 ? 0.55 : 0.12,
    };
  };

  gd.outline = function (colour, weight, dash) {
    return function () {
      return { color: colour, weight: weight, dashArray: dash || null, fill: false };
    };
  };

  gd.areaTooltips = function (feature, layer) {
    layer.bindTooltip(function (l) {
      var p = l.feature.properties;
      return "<b>" + esc(p.name) + "</b>" + rows([
        ["code", esc(p.code)], ["open", p.open], ["yellow", p.yellow], ["overdue", p.overdue],
        ["households", p.households],
      ]);
    }, { sticky: true });
  };

  /* ---- issues, teams, cameras, sites ---- */

  function categoryColour(code) {
    var c = gd.config.categories[code];
    return c ? c.colour : "#607d8b";
  }

  gd.issueMarker = function (feature, latlng) {
    var p = feature.properties;
    var marker = L.marker(latlng, {
      icon: L.divIcon({
        className: "gd-issue gd-light-" + (p.light || "none"),
        html: "<span style='background:" + categoryColour(p.category_code) + "'></span>",
        iconSize: [16, 16],
      }),
      light: p.light,
    });
    marker.bindTooltip(function (l) {
      var q = l.feature.properties;
      return "<b>#" + esc(l.feature.id) + " " + esc(q.category_name) + "</b>" + rows([
        ["state", esc(q.state)], ["light", esc(q.light)], ["grid", esc(q.grid_code)],
        ["reported", when(q.reported_at)], ["due", when(q.due_at)],
        ["", esc((q.description || "").slice(0, 80))],
      ]);
    });
    return marker;
  };

  var LIGHT_RANK = { green: 1, yellow: 2, red: 3 };

  gd.clusterIcon = function (cluster) {
    var worst = "green";
    cluster.getAllChildMarkers().forEach(function (m) {
      var light = m.options.light;
      if (light && LIGHT_RANK[light] > LIGHT_RANK[worst]) worst = light;
    });
    var n = cluster.getChildCount();
    var size = n < 10 ? 28 : n < 100 ? 34 : 42;
    return L.divIcon({
      html: "<div><span>" + n + "</span></div>",
      className: "gd-cluster gd-light-" + worst, iconSize: L.point(size, size),
    });
  };

  /* Teams are canvas circles (thousands stay fast), white-ringed, dashed at a home base. */
  gd.teamMarker = function (feature, latlng) {
    var p = feature.properties;
    var marker = L.circleMarker(latlng, {
      radius: 6, color: "#ffffff", weight: 2, dashArray: p.position_at ? null : "2 2",
      fillColor: TEAM_STATUS[p.status] || "#000", fillOpacity: 1, gdKind: "team",
    });
    marker.bindTooltip(function (l) {
      var q = l.feature.properties;
      var age = q.position_age_s == null ? "home base (no position reported)"
        : Math.round(q.position_age_s / 60) + " min ago";
      return "<b>" + esc(q.name) + "</b>" + rows([
        ["team", esc(l.feature.id)], ["kind", esc(q.kind)],
        ["status", "<span style='color:" + (TEAM_STATUS[q.status] || "#000") + "'>" +
          esc(q.status) + "</span>"],
        ["roster", esc(q.roster)], ["position", age],
      ]);
    });
    return marker;
  };

  var CAMERA_STATUS = { online: "#1565c0", offline: "#9e9e9e", maintenance: "#8d6e63" };

  gd.cameraMarker = function (feature, latlng) {
    var p = feature.properties;
    var kind = p.camera_kind || p.kind;
    var marker = L.circleMarker(latlng, {
      radius: kind === "fixed" ? 3.5 : 5, color: "#0d47a1", weight: 1,
      fillColor: CAMERA_STATUS[p.status] || "#1565c0", fillOpacity: 0.9,
    });
    marker.bindTooltip(function (l) {
      var q = l.feature.properties;
      return "<b>camera " + esc(q.camera_id || l.feature.id) + "</b>" + rows([
        ["kind", esc(q.camera_kind || q.kind)], ["status", esc(q.status)],
        ["distance", q.distance_m == null ? null : Math.round(q.distance_m) + " m"],
        ["heading", q.heading_deg == null ? "all round" : q.heading_deg + "°"],
        ["view", q.fov_deg + "°"], ["range", q.range_m + " m"],
      ]);
    });
    return marker;
  };

  gd.viewStyle = function () {
    return { color: "#5e35b1", weight: 0.6, fillColor: "#7e57c2", fillOpacity: 0.12 };
  };

  gd.siteMarker = function (feature, latlng) {
    var marker = L.marker(latlng, {
      icon: L.divIcon({ className: "gd-site", html: "◆", iconSize: [14, 14] }),
    });
    marker.bindTooltip(function (l) {
      var q = l.feature.properties;
      return "<b>" + esc(q.name) + "</b>" + rows([["kind", esc(q.kind)], ["site", esc(l.feature.id)]]);
    });
    return marker;
  };

  /* ---- controls ---- */

  gd.sessionExpired = function () {
    if (gd._expired) return;
    gd._expired = true;
    var next = encodeURIComponent(location.pathname + location.search);
    var banner = L.DomUtil.create("div", "gd-banner", document.body);
    banner.innerHTML = "Your session has ended. <a href='" + gd.config.loginUrl + "?next=" +
      next + "'>Log in again</a>";
  };

  gd.status = function () {
    var el = document.getElementById("gd-status");
    if (!el) return;
    var parts = [];
    if (gd.updatedAt) parts.push("updated " + gd.updatedAt.toTimeString().slice(0, 8));
    if ("grids" in gd.counts) {
      var areaName = gd.map ? gd.areaLevel(gd.map) : "areas";
      parts.push(gd.counts.grids + " " + areaName);
      if (gd.matched.grids > gd.counts.grids) parts.push("zoom in to see all " + gd.matched.grids);
    }
    if ("issues" in gd.counts) {
      parts.push(gd.counts.issues + " open issues" +
        (gd.matched.issues > gd.counts.issues ? " of " + gd.matched.issues : ""));
    }
    if ("teams" in gd.counts) parts.push(gd.counts.teams + " teams");
    var failed = gd.failures.length ? "<div class='gd-failure'>" +
      esc(gd.failures[gd.failures.length - 1]) + "</div>" : "";
    el.innerHTML = esc(parts.join(" · ")) + failed;
  };

  function control(position, build) {
    var C = L.Control.extend({
      options: { position: position },
      onAdd: function () {
        var div = L.DomUtil.create("div", "gd-panel leaflet-bar");
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        build(div);
        return div;
      },
    });
    return new C();
  }

  gd.account = function (map, who) {
    control("topright", function (div) {
      div.innerHTML = "<span>" + esc(who) + "</span> <button type='button'>Log out</button>";
      div.querySelector("button").onclick = function () {
        fetch("/api/v1/auth/session", { method: "DELETE", credentials: "same-origin" })
          .then(function () { location.href = gd.config.loginUrl; });
      };
    }).addTo(map);
  };

  /* The hotspot page: its results are embedded, so it is ready once drawn. `panel` is the
   * filter form (or, in a saved file, a summary of the filters); `summary` counts what is drawn. */
  gd.hotspotPage = function (map, panel, legend, summary, who) {
    gd.map = map;
    gd.hotspots = summary;
    control("topleft", function (div) {
      div.id = "gd-hotspot-filters";
      div.innerHTML = panel;
    }).addTo(map);
    control("bottomright", function (div) {
      div.id = "gd-legend";
      div.innerHTML = legend;
    }).addTo(map);
    if (who) gd.account(map, who);
    gd.drawn = true;
  };

  gd.liveControls = function (map, grids) {
    gd.map = map;
    control("bottomleft", function (div) {
      div.id = "gd-status";
    }).addTo(map);
    control("topleft", function (div) {
      div.innerHTML = "<b>Colour areas by</b><br>" +
        "<label><input type='radio' name='gd-colour' value='open' checked> open issues</label><br>" +
        "<label><input type='radio' name='gd-colour' value='light'> worst light</label>";
      div.querySelectorAll("input").forEach(function (input) {
        input.onchange = function () {
          gd.colourBy = input.value;
          grids._container.setStyle(gd.gridStyle);
          gd.legend();
        };
      });
    }).addTo(map);
    control("bottomright", function (div) { div.id = "gd-legend"; }).addTo(map);
    gd.legend();
    gd.status();
  };

  function swatch(colour, label, shape) {
    return "<div><i class='gd-swatch " + (shape || "") + "' style='background:" + colour +
      "'></i>" + esc(label) + "</div>";
  }

  gd.legend = function () {
    var el = document.getElementById("gd-legend");
    if (!el) return;
    var html = "<b>Areas: " + (gd.colourBy === "light" ? "worst light" : "open issues") + "</b>";
    if (gd.colourBy === "light") {
      html += swatch(LIGHT.green, "all in time") + swatch(LIGHT.yellow, "80% of step time used") +
        swatch(LIGHT.red, "overdue") + swatch("#eceff1", "no open issue");
    } else {
      OPEN_STEPS.forEach(function (step, i) {
        var next = OPEN_STEPS[i + 1];
        html += swatch(OPEN_COLOURS[i], next === undefined ? step + "+" :
          (next - 1 === step ? String(step) : step + "–" + (next - 1)));
      });
    }
    html += "<b>Issues (ring: light)</b>";
    var cats = gd.config.categories;
    Object.keys(cats).forEach(function (code) {
      html += swatch(cats[code].colour, code + " " + cats[code].name, "gd-round");
    });
    html += "<b>Teams (dashed: at home base)</b>" +
      swatch(TEAM_STATUS.available, "available", "gd-round") +
      swatch(TEAM_STATUS.busy, "busy", "gd-round") +
      swatch(TEAM_STATUS.off_duty, "off duty", "gd-round");
    el.innerHTML = html;
  };

  /* ---- the dispatch map ---- */

  var RANK_COLOURS = ["#1b5e20", "#2e7d32", "#558b2f", "#9e9d24", "#f9a825"];

  gd.dispatchStyle = function (feature) {
    var p = feature.properties;
    if (p.kind === "grid") return { color: "#1565c0", weight: 3, fillColor: "#42a5f5", fillOpacity: 0.12 };
    if (p.kind === "route") {
      return { color: RANK_COLOURS[Math.min(p.rank, RANK_COLOURS.length) - 1], weight: p.rank === 1 ? 4 : 2.5,
        dashArray: p.stale ? "6 6" : null, opacity: 0.9 };
    }
    if (p.kind === "camera_view") return gd.viewStyle();
    return {};
  };

  gd.dispatchPoint = function (feature, latlng) {
    var p = feature.properties;
    if (p.kind === "issue") {
      return L.marker(latlng, {
        icon: L.divIcon({ className: "gd-target gd-light-" + (p.light || "none"), html: "!", iconSize: [26, 26] }),
        zIndexOffset: 2000,
      }).bindTooltip(function () {
        return "<b>#" + esc(p.id) + " " + esc(p.category_name) + "</b>" + rows([
          ["state", esc(p.state)], ["light", esc(p.light)], ["grid", esc(p.grid_code)],
          ["address", esc(p.address)], ["", esc(p.description)],
        ]);
      });
    }
    if (p.kind === "candidate") {
      return L.marker(latlng, {
        icon: L.divIcon({ className: "gd-candidate" + (p.stale ? " gd-stale" : ""), html: String(p.rank), iconSize: [22, 22] }),
        zIndexOffset: 1000 - p.rank,
      }).bindTooltip(esc(p.rank + ". " + p.name + " · " + Math.round(p.distance_m) + " m"),
        { permanent: true, direction: "right", offset: [12, 0], className: "gd-candidate-label" });
    }
    if (p.kind === "camera") return gd.cameraMarker(feature, latlng);
    if (p.kind === "nearby") {
      return L.circleMarker(latlng, { radius: 6, color: "#6d4c41", weight: 2, fillColor: "#ffcc80", fillOpacity: 0.9 })
        .bindTooltip("#" + esc(p.id) + " · " + esc(p.state) + " · " + Math.round(p.distance_m) + " m away");
    }
    return L.marker(latlng);
  };

  gd.dispatchPanel = function (map, layer) {
    var fitted = false;
    control("topright", function (div) { div.id = "gd-candidates"; }).addTo(map);
    layer.on("error", function () {
      document.getElementById("gd-candidates").innerHTML = "<div class='gd-failure'>" +
        esc(gd.failures[gd.failures.length - 1] || "the issue could not be loaded") + "</div>";
    });
    layer.on("update", function () {
      var features = Object.keys(layer._features).map(function (k) { return layer._features[k]; });
      var issue = features.filter(function (f) { return f.properties.kind === "issue"; })[0];
      var teams = features.filter(function (f) { return f.properties.kind === "candidate"; })
        .sort(function (a, b) { return a.properties.rank - b.properties.rank; });
      var cams = features.filter(function (f) { return f.properties.kind === "camera"; });
      var near = features.filter(function (f) { return f.properties.kind === "nearby"; });
      var html = "<b>Candidates</b>";
      if (issue) html += "<div class='gd-filter'>" + esc(issue.properties.filter) + " · mode " + esc(issue.properties.mode) + "</div>";
      if (!teams.length && issue) html += "<div class='gd-failure'>" + esc(issue.properties.none_reason || "no candidate") + "</div>";
      html += "<ol>" + teams.map(function (t) {
        var q = t.properties;
        return "<li data-team='" + esc(q.team_id) + "'><b>" + esc(q.name) + "</b> " +
          Math.round(q.distance_m) + " m · " + esc(q.status) + (q.stale ? " · <i>position stale</i>" : "") +
          "<br><small>" + esc(q.reason) + "</small></li>";
      }).join("") + "</ol>";
      html += "<div>" + cams.length + " camera(s) see the spot · " + near.length + " open issue(s) of this category nearby</div>";
      document.getElementById("gd-candidates").innerHTML = html;
      if (!fitted && features.length) {
        fitted = true;
        map.fitBounds(layer.getBounds().pad(0.15), { maxZoom: 17 });
      }
    });
  };
})();
