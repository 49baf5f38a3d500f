"""A real HTTP server (uvicorn on 127.0.0.1, a free port) around the app, for API tests."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime

import httpx
import uvicorn

from api.app import create_app
from api.settings import Settings

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


class Server:
    """The service on a loopback port; `clock` can be moved to test deadlines. Without a
    `store`, the service opens its own from `database_url` when it starts."""

    def __init__(self, store=None, **settings):
        self.app = create_app(Settings(secret_key=TEST_SECRET, **settings), store=store)
        self.now = None
        self.app.state.clock = lambda: self.now or datetime.now(UTC)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning",
                                access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                failure = getattr(self.app.state, "start_error", None)
                if failure is not None:
                    raise failure  # what the lifespan raised, which uvicorn only logs
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.store = self.app.state.store
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._tokens: dict[str, str] = {}

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # how uvicorn ends a failed start-up
            self.server.run()

    def client(self, user: str | None = None, lang: str | None = None, **kwargs) -> httpx.Client:
        """A client, logged in as `user` if given. It asks for the service's default language
        (Chinese) unless `lang` names one for its Accept-Language (e.g. "en")."""
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        if lang:
            headers["Accept-Language"] = lang
        headers.update(kwargs.pop("headers", {}))
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def token(self, user: str, password: str = "demo") -> str:
        if user not in self._tokens:
            with httpx.Client(base_url=self.url, timeout=30) as c:
                r = c.post("/api/v1/auth/token", data={"username": user, "password": password})
                r.raise_for_status()
                self._tokens[user] = r.json()["access_token"]
        return self._tokens[user]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
