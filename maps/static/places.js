/* Click a point of the live map: what is there (GET /api/v1/places) in a popup, and the view
 * sectors of the cameras that can see it drawn on the map until the next click. Clicks on
 * markers do not reach the map, so this answers clicks on the ground only. */
(function () {
  "use strict";
  var _ = gdI18n.t, fmt = gdI18n.fmt, ngettext = gdI18n.ngettext;
  var gd = window.griddispatch, esc = gd.esc, data = gd.data;

  function people(list) {
    if (!list || !list.length) return "<span class='gd-muted'>" + esc(_("none recorded")) + "</span>";
    return list.map(function (p) {
      return data(p.name) + (p.role_label ? " <span class='gd-muted'>" +
        esc(fmt(_("({note})"), { note: p.role_label })) + "</span>" : "");
    }).join(gdI18n.english ? ", " : "、");
  }

  /* The named responsible people of a level (四级包保), each with the title the city gave
   * them and, for those who may call them, a phone. */
  function responsible(list) {
    if (!list || !list.length) return "";
    var named = list.map(function (p) {
      return data(p.name) + " <span class='gd-muted'>" + data(p.title) + "</span>" +
        (p.phone ? " <span class='gd-place-phone'>" + esc(p.phone) + "</span>" : "");
    }).join(gdI18n.english ? ", " : "、");
    return "<div class='gd-place-responsible'>" + fmt(esc(_("Responsible: {people}")), { people: named }) + "</div>";
  }

  function area(label, a) {
    return "<tr><th>" + esc(label) + "</th><td><b>" + data(a.name) + "</b> <span class='gd-muted'>" +
      esc(a.code) + "</span>" + responsible(a.responsible) + "<div>" + people(a.people) + "</div></td></tr>";
  }

  var HEAD_LEVELS = { compound: _("compound head"), building: _("building head"), unit: _("unit head") };

  /* The compound and building at the point with their heads (三长), A roster first. */
  function below(b) {
    if (!b || (!b.compound && !b.building)) return "";
    var html = "<table class='gd-place-below'>";
    if (b.compound) {
      html += "<tr><th>" + esc(_("Compound")) + "</th><td><b>" + data(b.compound.name) + "</b> <span class='gd-muted'>" +
        esc(b.compound.code) + "</span><br>" + (b.compound.property_company
        ? esc(_("Property company:")) + " " + data(b.compound.property_company)
        : esc(_("no property company"))) + "</td></tr>";
    }
    if (b.building) {
      html += "<tr><th>" + esc(_("Building")) + "</th><td><b>" + data(b.building.name) + "</b> <span class='gd-muted'>" +
        esc(fmt(_("{floors} floors, {n} households"), { floors: b.building.floors, n: b.building.households })) + "</span></td></tr>";
    }
    var heads = (b.heads || []).slice(0, 8).map(function (h) {
      return "<li>" + data(h.name) + " <span class='gd-muted'>" + esc(fmt(_("({note})"), {
        note: (HEAD_LEVELS[h.level] || h.level) + " · " + fmt(_("roster {roster}"), { roster: h.roster }) })) +
        "</span>" + (h.phone ? " <span class='gd-place-phone'>" + esc(h.phone) + "</span>" : "") + "</li>";
    }).join("");
    html += "</table>";
    return html + (heads ? "<h4>" + esc(fmt(_("Heads here: {n}"), { n: b.heads.length })) + "</h4><ul class='gd-place-heads'>" + heads + "</ul>" : "");
  }

  function render(body) {
    var html = "<div class='gd-place-panel'>";
    if (!body.grid) {
      html += "<p class='gd-place-outside'>" + esc(body.message) + "</p>";
    } else {
      html += "<h3 class='gd-place-grid'>" + data(body.grid.name) + "</h3><table>" +
        area(_("Grid"), body.grid) + area(_("Community"), body.community) +
        area(_("Street"), body.street) + area(_("District"), body.district) + "</table>";
      if (body.street.teams && body.street.teams.length) {
        html += "<p>" + esc(fmt(ngettext("{n} team serves this street", "{n} teams serve this street", body.street.teams.length), { n: body.street.teams.length })) + "</p>";
      }
      html += below(body.below);
    }
    var cams = body.cameras || [];
    html += "<h4>" + esc(fmt(_("Cameras that can see this point: {n}"), { n: cams.length })) + "</h4><ul class='gd-place-cameras'>";
    cams.slice(0, 10).forEach(function (c) {
      html += "<li>" + esc(fmt(_("{camera}: {distance} m away, range {range} m, field of view {fov}°"), {
        camera: c.id, distance: Math.round(c.distance_m), range: Math.round(c.range_m), fov: Math.round(c.fov_deg),
      })) + (c.status !== "online" ? " <span class='gd-muted gd-camera-status'>" +
        esc(fmt(_("({note})"), { note: gd.word("cameraStatus", c.status) })) + "</span>" : "") + "</li>";
    });
    html += "</ul>";
    var near = body.nearby_issues || { items: [], total: 0 };
    html += "<h4>" + esc(fmt(_("Open issues within {radius} m: {n}"), { radius: Math.round(near.radius_m), n: near.total })) +
      "</h4><ul class='gd-place-issues'>";
    near.items.slice(0, 8).forEach(function (i) {
      html += "<li><a href='/maps/issues/" + esc(i.id) + "'>#" + esc(i.id) + "</a> " + data(i.category_name) + " · " +
        esc(fmt(_("{distance} m"), { distance: Math.round(i.distance_m) })) + "</li>";
    });
    return html + "</ul></div>";
  }

  var STYLE = ".gd-place-panel table{border-collapse:collapse}" +
    ".gd-place-panel th{white-space:nowrap;text-align:left;vertical-align:top;padding:2px 10px 2px 0;color:#455a64}" +
    ".gd-place-panel td{padding:2px 0}.gd-place-panel h3{margin:0 0 6px}.gd-place-panel h4{margin:8px 0 2px}" +
    ".gd-place-panel ul{margin:2px 0;padding-left:18px}.gd-place-panel .gd-muted{color:#78909c}";

  var places = (window.gdPlaces = { last: null, sectors: 0, failed: null });

  places.attach = function (map) {
    if (!document.getElementById("gd-place-style")) {
      var style = document.createElement("style");
      style.id = "gd-place-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    var drawn = L.layerGroup().addTo(map);
    // SVG, not the page's canvas: the drawn sectors stay elements a test (or a style) can find.
    var svg = L.svg({ padding: 0.5 });
    var ticket = 0;
    map.on("click", function (e) {
      var mine = ++ticket;
      function failed(message) {
        places.failed = message;
        L.popup({ className: "gd-place-failed" }).setLatLng(e.latlng).setContent(esc(message)).openOn(map);
      }
      drawn.clearLayers();
      places.sectors = 0;
      var url = "/api/v1/places?lon=" + e.latlng.lng.toFixed(7) + "&lat=" + e.latlng.lat.toFixed(7);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, status: response.status, body: body };
          }, function () { return { ok: false, status: response.status, body: null }; });
        })
        .then(function (answer) {
          if (mine !== ticket) return; // a newer click overtook this one
          var body = answer.body;
          if (!answer.ok) { // the API's refusal is a sentence in the reader's language
            failed(body && body.detail ? body.detail : fmt(_("This place could not be looked up (status {status})"),
              { status: answer.status }));
            return;
          }
          (body.cameras || []).forEach(function (c) {
            L.geoJSON(c.sector, { interactive: false, renderer: svg, style: { className: "gd-place-sector",
              color: "#6a1b9a", weight: 2, fillColor: "#ab47bc", fillOpacity: 0.18 } }).addTo(drawn);
          });
          places.sectors = (body.cameras || []).length;
          L.circleMarker(e.latlng, { radius: 5, color: "#6a1b9a", fillOpacity: 1, interactive: false, renderer: svg }).addTo(drawn);
          places.last = body;
          L.popup({ maxWidth: 380, className: "gd-place" }).setLatLng(e.latlng).setContent(render(body)).openOn(map);
        })
        .catch(function () { // no answer at all (the network, or the server is down)
          if (mine === ticket) failed(_("This place could not be looked up: no answer from the server"));
        });
    });
  };
})();
