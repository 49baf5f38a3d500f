"""Service settings, read from GRIDDISPATCH_* environment variables (pydantic-settings)."""

from __future__ import annotations

import secrets
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.casework.throttle import Limits
from geo.i18n import _
from geo.model import DEFAULT_POLICY
from geo.store import POOL_SIZE
from geo.store.base import OPEN_TIMEOUT_S

# A fixed key would let anyone who reads this file mint tokens: the demo gets a random one
# per process, production must be given one.
_EPHEMERAL_KEY = secrets.token_urlsafe(32)
_LOGIN_LIMITS = Limits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDDISPATCH_", extra="ignore")

    database_url: str | None = None  # None: geo.store.default_url()
    environment: Literal["demo", "production"] = "demo"
    secret_key: str = Field(default=_EPHEMERAL_KEY, repr=False)
    token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)  # JSON and form requests
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    statement_timeout_ms: int = Field(default=5000, ge=100)
    pool_size: int = Field(default=POOL_SIZE, ge=1, le=64)  # PostGIS connections per process
    # How long the server waits at start for its database (one started beside it may be late).
    database_wait_seconds: float = Field(default=OPEN_TIMEOUT_S, gt=0, le=600)
    # After this many failed logins for one account, or from one client address, within the
    # window (which starts at the first failure), further attempts get 429 until it ends.
    login_failures_per_account: int = Field(default=_LOGIN_LIMITS.per_account, ge=1)
    login_failures_per_address: int = Field(default=_LOGIN_LIMITS.per_address, ge=1)
    login_window_minutes: float = Field(default=_LOGIN_LIMITS.window.total_seconds() / 60, gt=0,
                                        le=24 * 60)
    # scheme://host[:port] that browsers use, when a reverse proxy changes the Host header;
    # None: the request's own. The login session endpoints refuse pages of any other origin.
    public_origin: str | None = Field(default=None, pattern=r"^https?://[^/\s]+$")
    open311_jurisdiction: str = "220200"  # Jilin City's administrative code
    # Basemap tiles for the maps, e.g. "https://tiles.example.local/{z}/{x}/{y}.png" on the
    # command centre's own network; None draws no remote tiles (our outlines stand in).
    tile_url: str | None = Field(default=None, pattern=r"^(https?://[^/\s]+)?/\S*\{z\}\S*$")
    tile_attribution: str | None = None
    map_refresh_seconds: float = Field(default=10.0, ge=0.5, le=600)  # live layers' polling
    # The live and dispatch maps draw grids from vector tiles (/tiles) at grid level; false
    # fetches them as GeoJSON pages of the view instead.
    map_grid_tiles: bool = True
    # The ranking policy (geo.model.Policy): a team with this many open assignments is
    # not recommended; each open assignment counts this many seconds against its ETA.
    max_open_assignments: int = Field(default=DEFAULT_POLICY.max_open, ge=1, le=100)
    seconds_per_open_assignment: float = Field(default=DEFAULT_POLICY.per_open_s, ge=0, le=3600)

    def production_problems(self) -> list[str]:
        """Settings that must not reach production."""
        problems = []
        if self.secret_key == _EPHEMERAL_KEY:
            problems.append(_("GRIDDISPATCH_SECRET_KEY is not set"))
        elif len(self.secret_key) < 32:
            problems.append(_("GRIDDISPATCH_SECRET_KEY is shorter than 32 characters"))
        return problems

    def tile_origin(self) -> str | None:
        """scheme://host of the tile server, which the pages' security policy must allow."""
        if not self.tile_url or self.tile_url.startswith("/"):
            return None
        scheme, rest = self.tile_url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"
