"""The FastAPI application: `create_app(settings)`; `griddispatch serve` runs it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api import deps, errors, openapi, params
from api.encoding import BodyEncoding, BodyEncodingError
from api.language import Language
from api.limits import BodyLimit
from api.routes import (
    alarms,
    assessment,
    auth,
    basemap,
    boundaries,
    disputes,
    escalation,
    front,
    hotspots,
    issues,
    layers,
    maps,
    ogc,
    open311,
    places,
    plans,
    responsibility,
    teams,
    tiles,
    whistles,
)
from api.routes import compounds as compound_layers
from api.routes import dashboard as big_screen
from api.routes import demo as demo_marker
from api.routes import messages as page_messages
from api.routes import property as property_companies
from api.settings import Settings
from geo.casework.users import demo_credentials_present
from geo.gridindex import start_compiled
from geo.i18n import _
from geo.store import Store, StoreError, store_for
from maps import assets


class ProductionRefused(RuntimeError):
    """The configuration is not safe to run as production."""


def check_production(settings: Settings, store: Store) -> None:
    """Refuse to serve production with demo credentials or an unset secret key."""
    if settings.environment != "production":
        return
    problems = settings.production_problems()
    demo = demo_credentials_present(store)
    if demo:
        problems.append(_("demo credentials are present: {names} (change their passwords or "
                          "delete them)").format(names=", ".join(demo)))
    if problems:
        raise ProductionRefused(_("refusing to start in production: {problems}").format(
            problems=_("; ").join(problems)))


HEALTH_TIMEOUT_S = 2.0  # a health probe answers "down" rather than wait for a stuck database


def start_store(settings: Settings, store: Store | None) -> Store:
    """The store to serve, open and checked (initialised, and safe to serve as configured):
    the given one, opened if it is not yet (as `store_for` makes them), else one opened from
    the settings. One opened from the settings is closed again if it cannot be served; a
    given one is its owner's to close."""
    opened = store is None or not store.is_open  # what this opens, it closes if it fails
    if store is None:
        store = store_for(settings.database_url, settings.statement_timeout_ms,
                          settings.pool_size)
    store.open(settings.database_wait_seconds)
    try:
        if store.schema_version() is None:
            raise StoreError(_("the database is not initialised: run `griddispatch init` (or "
                               "`griddispatch demo-data`) first"))
        check_production(settings, store)
    except BaseException:
        if opened:
            store.close()
        raise
    return store


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The service. It connects to the database when it starts (the lifespan), not here, and
    closes what it opened when it stops; a `store` given here is the caller's to close."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.start_error = None
        # numba's start (half a second) in a thread of its own, off the first requests' path
        threading.Thread(target=start_compiled, name="numba-start", daemon=True).start()
        try:
            app.state.store = await run_in_threadpool(start_store, settings, store)
        except Exception as exc:
            app.state.start_error = exc  # a server that only logs it can still be asked why
            raise
        try:
            yield
        finally:
            if store is None:
                await run_in_threadpool(app.state.store.close)

    app = FastAPI(
        title="griddispatch",
        version="0.1.0",
        summary="Grid governance: locate reports to grids, dispatch the nearest teams, and run "
                "the six-step closed loop with an audit trail.",
        docs_url=None,  # served from the installed copies by api.routes.front
        redoc_url=None,
        openapi_url="/openapi.json",
        dependencies=[Depends(params.refuse_unknown_query)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    # OGC API - Features answers input it cannot use with 400 (Core, /req/core/query-param-*)
    errors.install(app, bad_request=(ogc.router.prefix,))
    openapi.install(app, own_error_format=(open311.router.prefix, maps.router.prefix),
                    bad_request=(ogc.router.prefix,))

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError):
        if request.url.path.startswith("/open311/"):
            return open311.error_response(400, errors.readable(exc.errors()),
                                          open311.format_of(request))
        if request.url.path.startswith(maps.router.prefix):
            return maps._message(request, 422, _("Cannot show this page"), errors.readable(exc.errors()))
        if request.url.path.startswith(ogc.router.prefix):
            return await errors.validation_error_response(exc, status=400)
        return await errors.validation_error_response(exc)

    @app.exception_handler(open311.Open311Error)
    async def open311_refusal(request: Request, exc: open311.Open311Error):
        return open311.error_response(exc.status, exc.description, open311.format_of(request))

    @app.exception_handler(BodyEncodingError)
    async def body_encoding(request: Request, exc: BodyEncodingError):
        if request.url.path.startswith("/open311/"):
            return open311.error_response(exc.status_code, exc.detail, open311.format_of(request))
        return JSONResponse(errors.error_body(exc.code, exc.detail), status_code=exc.status_code)

    # basemap before layers: its /roads, /water and /labels are not layers/{layer}
    for module in (auth, issues, teams, basemap, layers, hotspots, plans, open311, maps, front):
        app.include_router(module.router)
    for module in (places, alarms):  # the live map's click and the devices' alarms
        app.include_router(module.router)
    app.include_router(boundaries.router)  # locate now or at a date, a grid's versions
    app.include_router(ogc.router)  # OGC API - Features for GIS clients (/ogc)
    app.include_router(tiles.router)  # vector tiles of grids and areas (/tiles)
    app.include_router(demo_marker.router)  # whether the database holds the demo city
    app.include_router(page_messages.router)  # the pages' message table (/i18n/)
    app.include_router(big_screen.router)  # the big screen's figures (/api/v1/dashboard)
    app.include_router(property_companies.router)  # the red/black list (/api/v1/property)
    app.include_router(whistles.router)  # the whistle (/api/v1/issues/{id}/whistle, /whistles)
    app.include_router(assessment.router)  # the monthly assessment (/api/v1/assessment)
    app.include_router(compound_layers.router)  # compounds, buildings and their heads
    app.include_router(disputes.router)  # dispute mediation (/api/v1/disputes)
    app.include_router(escalation.router)  # owning levels (/api/v1/issues/{id}/escalate)
    app.include_router(responsibility.router)  # four-level responsibility (四级包保)

    @app.get("/healthz", tags=["meta"], response_model=dict, responses={503: {
        "description": "the database does not answer: `detail` says why, `status` is down",
        "headers": {}}})  # the probe's own 503: it never times out into a Retry-After
    def health(served: Store = Depends(deps.store)) -> dict | JSONResponse:
        """Liveness, and whether the database answers within a few seconds with its schema
        version (public). A database that does not answer is reported as down, with 503."""
        schema, problem = served.health(HEALTH_TIMEOUT_S)
        if problem is not None:
            return JSONResponse(errors.error_body(
                "database_down", _("the database does not answer: {problem}").format(
                    problem=problem), status="down", backend=served.backend), status_code=503)
        return {"status": "ok", "backend": served.backend, "schema": schema}

    for name, directory in assets.MOUNTS.items():
        app.mount(f"{assets.PREFIX}/{name}", StaticFiles(directory=directory, check_dir=False),
                  name=f"static-{name}")

    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(BodyEncoding)  # inside BodyLimit: bodies are counted before decoding
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes,
                       larger={"/photos": settings.max_photo_bytes,
                               "/import": plans.MAX_FILE_BYTES + 64 * 1024})
    # outermost: refusals of the other middlewares are worded too. Static files and the
    # message tables (which say their own language) do not depend on the reader's.
    app.add_middleware(Language, fixed=(f"{assets.PREFIX}/", f"{page_messages.router.prefix}/"))
    return app
