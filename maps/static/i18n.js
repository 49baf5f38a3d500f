/* The pages' messages in the page's language. The server sends the table of the page's
 * language (/i18n/<locale>.js, from the same gettext catalogues as the service's answers) before
 * this file; message ids are the English text, so English needs no table. Every script calls
 * `_("English text")` (Babel extracts those calls for the catalogues) and `fmt` for named
 * placeholders: fmt(_("sent to {team}"), {team: name}). A count uses `ngettext`, as gettext does,
 * so English says "1 problem" and "2 problems" and each language has its own forms:
 * var ngettext = gdI18n.ngettext; fmt(ngettext("{n} problem", "{n} problems", n), {n: n}).
 * A message the table lacks is shown in English and remembered in gdI18n.missing, which the
 * browser tests read. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "zh-CN";
  var table = window.GD_MESSAGES || {};
  var english = lang.slice(0, 2) === "en";
  var missing = [];

  function t(id) {
    if (english) return id;
    var text = table[id];
    if (typeof text === "string" && text) return text;
    if (missing.indexOf(id) < 0) missing.push(id);
    return id;
  }

  // The table holds a plural message under its singular id, as the list of the language's forms
  // (Chinese has one). English, the language of the ids, has two: one, and any other count.
  function ngettext(singular, plural, n) {
    if (english) return n === 1 ? singular : plural;
    var forms = table[singular];
    if (forms && typeof forms === "object" && forms.length) {
      return forms.length === 1 ? forms[0] : forms[n === 1 ? 0 : 1];
    }
    if (typeof forms === "string" && forms) return forms;
    if (missing.indexOf(singular) < 0) missing.push(singular);
    return n === 1 ? singular : plural;
  }

  function fmt(text, params) {
    return String(text).replace(/\{(\w+)\}/g, function (whole, name) {
      return params && params[name] !== undefined && params[name] !== null ? String(params[name]) : whole;
    });
  }

  // The other language, for the switch each page shows.
  function other() {
    return english ? { lang: "zh-CN", label: "中文" } : { lang: "en", label: "English" };
  }

  function switchUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("lang", other().lang);
    return url.pathname + url.search + url.hash;
  }

  window.gdI18n = { lang: lang, english: english, t: t, ngettext: ngettext, fmt: fmt, missing: missing,
                    other: other, switchUrl: switchUrl };
})();
