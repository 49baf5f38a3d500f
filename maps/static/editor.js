/* The grid editor for planners (/maps/editor/{draft}): the draft's grids with GeoMan's
 * tools. Click a grid to select it; draw a line across it to split it; edit vertices to
 * redraw a grid. Every change goes to the API with If-Match (the grid's ETag), then the
 * draft and its validation report are loaded again and drawn: problems in red, listed in
 * the panel. Changes carry a short-lived bearer token: the session cookie only reads. */
(function () {
  "use strict";
  var _ = gdI18n.t, ngettext = gdI18n.ngettext, fmt = gdI18n.fmt;
  var gd = window.griddispatch;
  var ed = (gd.editor = { loaded: 0, saves: 0, failures: [], selected: null, problems: null });
  var token = null;
  var esc = gd.esc;

  function bearer() {
    if (token) return Promise.resolve(token);
    return fetch("/api/v1/auth/session/token", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(_("log in again")); return r.json(); })
      .then(function (j) { token = j.access_token; return token; });
  }

  function send(method, path, body, etags) {
    return bearer().then(function (t) {
      return fetch(path, {
        method: method, credentials: "same-origin",
        headers: { "Authorization": "Bearer " + t, "Content-Type": "application/json",
                   "If-Match": etags.join(", ") },
        body: JSON.stringify(body),
      });
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(r.status + ": " + (j.detail || _("refused")));
        ed.saves += 1;
        return j;
      });
    });
  }

  function status(text, failed) {
    var el = document.getElementById("gd-editor-status");
    if (el) { el.textContent = text; el.className = failed ? "gd-failure" : ""; }
    if (failed) ed.failures.push(text);
  }

  // The validation's kinds of problem (the API's machine values) in words.
  var PROBLEMS = {
    overlap: _("overlap"), gap: _("gap"), sliver: _("sliver"), empty: _("empty outline"),
    outside_parent: _("outside its community"), non_contiguous: _("in pieces"),
    duplicate_code: _("duplicate code"), malformed_code: _("malformed code"),
    invalid_geometry: _("invalid outline"), not_a_polygon: _("not a polygon"),
    nan_coordinates: _("coordinates not numbers"), has_z: _("has heights"),
    too_many_vertices: _("too many vertices"), unclosed_ring: _("unclosed ring"),
  };

  function problemKind(kind) { return PROBLEMS[kind] || kind; }

  function feature(key) {
    return ed.draft.features.filter(function (f) { return f.id === key; })[0];
  }

  function style(f) {
    var chosen = f.id === ed.selected;
    return { color: chosen ? "#d84315" : "#1565c0", weight: chosen ? 3 : 1.5,
             fillColor: chosen ? "#ffab91" : "#90caf9", fillOpacity: 0.25 };
  }

  ed.select = function (key) {
    ed.selected = key;
    ed.grids.setStyle(style);
    var f = feature(key);
    document.getElementById("gd-editor-selected").innerHTML = f
      ? "<b>" + esc(f.properties.code || f.id) + "</b> " + gd.data(f.properties.name || "") +
        "<br><small>" + esc(_("draw a line across it to split it, or edit its vertices")) + "</small>"
      : esc(_("click a grid"));
  };

  function drawDraft() {
    ed.grids.clearLayers();
    L.geoJSON(ed.draft, {
      renderer: ed.svg, style: style,
      onEachFeature: function (f, layer) {
        layer.on("click", function () { ed.select(f.id); });
        layer.on("pm:edit", function () {
          var geometry = layer.toGeoJSON().geometry;
          status(fmt(_("saving {grid}…"), { grid: f.id }));
          send("PUT", "/api/v1/plans/" + ed.id + "/grids/" + encodeURIComponent(f.id),
               { geometry: geometry }, [f.properties.etag])
            .then(function () { status(fmt(_("saved {grid}"), { grid: f.id })); return load(false); })
            .catch(function (e) { status(e.message, true); load(false); });
        });
        ed.grids.addLayer(layer);
      },
    });
  }

  function drawProblems(report) {
    ed.problems = report;
    ed.problemLayer.clearLayers();
    L.geoJSON(report, {
      renderer: ed.svg,
      style: function () { return { color: "#b71c1c", weight: 3, fillColor: "#e53935", fillOpacity: 0.5 }; },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { renderer: ed.svg, radius: 8, color: "#b71c1c", weight: 3 });
      },
      onEachFeature: function (f, layer) { layer.bindTooltip(esc(f.properties.message)); },
    }).eachLayer(function (l) { ed.problemLayer.addLayer(l); });
    var list = document.getElementById("gd-editor-problems");
    list.innerHTML = report.valid
      ? "<b>" + esc(_("No problems: the draft can be published.")) + "</b>"
      : "<b>" + esc(fmt(ngettext("{n} problem", "{n} problems", report.features.length), { n: report.features.length })) + "</b><ol>" + report.features.map(function (f) {
          return "<li>" + gd.labelled(esc(problemKind(f.properties.kind)), esc(f.properties.message)) + "</li>";
        }).join("") + "</ol>";
  }

  function load(fit) {
    return fetch("/api/v1/plans/" + ed.id, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(fmt(_("the draft could not be loaded ({status})"), { status: r.status }));
        return r.json();
      })
      .then(function (doc) {
        ed.draft = doc;
        drawDraft();
        if (fit && ed.grids.getLayers().length) ed.map.fitBounds(ed.grids.getBounds());
        return fetch("/api/v1/plans/" + ed.id + "/validation", { credentials: "same-origin" });
      })
      .then(function (r) { return r.json(); })
      .then(function (report) {
        drawProblems(report);
        ed.loaded += 1;
      })
      .catch(function (e) { status(e.message, true); });
  }

  function onCreate(e) {
    var drawn = e.layer;
    ed.map.removeLayer(drawn);
    if (e.shape !== "Line") return;
    if (!ed.selected) { status(_("select the grid to split first"), true); return; }
    var f = feature(ed.selected);
    status(fmt(_("splitting {grid}…"), { grid: f.id }));
    send("POST", "/api/v1/plans/" + ed.id + "/split",
         { key: f.id, line: drawn.toGeoJSON().geometry }, [f.properties.etag])
      .then(function () { status(fmt(_("split {grid}"), { grid: f.id })); return load(false); })
      .catch(function (err) { status(err.message, true); });
  }

  ed.start = function (map, draftId, who) {
    ed.map = map;
    gd.map = map;
    ed.id = draftId;
    ed.svg = L.svg();
    ed.grids = L.featureGroup().addTo(map);
    ed.problemLayer = L.featureGroup().addTo(map);
    var Panel = L.Control.extend({
      options: { position: "topright" },
      onAdd: function () {
        var div = L.DomUtil.create("div", "gd-panel leaflet-bar");
        div.id = "gd-editor";
        div.innerHTML = "<b>" + esc(fmt(_("Draft {id}"), { id: draftId })) + "</b> <small>" + esc(who) + "</small>" +
          "<div id='gd-editor-selected'>" + esc(_("click a grid")) + "</div>" +
          "<div id='gd-editor-status'></div><div id='gd-editor-problems'></div>";
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      },
    });
    new Panel().addTo(map);
    map.pm.setLang(gdI18n.english ? "en" : "zh"); // GeoMan's own words (its tooltips)
    map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false,
                         drawCircle: false, drawRectangle: false, drawPolygon: false,
                         drawText: false, cutPolygon: false, rotateMode: false,
                         dragMode: false, removalMode: false });
    map.on("pm:create", onCreate);
    load(true);
  };
})();
