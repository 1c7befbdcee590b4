"""Real servers for the console's end-to-end tests: the OpenID provider (node, npm's
oidc-provider, ``oidc_provider.mjs``) and a registry served by uvicorn, each on 127.0.0.1 at
a free port, stopped when the test ends.

The registry's port is taken first (its socket bound), because the provider must know the
console's redirect URI and the registry's settings must know the provider's issuer.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

SCRIPT = Path(__file__).resolve().parent / "oidc_provider.mjs"
CLIENT_ID = "aeo-console"
PROVIDER_NAME = "Test IdP"
#: the provider's people and the registry's mapping of their ``roles`` claim
ROLE_MAPPING = {"aeo-issuing": "issuing_officer", "aeo-audit": "auditor"}
_START_TIMEOUT_S = 30.0


@contextmanager
def oidc_provider(
    redirect_uri: str, client_secret: str, log: Path, *, roles_in_userinfo: bool = False
) -> Iterator[str]:
    """Run the provider; yield its issuer URL."""
    command = ["node", str(SCRIPT), redirect_uri, client_secret]
    if roles_in_userinfo:
        command.append("--roles-in-userinfo")
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log_file, text=True, cwd=SCRIPT.parent
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line.startswith("ISSUER "):
                process.wait(timeout=10)
                raise RuntimeError(f"the OpenID provider did not start: {log.read_text()}")
            yield line.split(" ", 1)[1].strip()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(app: FastAPI, sock: socket.socket) -> Iterator[str]:
    """Serve ``app`` (with its lifespan: the database is migrated) on ``sock``."""
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="on", ws="none", http="h11", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT_S)
        sock.close()


@contextmanager
def registry_with_provider(
    make_app: Callable[[str | None], FastAPI],
    log: Path,
    *,
    client_secret: str,
    provider: bool = True,
    roles_in_userinfo: bool = False,
) -> Iterator[tuple[str, FastAPI]]:
    """A registry served at a free port, with a provider whose client redirects to it;
    ``make_app(issuer)`` builds the app once the provider is up."""
    sock = bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    if not provider:
        app = make_app(None)
        with serve(app, sock) as url:
            yield url, app
        return
    with oidc_provider(
        f"{base}/console/sso/callback", client_secret, log, roles_in_userinfo=roles_in_userinfo
    ) as issuer:
        app = make_app(issuer)
        with serve(app, sock) as url:
            yield url, app
