"""The state guard (contracts/anvil_guard.py) on files written by the test: it copies only a
complete state, never a file caught while it changes, and replaces its copy atomically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contracts import anvil_guard
from contracts.anvil_guard import (
    GOOD_FILE,
    STATE_FILE,
    StateGuard,
    read_settled,
    state_block,
    write_atomically,
)


def a_state(block: int, padding: int = 1000) -> bytes:
    """The shape of anvil's dump, with ``padding`` accounts to make it long."""
    accounts = {f"0x{n:040x}": {"nonce": n, "balance": "0x0"} for n in range(padding)}
    return json.dumps(
        {"block": {"number": hex(block)}, "accounts": accounts, "best_block_number": block}
    ).encode()


def written_long_ago(path: Path, data: bytes) -> None:
    """``data`` in ``path``, its modification time a second back (settled)."""
    path.write_bytes(data)
    past = time.time() - 1
    os.utime(path, (past, past))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def test_a_complete_state_parses_to_its_block_number() -> None:
    assert state_block(a_state(41)) == 41
    assert state_block(b'{"block": {"number": 7}}') == 7
    assert state_block(b'{"accounts": {}}') == -1  # complete, without a block number


@pytest.mark.parametrize("cut", [1, 100, 5000, -1])
def test_a_state_cut_anywhere_does_not_parse(cut: int) -> None:
    assert state_block(a_state(41)[:cut]) is None


def test_a_file_that_is_not_a_json_object_is_not_a_state() -> None:
    assert state_block(b"[1, 2]") is None
    assert state_block(b"\xff\xfe") is None
    assert state_block(b"") is None


def test_the_guard_copies_a_complete_state(folder: Path) -> None:
    state = a_state(12)
    written_long_ago(folder / STATE_FILE, state)
    guard = StateGuard(folder)
    assert guard.copy() is not None
    assert (folder / GOOD_FILE).read_bytes() == state
    assert guard.good_block == 12


def test_the_guard_never_copies_a_state_cut_short(folder: Path) -> None:
    complete = a_state(12)
    written_long_ago(folder / STATE_FILE, complete)
    guard = StateGuard(folder)
    guard.copy()
    written_long_ago(folder / STATE_FILE, a_state(13)[:-20])  # a kill during the next dump
    guard.copy()
    assert (folder / GOOD_FILE).read_bytes() == complete
    assert guard.good_block == 12
    written_long_ago(folder / STATE_FILE, a_state(14))  # the next dump, whole
    guard.copy()
    assert state_block((folder / GOOD_FILE).read_bytes()) == 14


def test_a_file_changed_a_moment_ago_is_left_for_a_later_look(folder: Path) -> None:
    (folder / STATE_FILE).write_bytes(a_state(3))
    assert read_settled(folder / STATE_FILE, settle=60.0) is None
    assert read_settled(folder / STATE_FILE, settle=0.0) is not None


def test_a_file_rewritten_during_the_read_is_not_taken(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """anvil truncates and writes the next dump while the guard reads: the bytes read could
    be the start of one dump and the end of the next, so they are dropped."""
    path = folder / STATE_FILE
    written_long_ago(path, a_state(3))
    real_fstat = os.fstat
    calls = 0

    def fstat_after_a_rewrite(fd: int) -> os.stat_result:
        nonlocal calls
        calls += 1
        if calls == 2:  # between the read's first and last look
            with path.open("r+b") as file:
                file.truncate(0)
                file.write(a_state(4))
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", fstat_after_a_rewrite)
    assert read_settled(path, settle=0.5) is None
    assert calls == 2


def test_an_unchanged_dump_is_not_parsed_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = a_state(5)
    written_long_ago(folder / STATE_FILE, state)
    guard = StateGuard(folder)
    guard.copy()
    parsed: list[bytes] = []

    def counted(data: bytes) -> int | None:
        parsed.append(data)
        return state_block(data)

    monkeypatch.setattr(anvil_guard, "state_block", counted)
    written_long_ago(folder / STATE_FILE, state)  # anvil rewrites an idle chain unchanged
    assert guard.copy() is not None
    assert parsed == []


def test_a_guard_started_on_an_existing_copy_keeps_it_until_a_complete_dump(folder: Path) -> None:
    write_atomically(folder / GOOD_FILE, a_state(9))
    written_long_ago(folder / STATE_FILE, a_state(10)[:50])
    guard = StateGuard(folder)
    assert guard.good_block == 9
    guard.copy()
    assert state_block((folder / GOOD_FILE).read_bytes()) == 9


def test_writing_atomically_leaves_no_temporary_file(folder: Path) -> None:
    write_atomically(folder / GOOD_FILE, b"{}")
    write_atomically(folder / GOOD_FILE, b'{"a": 1}')
    assert sorted(p.name for p in folder.iterdir()) == [GOOD_FILE]
    assert (folder / GOOD_FILE).read_bytes() == b'{"a": 1}'


def test_the_guard_copies_the_exit_dump_and_leaves_with_its_process(folder: Path) -> None:
    """``watch`` returns once the watched process is gone, after copying its last dump even
    when that dump is seconds younger than the settle time."""
    dump = folder / "exit-dump.json"
    dump.write_bytes(a_state(77))
    # The stand-in for anvil writes its exit dump and exits.
    copy = f"import shutil; shutil.copy({str(dump)!r}, {str(folder / STATE_FILE)!r})"
    with subprocess.Popen([sys.executable, "-c", copy]) as anvil:
        assert anvil.wait(60) == 0
    log = folder / "guard.log"
    StateGuard(folder, log).watch(anvil.pid)
    assert state_block((folder / GOOD_FILE).read_bytes()) == 77
    assert "state.good.json holds block 77" in log.read_text()
