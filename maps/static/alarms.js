/* Open alarms (GET /api/v1/alarms?status=open) as flashing rings on the live map, refreshed like
 * the live layers: an alarm flashes until its issue is accepted (or rejected or merged), then
 * drops out of the list and off the map. The rings are a layer of the layer control and have a
 * section in the legend. */
(function () {
  "use strict";
  var _ = gdI18n.t, fmt = gdI18n.fmt;
  var SIZE = 44;
  var STYLE = ".gd-alarm{pointer-events:auto}" +
    ".gd-alarm-ring{position:absolute;left:0;top:0;width:" + SIZE + "px;height:" + SIZE + "px;border-radius:50%;" +
    "border:4px solid #d50000;background:rgba(255,23,68,.30);box-shadow:0 0 10px 3px rgba(213,0,0,.7);" +
    "box-sizing:border-box;animation:gd-alarm-flash 1s ease-in-out infinite}" +
    "@keyframes gd-alarm-flash{0%,100%{transform:scale(.75);opacity:1}50%{transform:scale(1.25);opacity:.35}}";

  var gd = window.griddispatch, esc = gd.esc;

  var alarms = (window.gdAlarms = { shown: [], loaded: 0 });

  /* `control`: the map's layer control, which lists the rings as a layer of their own. */
  alarms.attach = function (map, intervalMs, control) {
    if (!document.getElementById("gd-alarm-style")) {
      var style = document.createElement("style");
      style.id = "gd-alarm-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    var group = L.layerGroup().addTo(map);
    if (control) control.addOverlay(group, _("Alarms"));
    gd.legendSections.push({
      id: "alarms", title: _("Alarms"), closed: false,
      html: function () {
        return "<div><i class='gd-swatch gd-round gd-ring' style='background:rgba(255,23,68,.30);border-color:#d50000'></i>" +
          esc(_("alarm from a key site or camera, until its issue is accepted")) + "</div>";
      },
    });
    if (gd.legend) gd.legend(); // the legend was drawn before this section was there
    var icon = L.divIcon({ className: "gd-alarm", html: "<span class='gd-alarm-ring'></span>", iconSize: [SIZE, SIZE] });
    var markers = {}; // alarm id → its ring
    function refresh() {
      fetch("/api/v1/alarms?status=open", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body) return;
          // Rings stay while their alarm is open (their flash runs on), new ones join, the
          // others go.
          var open = {};
          body.items.forEach(function (a) {
            if (a.lon === null || a.lat === null) return;
            open[a.id] = true;
            var tip = fmt(esc(_("Alarm: {kind} at {name} ({count} times), issue #{issue}")), {
              kind: esc(a.kind_label), name: gd.data(a.name), count: esc(a.count), issue: esc(a.issue_id) });
            var ring = markers[a.id];
            if (!ring) {
              ring = markers[a.id] = L.marker([a.lat, a.lon], { icon: icon, zIndexOffset: 1000 })
                .bindTooltip(tip)
                .on("click", function () { window.location.href = "/maps/issues/" + ring.issueId; })
                .addTo(group);
            }
            ring.issueId = a.issue_id; // an alarm merged into another issue follows it
            ring.setLatLng([a.lat, a.lon]).setTooltipContent(tip);
            if (ring.getElement()) ring.getElement().title = a.kind_label;
          });
          Object.keys(markers).forEach(function (id) {
            if (!open[id]) {
              group.removeLayer(markers[id]);
              delete markers[id];
            }
          });
          alarms.shown = body.items.map(function (a) { return a.id; });
          alarms.loaded += 1;
        })
        .catch(function () { /* the next refresh tries again */ });
    }
    refresh();
    window.setInterval(refresh, intervalMs);
  };

  /* One alarm's flashing ring at latlng, not interactive, for pages that fetch and list the
   * alarms themselves (the big screen). A marker of the DOM, so it flashes on canvas maps too. */
  alarms.ring = function (latlng) {
    if (!document.getElementById("gd-alarm-style")) {
      var style = document.createElement("style");
      style.id = "gd-alarm-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    return L.marker(latlng, { icon: L.divIcon({ className: "gd-alarm", iconSize: [SIZE, SIZE],
      html: "<span class='gd-alarm-ring'></span>" }), zIndexOffset: 1000, interactive: false,
      keyboard: false });
  };
})();
