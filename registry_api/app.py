"""The registry service's FastAPI application.

``create_app(settings)`` wires one administration's service: database (migrated to the
latest schema at start-up), auth, rate limiting, error handlers, request middleware,
metrics and routes. Run it with ``python -m registry_api serve`` or
``uvicorn --factory registry_api.app:create_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.concurrency import run_in_threadpool

from contracts.recursion import restore_recursion_limit

from . import __version__
from .auth import RoleRequirement
from .console.app import MOUNT_PATH, create_console
from .db import make_engine, make_session_factory, upgrade_database
from .deps import reads_on_event_loop
from .errors import PROBLEM_MEDIA_TYPE, install_error_handlers
from .logs import configure_logging
from .metrics import Metrics
from .middleware import BodyLimitMiddleware, RequestContextMiddleware
from .ratelimit import TokenBucketLimiter
from .readiness import ReadinessCheck, database_check
from .routes import (
    admin_chain,
    certificates,
    credentials,
    documents,
    feed,
    health,
    imports,
    kpis,
    mras,
    operations,
    partner,
    public,
    recognition,
    snapshots,
    v1,
    webhooks as webhook_routes,
)
from .settings import Settings, get_settings
from .workers import ChainAccess, start_background, stop_background

DESCRIPTION = """\
One customs administration's registry of AEO certificates and Mutual Recognition
Arrangements, backed by the consortium chain.

Authenticate with an API key: `Authorization: Bearer aeo_<prefix>_<secret>`.
Every error is an `application/problem+json` document (RFC 9457); an invalid request
names each offending field in `errors`. See docs/api.md.
"""

OPENAPI_TAGS = [
    {"name": "me", "description": "The calling key."},
    {"name": "api keys", "description": "Users and their API keys (administrators)."},
    {"name": "operations", "description": "Health, readiness and metrics (no key needed)."},
    {"name": "certificates", "description": "Issue and change certificates; search, history."},
    {"name": "accepted writes", "description": "Chain writes accepted with 202, to poll."},
    {
        "name": "certificate documents",
        "description": "QR code (PNG, SVG), payload, PDF, W3C Verifiable Credential.",
    },
    {
        "name": "credentials",
        "description": "What verifiers of W3C credentials read: status lists, context, DID.",
    },
    {"name": "bulk import", "description": "Load an existing AEO list from CSV or JSON."},
    {
        "name": "consortium administration",
        "description": "Signing keys, accounts and membership votes (administrators).",
    },
    {"name": "mras", "description": "Mutual Recognition Arrangements, and recognition."},
    {"name": "partners", "description": "Certificates a partner administration may read."},
    {"name": "feed", "description": "Every change, as cursor pages and a live stream."},
    {"name": "webhooks", "description": "Feed entries POSTed to partners' URLs, signed."},
    {"name": "kpis", "description": "The programme's KPIs and their targets."},
    {"name": "border checks", "description": "Border posts report their counts of checks."},
    {"name": "snapshot", "description": "The signed status snapshot border posts sync from."},
]


def _route_roles(app: FastAPI) -> dict[tuple[str, str], list[str]]:
    """(path, method) -> the roles its route admits (from its ``require_roles`` dependency)."""
    roles: dict[tuple[str, str], list[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for dependency in route.dependant.dependencies:
            if isinstance(dependency.call, RoleRequirement):
                for method in route.methods or ():
                    roles[(str(context.path), method.lower())] = sorted(
                        r.value for r in dependency.call.roles
                    )
    return roles


def _customise_openapi(app: FastAPI) -> None:
    """Two corrections to the generated document: error answers are
    ``application/problem+json`` (FastAPI files a response model under ``application/json``),
    and each operation states the roles it admits (``x-roles``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            roles = _route_roles(app)
            for path, item in document.get("paths", {}).items():
                for method, operation in item.items():
                    admitted = roles.get((path, method))
                    if admitted is not None:
                        operation["x-roles"] = admitted
                        note = "Roles: " + ", ".join(admitted) + "."
                        operation["description"] = (
                            f"{operation.get('description', '')}\n\n{note}".strip()
                        )
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if (
                            str(status).startswith(("4", "5"))
                            and PROBLEM_MEDIA_TYPE in content
                            and "application/json" in content
                        ):
                            schema = content.pop("application/json").get("schema")
                            content[PROBLEM_MEDIA_TYPE].setdefault("schema", schema)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def create_app(
    settings: Settings | None = None,
    *,
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    chain_access: ChainAccess | None = None,
) -> FastAPI:
    """Build the service for ``settings`` (default: from the ``AEO_*`` environment).

    ``readiness_checks`` adds named checks to ``/readyz`` beside the database's.
    ``chain_access`` hands the sender and the indexer a connected chain (tests, the demo);
    by default they connect as the settings say (``registry_api.workers``).
    """
    # This module's imports (web3, through the workers) raised it: a request must not be
    # able to overflow the C stack (contracts.recursion).
    restore_recursion_limit()
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.db_url)
    session_factory = make_session_factory(engine)
    metrics = Metrics()
    metrics.watch_outbox(session_factory)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(upgrade_database, engine)
        workers = await run_in_threadpool(start_background, app, chain_access)
        try:
            if settings.run_workers:
                # Refused (ConfigurationError) when SQLite's background work is another
                # process's: then everything built so far is closed again.
                await run_in_threadpool(workers.start)
            yield
        finally:
            await run_in_threadpool(stop_background, app)
            engine.dispose()

    app = FastAPI(
        title=f"AEO registry ({settings.authority})",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.reads_on_event_loop = reads_on_event_loop(engine)
    app.state.session_factory = session_factory
    app.state.metrics = metrics
    app.state.rate_limiter = TokenBucketLimiter(
        rate_per_second=settings.rate_limit_per_minute / 60, burst=settings.rate_limit_burst
    )
    app.state.readiness_checks = {"database": database_check(engine), **(readiness_checks or {})}

    _customise_openapi(app)
    install_error_handlers(app)
    # The last added runs first: the request context wraps the body limit, which wraps
    # everything that reads a body.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.include_router(health.router)
    app.include_router(v1)
    app.include_router(certificates.router, prefix="/v1")
    app.include_router(documents.router, prefix="/v1")
    app.include_router(credentials.router)
    app.include_router(imports.router, prefix="/v1")
    app.include_router(admin_chain.router, prefix="/v1")
    app.include_router(operations.router, prefix="/v1")
    app.include_router(mras.router, prefix="/v1")
    app.include_router(partner.router, prefix="/v1")
    app.include_router(recognition.router, prefix="/v1")
    app.include_router(public.api)
    app.include_router(public.page)
    app.include_router(feed.router, prefix="/v1")
    app.include_router(webhook_routes.router, prefix="/v1")
    app.include_router(kpis.router, prefix="/v1")
    app.include_router(snapshots.router, prefix="/v1")
    app.mount(MOUNT_PATH, create_console(app))
    return app
