"""Start, find and stop a real anvil process (Foundry's local node, from the npm package).

State lives in ``<data_dir>/anvil/``: ``state.json`` (the chain), ``state.good.json`` (the
last complete copy of it), ``anvil.json`` (pids, port and settings of the running process, so
``aeo chain up|down|status`` can manage a background one) and ``anvil.log``.

Persistence: anvil is started with ``--state state.json --state-interval N``; it loads the file
at start, rewrites it every N seconds and once more on a clean exit (SIGTERM / SIGINT). It
rewrites it in place (truncate, then write), so a ``kill -9`` during a write would leave a file
that cannot be loaded: a guard process (``contracts.anvil_guard``) runs beside anvil and keeps
each complete version as ``state.good.json``, and ``start_anvil`` starts from that copy when
``state.json`` does not parse, saying so (``restore_state``). A ``kill -9`` at any instant
therefore loses at most the last seconds of blocks (docs/operations.md has the measured
figure); the registry's outbox notices that (its transactions are missing) and resends them.

Block time: None mines a block per transaction (anvil's automine); a number of seconds mines
on that interval and only then, as a QBFT network does. ``set_default_block_time`` makes that
the default of every anvil this process starts (the tests' ``AEO_TEST_ANVIL_BLOCK_TIME``).

The chain is modelled on a consortium network: EVM ``london`` (what the contracts are compiled
for), base fee and gas price 0 (members do not pay each other for gas), while receipts keep
the real ``gasUsed``. anvil is started with no dev accounts: nothing can send from an unlocked
node account, and funding goes through ``anvil_setBalance`` (``contracts.chain.fund``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.anvil_guard import (
    GOOD_FILE,
    LOCK_FILE,
    STATE_FILE,
    process_alive,
    state_block,
    write_atomically,
)
from contracts.errors import AnvilError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CHAIN_ID = 31337
DEFAULT_STATE_INTERVAL = 1
EVM_HARDFORK = "london"

PID_FILE = "anvil.json"
LOG_FILE = "anvil.log"
#: seconds ``start_anvil`` waits for the guard of an anvil that just died to make its last copy
GUARD_WAIT = 30.0

logger = logging.getLogger(__name__)

_default_block_time: float | None = None


def set_default_block_time(seconds: float | None) -> None:
    """Make every anvil this process starts without a block time mine one block every
    ``seconds`` (None: one block per transaction, anvil's automine). The test suite sets it
    from ``AEO_TEST_ANVIL_BLOCK_TIME`` to run on a chain that mines like a QBFT network."""
    global _default_block_time
    if seconds is not None and seconds <= 0:
        raise AnvilError(f"the default block time must be positive or None, got {seconds}")
    _default_block_time = seconds


def default_block_time() -> float | None:
    """The block time ``start_anvil`` uses when it is given none."""
    return _default_block_time


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
    """A running anvil, started here (``popen`` set) or found through its pid file, and the
    guard that keeps the last complete copy of its state (``guard_pid``).

    ``restored`` says why this start did not load ``state.json`` as it was (None when it did).
    """

    data_dir: Path
    pid: int
    port: int
    chain_id: int
    block_time: float | None
    state_interval: int
    binary: str
    started_at: float
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    guard_pid: int | None = None
    restored: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path:
        return anvil_dir(self.data_dir) / STATE_FILE

    @property
    def good_state_file(self) -> Path:
        return anvil_dir(self.data_dir) / GOOD_FILE

    @property
    def log_file(self) -> Path:
        return anvil_dir(self.data_dir) / LOG_FILE

    def is_alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _pid_is_anvil(self.pid)

    def is_guarded(self) -> bool:
        """Whether the state guard still runs (it leaves when anvil does)."""
        return self.guard_pid is not None and _pid_is_guard(self.guard_pid)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop cleanly: SIGTERM makes anvil write its state file before exiting (and the
        guard copy it)."""
        self._signal_and_wait(signal.SIGTERM, timeout)
        if self.is_alive():
            self._signal_and_wait(signal.SIGKILL, timeout)
        self._wait_for_guard(timeout)
        _remove_pid_file(self.data_dir, self.pid)

    def kill(self) -> None:
        """Crash it (SIGKILL): the state since the last complete dump is lost, like a power
        cut. Returns once the guard has looked at the file anvil left and exited."""
        self._signal_and_wait(signal.SIGKILL, 10.0)
        self._wait_for_guard(GUARD_WAIT)
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

    def _wait_for_guard(self, timeout: float) -> None:
        """The guard leaves by itself once anvil is gone (after copying its exit dump); one
        that does not within ``timeout`` is killed."""
        if self.guard_pid is None:
            return
        guard = _CHILDREN.get(self.guard_pid)
        deadline = time.monotonic() + timeout
        while self.is_guarded() and time.monotonic() < deadline:
            if guard is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    guard.wait(timeout=0.1)
            else:
                time.sleep(0.05)
        if self.is_guarded():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.guard_pid, signal.SIGKILL)
        if guard is not None:
            guard.wait()
            _CHILDREN.pop(self.guard_pid, None)


# Processes this Python process started, by pid: whoever stops one (even through its pid file)
# reaps it, so no zombie or "subprocess still running" warning is left behind.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _cmdline(pid: int) -> bytes | None:
    """``pid``'s command line (empty for a zombie), or None without /proc (macOS)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""
    except OSError:
        return None


def _pid_is_anvil(pid: int) -> bool:
    """True when ``pid`` is a live anvil (guards against a recycled pid in a stale file)."""
    cmdline = _cmdline(pid)
    if cmdline is None:
        return process_alive(pid)  # no /proc (macOS): trust the pid
    if not cmdline:  # gone, or a zombie
        return False
    executable = cmdline.split(b"\x00", 1)[0]
    return b"anvil" in executable


def _pid_is_guard(pid: int) -> bool:
    """True when ``pid`` is a live state guard (not a recycled pid)."""
    cmdline = _cmdline(pid)
    if cmdline is None:
        return process_alive(pid)
    return b"contracts.anvil_guard" in cmdline and process_alive(pid)


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
    """Start anvil on 127.0.0.1 with its state in ``<data_dir>/anvil/state.json``, and its
    state guard.

    ``port`` None picks a free one. ``block_time`` None takes ``default_block_time()``
    (normally None: a block per transaction); otherwise one block every ``block_time``
    seconds. ``detach`` starts both processes in their own session so they outlive this
    process (``aeo chain up``). Waits until anvil answers JSON-RPC. Refuses to start a second
    anvil on the same data dir. A ``state.json`` cut short by a kill is replaced by the last
    complete copy first (``restore_state``; the returned process's ``restored`` says so).
    """
    if block_time is None:
        block_time = _default_block_time
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
    lock = _lock_state(folder)
    try:
        restored = restore_state(folder)
        if restored is not None:
            logger.warning("%s", restored)
            _note(folder / LOG_FILE, restored)
        with (folder / LOG_FILE).open("ab") as log:
            popen = subprocess.Popen(  # noqa: S603 - fixed binary, arguments built above
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=detach,
            )
            _CHILDREN[popen.pid] = popen
            try:
                guard = _start_guard(folder, popen.pid, lock, log, detach)
            except BaseException:
                popen.kill()  # never leave an anvil that nothing records running
                popen.wait()
                _CHILDREN.pop(popen.pid, None)
                raise
    finally:
        # The guard holds the lock now (the same open file, inherited): it is released when
        # the guard exits, after its last copy.
        os.close(lock)
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
        guard_pid=guard.pid,
        restored=restored,
    )
    try:
        _wait_until_answering(process, timeout)
        _write_pid_file(process)
    except BaseException:
        process.kill()
        raise
    return process


def restore_state(folder: Path) -> str | None:
    """Make ``folder/state.json`` a state anvil can load; returns what was done, or None when
    the file was loadable as it was (or absent: a new chain).

    A ``state.json`` that parses is anvil's own latest word and is loaded even when the copy
    is newer (an operator who restored an older state meant it); the copy is refreshed from
    it. One that does not parse (a dump cut short by a kill) is set aside as
    ``state.broken-<time>.json`` and replaced by ``state.good.json``; a missing one is
    restored from the copy too. Raises ``AnvilError`` when neither is complete.
    """
    live, good = folder / STATE_FILE, folder / GOOD_FILE
    live_data, good_data = _read_or_none(live), _read_or_none(good)
    if live_data is not None and state_block(live_data) is not None:
        if good_data != live_data:
            write_atomically(good, live_data)
        return None
    good_block = state_block(good_data) if good_data is not None else None
    if good_block is None:
        if live_data is None:
            return None
        raise AnvilError(
            f"{live} does not parse ({len(live_data):,} bytes: anvil was stopped while writing "
            f"it) and there is no complete copy ({good} is "
            f"{'missing' if good_data is None else 'incomplete too'}); move the file away to "
            "start a new, empty chain"
        )
    saved = datetime.fromtimestamp(good.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    copy = f"the last complete copy, {good.name} (block {good_block}, saved {saved})"
    if live_data is None:
        done = f"{live} is missing; starting from {copy}"
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        broken = live.with_name(f"state.broken-{stamp}.json")
        live.replace(broken)
        done = (
            f"{live} was cut short ({len(live_data):,} bytes: anvil was killed while writing "
            f"it); starting from {copy}; the cut file is kept as {broken.name}"
        )
    assert good_data is not None  # good_block was read from it
    write_atomically(live, good_data)
    return done


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _note(log: Path, message: str) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with contextlib.suppress(OSError), log.open("a", encoding="utf-8") as file:
        file.write(f"{stamp} aeo: {message}\n")


def _lock_state(folder: Path, timeout: float = GUARD_WAIT) -> int:
    """An open descriptor holding ``guard.lock`` exclusively: waits while the guard of an
    anvil that just died makes its last copy (it holds the lock until it exits)."""
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise AnvilError(
                    f"{folder / LOCK_FILE} is still held after {timeout:g} s: the state guard "
                    "of another anvil on this data directory runs (is an anvil running that "
                    "its pid file does not name?)"
                ) from None
            time.sleep(0.05)


def _start_guard(
    folder: Path, pid: int, lock: int, log: Any, detach: bool
) -> subprocess.Popen[bytes]:
    """``python -m contracts.anvil_guard`` watching anvil ``pid``, holding ``lock``."""
    args = [
        sys.executable, "-m", "contracts.anvil_guard",
        "--dir", str(folder), "--pid", str(pid), "--log", str(folder / LOG_FILE),
        "--lock-fd", str(lock),
    ]  # fmt: skip
    guard = subprocess.Popen(  # noqa: S603 - this interpreter, arguments built above
        args,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=detach,
        pass_fds=(lock,),
        cwd=PROJECT_DIR,
    )
    _CHILDREN[guard.pid] = guard
    return guard


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
        "guard_pid": process.guard_pid,
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
            guard_pid=record.get("guard_pid"),
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
