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

  /* Every word the dispatch page shows, Chinese first with the English beside it. */
  var SAY = {
    issue: { zh: "事件", en: "Issue" },
    category: { zh: "类别", en: "category" },
    state: { zh: "状态", en: "state" },
    light: { zh: "灯色", en: "light" },
    reported: { zh: "上报", en: "reported" },
    due: { zh: "本环节时限", en: "step due" },
    address: { zh: "地址", en: "address" },
    grid: { zh: "网格", en: "grid" },
    description: { zh: "描述", en: "description" },
    assigned: { zh: "已派队伍", en: "assigned" },
    candidates: { zh: "候选队伍", en: "Candidates" },
    choose: { zh: "勾选队伍：先选的为主办，其余协办", en: "tick teams: the first leads, the others support" },
    eta: { zh: "预计到达", en: "ETA" },
    minutes: { zh: "分钟", en: "min" },
    road: { zh: "路程", en: "road" },
    straight: { zh: "直线", en: "straight line" },
    byStraight: { zh: "无道路可循，按直线估算", en: "no road route: estimated by straight line" },
    workload: { zh: "在办", en: "open assignments" },
    lastAssigned: { zh: "最近派单", en: "last assigned" },
    via: { zh: "经", en: "via" },
    stale: { zh: "位置过时：派单前请电台确认", en: "position stale: confirm by radio" },
    notRecommended: { zh: "不推荐", en: "not recommended" },
    lead: { zh: "主办", en: "lead" },
    support: { zh: "协办", en: "support" },
    reason: { zh: "理由（改派、退回必填）", en: "reason (needed to reassign or return)" },
    dispatch: { zh: "派单", en: "Dispatch" },
    joint: { zh: "联合派单", en: "Joint dispatch" },
    reassign: { zh: "改派", en: "Reassign" },
    "return": { zh: "退回", en: "Return" },
    noTeams: { zh: "请先勾选队伍", en: "tick a team first" },
    noReason: { zh: "请填写理由", en: "give a reason" },
    sending: { zh: "提交中…", en: "sending…" },
    dispatched: { zh: "已派单给", en: "dispatched to" },
    reassigned: { zh: "已改派给", en: "reassigned to" },
    returned: { zh: "已退回指挥中心，待重新派单", en: "returned to dispatch" },
    refused412: { zh: "事件已被他人更改，本次操作未执行", en: "the issue changed meanwhile; nothing was done" },
    refused409: { zh: "事件当前状态不允许此操作", en: "not allowed in the issue's state" },
    refused403: { zh: "无权执行此操作", en: "not allowed for you" },
    refused422: { zh: "请求无法执行", en: "the request cannot be used" },
    refused: { zh: "操作失败", en: "failed" },
    unreachable: { zh: "无法连接服务器", en: "the server cannot be reached" },
    changed: { zh: "事件已在别处更改，请重新载入后再操作", en: "the issue changed elsewhere: reload before acting" },
    reload: { zh: "重新载入", en: "Reload" },
    loading: { zh: "载入中…", en: "loading…" },
    noCandidate: { zh: "没有可派队伍", en: "no candidate" },
    mode: { zh: "模式", en: "mode" },
    policy: { zh: "排序规则", en: "ranking" },
    cameras: { zh: "个摄像头可见现场", en: "camera(s) see the spot" },
    nearby: { zh: "件同类事件在附近未办结", en: "open issue(s) of this category nearby" },
    lights: { green: { zh: "绿灯", en: "green" }, yellow: { zh: "黄灯", en: "yellow" },
              red: { zh: "红灯", en: "red: overdue" } },
    states: {
      reported: { zh: "已上报", en: "reported" }, accepted: { zh: "已受理", en: "accepted" },
      dispatched: { zh: "已派单", en: "dispatched" }, claimed: { zh: "已领单", en: "claimed" },
      resolved: { zh: "已办结", en: "resolved" }, checked: { zh: "已核查", en: "checked" },
      closed: { zh: "已结案", en: "closed" }, rejected: { zh: "已驳回", en: "rejected" },
      merged: { zh: "已合并", en: "merged" },
    },
    modes: { normal: { zh: "平时", en: "normal" }, emergency: { zh: "应急", en: "emergency" } },
  };

  function entry(key, table) {
    var m = (table || SAY)[key];
    return m || { zh: String(key), en: String(key) };
  }

  /* A phrase as HTML: the Chinese, then the English in small type. */
  function say(key, table) {
    var m = entry(key, table);
    return esc(m.zh) + " <small class='gd-en' lang='en'>" + esc(m.en) + "</small>";
  }

  /* A phrase as plain text, for titles and messages: "中文 / English". */
  function sayText(key, table) {
    var m = entry(key, table);
    return m.zh + " / " + m.en;
  }

  // The operator's local time (the command centre is in Asia/Shanghai), as 2026-11-21 08:05.
  var LOCAL_TIME = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  gd.localTime = function (iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    var part = {};
    LOCAL_TIME.formatToParts(date).forEach(function (p) { part[p.type] = p.value; });
    return part.year + "-" + part.month + "-" + part.day + " " + part.hour + ":" + part.minute;
  };

  // An ISO 8601 time inside a server's sentence (a reason, a refusal), shown as local time.
  var ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?/g;

  function localiseText(text) {
    return String(text == null ? "" : text).replace(ISO_TIME, function (t) { return gd.localTime(t) || t; });
  }

  function metres(m) {
    return m >= 1000 ? (m / 1000).toFixed(1) + " km" : Math.round(m) + " m";
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
    var parts = [p.rank + ". " + p.name];
    if (p.eta_s == null) {
      parts.push(Math.round(p.distance_m) + " m");
    } else {
      parts.push((offRoad(p) ? "≈" : "") + etaMinutes(p.eta_s) + " " + SAY.minutes.zh);
      parts.push(p.road_m == null ? SAY.straight.zh + " " + metres(p.distance_m) : metres(p.road_m));
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
        return "<b>#" + esc(p.id) + " " + esc(p.category_name) + "</b>" + rows([
          [SAY.state.zh, say(p.state, SAY.states)], [SAY.grid.zh, esc(p.grid_code)],
          [SAY.address.zh, esc(p.address)], ["", esc(p.description)],
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
      });
      marker.on("click", function () { gd.dispatchToggle(p.team_id); });
      return marker;
    }
    if (p.kind === "camera") return gd.cameraMarker(feature, latlng);
    if (p.kind === "nearby") {
      return L.circleMarker(latlng, { radius: 6, color: "#6d4c41", weight: 2, fillColor: "#ffcc80", fillOpacity: 0.9 })
        .bindTooltip("#" + esc(p.id) + " · " + say(p.state, SAY.states) + " · " + Math.round(p.distance_m) + " m");
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
            html: esc(candidateLabel(p)), iconSize: null,
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
        if (!r.ok) throw new Error(r.status + ": the page's session has ended; log in again");
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
      say(i.light, SAY.lights) : "";
    var teams = (i.teams || []).map(function (t) {
      return esc(t.name) + "（" + say(t.lead ? "lead" : "support") + "）";
    }).join("、");
    el.innerHTML = "<h3>" + say("issue") + " #" + esc(i.id) + "</h3>" +
      field(say("category"), esc(i.category_name) + " <small>" + esc(i.category_code) + "</small>") +
      field(say("state"), say(i.state, SAY.states)) +
      field(say("light"), light) +
      field(say("reported"), "<time>" + esc(gd.localTime(i.reported_at)) + "</time>") +
      field(say("due"), i.due_at ? "<time>" + esc(gd.localTime(i.due_at)) + "</time>" : "") +
      field(say("address"), esc(i.address)) +
      field(say("grid"), esc(i.grid_code)) +
      field(say("assigned"), teams) +
      (i.description ? "<p class='gd-description'>" + esc(i.description) + "</p>" : "");
  }

  /* A candidate's reason without the filter the list states once above it. */
  function shortReason(reason) {
    var d = gd.dispatch, text = localiseText(reason);
    return d.meta && d.meta.filter ? text.split(" of the teams matching " + d.meta.filter).join("") : text;
  }

  function candidateItem(c) {
    var d = gd.dispatch, p = c.props, at = d.selected.indexOf(p.team_id);
    var facts = [];
    if (p.eta_s != null) {
      facts.push(say("eta") + " <strong>" + (offRoad(p) ? "≈" : "") + etaMinutes(p.eta_s) + "</strong> " + say("minutes"));
    }
    if (p.road_m != null) facts.push(say("road") + " " + metres(p.road_m));
    facts.push(say("straight") + " " + metres(p.distance_m));
    var work = [];
    if (p.open_assignments != null) work.push(say("workload") + " " + p.open_assignments);
    if (p.open_assignments != null || p.last_assigned_at) {
      work.push(say("lastAssigned") + " " + (p.last_assigned_at ? "<time>" + esc(gd.localTime(p.last_assigned_at)) + "</time>" : "—"));
    }
    var notes = [];
    if (p.via && p.via.length) notes.push(say("via") + " " + esc(p.via.join("、")));
    if (p.basis === "straight_line") notes.push("<span class='gd-warn'>" + say("byStraight") + "</span>");
    if (p.stale) notes.push("<span class='gd-warn'>" + say("stale") + "</span>");
    var role = at < 0 ? "" : " <span class='gd-role'>" + (at + 1) + " " + say(at === 0 ? "lead" : "support") + "</span>";
    var flag = p.recommended === false ? " <span class='gd-flag'>" + say("notRecommended") + "</span>" : "";
    return "<li data-team='" + esc(p.team_id) + "' class='" + (at < 0 ? "" : "gd-chosen ") +
      (p.recommended === false ? "gd-not-recommended" : "") + "'>" +
      "<label><input type='checkbox' data-team='" + esc(p.team_id) + "'" + (at < 0 ? "" : " checked") + ">" +
      "<i class='gd-rank' style='background:" + rankColour(p.rank) + "'>" + esc(p.rank) + "</i>" +
      "<strong>" + esc(p.name) + "</strong>" + flag + role + "</label>" +
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
      html += "<div class='gd-filter'>" + esc(d.meta.filter) + " · " + say("mode") + " " +
        say(d.meta.mode, SAY.modes) + "</div>";
      if (d.meta.policy) html += "<div class='gd-filter'>" + say("policy") + ": " + esc(d.meta.policy) + "</div>";
      if (!d.candidates.length) {
        html += "<div class='gd-failure'>" + say("noCandidate") + ": " + esc(d.meta.none_reason || "") + "</div>";
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
      return "<button type='button' data-action='" + a + "' title='" + esc(sayText(label)) + "'" +
        (d.busy ? " disabled" : "") + ">" + say(label) + "</button>";
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

  function teamList(teams) {
    return teams.map(function (t) {
      return { zh: t.name + "（" + SAY[t.lead ? "lead" : "support"].zh + "）",
               en: t.name + " (" + SAY[t.lead ? "lead" : "support"].en + ")" };
    });
  }

  function succeeded(action, issue) {
    if (action === "return") return say("returned");
    var done = SAY[action === "dispatch" ? "dispatched" : "reassigned"], teams = teamList(issue.teams || []);
    return esc(done.zh + " " + teams.map(function (t) { return t.zh; }).join("、")) +
      " <small class='gd-en' lang='en'>" + esc(done.en + " " + teams.map(function (t) { return t.en; }).join(", ")) + "</small>";
  }

  function refused(status, detail) {
    var key = { 412: "refused412", 409: "refused409", 403: "refused403", 422: "refused422" }[status] || "refused";
    return "<strong>" + say(key) + "</strong><br><span lang='en'>" + esc(localiseText(detail)) + "</span>";
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
      showResult(esc(gd.failures[gd.failures.length - 1] || "the issue could not be loaded"), "failure");
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
      document.getElementById("gd-around").innerHTML = "<div>" + cams + " " + say("cameras") + "</div><div>" +
        near + " " + say("nearby") + "</div>";
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
