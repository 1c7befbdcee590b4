"""``aeo serve`` and ``aeo worker``: one administration's registry as processes.

- ``aeo serve`` (the default, and ``make demo``): one process that answers HTTP and runs the
  background work (outbox sender, indexer, imports, webhooks).
- ``aeo serve --workers N``: N HTTP processes (uvicorn's workers, one port) that do no
  background work, beside one or more ``aeo worker`` processes that do it.

With SQLite one process may do the background work (registry_api.leadership): ``--workers``
above 1 with ``--background`` is refused before anything starts, and so is a second
background process on the same database. With PostgreSQL any number of processes may offer
to, and each job runs in one of them at a time.

uvicorn starts its worker processes afresh (spawned, not forked), so each builds its app
from the data directory through :func:`http_app`, told which one by ``_AEO_SERVE_*``
variables of this process's environment (not settings: the ``AEO_*`` settings of
``registry.env`` and the environment are read by every process as usual).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import make_url

from aeo import consortium as founding
from aeo.errors import UsageError
from aeo.workspace import Workspace
from registry_api.leadership import hold_sqlite_background
from registry_api.settings import Settings
from registry_api.workers import run_background

_DATA_DIR_ENV = "_AEO_SERVE_DATA_DIR"
_AUTHORITY_ENV = "_AEO_SERVE_AUTHORITY"
_BACKGROUND_ENV = "_AEO_SERVE_BACKGROUND"
#: seconds a worker process may take to answer uvicorn's health check (default 5)
HEALTHCHECK_SECONDS = 60


def serve_settings(workspace: Workspace, authority: str, *, background: bool) -> Settings:
    settings = founding.registry_settings(workspace, authority)
    return settings.model_copy(update={"run_workers": background})


def default_background(settings: Settings, workers: int) -> bool:
    """Without --background/--no-background: the settings' AEO_RUN_WORKERS (on unless set
    off) for one process; off for several, whose background work an aeo worker does."""
    return settings.run_workers and workers == 1


def is_sqlite(settings: Settings) -> bool:
    return make_url(settings.db_url).get_backend_name() == "sqlite"


def check_processes(settings: Settings, workers: int, background: bool) -> None:
    """Refuse, before anything starts, a layout that would make two SQLite writers."""
    if workers > 1 and background and is_sqlite(settings):
        raise UsageError(
            f"--workers {workers} with --background on SQLite would run the background work "
            f"(outbox sender, indexer, imports, webhooks) {workers} times on one database file, "
            "two writers of the same operator account. Run the HTTP processes without it "
            f"(aeo serve --workers {workers} --no-background) beside one aeo worker, or move "
            "to PostgreSQL (AEO_DATABASE_URL) where several workers may run"
        )


def serve(
    workspace: Workspace,
    authority: str,
    *,
    host: str,
    port: int,
    workers: int,
    background: bool,
) -> None:
    """Run the HTTP processes (and, with ``background``, the background work) until stopped."""
    import uvicorn

    from registry_api.app import create_app

    settings = serve_settings(workspace, authority, background=background)
    check_processes(settings, workers, background)
    hold = None
    if background and workers == 1:
        # Claimed here too, so a worker already running gets its clear message before
        # uvicorn starts (the app's start-up claims it again, in this same process).
        hold = hold_sqlite_background(settings.db_url)
    try:
        if workers == 1:
            # The app logs every request itself (JSON lines with the request id).
            uvicorn.run(create_app(settings), host=host, port=port, access_log=False)
            return
        os.environ[_DATA_DIR_ENV] = str(workspace.data_dir)
        os.environ[_AUTHORITY_ENV] = authority
        os.environ[_BACKGROUND_ENV] = "1" if background else "0"
        uvicorn.run(
            "aeo.serving:http_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            # A worker imports the app (web3, the contracts layer) before it can answer
            # uvicorn's health check: seconds on a busy machine, more than the default 5.
            timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
        )
    finally:
        if hold is not None:
            hold.release()


def http_app() -> FastAPI:
    """The app of one of ``aeo serve --workers N``'s processes (uvicorn's factory)."""
    from registry_api.app import create_app

    workspace = Workspace(Path(os.environ[_DATA_DIR_ENV]))
    background = os.environ.get(_BACKGROUND_ENV) == "1"
    return create_app(serve_settings(workspace, os.environ[_AUTHORITY_ENV], background=background))


def work(workspace: Workspace, authority: str) -> None:
    """``aeo worker``: the background work, no HTTP, until SIGTERM or Ctrl-C."""
    run_background(serve_settings(workspace, authority, background=True))
