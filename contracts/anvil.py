"""Start, find and stop a real anvil process (Foundry's local node, from the npm package).

State lives in ``<data_dir>/anvil/``: ``state.json`` (the chain), ``anvil.json`` (pid, port and
settings of the running process, so ``aeo chain up|down|status`` can manage a background one)
and ``anvil.log``.

Persistence: anvil is started with ``--state state.json --state-interval N``; it loads the file
at start, rewrites it every N seconds and once more on a clean exit (SIGTERM / SIGINT). A
``kill -9`` therefore loses at most the last N seconds of blocks; the registry's outbox is built
to notice that (its transactions are missing) and resend them.

The chain is modelled on a consortium network: EVM ``london`` (what the contracts are compiled
for), base fee and gas price 0 (members do not pay each other for gas), while receipts keep
the real ``gasUsed``. anvil is started with no dev accounts: nothing can send from an unlocked
node account, and funding goes through ``anvil_setBalance`` (``contracts.chain.fund``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.errors import AnvilError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CHAIN_ID = 31337
DEFAULT_STATE_INTERVAL = 1
EVM_HARDFORK = "london"

STATE_FILE = "state.json"
PID_FILE = "anvil.json"
LOG_FILE = "anvil.log"


def anvil_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "anvil"


def find_anvil_binary() -> Path:
    """The anvil executable installed by ``npm ci``.

    The native binary of the platform package is preferred over ``node_modules/.bin/anvil``:
    that one is a node wrapper, and a ``kill -9`` of the wrapper would orphan the real node.
    """
    override = os.environ.get("AEO_ANVIL_BIN")
    if override:
        path = Path(override)
        if not path.is_file():
            raise AnvilError(f"AEO_ANVIL_BIN points to {path}, which does not exist")
        return path
    modules = PROJECT_DIR / "node_modules"
    candidates = sorted(modules.glob("@foundry-rs/anvil-linux-*/bin/anvil"))
    candidates += sorted(modules.glob("@foundry-rs/anvil-darwin-*/bin/anvil"))
    candidates.append(modules / ".bin" / "anvil")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise AnvilError(f"anvil is not installed under {modules} (run: npm ci)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class AnvilProcess:
    """A running anvil, started here (``popen`` set) or found through its pid file."""

    data_dir: Path
    pid: int
    port: int
    chain_id: int
    block_time: float | None
    state_interval: int
    binary: str
    started_at: float
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return anvil_dir(self.data_dir) / STATE_FILE

    @property
    def log_file(self) -> Path:
        return anvil_dir(self.data_dir) / LOG_FILE

    def is_alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _pid_is_anvil(self.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop cleanly: SIGTERM makes anvil write its state file before exiting."""
        self._signal_and_wait(signal.SIGTERM, timeout)
        if self.is_alive():
            self._signal_and_wait(signal.SIGKILL, timeout)
        _remove_pid_file(self.data_dir, self.pid)

    def kill(self) -> None:
        """Crash it (SIGKILL): the state since the last interval dump is lost, like a power cut."""
        self._signal_and_wait(signal.SIGKILL, 10.0)
        _remove_pid_file(self.data_dir, self.pid)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        if not self.is_alive():
            self._reap()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(timeout=0.1)
            else:
                time.sleep(0.05)
            if not self.is_alive():
                break
        self._reap()

    def _reap(self) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            self.popen.wait()
            _CHILDREN.pop(self.pid, None)


# Processes this Python process started, by pid: whoever stops one (even through its pid file)
# reaps it, so no zombie or "subprocess still running" warning is left behind.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _pid_is_anvil(pid: int) -> bool:
    """True when ``pid`` is a live anvil (guards against a recycled pid in a stale file)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the pid
    if not cmdline:  # a zombie
        return False
    executable = cmdline.split(b"\x00", 1)[0]
    return b"anvil" in executable


def _pid_file(data_dir: Path) -> Path:
    return anvil_dir(data_dir) / PID_FILE


def _remove_pid_file(data_dir: Path, pid: int) -> None:
    path = _pid_file(data_dir)
    with contextlib.suppress(OSError, ValueError, KeyError):
        if json.loads(path.read_text(encoding="utf-8"))["pid"] == pid:
            path.unlink()


def _rpc(url: str, method: str, timeout: float = 1.0) -> Any:
    """One JSON-RPC call with the standard library (no web3 needed to probe a node)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []})
    request = urllib.request.Request(  # noqa: S310 - the URL is always http://127.0.0.1
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())["result"]


def _answers(url: str, timeout: float = 1.0) -> int | None:
    """The chain id anvil reports at ``url``, or None when it does not answer."""
    try:
        return int(_rpc(url, "eth_chainId", timeout), 16)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_anvil(
    data_dir: Path,
    *,
    port: int | None = None,
    block_time: float | None = None,
    chain_id: int = DEFAULT_CHAIN_ID,
    state_interval: int = DEFAULT_STATE_INTERVAL,
    detach: bool = False,
    timeout: float = 30.0,
) -> AnvilProcess:
    """Start anvil on 127.0.0.1 with its state in ``<data_dir>/anvil/state.json``.

    ``port`` None picks a free one. ``block_time`` None mines a block per transaction;
    otherwise one block every ``block_time`` seconds. ``detach`` starts it in its own session
    so it outlives this process (``aeo chain up``). Waits until it answers JSON-RPC.
    Refuses to start a second anvil on the same data dir.
    """
    if block_time is not None and block_time <= 0:
        raise AnvilError(f"block_time must be positive or None (automine), got {block_time}")
    if state_interval < 1:
        raise AnvilError(f"state_interval must be at least 1 second, got {state_interval}")
    existing = running_anvil(data_dir)
    if existing is not None:
        raise AnvilError(
            f"an anvil already runs for {data_dir} (pid {existing.pid}, {existing.url}); "
            "stop it first (aeo chain down)"
        )
    binary = find_anvil_binary()
    folder = anvil_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    port = port if port is not None else free_port()
    args = [
        str(binary),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--hardfork", EVM_HARDFORK,
        "--state", str(folder / STATE_FILE),
        "--state-interval", str(state_interval),
        "--accounts", "0",
        "--base-fee", "0",
        "--gas-price", "0",
        "--disable-min-priority-fee",
    ]  # fmt: skip
    if block_time is not None:
        args += ["--block-time", f"{block_time:g}"]
    with (folder / LOG_FILE).open("ab") as log:
        popen = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built above
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
    _CHILDREN[popen.pid] = popen
    process = AnvilProcess(
        data_dir=Path(data_dir),
        pid=popen.pid,
        port=port,
        chain_id=chain_id,
        block_time=block_time,
        state_interval=state_interval,
        binary=str(binary),
        started_at=time.time(),
        popen=popen,
    )
    try:
        _wait_until_answering(process, timeout)
        _write_pid_file(process)
    except BaseException:
        process.kill()
        raise
    return process


def _wait_until_answering(process: AnvilProcess, timeout: float) -> None:
    assert process.popen is not None
    deadline = time.monotonic() + timeout
    while True:
        if process.popen.poll() is not None:
            raise AnvilError(
                f"anvil exited with code {process.popen.returncode} while starting on port "
                f"{process.port}:\n" + _log_tail(process.log_file)
            )
        answered = _answers(process.url, timeout=0.5)
        if answered is not None:
            if answered != process.chain_id:
                raise AnvilError(
                    f"the node at {process.url} reports chain id {answered}, expected "
                    f"{process.chain_id} (is another node on port {process.port}?)"
                )
            return
        if time.monotonic() > deadline:
            raise AnvilError(
                f"anvil did not answer within {timeout:g} s:\n" + _log_tail(process.log_file)
            )
        time.sleep(0.05)


def _write_pid_file(process: AnvilProcess) -> None:
    record = {
        "pid": process.pid,
        "port": process.port,
        "chain_id": process.chain_id,
        "block_time": process.block_time,
        "state_interval": process.state_interval,
        "binary": process.binary,
        "started_at": process.started_at,
        "data_dir": str(process.data_dir),
    }
    path = _pid_file(process.data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def running_anvil(data_dir: Path) -> AnvilProcess | None:
    """The anvil recorded for ``data_dir`` if it is alive and answering, else None (a stale
    pid file is removed)."""
    path = _pid_file(data_dir)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        process = AnvilProcess(
            data_dir=Path(data_dir),
            pid=int(record["pid"]),
            port=int(record["port"]),
            chain_id=int(record["chain_id"]),
            block_time=record.get("block_time"),
            state_interval=int(record.get("state_interval", DEFAULT_STATE_INTERVAL)),
            binary=str(record.get("binary", "")),
            started_at=float(record.get("started_at", 0.0)),
            popen=_CHILDREN.get(int(record["pid"])),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if not process.is_alive():
        path.unlink(missing_ok=True)
        return None
    # Alive is enough, answering or not: a node still loading a large state must not get a
    # second anvil started on the same state file.
    return process


def stop_anvil(data_dir: Path, timeout: float = 15.0) -> bool:
    """Stop the background anvil of ``data_dir``. False when none was running."""
    process = running_anvil(data_dir)
    if process is None:
        return False
    process.stop(timeout)
    return True


@dataclass(frozen=True)
class AnvilStatus:
    running: bool
    answering: bool
    pid: int | None
    url: str | None
    chain_id: int | None
    block_number: int | None
    state_file: Path


def anvil_status(data_dir: Path) -> AnvilStatus:
    """What ``aeo chain status`` prints."""
    state_file = anvil_dir(data_dir) / STATE_FILE
    process = running_anvil(data_dir)
    if process is None:
        return AnvilStatus(False, False, None, None, None, None, state_file)
    block = _block_number(process.url)
    return AnvilStatus(
        True, block is not None, process.pid, process.url, process.chain_id, block, state_file
    )


def _block_number(url: str) -> int | None:
    try:
        return int(_rpc(url, "eth_blockNumber"), 16)
    except (OSError, ValueError, KeyError, TypeError):
        return None
