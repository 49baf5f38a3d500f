/* griddispatch map pages: every layer is loaded from the API for the current view (bbox,
 * simplification for the zoom), refreshed by leaflet-realtime and on every pan or zoom.
 * Nothing here talks to any host but the one that served the page. */
(function () {
  "use strict";
  var _ = gdI18n.t, ngettext = gdI18n.ngettext, fmt = gdI18n.fmt;

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
    failing: {},  // source → message of its last load, while it is failing (the status shows it)
    sources: {},  // name → function giving the URL for the current view
    shown: {},    // name → the URL whose answer the layer shows
    colourBy: "open",
  });

  var LIGHT = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828" };
  var TEAM_STATUS = { available: "#2e7d32", busy: "#ef6c00", off_duty: "#757575" };

  /* Machine values as the page's language names them (an unknown value is shown as it is). */
  var WORDS = {
    light: { green: _("green"), yellow: _("yellow"), red: _("red: overdue") },
    state: {
      reported: _("reported"), accepted: _("accepted"), dispatched: _("dispatched"),
      claimed: _("claimed"), resolved: _("resolved"), checked: _("checked"),
      closed: _("closed"), rejected: _("rejected"), merged: _("merged"),
    },
    mode: { normal: _("normal times"), emergency: _("emergency") },
    teamStatus: { available: _("available"), busy: _("busy"), off_duty: _("off duty") },
    teamKind: {
      safety_livelihood: _("safety and livelihood officer"), grid_worker: _("grid worker"),
      enforcement: _("enforcement team"), enterprise_service: _("enterprise service team"),
      party_volunteer: _("party volunteer team"),
    },
    cameraKind: { fixed: _("fixed camera"), dome: _("dome camera"), high_dome: _("high-point dome camera") },
    cameraStatus: { online: _("online"), offline: _("offline"), maintenance: _("under maintenance") },
    siteKind: {
      manhole_cover: _("manhole cover"), sewer: _("sewer"), school_gate: _("school gate"),
      market: _("market"), night_market: _("night market"), hazard_point: _("hazard point"),
    },
    level: { grids: _("grids"), communities: _("communities"), streets: _("streets"), districts: _("districts") },
    action: { dispatch: _("Dispatch"), joint: _("Joint dispatch"), reassign: _("Reassign"), "return": _("Return") },
  };

  /* Times in the command centre's zone (Asia/Shanghai), as the page's language writes them:
   * 2026/12/02 08:05, or 02/12/2026, 08:05 in English (day first, 24-hour clock). */
  var TIME_LOCALE = gdI18n.english ? "en-GB" : "zh-CN";
  var LOCAL_TIME = new Intl.DateTimeFormat(TIME_LOCALE, {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  var CLOCK = new Intl.DateTimeFormat(TIME_LOCALE, {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  // A calendar day typed as 2026-10-01 (the hotspot filters'), in words: 2026年10月1日, 1 Oct 2026.
  var DAY = new Intl.DateTimeFormat(TIME_LOCALE, { timeZone: "UTC", year: "numeric",
    month: gdI18n.english ? "short" : "long", day: "numeric" });
  var LIST_SEPARATOR = gdI18n.english ? ", " : "、";

  gd.localDay = function (text) {
    if (!/^\d{4}-\d\d-\d\d$/.test(text || "")) return "";
    var date = new Date(text + "T00:00:00Z");
    return isNaN(date.getTime()) ? "" : DAY.format(date);
  };

  var LAYER_LABELS = {
    grids: _("Grids (communities when zoomed out)"), communities: _("Community outlines"),
    streets: _("Street outlines"), districts: _("District outlines"), views: _("Camera views"),
    cameras: _("Cameras"), sites: _("Key sites"), issues: _("Open issues"), teams: _("Teams"),
    dispatch: _("Issue and candidates"),
  };
  gd.layerLabel = function (name) { return LAYER_LABELS[name] || name; };

  function word(table, value) {
    var w = WORDS[table][value];
    return w === undefined ? String(value == null ? "" : value) : w;
  }
  gd.word = word;
  var OPEN_STEPS = [0, 1, 3, 6, 11];
  var OPEN_COLOURS = ["#eceff1", "#ffe0b2", "#ffb74d", "#f57c00", "#bf360c"];

  gd.configure = function (options) {
    for (var k in options) gd.config[k] = options[k];
  };

  /* Text made safe inside HTML; the other scripts of a map page use this one. */
  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  gd.esc = esc;

  /* A name that is data (a grid's, street's, team's, site's; a description someone typed) as
   * HTML: kept as written, and marked as Chinese where it is, so that an English page says
   * which of its words are not its own. */
  var CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
  function data(value) {
    var text = String(value == null ? "" : value);
    return CJK.test(text) ? "<span lang='zh-CN'>" + esc(text) + "</span>" : esc(text);
  }
  gd.data = data;
  gd.isChinese = function (text) { return CJK.test(String(text == null ? "" : text)); };

  /* A distance in the page's language: 850 米, 1.2 公里; 850 m, 1.2 km. */
  function metres(m) {
    return m >= 1000 ? fmt(_("{distance} km"), { distance: (m / 1000).toFixed(1) })
      : fmt(_("{distance} m"), { distance: Math.round(m) });
  }
  gd.metres = metres;

  /* "label: value" as HTML of HTML parts, with the page's language's colon. */
  function labelled(labelHtml, valueHtml) {
    return fmt(esc(_("{label}: {value}")), { label: labelHtml, value: valueHtml });
  }
  gd.labelled = labelled;

  function when(value) {
    return esc(gd.localTime(value));
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

  /* Whether the page draws the grids of this zoom from vector tiles (gridtiles.js) rather
   * than as GeoJSON: where it may, and not below the zoom the tiles start at. */
  gd.tiledGrids = function (map) {
    var from = gd.config.gridTilesFrom;
    return from !== null && from !== undefined && map.getZoom() >= from;
  };

  gd.urls = {
    grids: function (map) {
      var level = gd.areaLevel(map);
      if (level !== "grids") return "/api/v1/layers/areas/" + level + "?" + gd.view(map, true);
      // grids from vector tiles where the page draws them (maps/static/gridtiles.js)
      return gd.tiledGrids(map) ? null : "/api/v1/layers/grids?limit=5000&" + gd.view(map, true);
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
    /* Zoomed out past grids, teams come in clusters of about TEAM_CLUSTER_PX where there are
     * many (the server decides: a city of 200,000 grids has 38,000 teams). */
    teams: function (map) {
      var url = "/api/v1/layers/live/teams?" + gd.view(map);
      if (gd.areaLevel(map) === "grids") return url;
      var side = Math.round(gd.metresPerPixel(map) * TEAM_CLUSTER_PX);
      return url + "&cluster_m=" + Math.min(TEAM_CLUSTER_MAX_M, Math.max(10, side));
    },
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
            throw new Error(_("the session has ended"));
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
          gd.failed(name, fmt(_("{layer}: {problem}"), { layer: gd.layerLabel(name), problem: error.message }));
          fail(error, fmt(_("{layer} could not be loaded"), { layer: gd.layerLabel(name) }));
        });
    };
  };

  /* A load that failed: kept in the history and shown while its source keeps failing. */
  gd.failed = function (source, message) {
    gd.failures.push(message);
    delete gd.failing[source]; // newest last
    gd.failing[source] = message;
    gd.status();
  };

  /* A source that answered again: its failure is no longer shown. */
  gd.recovered = function (source) {
    if (!(source in gd.failing)) return;
    delete gd.failing[source];
    gd.status();
  };

  gd._answered = function (name, collection) {
    gd.loaded[name] = (gd.loaded[name] || 0) + 1;
    delete gd.failing[name];
    gd.counts[name] = collection.features.reduce(function (n, f) {
      return n + (f.properties && f.properties.cluster ? f.properties.count : 1);
    }, 0);
    gd.matched[name] = collection.numberMatched;
    gd.updatedAt = new Date();
    gd.status();
  };

  /* Whether every layer of the page has answered at least once (for tests and benchmarks). */
  gd.ready = function () {
    var names = Object.keys(gd.layers);
    return names.length > 0 && names.every(function (name) { return gd.loaded[name] > 0; }) &&
      (!gd.gridTiles || !gd.gridTiles.wanted() || gd.gridTiles.loads > 0);
  };

  /* Whether every layer on the map shows the answer for the current view (after a pan or
   * zoom, until the new answers are in, it does not). */
  gd.settled = function () {
    return gd.ready() && Object.keys(gd.layers).every(function (name) {
      var layer = gd.layers[name];
      return !gd.map.hasLayer(layer) || !gd.sources[name] || gd.shown[name] === gd.sources[name]();
    }) && (!gd.gridTiles || gd.gridTiles.settled());
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

  /* An area's tooltip: its name, code and open issues (also for grids drawn from tiles). */
  gd.areaTooltipHtml = function (p) {
    return "<b>" + data(p.name) + "</b>" + rows([
      [_("code"), esc(p.code)], [_("open issues"), esc(p.open)], [_("yellow lights"), esc(p.yellow)],
      [_("overdue"), esc(p.overdue)], [_("households"), esc(p.households)],
    ]);
  };

  gd.areaTooltips = function (feature, layer) {
    layer.bindTooltip(function (l) { return gd.areaTooltipHtml(l.feature.properties); }, { sticky: true });
  };

  /* ---- issues, teams, cameras, sites ---- */

  function categoryColour(code) {
    var c = gd.config.categories[code];
    return c ? c.colour : "#607d8b";
  }

  /* A category's name in the page's language (the server's name when it is not listed). */
  function categoryName(p) {
    var c = gd.config.categories[p.category_code];
    return c ? c.name : p.category_name;
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
      return "<b>#" + esc(l.feature.id) + " " + data(categoryName(q)) + "</b>" + rows([
        [_("state"), esc(word("state", q.state))], [_("light"), esc(q.light ? word("light", q.light) : "")],
        [_("grid"), esc(q.grid_code)],
        [_("Reported at"), when(q.reported_at)], [_("step due"), when(q.due_at)],
        ["", data((q.description || "").slice(0, 80))],
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

  /* Teams are canvas circles (thousands stay fast), white-ringed, dashed at a home base;
   * zoomed out, clusters of them with their count and their count per status. */
  gd.teamMarker = function (feature, latlng) {
    var p = feature.properties;
    if (p.cluster) return teamCluster(p, latlng);
    var marker = L.circleMarker(latlng, {
      radius: 6, color: "#ffffff", weight: 2, dashArray: p.position_at ? null : "2 2",
      fillColor: TEAM_STATUS[p.status] || "#000", fillOpacity: 1, gdKind: "team",
    });
    marker.bindTooltip(function (l) {
      var q = l.feature.properties;
      var age = q.position_age_s == null ? _("home base (no position reported)")
        : fmt(_("{n} min ago"), { n: Math.round(q.position_age_s / 60) });
      return "<b>" + data(q.name) + "</b>" + rows([
        [_("team"), esc(l.feature.id)], [_("kind"), esc(word("teamKind", q.kind))],
        [_("status"), "<span style='color:" + (TEAM_STATUS[q.status] || "#000") + "'>" +
          esc(word("teamStatus", q.status)) + "</span>"],
        [_("roster"), esc(q.roster)], [_("position"), esc(age)],
      ]);
    });
    return marker;
  };

  var TEAM_CLUSTER_PX = 56;
  var TEAM_CLUSTER_MAX_M = 20000;  // the largest square the server draws (cluster_m's bound)

  function teamCluster(p, latlng) {
    var size = p.count < 10 ? 24 : p.count < 100 ? 30 : 36;
    var marker = L.marker(latlng, {
      icon: L.divIcon({ html: "<div><span>" + p.count + "</span></div>", className: "gd-team-cluster",
                        iconSize: L.point(size, size) }),
      gdKind: "team-cluster", keyboard: false,
    });
    marker.bindTooltip(function () {
      return "<b>" + esc(fmt(ngettext("{n} team", "{n} teams", p.count), { n: p.count })) + "</b>" + rows(
        ["available", "busy", "off_duty"].map(function (s) {
          return [word("teamStatus", s),
                  "<span style='color:" + TEAM_STATUS[s] + "'>" + esc(String(p[s])) + "</span>"];
        })) + "<small>" + esc(_("zoom in to see each team")) + "</small>";
    });
    return marker;
  }

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
      return "<b>" + esc(fmt(_("camera {id}"), { id: q.camera_id || l.feature.id })) + "</b>" + rows([
        [_("kind"), esc(word("cameraKind", q.camera_kind || q.kind))],
        [_("status"), esc(word("cameraStatus", q.status))],
        [_("distance"), q.distance_m == null ? null : esc(fmt(_("{distance} m"), { distance: Math.round(q.distance_m) }))],
        [_("heading"), q.heading_deg == null ? esc(_("all round")) : esc(q.heading_deg) + "°"],
        [_("field of view"), q.fov_deg == null ? null : esc(q.fov_deg) + "°"],
        [_("range"), q.range_m == null ? null : esc(fmt(_("{distance} m"), { distance: Math.round(q.range_m) }))],
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
      return "<b>" + data(q.name) + "</b>" + rows([[_("kind"), esc(word("siteKind", q.kind))],
        [_("key site"), esc(l.feature.id)]]);
    });
    return marker;
  };

  /* ---- controls ---- */

  gd.sessionExpired = function () {
    if (gd._expired) return;
    gd._expired = true;
    var next = encodeURIComponent(location.pathname + location.search);
    var banner = L.DomUtil.create("div", "gd-banner", document.body);
    // built of nodes: the page's own address never becomes markup
    banner.appendChild(document.createTextNode(_("Your session has ended.") + " "));
    var link = L.DomUtil.create("a", "", banner);
    link.href = gd.config.loginUrl + "?next=" + next;
    link.textContent = _("Log in again");
  };

  gd.status = function () {
    var el = document.getElementById("gd-status");
    if (!el) return;
    var parts = [];
    if (gd.updatedAt) parts.push(fmt(_("updated {time}"), { time: CLOCK.format(gd.updatedAt) }));
    if ("grids" in gd.counts) {
      var level = gd.map ? gd.areaLevel(gd.map) : "grids";
      var tiled = gd.gridTiles && gd.gridTiles.wanted();
      parts.push(fmt(_("{n} {areas}"), { n: tiled ? gd.gridTiles.count() : gd.counts.grids, areas: word("level", level) }));
      if (gd.matched.grids > gd.counts.grids) parts.push(fmt(_("zoom in to see all {n}"), { n: gd.matched.grids }));
    }
    if ("issues" in gd.counts) {
      parts.push(gd.matched.issues > gd.counts.issues
        ? fmt(_("{n} of {total} open issues"), { n: gd.counts.issues, total: gd.matched.issues })
        : fmt(ngettext("{n} open issue", "{n} open issues", gd.counts.issues), { n: gd.counts.issues }));
    }
    if ("teams" in gd.counts) parts.push(fmt(ngettext("{n} team", "{n} teams", gd.counts.teams), { n: gd.counts.teams }));
    var now = Object.keys(gd.failing);
    var failed = now.length ? "<div class='gd-failure'>" + esc(gd.failing[now[now.length - 1]]) + "</div>" : "";
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
      div.innerHTML = "<span>" + esc(who) + "</span> <button type='button'>" + esc(_("Log out")) + "</button>";
      div.querySelector("button").onclick = function () {
        fetch("/api/v1/auth/session", { method: "DELETE", credentials: "same-origin" })
          .then(function () { location.href = gd.config.loginUrl; });
      };
    }).addTo(map);
  };

  /* The English titles Leaflet and its plugins give their buttons (zoom, layers, the
   * attribution's link, the hotspot page's time slider), in the page's language. */
  var CONTROL_TITLES = {
    "Zoom in": _("Zoom in"), "Zoom out": _("Zoom out"), "Layers": _("Layers"),
    "A JavaScript library for interactive maps": _("A JavaScript library for interactive maps"),
    "Backward": _("Backward"), "Forward": _("Forward"), "Play": _("Play"),
    "Play Reverse": _("Play Reverse"), "Loop": _("Loop"), "Date": _("Date"),
    "UTC Time": _("UTC Time"), "Local Time": _("Local Time"), "Time Control": _("Time Control"),
  };

  function retitle(el) {
    ["title", "aria-label"].forEach(function (name) {
      var value = el.getAttribute && el.getAttribute(name);
      if (value && CONTROL_TITLES[value] !== undefined && CONTROL_TITLES[value] !== value) {
        el.setAttribute(name, CONTROL_TITLES[value]);
      }
    });
  }

  /* Every control's titles in the page's language, those added or changed later too (the
   * time slider's date button changes its own title). */
  gd.localiseControls = function (map) {
    if (gdI18n.english || map._gdLocalised) return;
    map._gdLocalised = true;
    var container = map.getContainer();
    var all = function (root) {
      retitle(root);
      if (root.querySelectorAll) [].forEach.call(root.querySelectorAll("[title], [aria-label]"), retitle);
    };
    if (map.attributionControl && map.attributionControl.options.prefix) {
      var prefix = map.attributionControl.options.prefix;
      map.attributionControl.setPrefix(prefix.replace(/title="A JavaScript library for interactive maps"/,
        "title=\"" + esc(CONTROL_TITLES["A JavaScript library for interactive maps"]) + "\""));
    }
    all(container);
    if (window.MutationObserver) {
      new MutationObserver(function (changes) {
        changes.forEach(function (c) {
          if (c.type === "attributes") retitle(c.target);
          else [].forEach.call(c.addedNodes, function (n) { if (n.nodeType === 1) all(n); });
        });
      }).observe(container, { subtree: true, childList: true, attributes: true,
                              attributeFilter: ["title", "aria-label"] });
    }
  };

  /* The link to this page in the other language (a saved file has only the one). */
  gd.languageSwitch = function (map) {
    gd.localiseControls(map);
    if (location.protocol === "file:") return;
    var other = gdI18n.other();
    control("topright", function (div) {
      div.className += " gd-lang-switch";
      div.innerHTML = "<a class='gd-lang' href='" + esc(gdI18n.switchUrl()) + "' hreflang='" + other.lang +
        "' lang='" + other.lang + "'>" + esc(other.label) + "</a>";
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
      // each typed date, in words beside it
      div.querySelectorAll("input.gd-date").forEach(function (input) {
        var out = input.parentNode.querySelector(".gd-date-text");
        input.addEventListener("input", function () { if (out) out.textContent = gd.localDay(input.value); });
      });
    }).addTo(map);
    control("bottomright", function (div) {
      div.id = "gd-legend";
      div.innerHTML = legend;
    }).addTo(map);
    if (who) gd.account(map, who);
    gd.fitLegend();
    map.on("resize", gd.fitLegend);
    gd.drawn = true;
  };

  gd.liveControls = function (map, grids) {
    gd.map = map;
    control("bottomleft", function (div) {
      div.id = "gd-status";
    }).addTo(map);
    control("topleft", function (div) {
      div.innerHTML = "<b>" + esc(_("Colour areas by")) + "</b>" +
        "<label><input type='radio' name='gd-colour' value='open' checked> " + esc(_("open issues")) + "</label><br>" +
        "<label><input type='radio' name='gd-colour' value='light'> " + esc(_("worst light")) + "</label>";
      div.querySelectorAll("input").forEach(function (input) {
        input.onchange = function () {
          gd.colourBy = input.value;
          grids._container.setStyle(gd.gridStyle);
          if (gd.gridTiles) gd.gridTiles.refresh();
          gd.legend();
        };
      });
    }).addTo(map);
    control("bottomright", function (div) { div.id = "gd-legend"; }).addTo(map);
    gd.legend();
    gd.status();
    // the controls above it are all in place once the page's scripts have run
    setTimeout(gd.fitLegend, 0);
    map.on("resize", gd.fitLegend);
  };

  /* Buttons to go to each district of a jurisdiction in detached parts (the map opens on the
   * part holding most of its streets), and to see them all. */
  gd.districtJump = function (map, districts) {
    var box = function (b) { return [[b[1], b[0]], [b[3], b[2]]]; };
    var all = L.latLngBounds(box(districts[0].bounds));
    districts.forEach(function (d) { all.extend(box(d.bounds)); });
    control("topleft", function (div) {
      div.id = "gd-districts";
      div.innerHTML = "<b>" + esc(_("Go to")) + "</b>";
      var add = function (label, bounds, code) {
        var button = L.DomUtil.create("button", "gd-jump", div);
        button.type = "button";
        button.textContent = label;
        button.dataset.code = code;
        button.onclick = function () { map.fitBounds(bounds); };
      };
      add(_("Whole jurisdiction"), all, "");
      districts.forEach(function (d) { add(d.name, box(d.bounds), d.code); });
    }).addTo(map);
  };

  function swatch(colour, label, shape, style) {
    return "<div><i class='gd-swatch " + (shape || "") + "' style='background:" + colour + ";" +
      (style || "") + "'></i>" + esc(label) + "</div>";
  }

  /* Sections other scripts add to the live map's legend: {id, title, html()} (html() may
   * return "" to leave the section out). */
  gd.legendSections = [];

  function section(id, title, body, closed) {
    var open = id in gd._legendOpen ? gd._legendOpen[id] : !closed;
    return "<details data-section='" + id + "'" + (open ? " open" : "") + "><summary>" + esc(title) +
      "</summary>" + body + "</details>";
  }
  gd._legendOpen = {};

  /* The live map's legend: a section for every layer drawn, each of which folds away; the
   * whole legend scrolls within the window (griddispatch.css). */
  gd.legend = function () {
    var el = document.getElementById("gd-legend");
    if (!el) return;
    el.querySelectorAll("details[data-section]").forEach(function (d) {
      gd._legendOpen[d.dataset.section] = d.open;
    });
    var areas = "";
    if (gd.colourBy === "light") {
      areas += swatch(LIGHT.green, _("all in time")) + swatch(LIGHT.yellow, _("80% of step time used")) +
        swatch(LIGHT.red, _("overdue")) + swatch("#eceff1", _("no open issue"));
    } else {
      OPEN_STEPS.forEach(function (step, i) {
        var next = OPEN_STEPS[i + 1];
        areas += swatch(OPEN_COLOURS[i], next === undefined ? step + "+" :
          (next - 1 === step ? String(step) : step + "–" + (next - 1)));
      });
    }
    var outlines = swatch("#212121", _("district"), "gd-line") + swatch("#37474f", _("street"), "gd-line") +
      swatch("#546e7a", _("community"), "gd-line gd-dashed");
    var cats = gd.config.categories, categories = "";
    Object.keys(cats).forEach(function (code) {
      categories += swatch(cats[code].colour, code + " " + cats[code].name, "gd-round");
    });
    var rings = ["green", "yellow", "red"].map(function (light) {
      return swatch("#fff", word("light", light), "gd-round gd-ring", "border-color:" + LIGHT[light]);
    }).join("") + swatch("#fff", _("cluster: count, worst light"), "gd-round gd-ring", "border-color:" + LIGHT.yellow);
    var teams = ["available", "busy", "off_duty"].map(function (status) {
      return swatch(TEAM_STATUS[status], word("teamStatus", status), "gd-round");
    }).join("") + swatch("#9e9e9e", _("dashed ring: at its home base"), "gd-round gd-dashed-ring");
    var cameras = ["online", "offline", "maintenance"].map(function (status) {
      return swatch(CAMERA_STATUS[status], word("cameraStatus", status), "gd-round");
    }).join("") + swatch("rgba(126, 87, 194, 0.35)", _("camera view (from zoom 16)"), "gd-sector");
    var html = section("areas", gd.colourBy === "light" ? _("Areas: worst light") : _("Areas: open issues"), areas) +
      section("outlines", _("Outlines"), outlines, true) +
      section("issues", _("Issues: fill by category"), categories) +
      section("lights", _("Issues: ring by light"), rings) +
      section("teams", _("Teams by status"), teams) +
      section("cameras", _("Cameras (from zoom 14)"), cameras, true) +
      section("sites", _("Key sites"), "<div><i class='gd-site gd-site-key'>◆</i>" +
        esc(_("key site (school gate, market, manhole ...)")) + "</div>", true);
    gd.legendSections.forEach(function (extra) {
      var body = extra.html();
      if (body) html += section(extra.id, extra.title, body, extra.closed);
    });
    el.innerHTML = "<div class='gd-legend-title'>" + esc(_("Legend")) + "</div>" + html;
    gd.fitLegend();
  };

  /* The legend (bottom right) as tall as the room below the controls above it, scrolling
   * beyond: never cut off by the window, never over the layer list, at any screen size. */
  gd.fitLegend = function () {
    var el = document.getElementById("gd-legend");
    if (!el || !gd.map) return;
    var corner = gd.map.getContainer().querySelector(".leaflet-top.leaflet-right");
    var top = gd.map.getContainer().getBoundingClientRect().top;
    if (corner) {
      [].forEach.call(corner.children, function (c) { top = Math.max(top, c.getBoundingClientRect().bottom); });
    }
    var bottom = el.getBoundingClientRect().bottom;
    el.style.maxHeight = Math.max(80, Math.floor(bottom - top - 12)) + "px";
  };

  /* ---- the dispatch map ---- */

  /* Every word the dispatch page shows, in the page's language. */
  var SAY = {
    issue: _("Issue"), category: _("Category"), state: _("State"), light: _("Light"),
    reported: _("Reported"), due: _("Step due"), address: _("Address"), grid: _("Grid"),
    assigned: _("Assigned teams"), candidates: _("Candidate teams"),
    choose: _("Tick teams: the first ticked leads, the others support"),
    eta: _("ETA"), road: _("road"), byStraight: _("no road route: estimated by straight line"),
    workload: _("open assignments"), lastAssigned: _("last assigned"),
    stale: _("position stale: confirm by radio before dispatching"),
    notRecommended: _("not recommended"), lead: _("lead"), support: _("support"),
    reason: _("Reason (needed to reassign or return)"),
    noTeams: _("Tick a team first"), noReason: _("Give a reason"), sending: _("Sending…"),
    returned: _("Returned to the command centre, to be dispatched again"),
    refused412: _("The issue was changed by someone else; nothing was done"),
    refused409: _("The issue's state does not allow this"),
    refused403: _("You may not do this"), refused422: _("The request cannot be carried out"),
    refused: _("The action failed"), unreachable: _("The server cannot be reached"),
    changed: _("The issue was changed elsewhere: reload it before acting"),
    reload: _("Reload"), loading: _("Loading…"), noCandidate: _("No team can be dispatched"),
    mode: _("mode"), policy: _("ranking"),
  };

  /* A phrase as HTML: a key of SAY, or a machine value in one of WORDS' tables. */
  function say(key, table) {
    return esc(table ? word(table, key) : (SAY[key] === undefined ? key : SAY[key]));
  }

  /* "{team} (lead)" or "{team} (support)" in the page's language, as HTML (the name is data). */
  function teamRole(t) {
    return fmt(esc(t.lead ? _("{team} (lead)") : _("{team} (support)")), { team: data(t.name) });
  }

  gd.localTime = function (iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    return LOCAL_TIME.format(date);
  };

  // An ISO 8601 time inside a server's sentence (a reason, a refusal), shown as local time.
  var ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?/g;

  function localiseText(text) {
    return String(text == null ? "" : text).replace(ISO_TIME, function (t) { return gd.localTime(t) || t; });
  }

  function etaMinutes(s) {
    return Math.max(1, Math.round(s / 60));
  }

  var ROUTE_PANE = "gdRoutes"; // above the grids' fills (maps/dispatch.py makes it)
  var RANK_COLOURS = ["#1b5e20", "#1565c0", "#6a1b9a", "#e65100", "#4e342e"];

  var HELD_COLOUR = "#757575";  // a team held back at its limit of open assignments (rank 0)

  function rankColour(rank) {
    if (!(rank >= 1)) return HELD_COLOUR;
    return RANK_COLOURS[(rank - 1) % RANK_COLOURS.length];
  }

  /* Whether a candidate's way is a guess: timed by straight line, or not drawn along roads
   * (a layer without routes gives the straight line from the team to the issue). */
  function offRoad(p) {
    return p.basis === "straight_line" || (p.basis == null && p.drawn !== "road");
  }

  /* A candidate's label on the map: rank, name, ETA and road distance when known, else the
   * straight-line distance. */
  function candidateLabel(p) {
    var parts = [esc(p.rank) + ". " + data(p.name)];
    if (p.eta_s == null) {
      parts.push(esc(fmt(_("{distance} m"), { distance: Math.round(p.distance_m) })));
    } else {
      parts.push(esc(fmt(_("{n} min"), { n: (offRoad(p) ? "≈" : "") + etaMinutes(p.eta_s) })));
      parts.push(esc(p.road_m == null ? fmt(_("straight line {distance}"), { distance: metres(p.distance_m) })
        : metres(p.road_m)));
    }
    return parts.join(" · ");
  }

  gd.dispatchStyle = function (feature) {
    var p = feature.properties;
    if (p.kind === "grid") return { color: "#1565c0", weight: 3, fillColor: "#42a5f5", fillOpacity: 0.12 };
    if (p.kind === "route") {
      return { color: rankColour(p.rank), weight: p.rank === 1 ? 5 : 3.5, lineCap: "round",
        opacity: p.recommended === false ? 0.45 : 0.9,
        dashArray: p.stale || offRoad(p) ? "8 7" : null };
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
        return "<b>#" + esc(p.id) + " " + data(categoryName(p)) + "</b>" + rows([
          [SAY.state, say(p.state, "state")], [SAY.grid, esc(p.grid_code)],
          [SAY.address, data(p.address)], ["", data(p.description)],
        ]);
      });
    }
    if (p.kind === "candidate") {
      var marker = L.marker(latlng, {
        icon: L.divIcon({
          className: "gd-candidate" + (p.stale ? " gd-stale" : "") +
            (p.recommended === false ? " gd-not-recommended" : ""),
          html: String(p.rank), iconSize: [22, 22],
        }),
        zIndexOffset: 1000 - p.rank, title: p.name,
      });
      marker.on("add", function () {
        var el = marker.getElement();
        if (el) el.style.background = rankColour(p.rank);
        if (el && CJK.test(p.name || "")) el.lang = "zh-CN";  // its title is the team's name
      });
      marker.on("click", function () { gd.dispatchToggle(p.team_id); });
      return marker;
    }
    if (p.kind === "camera") return gd.cameraMarker(feature, latlng);
    if (p.kind === "nearby") {
      return L.circleMarker(latlng, { radius: 6, color: "#6d4c41", weight: 2, fillColor: "#ffcc80", fillOpacity: 0.9 })
        .bindTooltip("#" + esc(p.id) + " · " + say(p.state, "state") + " · " +
          esc(fmt(_("{distance} m"), { distance: Math.round(p.distance_m) })));
    }
    return L.marker(latlng);
  };

  /* ---- the dispatch map: labels that never overlap ---- */

  function box(x, y, w, h) { return { x: x, y: y, w: w, h: h }; }

  function overlaps(a, b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  }

  /* Where a label of w × h pixels may go around its marker, nearest first: beside, above or
   * below it; then stacked further up and down on either side, with a leader line. */
  function spots(w, h, n) {
    var out = [[14, -h / 2, false], [-14 - w, -h / 2, false], [-w / 2, -16 - h, false], [-w / 2, 16, false]];
    for (var k = 1; k <= n; k++) {
      var dy = k * (h + 3);
      out.push([26, -h / 2 + dy, true], [26, -h / 2 - dy, true],
        [-26 - w, -h / 2 + dy, true], [-26 - w, -h / 2 - dy, true]);
    }
    return out;
  }

  /* The point of a box's edge nearest to p (where a leader line meets the label). */
  function edgePoint(b, p) {
    return L.point(Math.min(Math.max(p.x, b.x), b.x + b.w), Math.min(Math.max(p.y, b.y), b.y + b.h));
  }

  /* The map's controls (the panel, zoom, account) in container pixels: labels avoid them. */
  function controlBoxes(map) {
    var frame = map.getContainer().getBoundingClientRect();
    return [].map.call(map.getContainer().querySelectorAll(".leaflet-control"), function (el) {
      var r = el.getBoundingClientRect();
      return box(r.left - frame.left, r.top - frame.top, r.width, r.height);
    });
  }

  /* Place every candidate's label in screen pixels, best rank first: the first free spot
   * (inside the view if one is) that overlaps neither a placed label, a marker nor a
   * control. Redone after every zoom. */
  gd.placeLabels = function () {
    var d = gd.dispatch, map = gd.map;
    if (!d || !map) return;
    d.leaders.clearLayers();
    var markers = d.candidates.map(function (c) {
      var pt = map.latLngToContainerPoint(c.latlng);
      return box(pt.x - 13, pt.y - 13, 26, 26);
    });
    if (d.issueLatLng) {
      var q = map.latLngToContainerPoint(d.issueLatLng);
      markers.push(box(q.x - 16, q.y - 16, 32, 32));
    }
    var blocked = markers.concat(controlBoxes(map)), size = map.getSize();
    var inside = function (b) { return b.x >= 0 && b.y >= 0 && b.x + b.w <= size.x && b.y + b.h <= size.y; };
    var placed = [];
    d.candidates.forEach(function (c) {
      var label = d.labels[c.team_id], el = label && label.getElement();
      if (!el) return;
      var w = el.offsetWidth, h = el.offsetHeight, pt = map.latLngToContainerPoint(c.latlng);
      var options = spots(w, h, 2 * d.candidates.length + 4), chosen = null, where = null;
      for (var pass = 0; pass < 2 && !chosen; pass++) {
        for (var i = 0; i < options.length && !chosen; i++) {
          var b = box(pt.x + options[i][0], pt.y + options[i][1], w, h);
          var free = (pass === 1 || inside(b)) &&
            !placed.some(function (o) { return overlaps(o, b); }) &&
            !blocked.some(function (o) { return overlaps(o, b); });
          if (free) { chosen = options[i]; where = b; }
        }
      }
      if (!chosen) { // below everything placed so far: always free
        var bottom = Math.max.apply(null, placed.map(function (o) { return o.y + o.h; }).concat([pt.y + 16]));
        chosen = [26, bottom + 3 - pt.y, true];
        where = box(pt.x + chosen[0], pt.y + chosen[1], w, h);
      }
      placed.push(where);
      el.style.marginLeft = chosen[0] + "px";
      el.style.marginTop = chosen[1] + "px";
      if (chosen[2]) {
        L.polyline([c.latlng, map.containerPointToLatLng(edgePoint(where, pt))], {
          color: rankColour(c.props.rank), weight: 1.5, opacity: 0.9, interactive: false,
          pane: ROUTE_PANE,
        }).addTo(d.leaders);
      }
    });
    d.placed = placed.length;
  };

  /* One label marker per candidate (rebuilt when the candidates change), then placed. */
  function drawLabels(candidates) {
    var d = gd.dispatch;
    var signature = JSON.stringify(candidates.map(function (c) {
      return [c.team_id, candidateLabel(c.props), c.latlng.lat, c.latlng.lng];
    }));
    if (signature !== d.labelSignature) {
      d.labelSignature = signature;
      d.labelLayer.clearLayers();
      d.labels = {};
      candidates.forEach(function (c) {
        var p = c.props;
        d.labels[c.team_id] = L.marker(c.latlng, {
          icon: L.divIcon({
            className: "gd-candidate-label" + (p.recommended === false ? " gd-not-recommended" : ""),
            html: candidateLabel(p), iconSize: null,
          }),
          interactive: false, keyboard: false, zIndexOffset: 500,
        }).addTo(d.labelLayer);
        var el = d.labels[c.team_id].getElement();
        if (el) el.style.borderLeftColor = rankColour(p.rank);
      });
    }
    gd.placeLabels();
  }

  /* ---- the dispatch map: the panel and its actions ---- */

  /* A short-lived bearer token for this page's changes (the session cookie only reads). */
  function bearer() {
    var d = gd.dispatch;
    if (d.token && Date.now() < d.tokenUntil) return Promise.resolve(d.token);
    return fetch("/api/v1/auth/session/token", { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) gd.sessionExpired();
        if (!r.ok) throw new Error(r.status + ": " + _("the page's session has ended; log in again"));
        return r.json();
      })
      .then(function (t) {
        d.token = t.access_token;
        d.tokenUntil = Date.now() + Math.max(t.expires_in - 60, 30) * 1000;
        return d.token;
      });
  }

  /* The issue as the page decides on it, and its version (the ETag) that every action
   * sends back as If-Match. */
  function loadIssue() {
    var d = gd.dispatch;
    return fetch("/api/v1/issues/" + d.issueId, { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) gd.sessionExpired();
        if (!r.ok) {
          return r.json().then(function (j) { throw new Error(r.status + ": " + (j.detail || r.statusText)); });
        }
        var tag = r.headers.get("ETag");
        return r.json().then(function (issue) {
          d.issue = issue;
          d.version = tag ? Number(tag.replace(/^W\//, "").replace(/"/g, "")) : issue.version;
          d.loads += 1;
          d.changedElsewhere = false;
          renderChanged();
          renderIssue();
          renderActions();
          renderList(true);
        });
      });
  }

  function field(label, value) {
    return value ? "<div class='gd-field'><span class='gd-key'>" + label + "</span> " + value + "</div>" : "";
  }

  function renderIssue() {
    var d = gd.dispatch, i = d.issue, el = document.getElementById("gd-issue");
    if (!el || !i) return;
    var light = i.light ? "<i class='gd-swatch gd-round' style='background:" + LIGHT[i.light] + "'></i>" +
      say(i.light, "light") : "";
    var teams = (i.teams || []).map(teamRole).join(LIST_SEPARATOR);
    el.innerHTML = "<h3>" + say("issue") + " #" + esc(i.id) + "</h3>" +
      field(say("category"), data(categoryName(i)) + " <small>" + esc(i.category_code) + "</small>") +
      field(say("state"), say(i.state, "state")) +
      field(say("light"), light) +
      field(say("reported"), "<time>" + esc(gd.localTime(i.reported_at)) + "</time>") +
      field(say("due"), i.due_at ? "<time>" + esc(gd.localTime(i.due_at)) + "</time>" : "") +
      field(say("address"), data(i.address)) +
      field(say("grid"), esc(i.grid_code)) +
      field(say("assigned"), teams) +
      (i.description ? "<p class='gd-description'>" + data(i.description) + "</p>" : "");
  }

  /* A candidate's reason without the filter the list states once above it. */
  function shortReason(reason) {
    var d = gd.dispatch, text = localiseText(reason);
    return d.meta && d.meta.filter ? text.split(d.meta.filter).join("…") : text;
  }

  function candidateItem(c) {
    var d = gd.dispatch, p = c.props, at = d.selected.indexOf(p.team_id);
    var facts = [];
    if (p.eta_s != null) {
      facts.push(labelled(say("eta"), "<strong>" + esc(fmt(_("{n} min"), { n: (offRoad(p) ? "≈" : "") + etaMinutes(p.eta_s) })) +
        "</strong>"));
    }
    if (p.road_m != null) facts.push(labelled(say("road"), esc(metres(p.road_m))));
    facts.push(esc(fmt(_("straight line {distance}"), { distance: metres(p.distance_m) })));
    var work = [];
    if (p.open_assignments != null) work.push(labelled(say("workload"), esc(p.open_assignments)));
    if (p.open_assignments != null || p.last_assigned_at) {
      work.push(labelled(say("lastAssigned"), p.last_assigned_at ? "<time>" + esc(gd.localTime(p.last_assigned_at)) + "</time>" : "—"));
    }
    var notes = [];
    if (p.via && p.via.length) notes.push(esc(fmt(_("via {roads}"), { roads: p.via.join(LIST_SEPARATOR) })));
    if (p.basis === "straight_line") notes.push("<span class='gd-warn'>" + say("byStraight") + "</span>");
    if (p.stale) notes.push("<span class='gd-warn'>" + say("stale") + "</span>");
    var role = at < 0 ? "" : " <span class='gd-role'>" + (at + 1) + " " + say(at === 0 ? "lead" : "support") + "</span>";
    var flag = p.recommended === false ? " <span class='gd-flag'>" + say("notRecommended") + "</span>" : "";
    return "<li data-team='" + esc(p.team_id) + "' class='" + (at < 0 ? "" : "gd-chosen ") +
      (p.recommended === false ? "gd-not-recommended" : "") + "'>" +
      "<label><input type='checkbox' data-team='" + esc(p.team_id) + "'" + (at < 0 ? "" : " checked") + ">" +
      "<i class='gd-rank' style='background:" + rankColour(p.rank) + "'>" + esc(p.rank) + "</i>" +
      "<strong>" + data(p.name) + "</strong>" + flag + role + "</label>" +
      "<div class='gd-facts'>" + facts.join(" · ") + "</div>" +
      (work.length ? "<div class='gd-facts'>" + work.join(" · ") + "</div>" : "") +
      (notes.length ? "<div class='gd-facts'>" + notes.join(" · ") + "</div>" : "") +
      "<small class='gd-reason'>" + esc(shortReason(p.reason)) + "</small></li>";
  }

  /* The candidate list; drawn again only when what it shows changed (`force`: selection). */
  function renderList(force) {
    var d = gd.dispatch, el = document.getElementById("gd-list");
    if (!el) return;
    var signature = JSON.stringify([d.candidates.map(function (c) { return c.props; }), d.selected, d.meta]);
    if (!force && signature === d.listSignature) return;
    d.listSignature = signature;
    var html = "<h3>" + say("candidates") + "</h3>";
    if (d.meta) {
      html += "<div class='gd-filter'>" + esc(d.meta.filter) + " · " + labelled(say("mode"), say(d.meta.mode, "mode")) +
        "</div>";
      if (d.meta.policy) html += "<div class='gd-filter'>" + labelled(say("policy"), esc(d.meta.policy)) + "</div>";
      if (!d.candidates.length) {
        html += "<div class='gd-failure'>" + labelled(say("noCandidate"), esc(d.meta.none_reason || "")) + "</div>";
      }
    }
    html += "<div class='gd-hint'>" + say("choose") + "</div>";
    html += "<ol>" + d.candidates.map(candidateItem).join("") + "</ol>";
    el.innerHTML = html;
    el.querySelectorAll("input[type=checkbox]").forEach(function (box) {
      box.onchange = function () { gd.dispatchToggle(box.dataset.team); };
    });
  }

  /* Tick or untick a team: the order of ticking is the order sent (the first leads). */
  gd.dispatchToggle = function (teamId) {
    var d = gd.dispatch, at = d.selected.indexOf(teamId);
    if (at < 0) d.selected.push(teamId); else d.selected.splice(at, 1);
    renderList(true);
    renderActions();
  };

  /* The buttons for what the issue's state allows and the user's role may do. */
  function renderActions() {
    var d = gd.dispatch, el = document.getElementById("gd-buttons");
    if (!el || !d.issue) return;
    var allowed = (d.issue.allowed_actions || []).filter(function (a) {
      return ["dispatch", "reassign", "return"].indexOf(a) >= 0 && d.actions.indexOf(a) >= 0;
    });
    el.innerHTML = allowed.map(function (a) {
      var label = a === "dispatch" && d.selected.length > 1 ? "joint" : a;
      return "<button type='button' data-action='" + a + "'" +
        (d.busy ? " disabled" : "") + ">" + say(label, "action") + "</button>";
    }).join(" ");
    el.querySelectorAll("button").forEach(function (b) {
      b.onclick = function () { gd.dispatchAct(b.dataset.action); };
    });
  }

  function showResult(html, kind) {
    var el = document.getElementById("gd-result");
    if (el) {
      el.innerHTML = html;
      el.className = kind ? "gd-" + kind : "";
    }
  }

  function succeeded(action, issue) {
    if (action === "return") return say("returned");
    var teams = (issue.teams || []).map(teamRole).join(LIST_SEPARATOR);
    return fmt(esc(action === "dispatch" ? _("dispatched to {teams}") : _("reassigned to {teams}")),
               { teams: teams });
  }

  function refused(status, detail) {
    var key = { 412: "refused412", 409: "refused409", 403: "refused403", 422: "refused422" }[status] || "refused";
    return "<strong>" + say(key) + "</strong><br><span>" + esc(localiseText(detail)) + "</span>";
  }

  /* Take `action` with the version the page loaded (If-Match), show what came of it in
   * words, then load the issue and the layer again. */
  gd.dispatchAct = function (action) {
    var d = gd.dispatch;
    if (d.busy || !d.issue) return null;
    var reason = (document.getElementById("gd-reason") || {}).value || "";
    if (action !== "return" && !d.selected.length) return showResult(say("noTeams"), "failure");
    if (action !== "dispatch" && !reason.trim()) return showResult(say("noReason"), "failure");
    var body = { reason: reason.trim() };
    if (action !== "return") body.team_ids = d.selected.slice();
    d.busy = true;
    renderActions();
    showResult(say("sending"), "");
    return bearer()
      .then(function (token) {
        return fetch("/api/v1/issues/" + d.issueId + "/" + action, {
          method: "POST", credentials: "same-origin", body: JSON.stringify(body),
          headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json",
                     "If-Match": '"' + d.version + '"' },
        });
      })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (answer) {
          var ok = r.ok;
          d.results.push({ action: action, status: r.status, detail: answer.detail || null,
                           sentVersion: d.version });
          if (ok) {
            showResult(succeeded(action, answer), "success");
            d.selected = [];
            var input = document.getElementById("gd-reason");
            if (input) input.value = "";
          } else {
            showResult(refused(r.status, answer.detail || r.statusText), "failure");
          }
        });
      })
      .catch(function (error) {
        d.results.push({ action: action, status: 0, detail: error.message, sentVersion: d.version });
        showResult("<strong>" + say("unreachable") + "</strong><br>" + esc(error.message), "failure");
      })
      .then(function () { return loadIssue().catch(function () { return null; }); })
      .then(function () {
        d.busy = false;
        renderActions();
        d.layer.update();
      });
  };

  /* The layer refreshes on its own; when its issue is at another version than the one the
   * page decides on, say so (the page keeps its version until it is reloaded). */
  function renderChanged() {
    var d = gd.dispatch, el = document.getElementById("gd-changed");
    if (!el) return;
    if (!d.changedElsewhere) {
      el.innerHTML = "";
      return;
    }
    el.innerHTML = "<div class='gd-warn'>" + say("changed") + "</div><button type='button'>" + say("reload") + "</button>";
    el.querySelector("button").onclick = function () {
      d.changedElsewhere = false;
      renderChanged();
      loadIssue();
    };
  }

  /* Routes as drawn on the map (for tests): team, colour, dash, points, whether on screen. */
  gd.dispatchRoutes = function () {
    var d = gd.dispatch;
    var out = [];
    d.layer._container.eachLayer(function (l) {
      if (!l.feature || l.feature.properties.kind !== "route") return;
      out.push({ team_id: l.feature.properties.team_id, colour: l.options.color,
                 dashed: !!l.options.dashArray, points: l.getLatLngs().length,
                 drawn: gd.map.hasLayer(l) && !!l._parts && l._parts.length > 0 });
    });
    return out;
  };

  gd.dispatchPanel = function (map, layer, issueId, actions) {
    var d = (gd.dispatch = {
      issueId: issueId, actions: actions || [], layer: layer, issue: null, version: null,
      selected: [], candidates: [], meta: null, results: [], loads: 0, busy: false,
      labels: {}, labelLayer: L.layerGroup().addTo(map), leaders: L.layerGroup().addTo(map),
      token: null, tokenUntil: 0, changedElsewhere: false,
    });
    var fitted = false;
    control("topright", function (div) {
      div.id = "gd-candidates";
      div.innerHTML = "<div id='gd-issue'>" + say("loading") + "</div><div id='gd-changed'></div>" +
        "<div id='gd-list'></div><div id='gd-actions'><label class='gd-reason-field'>" + say("reason") +
        "<textarea id='gd-reason' rows='2' maxlength='2000'></textarea></label>" +
        "<div id='gd-buttons'></div><div id='gd-result' role='status'></div></div>" +
        "<div id='gd-around'></div>";
    }).addTo(map);
    map.on("zoomend viewreset resize", gd.placeLabels);
    layer.on("error", function () {
      showResult(esc(gd.failures[gd.failures.length - 1] || _("the issue could not be loaded")), "failure");
    });
    layer.on("update", function () {
      var features = Object.keys(layer._features).map(function (k) { return layer._features[k]; });
      var issue = features.filter(function (f) { return f.properties.kind === "issue"; })[0];
      d.candidates = features.filter(function (f) { return f.properties.kind === "candidate"; })
        // Held teams (rank 0) after the recommended ones, as the API lists them.
        .sort(function (a, b) {
          var ra = a.properties.rank || Infinity, rb = b.properties.rank || Infinity;
          return ra === rb ? (a.properties.eta_s || 0) - (b.properties.eta_s || 0) : ra - rb;
        })
        .map(function (f) {
          var c = f.geometry.coordinates;
          return { team_id: f.properties.team_id, props: f.properties, latlng: L.latLng(c[1], c[0]) };
        });
      if (issue) {
        var q = issue.properties;
        d.meta = { filter: q.filter, mode: q.mode, policy: q.policy, none_reason: q.none_reason };
        d.issueLatLng = L.latLng(issue.geometry.coordinates[1], issue.geometry.coordinates[0]);
        // Newer only: an answer sent before the page's own action shows an older one.
        if (q.version != null && d.version != null && q.version > d.version && !d.busy) {
          d.changedElsewhere = true;
          renderChanged();
        }
      }
      var cams = features.filter(function (f) { return f.properties.kind === "camera"; }).length;
      var near = features.filter(function (f) { return f.properties.kind === "nearby"; }).length;
      document.getElementById("gd-around").innerHTML =
        "<div>" + esc(fmt(ngettext("{n} camera can see the spot", "{n} cameras can see the spot", cams), { n: cams })) + "</div><div>" +
        esc(fmt(ngettext("{n} open issue of this category nearby", "{n} open issues of this category nearby", near), { n: near })) + "</div>";
      renderList(false);
      if (!fitted && features.length) {
        fitted = true;
        var panel = document.getElementById("gd-candidates");
        map.fitBounds(layer.getBounds(), { maxZoom: 17, paddingTopLeft: [40, 40],
          paddingBottomRight: [(panel ? panel.offsetWidth : 0) + 40, 40] });
      }
      drawLabels(d.candidates);
    });
    loadIssue().catch(function (error) {
      document.getElementById("gd-issue").innerHTML = "<div class='gd-failure'>" + esc(error.message) + "</div>";
    });
  };
})();
