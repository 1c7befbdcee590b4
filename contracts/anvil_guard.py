"""Keep a checked copy of anvil's state file, so that a ``kill -9`` at any instant loses at
most the last seconds of blocks.

anvil rewrites ``state.json`` in place every ``--state-interval`` seconds: it truncates the
file, then writes the new state over tens to hundreds of milliseconds (the state grows with
the chain's history). A kill inside that window leaves a truncated file that anvil refuses to
load. The guard is a small process started beside anvil (``python -m contracts.anvil_guard``,
by :func:`contracts.anvil.start_anvil`; standard library only, so it starts in tens of
milliseconds) that copies each complete version of the file to ``state.good.json``:

- it reads the file once it has not changed for :data:`SETTLE` seconds, and keeps what it read
  only when the file's size and times did not change during the read, so the bytes are one
  version of the file and never the start of one dump followed by the end of the next;
- it parses them (``json.loads``): a proper prefix of a JSON document never parses, so a dump
  anvil is still writing, or one a kill cut short, is never copied;
- it writes the copy to a temporary file, syncs it and renames it over ``state.good.json``, so
  a crash of the guard or of the host leaves the previous copy or the new one, whole.

Identical dumps (anvil rewrites an idle chain's state unchanged every interval) are recognized
by their digest and cost no parse. A copy costs CPU in proportion to the state (about 120 ms
for 25 MB on this project's 2-core machine, docs/operations.md); the guard waits at least
:data:`COST_FACTOR` times its last copy's CPU time before the next, so it never takes more
than about a tenth of one core. When anvil exits, the guard copies its exit dump (SIGTERM and
SIGINT make anvil write one) if that dump is complete, then exits too.

:func:`contracts.anvil.start_anvil` loads ``state.json`` when it parses and otherwise starts
from ``state.good.json``, saying so. The guard holds an exclusive lock on ``guard.lock``
(inherited from ``start_anvil``) for its whole life, so the next start waits for a guard's
last copy before it chooses the file to load.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

STATE_FILE = "state.json"
GOOD_FILE = "state.good.json"
LOCK_FILE = "guard.lock"

#: seconds the file must be unchanged before it is read: anvil writes a dump in one go, so a
#: file that just changed is probably being written (only a cheap guess; the parse decides)
SETTLE = 0.05
#: seconds between two looks at the file
POLL = 0.1
#: the guard waits this many times its last copy's CPU time before copying again
COST_FACTOR = 9.0


def state_block(data: bytes) -> int | None:
    """The block number of a complete anvil state (``-1`` when a complete JSON object has no
    ``block.number``), or None when ``data`` is not a complete JSON object: a truncated dump."""
    try:
        state = json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return None
    if not isinstance(state, dict):
        return None
    block = state.get("block")
    number = block.get("number") if isinstance(block, dict) else None
    if isinstance(number, int):
        return number
    try:
        return int(number, 16) if isinstance(number, str) else -1
    except ValueError:
        return -1


def read_settled(path: Path, settle: float = SETTLE) -> tuple[os.stat_result, bytes] | None:
    """The bytes of ``path`` and its stat, when it was not modified for ``settle`` seconds and
    not during the read; None otherwise (missing, being written, or changed under us)."""
    try:
        before = path.stat()
    except FileNotFoundError:
        return None
    if time.time_ns() - before.st_mtime_ns < settle * 1e9:
        return None
    try:
        with path.open("rb") as file:
            opened = os.fstat(file.fileno())
            data = file.read()
            after = os.fstat(file.fileno())
    except FileNotFoundError:
        return None
    if not _same_version(before, opened) or not _same_version(before, after):
        return None
    if len(data) != before.st_size:
        return None
    return before, data


def _same_version(a: os.stat_result, b: os.stat_result) -> bool:
    # Truncating and writing change the size or the times (nanoseconds on ext4, xfs, btrfs,
    # tmpfs, APFS): a file whose mtime was SETTLE seconds old before the read and is the same
    # after it was not touched in between.
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a crash at any point leaves the old or the new
    content: a synced temporary file renamed over it, then the directory synced."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(path)
    _sync_directory(path.parent)


def _sync_directory(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped by its parent, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # "pid (comm) S ...": the state follows the last ')' (comm may hold spaces or parentheses)
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


class StateGuard:
    """Copies each complete version of ``folder/state.json`` to ``folder/state.good.json``."""

    def __init__(self, folder: Path, log: Path | None = None) -> None:
        self.live = folder / STATE_FILE
        self.good = folder / GOOD_FILE
        self.log_path = log
        self.good_block: int | None = None
        self._seen: tuple[int, int, int, int] | None = None
        self._digest: bytes | None = None
        good = _read(self.good)
        if good is not None:
            self._digest = _digest(good)
            self.good_block = state_block(good)

    def copy(self, settle: float = SETTLE) -> float | None:
        """Copy the live file if it holds a complete state not copied yet. Returns the CPU
        seconds spent reading, checking and writing, or None when nothing was read."""
        found = read_settled(self.live, settle)
        if found is None:
            return None
        stat, data = found
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if version == self._seen:
            return None
        self._seen = version  # complete or not, this version is judged once
        started = time.process_time()
        digest = _digest(data)
        if digest != self._digest:
            block = state_block(data)
            if block is None:
                return time.process_time() - started
            write_atomically(self.good, data)
            self._digest, self.good_block = digest, block
        return time.process_time() - started

    def watch(self, pid: int) -> None:
        """Copy while anvil ``pid`` runs, then its exit dump, if complete."""
        self.say(f"watching {self.live.name} of anvil (pid {pid})")
        next_copy = 0.0
        while process_alive(pid):
            time.sleep(POLL)
            if time.monotonic() < next_copy:
                continue
            cost = self.copy()
            if cost is not None:
                next_copy = time.monotonic() + COST_FACTOR * cost
        self._seen = None  # judge the exit dump even if its stat looks like a seen version
        self.copy(settle=0)
        if self.good_block is None:
            self.say("anvil exited; no complete state was seen")
        else:
            self.say(f"anvil exited; {self.good.name} holds block {self.good_block}")

    def say(self, message: str) -> None:
        if self.log_path is None:
            return
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with contextlib.suppress(OSError), self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"{stamp} aeo state guard: {message}\n")


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.anvil_guard",
        description="Copy each complete version of anvil's state.json to state.good.json "
        "while anvil runs (started by contracts.anvil.start_anvil).",
    )
    parser.add_argument("--dir", type=Path, required=True, help="anvil's folder (state.json)")
    parser.add_argument("--pid", type=int, required=True, help="anvil's process id")
    parser.add_argument("--log", type=Path, default=None, help="append notes to this file")
    parser.add_argument(
        "--lock-fd", type=int, default=None, help="an inherited descriptor of the held lock"
    )
    args = parser.parse_args(argv)
    # A Ctrl-C in the terminal reaches anvil too, which writes its exit dump: the guard stays
    # to copy it, and leaves when anvil is gone.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    guard = StateGuard(args.dir, args.log)
    try:
        guard.watch(args.pid)
    finally:
        if args.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(args.lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
