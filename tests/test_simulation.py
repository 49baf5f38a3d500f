"""The living demo's simulator against a real server holding a demo city built now: a bounded
run files reports, moves teams along their routes, takes issues through the loop and changes
lights; it stops at its duration, and refuses a server that is not the demo."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fixtures import accounts
from fixtures.jilin import generate
from fixtures.simulation.run import EXIT_NOT_DEMO, EXIT_USAGE, main, run
from geo.casework.users import delete_user, set_active
from geo.i18n import using
from geo.store import open_store
from geo.store.base import DEMO_MARKER
from tests.http import Server

RUN_S = 8.0
FAST = 240.0  # reports a minute: every step a few hundred times faster than life


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    """A small demo city built at the current time, with its demo accounts (a SQLite file)."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    with open_store(f"sqlite:///{path}") as store:
        store.migrate()
        city = generate(400, 4000, seed=7)
        store.load_city(city)
        accounts.install(store, city.landmarks)
    return path


@pytest.fixture
def demo_store(demo_file, tmp_path):
    path = tmp_path / "city.sqlite"
    shutil.copy(demo_file, path)
    with open_store(f"sqlite:///{path}") as store:
        yield store


@pytest.fixture
def server(demo_store):
    s = Server(demo_store)
    yield s
    s.stop()


def snapshot(server: Server) -> tuple[dict[int, dict], dict[str, tuple]]:
    """Every open issue (id → state and light) and every team's position and status, as admin
    sees them."""
    with server.client("admin") as c:
        issues = {}
        offset = 0
        while True:
            page = c.get("/api/v1/issues", params={"open_only": True, "limit": 500,
                                                     "offset": offset}).json()
            issues |= {i["id"]: {"state": i["state"], "light": i["light"]}
                       for i in page["items"]}
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        teams = {t["id"]: (t["lon"], t["lat"], t["position_at"], t["status"])
                 for t in c.get("/api/v1/teams").json()}
    return issues, teams


def trail(server: Server, issue_id: int) -> list[str]:
    with server.client("admin") as c:
        return [e["action"] for e in c.get(f"/api/v1/issues/{issue_id}/events").json()]


def only_state_conflicts(errors) -> bool:
    """Refusals a simulated city meets legitimately: a case that moved on meanwhile (409, with
    its error code), and nothing else."""
    return all(re.fullmatch(r"409 [a-z_]+", status) for _step, status in errors)


def test_a_bounded_run_keeps_the_city_alive(server):
    before, teams_before = snapshot(server)
    with server.client("admin") as c:
        newest = c.get("/api/v1/issues", params={"limit": 1}).json()["items"][0]["id"]
    # A quarter of the cases left waiting, so that some are even on a slow, busy machine
    # (where fewer cases reach the step they stall at within the run).
    summary = run(server.url, rate=FAST, duration_s=RUN_S, seed=3,
                  on_start=lambda sim: setattr(sim, "neglect_share", 0.25))
    after, teams_after = snapshot(server)

    # It stopped by itself at its duration, not at the budget, and says so.
    assert summary.stopped_by == "duration"
    with using("en"):
        assert "stopped: its duration has passed" in summary.lines()
    # New reports, from grid workers and citizens by both channels.
    reports = sum(summary.counts[k] for k in ("report_grid_worker", "report_citizen_app",
                                              "report_open311"))
    assert reports > 10 and summary.counts["report_grid_worker"] > 0
    with server.client("admin") as c:
        new = [i for i in c.get("/api/v1/issues", params={"limit": 500}).json()["items"]
               if i["id"] > newest]
    assert len(new) == reports
    channels = {i["channel"] for i in new}
    assert {"grid_worker", "citizen_app", "open311"} <= channels
    assert all(i["grid_code"] for i in new)  # inside the city's grids
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in i["description"]) for i in new)
    # Issues went through the steps: dispatched, claimed, resolved, checked, rated.
    for step in ("accept", "dispatch", "claim", "resolve", "check"):
        assert summary.counts[step] > 0, (step, summary.counts)
    furthest = max((trail(server, i["id"]) for i in new), key=len)
    assert furthest[:4] == ["report", "accept", "dispatch", "claim"], furthest
    # Teams moved: their positions changed and were stamped during the run.
    moved = [t for t, p in teams_after.items() if teams_before.get(t, p)[:2] != p[:2]]
    assert moved and summary.teams_moved >= len(moved) > 0
    # Stopped mid-work, it left no team it made busy busy.
    assert summary.counts["released"] > 0
    assert {t for t, p in teams_after.items() if p[3] == "busy"} <= {
        t for t, p in teams_before.items() if p[3] == "busy"}
    # Supervision pushed red cases of the seeded backlog on: each is at another step now,
    # its light that of the new step (or finished).
    assert summary.counts["overdue_pushed"] > 0
    pushed = [i for i, was in before.items() if was["light"] == "red"
              and (i not in after or after[i]["state"] != was["state"])]
    assert pushed and all(after.get(i, {}).get("light") != "red" for i in pushed), pushed
    # Those left waiting go overdue: 40 minutes later on the server's clock some the
    # simulator filed have turned from green to red.
    assert summary.counts["left_to_go_overdue"] > 0
    server.now = datetime.now(UTC) + timedelta(minutes=40)
    later, _ = snapshot(server)
    waiting = [i["id"] for i in new if i["id"] in after]
    assert any(after[i]["light"] == "green" and later[i]["light"] == "red" for i in waiting)
    # Refused only where a case had moved on meanwhile.
    assert only_state_conflicts(summary.errors), summary.errors


WAITING_STATE = {"accept": "reported", "dispatch": "accepted", "claim": "dispatched",
                 "check": "resolved", "rate": "checked"}


def test_supervision_takes_the_simulators_own_red_cases(demo_store):
    # The seeded backlog out of the way: none of the city's open issues is due for years.
    with demo_store.tx() as tx:
        tx.run("UPDATE issue SET due_at = :t WHERE state NOT IN ('closed', 'rejected', "
               "'merged')", {"t": datetime(2100, 1, 1, tzinfo=UTC)})
    server = Server(demo_store)
    left_red: dict[int, str] = {}

    def two_days_on(sim):
        server.now = datetime.now(UTC) + timedelta(days=2)  # every case left is red now
        left_red.update(sim.left)

    def on_start(sim):
        sim.neglect_share = 1.0  # every case it files is left waiting at one step
        sim.at(2.0, two_days_on, sim)
        sim.at(2.5, sim.backlog)  # supervision looks again after the jump

    try:
        summary = run(server.url, rate=FAST, duration_s=5.0, seed=8, on_start=on_start)
        assert left_red, summary.counts
        # Supervision found nothing of its own before the jump and took its own red cases
        # after it: they moved past the step they were left at, and nobody else moves them.
        assert summary.counts["own_overdue_pushed"] > 0, summary.counts
        with server.client("admin") as c:
            now = {i: c.get(f"/api/v1/issues/{i}").json()["state"] for i in left_red}
        moved_on = [i for i, step in left_red.items() if now[i] != WAITING_STATE[step]]
        assert moved_on, (now, left_red)
        assert only_state_conflicts(summary.errors), summary.errors
    finally:
        server.stop()


def test_the_summary_is_chinese_first(server):
    summary = run(server.url, rate=FAST, duration_s=2.0, seed=4)
    text = "\n".join(summary.lines())
    assert "模拟" in text and "网格员上报" in text, text
    with using("en"):
        english = "\n".join(summary.lines())
    assert "reports by grid workers" in english


def test_it_stops_at_its_request_budget(server):
    summary = run(server.url, rate=FAST, duration_s=60.0, seed=5, max_requests=60)
    assert summary.stopped_by == "budget" and summary.requests == 60


def issue_count(store) -> int:
    with store.snapshot() as tx:
        return tx.one("SELECT count(*) AS n FROM issue")["n"]


def test_it_refuses_a_server_that_is_not_the_demo(demo_store, capsys):
    # A production server: it starts only once the demo credentials are gone.
    for user in accounts.demo_users(["220204001"], None, company_id="any", department_id="any"):
        delete_user(demo_store, user["username"])  # with its sessions and API keys
    production = Server(demo_store, environment="production")
    try:
        before = issue_count(demo_store)
        assert main(["--url", production.url, "--duration", "3", "--rate", str(FAST)]
                    ) == EXIT_NOT_DEMO
        assert "演示账号 admin 无法用演示密码登录" in capsys.readouterr().err
        assert issue_count(demo_store) == before
    finally:
        production.stop()


def test_the_demo_mark_is_the_databases_and_shown_to_supervision_only(demo_store):
    assert demo_store.demo_city() is not None  # the demo city's load wrote it
    s = Server(demo_store)
    try:
        assert "environment" not in httpx.get(f"{s.url}/healthz").json()  # public: no word
        for role in ("supervisor", "admin"):
            with s.client(role) as c:
                assert c.get("/api/v1/demo").json()["demo"] is True
        with s.client("grid_worker") as c:
            assert c.get("/api/v1/demo").status_code == 403
        assert httpx.get(f"{s.url}/api/v1/demo").status_code == 401
        with demo_store.tx() as tx:
            tx.run("DELETE FROM setting WHERE key = :k", {"k": DEMO_MARKER})
        with s.client("admin") as c:
            assert c.get("/api/v1/demo").json() == {"demo": False, "loaded_at": None}
    finally:
        s.stop()


def test_it_refuses_a_database_not_marked_as_the_demo_city(demo_store, capsys):
    # The demo settings and accounts, but a database the demo city's load did not mark.
    with demo_store.tx() as tx:
        tx.run("DELETE FROM setting WHERE key = :k", {"k": DEMO_MARKER})
    s = Server(demo_store)
    try:
        before, teams_before = snapshot(s)
        count = issue_count(demo_store)
        assert main(["--url", s.url, "--duration", "3", "--rate", str(FAST)]) == EXIT_NOT_DEMO
        assert "没有演示城市标记" in capsys.readouterr().err
        assert issue_count(demo_store) == count and snapshot(s) == (before, teams_before)
    finally:
        s.stop()


def test_clearing_the_city_removes_the_demo_mark(demo_store):
    demo_store.clear()
    assert demo_store.demo_city() is None


def test_it_refuses_a_demo_server_without_the_demo_accounts(demo_store, capsys):
    set_active(demo_store, "dispatcher", False)
    s = Server(demo_store)
    try:
        before = issue_count(demo_store)
        assert main(["--url", s.url, "--duration", "3"]) == EXIT_NOT_DEMO
        err = capsys.readouterr().err
        assert "dispatcher" in err and "演示" in err
        assert issue_count(demo_store) == before
    finally:
        s.stop()


@pytest.mark.parametrize("bad", [["--rate", "0"], ["--duration", "-1"], ["--rate", "nan"],
                                 ["--max-requests", "0"], ["--wait", "-5"]])
def test_bad_arguments_are_a_usage_error(server, bad, capsys):
    before = issue_count(server.store)
    assert main(["--url", server.url, *bad]) == EXIT_USAGE
    assert "griddispatch simulate：错误" in capsys.readouterr().err
    assert issue_count(server.store) == before


def test_the_command_line_runs_it_for_its_duration(server):
    env = {**os.environ, "GRIDDISPATCH_LANG": "zh_CN"}
    done = subprocess.run([sys.executable, "-m", "api.cli", "simulate", "--url", server.url,
                           "--duration", "3", "--rate", str(FAST), "--seed", "6"],
                          capture_output=True, text=True, timeout=120, env=env)
    # It ended by itself, at its duration, and said so.
    assert done.returncode == 0, done.stderr
    assert "已停止：已到设定时长" in done.stdout, done.stdout
    assert "网格员上报" in done.stdout and "请求" in done.stdout
    usage = subprocess.run([sys.executable, "-m", "api.cli", "simulate", "--url", server.url,
                            "--rate", "fast"], capture_output=True, text=True, timeout=120,
                           env=env)
    assert usage.returncode == EXIT_USAGE and "--rate" in usage.stderr


def test_serve_simulate_runs_it_beside_the_server_and_stops_it_with_the_server(demo_file,
                                                                               tmp_path):
    from tests.http import TEST_SECRET
    from tests.processes import GRIDDISPATCH, ROOT, free_port

    db = tmp_path / "city.sqlite"
    shutil.copy(demo_file, db)
    with open_store(f"sqlite:///{db}") as store:
        before = issue_count(store)
    port = free_port()
    env = {**os.environ, "GRIDDISPATCH_SECRET_KEY": TEST_SECRET, "GRIDDISPATCH_LANG": "zh_CN"}
    env.pop("GRIDDISPATCH_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([GRIDDISPATCH, "--db", f"sqlite:///{db}", "serve", "--port",
                                 str(port), "--simulate"], stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        with open_store(f"sqlite:///{db}") as store:
            while issue_count(store) == before:  # the simulated people's first report
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)  # the server stops, and stops its simulator
        proc.wait(timeout=60)
    text = log.read_text()
    assert "演示城市模拟运行" in text and "未到设定时长即已停止" in text, text
