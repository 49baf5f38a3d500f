/* The command centre's big screen (/maps/dashboard): every figure comes from
 * GET /api/v1/dashboard and is redrawn every refreshMs without reloading the page; the map shows
 * the viewer's street outlines and open issues by light from the layers API; open alarms, where
 * the service has GET /api/v1/alarms, flash over the map (rings from alarms.js's gdAlarms.ring).
 * A request that takes longer than two refreshes is given up, and the screen says since when its
 * figures are stale. Loaded after the page's message table and i18n.js, Leaflet, ECharts and
 * alarms.js. */
(function () {
  "use strict";
  var _ = gdI18n.t, fmt = gdI18n.fmt, ngettext = gdI18n.ngettext;
  var config = window.GD_DASHBOARD;
  var page = window.griddispatch;  // its esc, data (names that are data, marked as Chinese)
  var zh = !gdI18n.english;
  var lang = zh ? "zh-CN" : "en-GB";  // English readers get day-month-year, as on every page
  var num = new Intl.NumberFormat(lang);
  var pct = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  var clock = new Intl.DateTimeFormat(lang, { timeZone: "Asia/Shanghai", year: "numeric",
    month: "long", day: "numeric", weekday: "short", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" });
  var timeOnly = new Intl.DateTimeFormat(lang, { timeZone: "Asia/Shanghai", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  var hourMinute = new Intl.DateTimeFormat(lang, { timeZone: "Asia/Shanghai", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23" });
  var TIMEOUT_MS = 2 * config.refreshMs;  // a request still unanswered then is given up
  var dayLabel = new Intl.DateTimeFormat(lang, { timeZone: "UTC", month: "numeric", day: "numeric" });

  var LIGHTS = { green: "#2ecc71", yellow: "#f5c400", red: "#ff4d4f" };
  var NETWORK_COLOURS = { party: "#ff6b6b", safety: "#4dabf7", livelihood: "#51cf66",
                          enterprise: "#fcc419" };
  var NETWORKS = { party: _("Party-building network"), safety: _("Safety network"),
                   livelihood: _("Livelihood network"), enterprise: _("Enterprise network") };
  var STEPS = { accept: _("acceptance"), dispatch: _("dispatching"), claim: _("claiming"),
                handle: _("handling"), supervise: _("checking"), rate: _("rating") };
  var STATUSES = { available: _("Available"), busy: _("Busy"), off_duty: _("Off duty") };
  var STATUS_COLOURS = { available: "#2ecc71", busy: "#ff922b", off_duty: "#868e96" };
  var TEXT = "#e6f1ff", MUTED = "#8fa6c8", FONT = 18;

  var gd = window.gdDashboard = { loads: 0, charts: {}, last: null, alarms: null,
                                  alarmsMissing: false, failures: 0, stale: false };

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj);
  }

  function rate(value) { return value == null ? "—" : pct.format(value); }

  function categoryName(code) {
    var c = (gd.last.categories || []).filter(function (x) { return x.code === code; })[0];
    return c ? (zh ? c.name_zh : c.name_en) : code;
  }

  function waited(seconds) {
    var m = Math.floor(seconds / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d > 0) return fmt(_("{d} d {h} h"), { d: num.format(d), h: h % 24 });
    if (h > 0) return fmt(_("{h} h {m} min"), { h: h, m: m % 60 });
    return fmt(_("{m} min"), { m: m });
  }

  function text(el, value) { el.textContent = value; }

  /* Each element with data-figure shows that figure of the answer; data-value keeps it raw. */
  function figures(data) {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var key = el.getAttribute("data-figure"), value = get(data, key);
      el.setAttribute("data-value", JSON.stringify(value === undefined ? null : value));
      var kind = el.getAttribute("data-format");
      if (kind === "mode") {
        var emergency = value === "emergency", reason = data.mode.reason || "";
        // the reason is someone's words (the title's language is its element's): the label
        // inside keeps the page's language
        el.textContent = "";
        var label = document.createElement("span");
        label.lang = document.documentElement.lang;
        label.textContent = emergency ? _("Emergency mode") : _("Normal mode");
        el.appendChild(label);
        el.classList.toggle("gd-emergency", emergency);
        el.title = reason;
        if (page.isChinese(reason)) el.lang = "zh-CN"; else el.removeAttribute("lang");
      } else if (kind === "overdue") {
        text(el, fmt(_("{n} overdue in all"), { n: num.format(value) }));
      } else if (/_rate$|satisfaction$/.test(key)) {
        text(el, rate(value));
      } else {
        text(el, value == null ? "—" : num.format(value));
      }
    });
  }

  function overdueRows(data) {
    var body = document.getElementById("overdue-rows");
    body.textContent = "";
    data.overdue.items.forEach(function (i) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-issue", i.id);
      var place = (i.street_name || i.street_code || "") +
        (i.grid_name ? " · " + i.grid_name : "");
      [String(i.id), place, categoryName(i.category_code), STEPS[i.step] || i.step,
       waited(i.overdue_seconds)].forEach(function (v, k) {
        var td = document.createElement("td");
        td.textContent = v;
        if (k === 1 && page.isChinese(v)) td.lang = "zh-CN";  // street and grid names are data
        if (k === 4) td.className = "gd-late";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    if (!data.overdue.items.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = 5;
      td.className = "gd-none";
      td.textContent = _("Nothing is overdue");
      tr.appendChild(td);
      body.appendChild(tr);
    }
  }

  function chart(key) {
    if (!gd.charts[key]) {
      gd.charts[key] = echarts.init(document.getElementById("chart-" + key), "dark",
                                    { locale: zh ? "ZH" : "EN", renderer: "canvas" });
    }
    return gd.charts[key];
  }

  var base = { backgroundColor: "transparent", animation: false,
               textStyle: { fontSize: FONT, color: TEXT } };

  function nonZero(p) { return p.value ? num.format(p.value) : ""; }

  function axisLabel(extra) {
    return Object.assign({ fontSize: 16, color: MUTED }, extra || {});
  }

  function draw(data) {
    var l = data.lights;
    chart("lights").setOption(Object.assign({}, base, {
      grid: { left: 8, right: 8, top: 6, bottom: 6 },
      xAxis: { type: "value", show: false, max: Math.max(1, l.open) },
      yAxis: { type: "category", show: false, data: [""] },
      series: ["green", "yellow", "red"].map(function (k) {
        return { type: "bar", stack: "lights", name: k, data: [l[k]], barWidth: 26,
                 itemStyle: { color: LIGHTS[k] } };
      }),
    }), true);

    var nets = data.networks.map(function (n) {
      return { name: NETWORKS[n.network], value: n.reported, network: n.network,
               itemStyle: { color: NETWORK_COLOURS[n.network] } };
    });
    var netTotal = nets.reduce(function (s, n) { return s + n.value; }, 0);
    chart("networks").setOption(Object.assign({}, base, {
      title: { text: num.format(netTotal), subtext: _("reports"), left: "24%", top: "30%",
               textAlign: "center", itemGap: 2,
               textStyle: { fontSize: 24, color: TEXT, fontWeight: "bold" },
               subtextStyle: { fontSize: 13, color: MUTED } },
      tooltip: { trigger: "item" },
      // one column that fits the panel's height (a taller one would wrap over the ring)
      legend: { orient: "vertical", right: 4, top: "middle", itemGap: 8,
                textStyle: { fontSize: 16, color: TEXT },
                formatter: function (name) {
                  var n = nets.filter(function (x) { return x.name === name; })[0];
                  return name + "  " + num.format(n ? n.value : 0);
                } },
      series: [{ type: "pie", radius: ["60%", "92%"], center: ["24%", "52%"], data: nets,
                 label: { show: false }, itemStyle: { borderColor: "#0b1426", borderWidth: 3 } }],
    }), true);

    var days = data.trend.map(function (d) { return dayLabel.format(new Date(d.day + "T00:00:00Z")); });
    chart("trend").setOption(Object.assign({}, base, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { fontSize: 17, color: TEXT } },
      grid: { left: 54, right: 18, top: 40, bottom: 34 },
      xAxis: { type: "category", data: days, axisLabel: axisLabel({ interval: 4 }) },
      yAxis: { type: "value", minInterval: 1, axisLabel: axisLabel(),
               splitLine: { lineStyle: { color: "#1f3358" } } },
      series: [
        { name: _("Reports"), type: "line", smooth: false, symbolSize: 6,
          data: data.trend.map(function (d) { return d.reported; }),
          lineStyle: { width: 3, color: "#4dabf7" }, itemStyle: { color: "#4dabf7" },
          areaStyle: { color: "rgba(77,171,247,0.18)" } },
        { name: _("Closures"), type: "line", smooth: false, symbolSize: 6,
          data: data.trend.map(function (d) { return d.closed; }),
          lineStyle: { width: 3, color: "#51cf66" }, itemStyle: { color: "#51cf66" } },
      ],
    }), true);

    var areas = data.ranking.areas;
    chart("ranking").setOption(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, textStyle: { fontSize: 16, color: TEXT } },
      grid: { left: 8, right: 40, top: 34, bottom: 4, containLabel: true },
      xAxis: { type: "value", minInterval: 1, axisLabel: axisLabel(),
               splitLine: { lineStyle: { color: "#1f3358" } } },
      yAxis: { type: "category", inverse: true, axisLabel: axisLabel({ color: TEXT, fontSize: 17 }),
               data: areas.map(function (a) { return a.name || a.code; }) },
      series: [
        { name: _("Overdue issues"), type: "bar", data: areas.map(function (a) { return a.overdue; }),
          itemStyle: { color: LIGHTS.red }, label: { show: true, position: "right", fontSize: 16, formatter: nonZero } },
        { name: _("Open issues"), type: "bar", data: areas.map(function (a) { return a.open; }),
          itemStyle: { color: "#4dabf7" }, label: { show: true, position: "right", fontSize: 16, formatter: nonZero } },
      ],
    }), true);

    var tops = data.top_categories;
    chart("categories").setOption(Object.assign({}, base, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 48, top: 6, bottom: 4, containLabel: true },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", inverse: true,
               axisLabel: axisLabel({ color: TEXT, fontSize: 16, width: 170, overflow: "truncate" }),
               data: tops.map(function (t) { return categoryName(t.category_code); }) },
      series: [{ name: _("Reports"), type: "bar", barMaxWidth: 22,
                 data: tops.map(function (t) {
                   return { value: t.reported, itemStyle: { color: NETWORK_COLOURS[t.network] } };
                 }),
                 label: { show: true, position: "right", fontSize: 16, color: TEXT } }],
    }), true);

    var statuses = Object.keys(STATUSES);
    chart("teams").setOption(Object.assign({}, base, {
      title: { text: fmt(ngettext("{n} team", "{n} teams", data.teams.total), { n: num.format(data.teams.total) }),
               // two lines: one would run into the bars' labels
               subtext: fmt(_("Roster A {a}\nroster B {b}"), {
                 a: num.format(data.teams.by_roster.A || 0), b: num.format(data.teams.by_roster.B || 0) }),
               left: 6, top: 4, textStyle: { fontSize: 22, color: TEXT },
               subtextStyle: { fontSize: 15, color: MUTED } },
      grid: { left: 190, right: 44, top: 8, bottom: 4, containLabel: true },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", inverse: true, axisLabel: axisLabel({ color: TEXT, fontSize: 17 }),
               data: statuses.map(function (s) { return STATUSES[s]; }) },
      series: [{ type: "bar", barMaxWidth: 22,
                 data: statuses.map(function (s) {
                   return { value: data.teams.by_status[s], itemStyle: { color: STATUS_COLOURS[s] } };
                 }),
                 label: { show: true, position: "right", fontSize: 17, color: TEXT } }],
    }), true);
  }

  /* The map: street outlines once, open issues by light at each refresh. */
  var map = L.map("map", { zoomControl: false, attributionControl: false, preferCanvas: true });
  var b = config.bounds;
  map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  var streets = L.geoJSON(null, { interactive: false,
    style: { color: "#5c7cfa", weight: 2, fill: true, fillColor: "#13213d", fillOpacity: 0.6 } })
    .addTo(map);
  var issues = L.layerGroup().addTo(map);
  var alarmMarks = L.layerGroup().addTo(map);
  gd.map = map;
  gd.mapIssues = 0;

  function box() { return "bbox=" + b.join(","); }

  /* A GET given up TIMEOUT_MS after it was sent, body included, so that one hung request
   * cannot stop the refreshes (aborting one already read does nothing). */
  function getJson(url) {
    var abort = new AbortController();
    setTimeout(function () { abort.abort(); }, TIMEOUT_MS);
    return fetch(url, { credentials: "same-origin", cache: "no-store", signal: abort.signal,
                        headers: { Accept: "application/json" } });
  }

  function loadStreets() {
    return getJson("/api/v1/layers/areas/streets?simplify_m=20&" + box()).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (fc) { if (fc) streets.addData(fc); });
  }

  /* The open issues in the box, at most config.mapLimit of them; when there are more the map
   * says how many it shows. */
  function loadIssues() {
    return getJson("/api/v1/layers/live/issues?limit=" + config.mapLimit + "&" + box())
      .then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (fc) {
      if (!fc) return;
      issues.clearLayers();
      fc.features.forEach(function (f) {
        var c = f.geometry.coordinates, light = f.properties.light || "green";
        L.circleMarker([c[1], c[0]], { radius: light === "red" ? 6 : 4, weight: 1,
          color: "#0b1426", fillColor: LIGHTS[light], fillOpacity: 0.9, interactive: false })
          .addTo(issues);
      });
      gd.mapIssues = fc.features.length;
      gd.mapMatched = fc.numberMatched;
      var note = document.getElementById("map-note");
      note.hidden = !(fc.numberMatched > fc.features.length);
      text(note, note.hidden ? "" : fmt(_("showing {n} of {m} open issues"), {
        n: num.format(fc.features.length), m: num.format(fc.numberMatched) }));
    }).catch(function () { /* the figures' failure is shown; the map keeps its last dots */ });
  }

  /* Open alarms (GET /api/v1/alarms?status=open: those whose issue is not yet accepted; each
   * with kind_label, name of its site or camera, issue_id, raised_at, lon, lat): a flashing
   * list over the map and a flashing ring at each. A service without alarms answers 404 once,
   * and the screen stops asking. */
  function loadAlarms() {
    if (gd.alarmsMissing) return Promise.resolve();
    return getJson(config.alarms).then(function (r) {
      if (r.status === 404 || r.status === 405) { gd.alarmsMissing = true; return null; }
      return r.ok ? r.json() : null;
    }).then(function (body) {
      if (!body) return;
      var list = Array.isArray(body) ? body : (body.items || []);
      gd.alarms = list;
      showAlarms(list);
    }).catch(function () { /* the next refresh asks again */ });
  }

  function showAlarms(list) {
    var panel = document.getElementById("alarms"), rows = document.getElementById("alarm-rows");
    rows.textContent = "";
    alarmMarks.clearLayers();
    panel.hidden = !list.length;
    list.slice(0, 8).forEach(function (a) {
      var li = document.createElement("li");
      li.setAttribute("data-alarm", a.id);
      var where = a.name || a.site_id || a.camera_id || "";
      var at = a.raised_at ? timeOnly.format(new Date(a.raised_at)) : "";
      li.innerHTML = fmt(page.esc(_("{kind} at {place}, {time}")), {
        kind: page.esc(a.kind_label || a.kind), place: page.data(where), time: page.esc(at) });
      rows.appendChild(li);
      if (a.lon != null && a.lat != null) gdAlarms.ring([a.lat, a.lon]).addTo(alarmMarks);
    });
  }

  /* A failed refresh: the figures shown stay, marked with the time of the last good one. */
  function fail(message) {
    var el = document.getElementById("failure");
    el.hidden = false;
    el.textContent = message;
    gd.stale = true;
    var updated = document.getElementById("updated");
    updated.classList.add("gd-stale");
    text(updated, gd.last ? fmt(_("not updated since {time}"), {
      time: hourMinute.format(new Date(gd.last.now)) }) : _("not updated yet"));
  }

  function load() {
    return getJson(config.dashboard).then(function (r) {
      if (r.status === 401) {
        window.location.href = "/maps/login?next=" + encodeURIComponent(window.location.pathname);
        return null;
      }
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(body.detail || String(r.status));
        });
      }
      return r.json();
    }).then(function (data) {
      if (!data) return;
      gd.last = data;
      figures(data);
      overdueRows(data);
      draw(data);
      document.getElementById("failure").hidden = true;
      gd.stale = false;
      document.getElementById("updated").classList.remove("gd-stale");
      text(document.getElementById("updated"),
           fmt(_("updated {time}"), { time: timeOnly.format(new Date(data.now)) }));
      gd.loads += 1;
    }).catch(function (err) {
      gd.failures += 1;
      var reason = err.name === "AbortError" ? _("no answer in time") : err.message;
      fail(fmt(_("The figures could not be loaded: {reason}"), { reason: reason }));
    });
  }

  var busy = false;
  function refresh() {
    if (busy) return;
    busy = true;
    Promise.all([load(), loadIssues(), loadAlarms()]).then(function () { busy = false; },
                                                           function () { busy = false; });
  }

  function tick() { text(document.getElementById("clock"), clock.format(new Date())); }

  var other = gdI18n.other(), link = document.getElementById("lang-switch");
  link.textContent = other.label;
  link.href = gdI18n.switchUrl();
  link.setAttribute("hreflang", other.lang);
  link.setAttribute("lang", other.lang);

  window.addEventListener("resize", function () {
    Object.keys(gd.charts).forEach(function (k) { gd.charts[k].resize(); });
  });
  tick();
  setInterval(tick, 1000);
  loadStreets();
  refresh();
  setInterval(refresh, config.refreshMs);
  gd.ready = function () { return gd.loads > 0; };
})();
