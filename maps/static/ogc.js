/* The OGC API's HTML pages (api/ogchtml.py): the features of the page on a map of their own,
 * without a basemap (nothing from elsewhere), each outline or point with its name. */
(function () {
  "use strict";
  var _ = gdI18n.t;
  var data = JSON.parse(document.getElementById("gd-ogc-features").textContent);
  var map = L.map("gd-ogc-map", { preferCanvas: true, attributionControl: false,
                                  zoomControl: false });
  L.control.zoom({ zoomInTitle: _("Zoom in"), zoomOutTitle: _("Zoom out") }).addTo(map);
  var layer = L.geoJSON(data, {
    style: { color: "#1565c0", weight: 1.5, fillOpacity: 0.15 },
    pointToLayer: function (_f, latlng) { return L.circleMarker(latlng, { radius: 5 }); },
    // a text node: a name is data, never markup
    onEachFeature: function (f, l) { l.bindTooltip(document.createTextNode(String(f.properties.name))); },
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 17 });
  else map.setView([43.84, 126.55], 11);
  window.gdOgc = { map: map, layer: layer, count: layer.getLayers().length };
})();
