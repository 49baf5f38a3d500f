/* Compounds (小区) and buildings (楼栋) on the live map, zoomed in (compounds from zoom 14,
 * buildings from 16), with their names, households and property company in a tooltip; and
 * the B roster's heads (B岗) where their street is in emergency, one marker per compound,
 * refreshed like the live layers. Each is a layer of the layer control with a legend section. */
(function () {
  "use strict";
  var _ = gdI18n.t, fmt = gdI18n.fmt;
  var gd = window.griddispatch, esc = gd.esc;
  var COMPOUND_ZOOM = 14, BUILDING_ZOOM = 16;
  var COMPOUND = "#8d6e63", BUILDING = "#5d4037", B_ROSTER = "#c62828";

  var state = (window.gdCompounds = { counts: { compounds: 0, buildings: 0, bHeads: 0 }, loaded: 0 });

  function box(map) {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) {
      return v.toFixed(6);
    }).join(",");
  }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  function compoundTip(p) {
    return "<b>" + gd.data(p.name) + "</b><br>" + esc(p.code) + "<br>" +
      fmt(esc(_("{n} households")), { n: esc(p.households) }) +
      (p.property_company_id ? "<br>" + fmt(esc(_("property company {id}")), { id: esc(p.property_company_id) })
        : "<br>" + esc(_("no property company")));
  }

  function buildingTip(p) {
    return "<b>" + gd.data(p.name) + "</b> " + esc(p.code) + "<br>" +
      fmt(esc(_("{floors} floors, {n} households")), { floors: esc(p.floors), n: esc(p.households) });
  }

  function headsTip(p) {
    var lines = p.heads.map(function (h) {
      return gd.data(h.name) + " · " + gd.data(h.agency) + (h.phone ? " · " + esc(h.phone) : "");
    });
    return "<b>" + gd.data(p.compound_name) + "</b> " + esc(_("B roster (emergency)")) + "<br>" +
      lines.join("<br>");
  }

  /* `control`: the map's layer control, which lists the layers. `people`: whether the user
   * may see people (scope people:read); without it there is no layer of heads to ask for. */
  state.attach = function (map, intervalMs, control, people) {
    var compounds = L.geoJSON(null, {
      style: function () { return { color: COMPOUND, weight: 1.5, fillColor: COMPOUND, fillOpacity: 0.12 }; },
      onEachFeature: function (f, layer) { layer.bindTooltip(compoundTip(f.properties), { sticky: true }); },
    }).addTo(map);
    var buildings = L.geoJSON(null, {
      style: function () { return { color: BUILDING, weight: 1, fillColor: BUILDING, fillOpacity: 0.45 }; },
      onEachFeature: function (f, layer) { layer.bindTooltip(buildingTip(f.properties), { sticky: true }); },
    }).addTo(map);
    var heads = L.geoJSON(null, {
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 7, color: "#fff", weight: 2, fillColor: B_ROSTER, fillOpacity: 1 });
      },
      onEachFeature: function (f, layer) { layer.bindTooltip(headsTip(f.properties)); },
    });
    if (people !== false) heads.addTo(map);
    if (control) {
      control.addOverlay(compounds, _("Residential compounds"));
      control.addOverlay(buildings, _("Building footprints"));
      if (people !== false) control.addOverlay(heads, _("B roster heads (emergency)"));
    }
    gd.legendSections.push({
      id: "compounds", title: _("Compounds and buildings"), closed: true,
      html: function () {
        return "<div><i class='gd-swatch' style='background:rgba(141,110,99,.25);border:1.5px solid " + COMPOUND + "'></i>" +
          esc(_("compound (from zoom 14)")) + "</div><div><i class='gd-swatch' style='background:" + BUILDING + "'></i>" +
          esc(_("building (from zoom 16)")) + "</div>" + (people === false ? "" :
          "<div><i class='gd-swatch gd-round' style='background:" + B_ROSTER + "'></i>" +
          esc(_("B roster heads where their street is in emergency")) + "</div>");
      },
    });
    if (gd.legend) gd.legend();

    function fill(layer, name, collection) {
      layer.clearLayers();
      if (collection) layer.addData(collection);
      state.counts[name] = collection ? collection.features.length : 0;
    }
    function refresh() {
      var zoom = map.getZoom(), where = box(map), jobs = [];
      jobs.push(zoom >= COMPOUND_ZOOM && map.hasLayer(compounds)
        ? get("/api/v1/compounds?limit=2000&bbox=" + where).then(function (c) { fill(compounds, "compounds", c); })
        : Promise.resolve(fill(compounds, "compounds", null)));
      jobs.push(zoom >= BUILDING_ZOOM && map.hasLayer(buildings)
        ? get("/api/v1/buildings?limit=2000&bbox=" + where).then(function (c) { fill(buildings, "buildings", c); })
        : Promise.resolve(fill(buildings, "buildings", null)));
      jobs.push(map.hasLayer(heads)
        ? get("/api/v1/heads/emergency?bbox=" + where).then(function (c) { fill(heads, "bHeads", c); })
        : Promise.resolve(fill(heads, "bHeads", null)));
      Promise.all(jobs).then(function () { state.loaded += 1; }).catch(function () { /* next time */ });
    }
    var timer = null;
    map.on("moveend overlayadd", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
    refresh();
    window.setInterval(refresh, intervalMs);
  };
})();
