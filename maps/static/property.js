/* The red/black list page (/maps/property): the ranking of GET /api/v1/property/ranking as a
 * table with red and black marks, trend arrows and proposed talks, the rule in the API's words,
 * and the compounds of GET /api/v1/property/compounds on a Leaflet map coloured by their
 * company's standing. Loaded after the page's message table, i18n.js, Leaflet, griddispatch.js
 * and basemap.js (drawn only for viewers who may read the layers). */
(function () {
  "use strict";
  var _ = gdI18n.t, fmt = gdI18n.fmt, ngettext = gdI18n.ngettext;
  var config = window.GD_PROPERTY;
  var page = window.griddispatch;
  var zh = !gdI18n.english;
  var lang = zh ? "zh-CN" : "en-GB";
  var num = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  var pct = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  var monthWords = new Intl.DateTimeFormat(lang, { timeZone: "UTC", year: "numeric", month: "long" });
  var dayWords = new Intl.DateTimeFormat(lang, { timeZone: "UTC", year: "numeric", month: "long",
                                                  day: "numeric" });
  var STANDINGS = { red: _("Red list"), black: _("Black list"), middle: _("On neither list"),
                    unranked: _("Not ranked") };

  var gd = window.gdProperty = { answer: null, compounds: null, drawn: {}, loaded: 0 };

  function query() { return config.query ? "?" + config.query : ""; }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store",
                        headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) {
        window.location.href = "/maps/login?next=" + encodeURIComponent(
          window.location.pathname + window.location.search);
        return new Promise(function () {});
      }
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          throw new Error(body.detail || String(r.status));
        });
      }
      return r.json();
    });
  }

  function fail(err) {
    var el = document.getElementById("failure");
    el.hidden = false;
    el.textContent = fmt(_("The list could not be loaded: {reason}"), { reason: err.message });
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (page.isChinese(text)) td.lang = "zh-CN";  // names are data
    tr.appendChild(td);
    return td;
  }

  function rate(v) { return v == null ? "—" : pct.format(v); }

  function periodWords(label) {
    var parts = label.split("..");
    if (parts.length === 2) {
      return fmt(_("{since} to {until}"), { since: dayWords.format(new Date(parts[0])),
                                            until: dayWords.format(new Date(parts[1])) });
    }
    return monthWords.format(new Date(label + "-01"));
  }

  /* ▲ 3 (up three places), ▼ 2, =, or "new" when the company was not ranked before. */
  function trend(line) {
    if (line.rank == null) return { text: "", cls: "" };
    if (line.rank_change == null) return { text: _("new"), cls: "gd-trend-new" };
    if (line.rank_change > 0) return { text: "▲ " + line.rank_change, cls: "gd-trend-up" };
    if (line.rank_change < 0) return { text: "▼ " + (-line.rank_change), cls: "gd-trend-down" };
    return { text: "=", cls: "gd-trend-same" };
  }

  function rows(answer) {
    var body = document.getElementById("ranking-rows");
    body.textContent = "";
    answer.companies.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-company", c.company_id);
      tr.setAttribute("data-standing", c.standing);
      tr.className = "gd-standing-" + c.standing;
      cell(tr, c.rank == null ? "—" : String(c.rank), "gd-place");
      var t = trend(c), td = cell(tr, t.text, "gd-trend " + t.cls);
      if (c.score_change != null) {
        td.title = fmt(_("score {change} since {period}"), {
          change: (c.score_change > 0 ? "+" : "") + num.format(c.score_change),
          period: periodWords(answer.previous_period) });
      }
      cell(tr, c.name, "gd-name");
      var mark = cell(tr, STANDINGS[c.standing], "gd-mark");
      mark.style.setProperty("--gd-standing", config.colours[c.standing]);
      cell(tr, c.score == null ? "—" : num.format(c.score), "gd-score");
      cell(tr, c.per_1000 == null ? "—" : num.format(c.per_1000));
      cell(tr, rate(c.on_time_rate));
      cell(tr, rate(c.rework_rate));
      cell(tr, c.rating == null ? "—" : fmt(ngettext("{rating} ({n} rating)",
                                                   "{rating} ({n} ratings)", c.rated),
                                          { rating: num.format(c.rating), n: c.rated }),
           "gd-rating");
      var talk = cell(tr, c.talk_proposed ? _("Proposed") : "", "gd-talk");
      if (c.talk_proposed) talk.title = c.talk_reasons.join(_("; "));
      body.appendChild(tr);
    });
    if (!answer.companies.length) {
      var tr = document.createElement("tr"), td = cell(tr, _("No property company to show"));
      td.colSpan = 10;
      body.appendChild(tr);
    }
  }

  function recordTalk(c, form, note) {
    var reason = form.querySelector("input").value.trim();
    if (!reason) return;
    fetch(config.companies + encodeURIComponent(c.company_id) + "/talks", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ reason: reason, period: gd.answer.period }),
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.detail || String(r.status));
        form.hidden = true;
        note.textContent = _("Talk recorded");
      });
    }).catch(function (err) { note.textContent = err.message; });
  }

  function talks(answer) {
    var list = document.getElementById("talk-rows");
    list.textContent = "";
    var proposed = answer.companies.filter(function (c) { return c.talk_proposed; });
    proposed.forEach(function (c) {
      var li = document.createElement("li");
      li.setAttribute("data-company", c.company_id);
      li.innerHTML = fmt(page.esc(_("{company}: {reasons}")), {
        company: page.data(c.name), reasons: page.esc(c.talk_reasons.join(_("; "))) });
      if (config.canTalk) {
        var form = document.createElement("form"), input = document.createElement("input"),
            button = document.createElement("button"), note = document.createElement("span");
        form.className = "gd-talk-form";
        input.placeholder = _("Reason for the talk");
        input.maxLength = 2000;
        button.type = "submit";
        button.textContent = _("Record a talk");
        note.className = "gd-talk-note";
        form.appendChild(input);
        form.appendChild(button);
        form.addEventListener("submit", function (e) { e.preventDefault(); recordTalk(c, form, note); });
        li.appendChild(form);
        li.appendChild(note);
      }
      list.appendChild(li);
    });
    if (!proposed.length) {
      var li = document.createElement("li");
      li.textContent = _("No talk is proposed");
      list.appendChild(li);
    }
  }

  function rule(answer) {
    var list = document.getElementById("rule-rows");
    list.textContent = "";
    answer.rule.forEach(function (sentence) {
      var li = document.createElement("li");
      li.textContent = sentence;  // in the page's language: the API answers in it
      list.appendChild(li);
    });
  }

  /* The month picker: the last MONTHS months before the current one (and the one shown), in
   * the page's words; the browser's own month input would speak the browser's language. */
  var MONTHS = 24;
  function months(shown) {
    var select = document.getElementById("period-month"), now = new Date(), values = [];
    for (var k = 1; k <= MONTHS; k++) {
      var d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1));
      values.push(d.toISOString().slice(0, 7));
    }
    if (shown.indexOf("..") < 0 && values.indexOf(shown) < 0) values.unshift(shown);
    select.textContent = "";
    values.forEach(function (v) {
      var option = document.createElement("option");
      option.value = v;
      option.textContent = monthWords.format(new Date(v + "-01"));
      option.selected = v === shown;
      select.appendChild(option);
    });
  }

  function heading(answer) {
    document.getElementById("period-words").textContent = fmt(
      _("{period}, compared with {previous}"), { period: periodWords(answer.period),
                                                 previous: periodWords(answer.previous_period) });
    document.getElementById("ranked-note").textContent = fmt(ngettext(
      "{n} company ranked in the city, {k} on each list",
      "{n} companies ranked in the city, {k} on each list", answer.ranked),
      { n: answer.ranked, k: answer.list_size });
    months(answer.period);
    document.getElementById("csv").href = config.csv + query();
  }

  var map = L.map("map", { zoomControl: true, minZoom: 6, maxZoom: 19, zoomSnap: 0.25 }).setView([43.84, 126.55], 12);
  page.localiseControls(map);
  if (config.basemap) page.basemap(map);
  var layer = L.geoJSON(null, {
    style: function (f) {
      // the outline in the fill's colour too, so that a compound shows when zoomed out
      var colour = config.colours[f.properties.standing];
      return { color: colour, weight: 3, fillColor: colour, fillOpacity: 0.8 };
    },
    onEachFeature: function (f, l) {
      var p = f.properties;
      gd.drawn[p.code] = { standing: p.standing, fill: config.colours[p.standing],
                           company: p.company_id };
      l.bindTooltip(page.data(p.name) + "<br>" + page.labelled(page.esc(_("Company")), page.data(p.company_name)) +
                    "<br>" + page.labelled(page.esc(_("Standing")), page.esc(STANDINGS[p.standing])));
    },
  }).addTo(map);

  function legend(fc) {
    var counts = {};
    fc.features.forEach(function (f) { counts[f.properties.standing] = (counts[f.properties.standing] || 0) + 1; });
    var el = document.getElementById("map-legend");
    el.innerHTML = ["red", "black", "middle", "unranked"].map(function (k) {
      return "<span class='gd-swatch' style='background:" + config.colours[k] + "'></span>" +
        page.esc(fmt(ngettext("{standing}: {n} compound", "{standing}: {n} compounds", counts[k] || 0),
                     { standing: STANDINGS[k], n: counts[k] || 0 }));
    }).join(" ");
  }

  function drawCompounds(fc) {
    gd.compounds = fc;
    layer.clearLayers();
    gd.drawn = {};
    layer.addData(fc);
    legend(fc);
    if (fc.features.length) map.fitBounds(layer.getBounds(), { padding: [8, 8] });
  }

  var other = gdI18n.other(), link = document.getElementById("lang-switch");
  link.textContent = other.label;
  link.href = gdI18n.switchUrl();
  link.setAttribute("hreflang", other.lang);
  link.setAttribute("lang", other.lang);

  document.getElementById("period").addEventListener("submit", function (e) {
    e.preventDefault();
    var month = document.getElementById("period-month").value, url = new URL(window.location.href);
    if (!month) return;
    url.searchParams.delete("since");
    url.searchParams.delete("until");
    url.searchParams.set("period", month);
    window.location.href = url.pathname + url.search;
  });

  Promise.all([
    getJson(config.ranking + query()).then(function (answer) {
      gd.answer = answer;
      heading(answer);
      rows(answer);
      talks(answer);
      rule(answer);
    }),
    getJson(config.compounds + query()).then(drawCompounds),
  ]).then(function () { gd.loaded += 1; }, fail);
  gd.ready = function () {
    return gd.loaded > 0 && (!config.basemap || page.basemapSettled());
  };
  gd.compoundLayers = function () { return layer.getLayers(); };  // for the page's tests
})();
