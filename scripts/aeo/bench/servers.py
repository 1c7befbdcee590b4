"""The servers the HTTP benchmarks load, each started as its own process.

``python -m aeo.bench.servers registry --db-url URL --port N [--workers N]`` runs one
administration's registry API exactly as ``aeo serve`` does (``create_app``, uvicorn,
``access_log=False``: the app logs each request itself; ``--workers N``: N HTTP processes on
the port, as ``aeo serve --workers N``), with no background work and a rate limit no load
test reaches. With ``AEO_BENCH_BARE_ENDPOINT=1`` the benchmark adds
``GET /bench/bare``, an ``async`` FastAPI endpoint answering a constant JSON through the
same app, middleware and server: the ceiling the status lookup is compared with; and
``GET /bench/bare-sync``, the same as a plain ``def`` (run in the thread pool, as every
database route is). The production app never has these routes: only this launcher adds
them.

``python -m aeo.bench.servers member --data-dir DIR --authority MN --port N`` runs a
founded member's registry API from its ``registry.env`` as ``aeo serve`` does, workers
included (the import and propagation benchmarks); ``--import-chunk`` sets how many
certificates one import transaction issues (``ImportRunner.chunk_size``).

``python -m aeo.bench.servers verifier --cache PATH --port N`` runs the border
officer's page (``verifier.web.app``) on an offline cache, as ``aeo verifier serve
--offline`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

BARE_ENDPOINT_ENV = "AEO_BENCH_BARE_ENDPOINT"
BARE_PATH = "/bench/bare"
BARE_SYNC_PATH = "/bench/bare-sync"


#: how ``registry --workers N`` tells uvicorn's worker processes (started afresh) what to serve
_REGISTRY_ENV = "AEO_BENCH_REGISTRY"


def registry_app() -> FastAPI:
    """The registry API of ``registry`` (uvicorn's factory in each worker process)."""
    from registry_api.app import create_app
    from registry_api.settings import ChainKind, Settings

    spec = json.loads(os.environ[_REGISTRY_ENV])
    settings = Settings(
        authority=spec["authority"],
        data_dir=Path(spec["data_dir"]),
        database_url=spec["db_url"],
        chain=ChainKind.MEMORY,
        run_workers=False,
        rate_limit_per_minute=1_000_000_000,
        rate_limit_burst=1_000_000_000,
    )
    app = create_app(settings)
    if os.environ.get(BARE_ENDPOINT_ENV) == "1":

        async def bare() -> dict[str, str]:
            return {"status": "ok"}

        # A plain def, like every database route: FastAPI runs it in the thread pool.
        def bare_sync() -> dict[str, str]:
            return {"status": "ok"}

        app.add_api_route(BARE_PATH, bare, methods=["GET"], include_in_schema=False)
        app.add_api_route(BARE_SYNC_PATH, bare_sync, methods=["GET"], include_in_schema=False)
    return app


def _registry(args: argparse.Namespace) -> None:
    import uvicorn

    from aeo.serving import HEALTHCHECK_SECONDS

    os.environ[_REGISTRY_ENV] = json.dumps(
        {"authority": args.authority, "data_dir": args.data_dir, "db_url": args.db_url}
    )
    if args.workers == 1:
        uvicorn.run(registry_app(), host="127.0.0.1", port=args.port, access_log=False)
        return
    # N HTTP processes on one port, as aeo serve --workers N runs them (no background work).
    uvicorn.run(
        "aeo.bench.servers:registry_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        access_log=False,
        timeout_worker_healthcheck=HEALTHCHECK_SECONDS,  # as aeo serve --workers N
    )


def _member(args: argparse.Namespace) -> None:
    import contextlib
    from collections.abc import AsyncIterator

    import uvicorn

    from aeo.consortium import registry_settings
    from aeo.workspace import Workspace
    from registry_api.app import create_app

    app = create_app(registry_settings(Workspace(Path(args.data_dir)), args.authority))
    if args.import_chunk is not None:
        started = app.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(served: FastAPI) -> AsyncIterator[None]:
            async with started(served):
                served.state.import_worker.runner.chunk_size = args.import_chunk
                yield

        app.router.lifespan_context = lifespan
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False)


def _verifier(args: argparse.Namespace) -> None:
    import uvicorn

    from verifier.offline import OfflineCache
    from verifier.web.app import create_app

    cache = OfflineCache(Path(args.cache))
    page = create_app(lambda: cache, args.as_authority)
    uvicorn.run(page, host="127.0.0.1", port=args.port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aeo.bench.servers")
    commands = parser.add_subparsers(dest="command", required=True)
    registry = commands.add_parser("registry")
    registry.add_argument("--db-url", required=True)
    registry.add_argument("--data-dir", required=True)
    registry.add_argument("--port", type=int, required=True)
    registry.add_argument("--authority", default="MN")
    registry.add_argument("--workers", type=int, default=1)
    member = commands.add_parser("member")
    member.add_argument("--data-dir", required=True)
    member.add_argument("--authority", required=True)
    member.add_argument("--port", type=int, required=True)
    member.add_argument("--import-chunk", type=int)
    verifier = commands.add_parser("verifier")
    verifier.add_argument("--cache", required=True)
    verifier.add_argument("--port", type=int, required=True)
    verifier.add_argument("--as", dest="as_authority", default="KR")
    args = parser.parse_args(argv)
    if args.command == "registry":
        _registry(args)
    elif args.command == "member":
        _member(args)
    else:
        _verifier(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
