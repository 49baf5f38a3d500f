"""The service speaks the request's language (both backends, a real server): Chinese by
default, English with Accept-Language: en or ?lang=en (remembered in a cookie), each answer
saying its language; every error body carries a stable `code` beside its translated
`detail`; the ranking's reasons and the dates inside messages follow the reader's language,
dates in Asia/Shanghai."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from shapely.geometry import shape

from fixtures.landmarks import RIVER_STORY
from geo.i18n import _, using

CJK = re.compile(r"[\u4e00-\u9fff]")
MISSING = "/api/v1/issues/999999999"  # no such issue


def chinese(text: str) -> bool:
    return bool(CJK.search(text))


def story_issue(store) -> int:
    with store.snapshot() as tx:
        rows = tx.rows("SELECT id FROM issue WHERE description = :d",
                       {"d": RIVER_STORY["description"]})
    assert len(rows) == 1
    return int(rows[0]["id"])


def test_an_error_is_chinese_by_default_and_english_on_request(api):
    with api.client("admin") as c:
        zh = c.get(MISSING)
        assert zh.status_code == 404
        assert zh.json()["code"] == "not_found" and chinese(zh.json()["detail"]), zh.text
        assert zh.json()["detail"] == "没有您可查看的事件 999999999"
        assert zh.headers["content-language"] == "zh-CN"
        assert "Accept-Language" in zh.headers["vary"]
        en = c.get(MISSING, headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
        assert (en.status_code, en.json()["code"]) == (404, "not_found")
        assert en.json()["detail"] == "no issue 999999999 that you can see"
        assert en.headers["content-language"] == "en"
        # A browser preferring Chinese gets Chinese; one asking for neither gets Chinese too.
        for tag in ("zh-CN,zh;q=0.9,en;q=0.8", "fr-FR,de;q=0.8"):
            r = c.get(MISSING, headers={"Accept-Language": tag})
            assert chinese(r.json()["detail"]) and r.headers["content-language"] == "zh-CN"


def test_lang_in_the_address_wins_and_is_remembered(api):
    with api.client("admin") as c:
        r = c.get(MISSING + "?lang=en", headers={"Accept-Language": "zh-CN"})
        assert r.json()["detail"] == "no issue 999999999 that you can see"
        assert r.headers["content-language"] == "en"
        assert "gd_lang=en" in r.headers["set-cookie"]
        # The cookie (kept by the client) speaks English on the next request, without ?lang.
        again = c.get(MISSING)
        assert again.json()["detail"] == "no issue 999999999 that you can see", again.text
        assert again.headers["content-language"] == "en"
        back = c.get(MISSING + "?lang=zh-CN")
        assert chinese(back.json()["detail"]) and "gd_lang=zh_CN" in back.headers["set-cookie"]
        assert chinese(c.get(MISSING).json()["detail"])
    # `lang` is the language's, not the route's: it is not an unknown query parameter.
    with api.client("admin") as c:
        assert c.get("/api/v1/issues?limit=1&lang=en").status_code == 200


def _draft_split(c) -> tuple[str, dict]:
    r = c.post("/api/v1/plans", json={"area_code": "220204002001", "title": "i18n"})
    assert r.status_code == 201, r.text
    feature = r.json()["features"][0]
    x0, y0, x1, y1 = shape(feature["geometry"]).bounds
    line = {"type": "LineString", "coordinates": [[(x0 + x1) / 2, y0 - 0.01],
                                                  [(x0 + x1) / 2, y1 + 0.01]]}
    return f"/api/v1/plans/{r.json()['draft']['id']}/split", {"key": feature["id"], "line": line}


def test_every_kind_of_failure_has_a_code_and_a_chinese_detail(api):
    """A sample of failures from every layer that refuses: authentication, scopes, the
    casework, the routes' own checks, validation, the middleware and the throttle."""
    iid = story_issue(api.store)  # accepted
    seen = {}
    with api.client() as anonymous:
        seen["401"] = anonymous.get("/api/v1/issues")
        seen["404 route"] = anonymous.get("/api/v1/no-such-thing")
        seen["405"] = anonymous.delete("/api/v1/issues")
        seen["413"] = anonymous.post("/api/v1/issues", content=b"{" + b" " * 300_000 + b"}",
                                     headers={"Content-Type": "application/json"})
        seen["400 charset"] = anonymous.post("/api/v1/auth/token", content=b"username=a",
                                             headers={"Content-Type": "application/"
                                                      "x-www-form-urlencoded; charset=latin-9"})
    with api.client("citizen") as citizen:
        seen["403 scope"] = citizen.get("/api/v1/layers/teams")
        seen["403 role"] = citizen.get(f"/api/v1/issues/{iid}/events")
    with api.client("admin") as admin:
        seen["404"] = admin.get(MISSING)
        seen["409"] = admin.post(f"/api/v1/issues/{iid}/accept", json={})
        seen["412"] = admin.post(f"/api/v1/issues/{iid}/dispatch", json={"team_ids": ["T000"]},
                                 headers={"If-Match": '"999"'})
        seen["422 field"] = admin.post("/api/v1/issues", json={"category_code": "L01", "lon": 1,
                                                                "lat": 2, "state": "closed"})
        seen["422 query"] = admin.get("/api/v1/issues?colour=red")
        seen["422 casework"] = admin.post("/api/v1/issues", json={"category_code": "L01",
                                                                   "lon": 126.0, "lat": 44.5})
    with api.client("planner") as planner:
        url, body = _draft_split(planner)
        seen["428"] = planner.post(url, json=body)
    with api.client() as c:
        for _attempt in range(6):
            seen["429"] = c.post("/api/v1/auth/token", data={"username": "dispatcher",
                                                             "password": "wrong"})
    expected = {"401": (401, "not_authenticated"), "404 route": (404, "not_found"),
                "405": (405, "method_not_allowed"), "413": (413, "body_too_large"),
                "400 charset": (400, "unsupported_charset"),
                "403 scope": (403, "insufficient_scope"), "403 role": (403, "forbidden"),
                "404": (404, "not_found"), "409": (409, "state_conflict"),
                "412": (412, "precondition_failed"), "422 field": (422, "validation_failed"),
                "422 query": (422, "validation_failed"), "422 casework": (422, "outside_city"),
                "428": (428, "precondition_required"), "429": (429, "too_many_attempts")}
    for name, (status, code) in expected.items():
        r = seen[name]
        assert (r.status_code, r.json().get("code")) == (status, code), (name, r.text)
        assert chinese(r.json()["detail"]), (name, r.text)
        assert r.headers["content-language"] == "zh-CN", name
    # Our own wording around pydantic's, and the fields named as sent.
    assert seen["422 field"].json()["detail"].startswith(
        "state：此处不接受该字段（由服务器维护或未知的字段）")
    assert "colour：未知查询参数；此接口接受：" in seen["422 query"].json()["detail"]
    assert seen["409"].json()["state"] == "accepted"  # machine values stay machine values
    assert "dispatch" in seen["409"].json()["allowed_actions"]


def test_refusals_in_english_on_request(api):
    with api.client("citizen", lang="en") as citizen:
        r = citizen.get("/api/v1/layers/teams")
        assert r.json()["code"] == "insufficient_scope"
        assert r.json()["detail"].startswith("this needs scope layers:read, which role "
                                             "citizen does not have")
    with api.client(lang="en") as c:
        r = c.delete("/api/v1/issues")
        assert r.json() == {"code": "method_not_allowed",
                            "detail": "this address does not accept the DELETE method"}
        r = c.get("/api/v1/issues?lang=en")
        assert r.json()["detail"].startswith("not authenticated: send a bearer token")
        r = c.post("/api/v1/issues", content=b"{" + b" " * 300_000 + b"}",
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 413 and r.json() == {
            "code": "body_too_large", "detail": "the request body is larger than 262144 bytes"}


def test_a_date_inside_a_message_is_in_the_readers_language_and_shanghai_time(api):
    """The throttle's refusal says until when, in the command centre's zone (UTC+8)."""
    api.now = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    with api.client() as c:
        for _attempt in range(6):
            zh = c.post("/api/v1/auth/token", data={"username": "supervisor", "password": "x"})
        en = c.post("/api/v1/auth/token", data={"username": "supervisor", "password": "x"},
                    headers={"Accept-Language": "en"})
    assert (zh.status_code, en.status_code) == (429, 429)
    assert zh.json()["detail"] == ("账号 supervisor 登录失败次数过多：请 15 分钟后"
                                   "（2026年12月2日 08:15 之后）再试"), zh.text
    assert en.json()["detail"] == ("too many failed logins for account supervisor: try "
                                   "again in 15 minutes (after 2 Dec 2026 08:15)"), en.text
    assert "T00" not in zh.json()["detail"] and "UTC" not in en.json()["detail"]


def test_the_river_story_is_told_in_the_readers_language(api, city):
    """The dispatcher's candidates: the team across the Songhua River comes by a bridge, and
    the reason says so in Chinese by default, in English on request; the bridge names (data)
    and the machine fields are the same in both."""
    iid = story_issue(api.store)
    across = city.river_story.across_team
    with api.client("admin") as c:
        zh = c.get(f"/api/v1/issues/{iid}/candidates?k=20").json()
        en = c.get(f"/api/v1/issues/{iid}/candidates?k=20",
                   headers={"Accept-Language": "en"}).json()
    zh_team = next(t for t in zh["candidates"] if t["team_id"] == across)
    en_team = next(t for t in en["candidates"] if t["team_id"] == across)
    assert zh_team["via"] == en_team["via"] and zh_team["via"]
    assert {k: v for k, v in zh_team.items() if k != "reason"} == \
        {k: v for k, v in en_team.items() if k != "reason"}
    bridges = "、".join(zh_team["via"])
    assert f"经{bridges}过江" in zh_team["reason"], zh_team["reason"]
    assert "沿道路预计" in zh_team["reason"] and "未结案任务" in zh_team["reason"]
    assert f"across the river via {', '.join(en_team['via'])}" in en_team["reason"]
    assert re.search(r"by ETA of the teams matching .*handles " + RIVER_STORY["category"],
                     en_team["reason"]), en_team["reason"]
    first = zh["candidates"][0]
    assert first["reason"].startswith("在符合条件（") and "排第 1：" in first["reason"]
    assert en["candidates"][0]["reason"].startswith("1st by ETA")
    assert chinese(zh["filter"]) and chinese(zh["policy"])
    assert en["policy"].startswith("ranked by ETA plus")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_stale_position_is_dated_in_shanghai_time(api, lang):
    """A team whose last position is old: the reason dates it as the reader writes dates, in
    the command centre's zone (01:30 UTC is 09:30 in Shanghai)."""
    iid = story_issue(api.store)
    api.now = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
    with api.client("admin") as c:
        issue = c.get(f"/api/v1/issues/{iid}").json()
        team = c.get(f"/api/v1/issues/{iid}/candidates").json()["candidates"][0]["team_id"]
        moved = c.patch(f"/api/v1/teams/{team}", json={"lon": issue["lon"], "lat": issue["lat"]})
        assert moved.status_code == 200, moved.text
    api.now = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)  # an hour later: the position is stale
    with api.client("admin", lang=lang) as c:
        got = c.get(f"/api/v1/issues/{iid}/candidates?k=20").json()["candidates"]
    reason = next(t["reason"] for t in got if t["team_id"] == team)
    if lang == "en":
        assert "its last reported position (2 Dec 2026 09:30)" in reason, reason
        assert reason.endswith("; position is stale: confirm by radio before dispatch")
    else:
        assert "最近上报的位置（2026年12月2日 09:30）" in reason, reason
        assert reason.endswith("；位置信息已过时：派单前请通过对讲机确认")
    assert not re.search(r"\d{4}-\d\d-\d\dT", reason)


# --- the Language middleware on its own (our ASGI code, driven by raw ASGI calls or httpx) ---

def _asgi_call(app, path: str, query: bytes = b"", headers=()) -> tuple[dict, list[dict]]:
    """One request to an ASGI app: the scope the inner app saw, and what was sent back."""
    import asyncio
    seen, sent = {}, []

    async def inner(scope, receive, send):
        seen.update(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query,
             "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]}
    asyncio.run(app(inner)(scope, receive, send))
    return seen, sent


def _headers(sent: list[dict]) -> dict[bytes, list[bytes]]:
    out: dict[bytes, list[bytes]] = {}
    for k, v in sent[0]["headers"]:
        out.setdefault(k, []).append(v)
    return out


def test_lang_leaves_the_rest_of_the_query_byte_for_byte():
    from api.language import Language
    raw = b"a=%zz&lang=en&b=%E4%B8%AD+x&c&d=%FF&e=1%3D2"
    seen, sent = _asgi_call(Language, "/x", raw)
    assert seen["query_string"] == b"a=%zz&b=%E4%B8%AD+x&c&d=%FF&e=1%3D2"
    assert _headers(sent)[b"content-language"] == [b"en"]
    assert b"gd_lang=en" in _headers(sent)[b"set-cookie"][0]
    # Without lang, the query is untouched, escapes and all.
    seen, _sent = _asgi_call(Language, "/x", b"q=%zz&x=%2B")
    assert seen["query_string"] == b"q=%zz&x=%2B"


def test_a_cookie_outside_the_cookie_grammar_does_not_break_the_language():
    from api.language import Language
    weird = "a(b)=1; x@y=2; {x}=3; =; broken"
    _seen, sent = _asgi_call(Language, "/x", headers=[("cookie", weird + "; gd_lang=en")])
    assert _headers(sent)[b"content-language"] == [b"en"]
    _seen, sent = _asgi_call(Language, "/x", headers=[("cookie", weird)])
    assert _headers(sent)[b"content-language"] == [b"zh-CN"]


def test_a_weird_cookie_still_gets_an_answer_from_the_service(api):
    with api.client("admin") as c:
        for cookie in ("a(b)=1; x@y=2; {x}=3", "a(b)=1; gd_lang=en; {x}=3"):
            r = c.get(MISSING, headers={"Cookie": cookie})
            assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text
            english = "gd_lang=en" in cookie
            assert r.headers["content-language"] == ("en" if english else "zh-CN")
            assert chinese(r.json()["detail"]) != english


def _raising_app():
    """A FastAPI app with our error handlers and Language, and routes that fail as bugs do."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    from api import errors
    from api.language import Language

    app = FastAPI()
    errors.install(app)

    @app.get("/bug")
    def bug():
        raise RuntimeError("a bug's secret internals")

    @app.get("/late-bug")
    def late_bug():
        def body():
            yield b"started"
            raise RuntimeError("after the answer began")
        return StreamingResponse(body())

    app.add_middleware(Language)
    return app


def _get(app, path: str, **kwargs):
    import asyncio

    import httpx

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get(path, **kwargs)
    return asyncio.run(go())


def test_a_bug_is_answered_in_the_readers_language_and_logged(caplog):
    app = _raising_app()
    with caplog.at_level("ERROR", logger="griddispatch.api"):
        zh = _get(app, "/bug")
        en = _get(app, "/bug?lang=en")
    assert (zh.status_code, en.status_code) == (500, 500)
    assert zh.json()["code"] == "internal_error" and chinese(zh.json()["detail"]), zh.text
    assert en.json() == {"code": "internal_error", "detail": "internal error; it has been logged"}
    assert (zh.headers["content-language"], en.headers["content-language"]) == ("zh-CN", "en")
    assert "secret" not in zh.text + en.text
    logged = [r for r in caplog.records if r.name == "griddispatch.api" and r.exc_info]
    assert len(logged) == 2 and "GET /bug" in logged[0].getMessage()
    assert "a bug's secret internals" in str(logged[0].exc_info[1])


def test_a_bug_after_the_answer_began_is_not_answered_twice():
    with pytest.raises(RuntimeError, match="after the answer began"):
        _get(_raising_app(), "/late-bug")


def _store_failures_app():
    from fastapi import FastAPI

    from api import errors
    from api.language import Language
    from geo.i18n import _ as tr
    from geo.store.sql import DatabaseBusy, StatementTimeout

    app = FastAPI()
    errors.install(app)

    @app.get("/slow")
    def slow():
        raise StatementTimeout("statement cancelled after 10 ms")

    @app.get("/locked")
    def locked():
        raise DatabaseBusy("the database file is locked by another writer: database is locked")

    @app.get("/filing")
    def filing():
        raise DatabaseBusy("internal words", detail=tr("another alarm of the same source is "
                                                       "still being filed; send this one again"))

    app.add_middleware(Language)
    return app


def test_a_busy_database_is_not_a_slow_query():
    app = _store_failures_app()
    slow, locked = _get(app, "/slow?lang=en"), _get(app, "/locked?lang=en")
    assert (slow.status_code, slow.json()["code"]) == (503, "statement_timeout")
    assert "narrow the query" in slow.json()["detail"]
    assert (locked.status_code, locked.json()["code"]) == (503, "database_busy")
    assert locked.json()["detail"] == "the database is busy; try again in a few seconds"
    assert int(locked.headers["retry-after"]) > 0 and int(slow.headers["retry-after"]) > 0
    filing = _get(app, "/filing")
    assert filing.json()["code"] == "database_busy"
    with using("zh_CN"):
        assert filing.json()["detail"] == _("another alarm of the same source is still being "
                                            "filed; send this one again")
    assert "internal" not in filing.json()["detail"]
    zh = _get(app, "/locked")
    assert chinese(zh.json()["detail"]) and "locked" not in zh.json()["detail"]


def test_pydantic_problems_in_the_readers_words(api):
    with api.client("admin") as zh, api.client("admin", lang="en") as en:
        body = {"lon": 125.0, "lat": 44.0}  # no category_code
        z, e = zh.post("/api/v1/issues", json=body), en.post("/api/v1/issues", json=body)
        assert (z.status_code, e.status_code) == (422, 422)
        assert "category_code：为必填项" in z.json()["detail"], z.text
        assert "category_code: is required" in e.json()["detail"], e.text
        assert "Field required" not in z.text.replace('"msg":"Field required"', "")
        z, e = zh.get("/api/v1/issues?limit=0"), en.get("/api/v1/issues?limit=0")
        assert z.json()["detail"] == "limit：不能小于 1", z.text
        assert e.json()["detail"] == "limit: must be 1 or more", e.text
        z, e = zh.get("/api/v1/alarms?status=shut"), en.get("/api/v1/alarms?status=shut")
        assert z.json()["detail"] == "status：必须是以下之一：open, all", z.text
        assert e.json()["detail"] == "status: must be one of: open, all", e.text
        # pydantic's own list stays for programs
        assert z.json()["errors"][0]["type"] == "literal_error"
    from api.errors import problem
    with using("en"):
        assert problem({"type": "string_too_long", "ctx": {"max_length": 5}, "msg": "x"}) == \
            "must be at most 5 characters long"
        assert problem({"type": "no_such_type", "msg": "pydantic's words"}) == "pydantic's words"
        assert problem({"type": "value_error", "ctx": {"error": ValueError("ours")},
                        "msg": "Value error, ours"}) == "ours"


def test_states_actions_and_roles_are_named_in_words(api):
    """The sentence names them in the reader's language; the JSON keeps the machine values."""
    iid = story_issue(api.store)  # accepted
    with api.client("admin") as zh, api.client("admin", lang="en") as en:
        z = zh.post(f"/api/v1/issues/{iid}/accept", json={})
        e = en.post(f"/api/v1/issues/{iid}/accept", json={})
    assert (z.status_code, e.status_code) == (409, 409)
    assert e.json()["detail"] == ("cannot accept an issue that is accepted; allowed now: merge, "
                                  "dispatch")
    with using("zh_CN"):
        words = [_(w) for w in ("accepted", "accept", "merge", "dispatch")]
        sep = _(", ")
    assert all(w in z.json()["detail"] for w in words), z.text
    assert f"{words[2]}{sep}{words[3]}" in z.json()["detail"]
    assert not re.search(r"[a-z]{4,}", z.json()["detail"]), z.text
    assert (z.json()["state"], z.json()["allowed_actions"]) == ("accepted", ["merge", "dispatch"])
    with api.client("dispatcher") as zh, api.client("dispatcher", lang="en") as en:
        z = zh.post(f"/api/v1/issues/{iid}/claim", json={"team_id": "T000"})
        e = en.post(f"/api/v1/issues/{iid}/claim", json={"team_id": "T000"})
    assert (z.json()["code"], e.json()["code"]) == ("role_not_allowed", "role_not_allowed")
    assert e.json()["detail"] == ("role dispatcher may not claim; roles that may: team member, "
                                  "administrator")
    with using("zh_CN"):
        words = [_(w) for w in ("dispatcher", "claim", "team member", "administrator")]
    assert all(w in z.json()["detail"] for w in words), z.text
    assert "'" not in z.json()["detail"] and "dispatcher" not in z.json()["detail"]
