"""Shared helpers for the pages' browser tests (Debian's Chromium driven by Playwright): a tab
logged in as a demo user in a language, what it asked for and logged, screenshots, and
`untranslated`, which finds any text a Chinese page shows in English.

    with browser() as b:                      # or the `chromium` fixture of tests/test_maps.py
        tab = Tab(b, server, "operator", "/maps/live", lang="en")
        assert tab.lang() == "en" and untranslated(tab.page) == []
        tab.shot("live-en")
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "maps"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# A page's language → the browser's (its Accept-Language): the server answers in it.
BROWSER_LOCALE = {"zh-CN": "zh-CN", "en": "en-GB"}
MAP_READY = "() => window.griddispatch && griddispatch.ready()"
# Latin words a Chinese page may show: data, units, names of methods and products.
ALLOWED = frozenset({"km", "OSM", "ECharts", "ETA", "Leaflet", "DBSCAN", "FDR", "Gi", "fps",
                     "griddispatch", "GeoMan", "API", "GeoJSON", "ISO", "CSV"})


@contextmanager
def browser():
    """Debian's Chromium, headless."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (scripts/test.sh does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def log_in(page, base_url: str, user: str, password: str = "demo") -> None:
    """Fill in the login form the page was sent to, and wait to be sent back."""
    page.wait_for_url(re.compile(r".*/maps/login\?next=.*"))
    back = page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url != back and "/maps/login" not in url)


_UNTRANSLATED = r"""(allowed) => {
    const chinese = (document.documentElement.lang || "").startsWith("zh");
    const found = (window.gdI18n ? gdI18n.missing.slice() : []);
    const seen = {checkOpacity: true, checkVisibilityCSS: true};
    const visible = (el) => !el.checkVisibility || el.checkVisibility(seen);
    // An element's own language: its text and its attributes are in it (data names are
    // marked lang="zh-CN" on an English page; the language switch lang="en" on a Chinese one).
    const inPageLanguage = (el) => {
        const marked = el.closest("[lang]");
        return chinese ? !marked || marked.lang.startsWith("zh") : !marked || !marked.lang.startsWith("zh");
    };
    // A Chinese page: a run of three or more Latin letters that is not data or a unit.
    // Codes are data: permission scopes (layers:read), ids with digits (cam-0012).
    const latin = (text) => {
        const words = text.replace(/\b[a-z_]+:[a-z_]+\b/g, " ").replace(/\b[\w-]*\d[\w-]*\b/g, " ");
        return (words.match(/[A-Za-z]{3,}/g) || []).some((run) => !allowed.includes(run));
    };
    // An English page: any Chinese character.
    const cjk = (text) => /[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/.test(text);
    const wrong = chinese ? latin : cjk;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!el || el.closest("script, style, noscript, textarea")) continue;
        if (!inPageLanguage(el) || !visible(el)) continue;
        if (wrong(node.textContent)) found.push(node.textContent.trim());
    }
    for (const el of document.body.querySelectorAll("[placeholder], [title], [aria-label]")) {
        if (el.closest("script, style, noscript") || !inPageLanguage(el) || !visible(el)) continue;
        for (const name of ["placeholder", "title", "aria-label"]) {
            const value = el.getAttribute(name);
            if (value && wrong(value)) found.push(`${name}="${value.trim()}"`);
        }
    }
    return [...new Set(found)];
}"""


def untranslated(page, allow=()) -> list[str]:
    """What a page shows that is not in its language: the messages its table lacked
    (gdI18n.missing); on a Chinese page every visible text or placeholder, title or aria-label
    holding a run of three or more Latin letters that is not data or a unit (ALLOWED and
    `allow`, e.g. the user's name); on an English page every visible text or such attribute
    holding Chinese, unless an element marks it as Chinese data (lang="zh-CN": a grid's,
    street's or team's name). A string nobody marked for translation shows up here, as
    `name="value"` when it is an attribute's."""
    return page.evaluate(_UNTRANSLATED, sorted(ALLOWED | set(allow)))


class Tab:
    """One user's browser tab on `path`, logged in, in `lang` ("zh-CN" or "en", as the
    browser's language): what it logged, what it asked for and from where. With no `user`
    the tab is not logged in; with no `path` it opens nothing yet (see `open`). `offline`
    lets through only requests to the server, keeping the others in `blocked`."""

    def __init__(self, b, server, user: str | None, path: str | None, lang: str = "zh-CN",
                 viewport: tuple[int, int] = (1400, 900), ready: str | None = MAP_READY,
                 password: str = "demo", offline: bool = False):
        self.server, self.user = server, user
        self.context = b.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                     locale=BROWSER_LOCALE[lang])
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response",
                     lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        self.blocked: list[str] = []
        if offline:
            self.page.route("**/*", self._only_ours)
        if path is None:
            return
        self.page.goto(server.url + path)
        if user is not None:
            log_in(self.page, server.url, user, password)
        if ready:
            self.wait(ready)

    def _only_ours(self, route) -> None:
        url = route.request.url
        ours = urlsplit(url)[:2] == urlsplit(self.server.url)[:2]
        if ours or url.startswith(("data:", "blob:" + self.server.url)):
            route.continue_()
        else:
            self.blocked.append(f"{self.page.url} asked for {url}")
            route.abort()

    def open(self, path: str, ready: str | None = None, timeout_s: float = 30) -> None:
        """Go to `path` (of the server) and wait for `ready`, if given, to hold."""
        self.page.goto(self.server.url + path)
        if ready:
            self.wait(ready, timeout_s=timeout_s)

    def wait(self, predicate: str, arg=None, timeout_s: float = 20):
        self.page.wait_for_function(predicate, arg=arg, timeout=timeout_s * 1000)

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def lang(self) -> str:
        return self.js("() => document.documentElement.lang")

    def untranslated(self, allow=()) -> list[str]:
        return untranslated(self.page, (self.user, *allow))

    def switch_language(self, ready: str | None = MAP_READY) -> str:
        """Follow the page's language switch; the new page's language."""
        before = self.lang()
        with self.page.expect_navigation():
            self.page.click("a.gd-lang")
        self.page.wait_for_function("(l) => document.documentElement.lang !== l", arg=before)
        if ready:
            self.wait(ready)
        return self.lang()

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def foreign_requests(self) -> list[str]:
        origin = urlsplit(self.server.url)
        return [u for u in self.requests if urlsplit(u)[:2] != origin[:2]
                and not u.startswith("data:")]

    def close(self) -> None:
        self.context.close()
