"""Child processes of the demo: start them, wait until they answer, stop them all.

Each child runs in its own session, so a Ctrl-C in the terminal reaches the demo alone and the
demo stops its children in order (SIGTERM, then SIGKILL after a grace period) instead of every
process racing to shut down at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aeo.errors import ServiceError, UsageError

STOP_GRACE_SECONDS = 15.0


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def require_free_ports(ports: Sequence[tuple[str, int]]) -> None:
    """Refuse to start when a port is taken, naming the option that chooses it."""
    for option, port in ports:
        if port_in_use(port):
            raise UsageError(
                f"{option}: port {port} on 127.0.0.1 is already in use by another program; "
                f"choose another with {option}"
            )


# Resolved here, not in the child: between fork and exec the child must not load libraries
# or take locks another thread of the parent (Rich's refresh thread) might hold.
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the parent dies (Linux), so a demo killed
    with SIGKILL leaves no service holding its port."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Child:
    """One running service."""

    name: str
    url: str
    log: Path
    popen: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_until_answering(self, path: str = "/healthz", timeout: float = 90.0) -> None:
        """Poll ``url + path`` until it answers 200; raise with the log's tail if the process
        exits or the time runs out."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not self.alive():
                    raise ServiceError(
                        f"{self.name} exited with code {self.popen.returncode} while starting; "
                        f"the end of {self.log}:\n{log_tail(self.log)}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + path).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"{self.name} did not answer at {self.url}{path} within {timeout:g} s; "
                        f"the end of {self.log}:\n{log_tail(self.log)}"
                    )
                time.sleep(0.2)

    def terminate(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_GRACE_SECONDS) -> int:
        """Stop cleanly (SIGTERM), or by force after ``timeout``; returns the exit code."""
        self.terminate()
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()


def start_child(
    name: str,
    args: Sequence[str],
    *,
    url: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    unset_prefix: str | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start ``args`` (run with this Python) in its own session, output appended to ``log``;
    variables starting with ``unset_prefix`` are not passed on (``AEO_ANVIL_BIN`` is)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    environment = {
        name: value
        for name, value in os.environ.items()
        if unset_prefix is None or not name.startswith(unset_prefix) or name == "AEO_ANVIL_BIN"
    }
    environment.update(env or {})
    with log.open("ab") as handle:
        popen = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name=name, url=url, log=log, popen=popen)


def stop_children(children: Sequence[Child], timeout: float = STOP_GRACE_SECONDS) -> None:
    """Stop every child: all get SIGTERM at once, then each is waited for (and killed if it
    outlives the grace period)."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout
    for child in children:
        child.stop(max(0.1, deadline - time.monotonic()))
