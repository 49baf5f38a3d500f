"""Property-based fuzzing of every operation in the OpenAPI document (schemathesis), over
HTTP, as an admin (who may reach every endpoint): whatever it sends, never a 5xx."""

from __future__ import annotations

import os
import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from geo.store import open_store
from tests.http import Server

EXAMPLES = int(os.environ.get("GRIDDISPATCH_FUZZ_EXAMPLES", "20"))


@pytest.fixture(params=["sqlite", "postgis"])
def fuzz_server(request, tmp_path, sqlite_template, pg_admin_url, pg_template):
    if request.param == "sqlite":
        path = tmp_path / "city.sqlite"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_url")
    store = open_store(url, statement_timeout_ms=5000)
    server = Server(store)
    yield server
    server.stop()
    store.close()


def test_no_input_makes_the_server_fail(fuzz_server):
    auth = {"Authorization": f"Bearer {fuzz_server.token('admin')}"}
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def run(case):
            response = case.call(base_url=fuzz_server.url, headers=auth, timeout=30)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, case.body,
                                 response.text[:200]))

        run()
    assert failures == [], failures[:5]
