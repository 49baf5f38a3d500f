"""The front door and the API reference pages, over HTTP: `/` leads each role to its page
(anyone else to the login), and /docs and /redoc name only the server's own files, in the
reader's language."""

from __future__ import annotations

import re

import pytest

from tests.http import Server


@pytest.fixture
def served(sqlite_store):
    server = Server(sqlite_store)
    yield server
    server.stop()


def test_the_front_door_leads_each_role_to_its_page(served):
    dashboard = "/maps/dashboard"
    expected = {"operator": dashboard, "supervisor": dashboard, "dispatcher": "/maps/live",
                "planner": "/maps/live", "grid_worker": "/docs", "citizen": "/docs"}
    for user, target in expected.items():
        with served.client() as c:
            r = c.post("/api/v1/auth/session", data={"username": user, "password": "demo"},
                       headers={"Origin": served.url})
            assert r.status_code in (200, 201, 204), r.text
            for method in ("GET", "HEAD"):
                answer = c.request(method, "/", follow_redirects=False)
                assert (answer.status_code, answer.headers["location"]) == (303, target), user
    with served.client() as c:
        for method in ("GET", "HEAD"):
            answer = c.request(method, "/", follow_redirects=False)
            assert (answer.status_code, answer.headers["location"]) == (303, "/maps/login")
        c.cookies.set("griddispatch_token", "not-a-token")
        assert c.get("/", follow_redirects=False).headers["location"] == "/maps/login"


def test_the_reference_pages_load_only_our_files_in_the_readers_language(served):
    with served.client() as c:
        docs = c.get("/docs")
        redoc = c.get("/redoc", params={"lang": "en"})
    assert docs.status_code == redoc.status_code == 200
    assert '<html lang="zh-CN">' in docs.text and "<title>griddispatch 接口文档</title>" in docs.text
    assert '<html lang="en">' in redoc.text and "API reference (ReDoc)" in redoc.text
    for page in (docs, redoc):
        assert "default-src 'self'" in page.headers["content-security-policy"]
        loaded = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
        assert loaded and all(u.startswith(("/", "?")) for u in loaded), loaded
        assert "googleapis" not in page.text and "cdn.jsdelivr" not in page.text
    assert '"validatorUrl": null' in docs.text
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "/static/redoc/redoc.standalone.js" in redoc.text


def test_redocs_script_is_served_without_redoclys_logo(served):
    with served.client() as c:
        script = c.get("/static/redoc/redoc.standalone.js")
        again = c.get("/static/redoc/redoc.standalone.js",
                      headers={"If-None-Match": script.headers["etag"]})
        other = c.get("/static/redoc/redoc.standalone.js.LICENSE.txt")
    assert script.status_code == 200 and len(script.content) > 500_000
    assert b"cdn.redoc.ly" not in script.content and b'src:"data:,"' in script.content
    assert again.status_code == 304
    assert other.status_code == 200  # the rest of the mount is served as installed
