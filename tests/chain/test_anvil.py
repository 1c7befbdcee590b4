"""The anvil process: persisted state, crash behaviour, pid file management."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts import anvil, calls
from contracts.anvil import (
    anvil_dir,
    anvil_status,
    running_anvil,
    set_default_block_time,
    start_anvil,
    stop_anvil,
)
from contracts.anvil_guard import process_alive, state_block
from contracts.bootstrap import Consortium, bootstrap_consortium, new_account
from contracts.chain import Chain, ChainSettings, connect, latest_timestamp
from contracts.deploy import deploy, load_deployment
from contracts.domain import days, ids
from contracts.domain.enums import CertificateStatus, ReasonCode, Tier
from contracts.domain.events import CertificateIssued
from contracts.errors import AnvilError, ChainUnavailableError
from contracts.logs import fetch_events
from contracts.reader import RegistryReader
from contracts.transactions import TxClient, sign

pytestmark = pytest.mark.anvil


def _issue_one(consortium: Consortium, number: str) -> bytes:
    chain = consortium.chain
    today = days.day_of(latest_timestamp(chain))
    consortium.operator("MN").issue(
        number, Tier.SECURITY_SAFETY, today, today + 365, os.urandom(32), os.urandom(32)
    )
    return ids.certificate_id("MN", number)


def _founded(chain: Chain, data_dir: Path) -> Consortium:
    deployer = new_account(chain)
    deployment = deploy(chain, deployer, data_dir)
    return bootstrap_consortium(chain, deployment, deployer)


def _wait_for_state_dump(data_dir: Path, block: int, timeout: float = 30.0) -> None:
    """Until anvil's interval dump holds ``block`` (what a crash after that point keeps)."""
    state_file = anvil_dir(data_dir) / "state.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if int(json.loads(state_file.read_text())["block"]["number"], 16) >= block:
                return
        except (OSError, ValueError, KeyError):
            pass  # not written yet, or caught mid-write
        time.sleep(0.1)
    raise AssertionError(f"anvil did not dump block {block} within {timeout} s")


def test_a_clean_restart_keeps_certificates_and_their_events(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = ChainSettings(kind="anvil", data_dir=data_dir)
    with connect(settings) as chain:
        consortium = _founded(chain, data_dir)
        certificate = _issue_one(consortium, "MN-RESTART-1")
        head = chain.block_number()

    assert running_anvil(data_dir) is None
    with connect(settings) as chain:
        deployment = load_deployment(chain, data_dir)
        reader = RegistryReader(chain, deployment)
        assert chain.block_number() == head
        assert reader.get_certificate(certificate).status is CertificateStatus.ACTIVE
        assert reader.member_codes() == ["MN", "KZ", "KR"]
        issued = [e for e in fetch_events(chain, deployment) if isinstance(e, CertificateIssued)]
        assert [e.certificate_id for e in issued] == [certificate]


def test_a_kill_after_the_interval_dump_keeps_the_certificate(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = ChainSettings(kind="anvil", data_dir=data_dir)
    chain = connect(settings)
    try:
        consortium = _founded(chain, data_dir)
        certificate = _issue_one(consortium, "MN-CRASH-1")
        _wait_for_state_dump(data_dir, chain.block_number())
        assert chain.anvil is not None
        chain.anvil.kill()
    finally:
        chain.close()

    with connect(settings) as chain:
        reader = RegistryReader(chain, load_deployment(chain, data_dir))
        assert reader.get_certificate(certificate).status is CertificateStatus.ACTIVE


def _wait_for_good_copy(data_dir: Path, block: int, timeout: float = 30.0) -> None:
    """Until the guard's copy holds ``block``."""
    good = anvil_dir(data_dir) / "state.good.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (state_block(good.read_bytes()) or -1) >= block:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the guard did not copy block {block} within {timeout} s")


def test_a_state_file_cut_short_by_a_kill_is_replaced_by_the_last_complete_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A kill while anvil rewrites state.json leaves the start of a dump, which anvil cannot
    load: the next start loads the guard's copy instead, and says so."""
    data_dir = tmp_path / "data"
    settings = ChainSettings(kind="anvil", data_dir=data_dir)
    chain = connect(settings)
    try:
        consortium = _founded(chain, data_dir)
        certificate = _issue_one(consortium, "MN-CUT-1")
        head = chain.block_number()
        _wait_for_good_copy(data_dir, head)
        assert chain.anvil is not None
        guard = chain.anvil.guard_pid
        chain.anvil.kill()
    finally:
        chain.close()
    assert guard is not None
    assert not process_alive(guard)  # the guard left with anvil
    state = anvil_dir(data_dir) / "state.json"
    whole = state.read_bytes()
    state.write_bytes(whole[: len(whole) // 2])  # what a kill -9 during the write leaves

    with caplog.at_level(logging.WARNING, logger="contracts.anvil"), connect(settings) as chain:
        assert chain.anvil is not None
        assert chain.anvil.restored is not None
        assert chain.block_number() == head
        reader = RegistryReader(chain, load_deployment(chain, data_dir))
        assert reader.get_certificate(certificate).status is CertificateStatus.ACTIVE
    assert "state.json was cut short" in chain.anvil.restored
    assert f"state.good.json (block {head}," in chain.anvil.restored
    assert caplog.messages == [chain.anvil.restored]
    [broken] = anvil_dir(data_dir).glob("state.broken-*.json")
    assert broken.read_bytes() == whole[: len(whole) // 2]
    assert f"aeo: {chain.anvil.restored}" in (anvil_dir(data_dir) / "anvil.log").read_text()


def test_a_start_with_no_complete_state_is_refused_naming_both_files(tmp_path: Path) -> None:
    folder = anvil_dir(tmp_path)
    folder.mkdir()
    (folder / "state.json").write_bytes(b'{"block": {"number": "0x5"}, "accou')
    with pytest.raises(AnvilError) as refused:
        start_anvil(tmp_path)
    message = str(refused.value)
    assert f"{folder / 'state.json'} does not parse (35 bytes" in message
    assert f"there is no complete copy ({folder / 'state.good.json'} is missing)" in message
    assert "move the file away to start a new, empty chain" in message
    assert running_anvil(tmp_path) is None
    assert (folder / "state.json").read_bytes() == b'{"block": {"number": "0x5"}, "accou'


def test_a_clean_stop_leaves_the_copy_equal_to_the_exit_dump(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with connect(ChainSettings(kind="anvil", data_dir=data_dir)) as chain:
        consortium = _founded(chain, data_dir)
        _issue_one(consortium, "MN-STOP-1")
        head = chain.block_number()
        assert chain.anvil is not None
        process = chain.anvil
    assert not process.is_alive()
    assert not process.is_guarded()
    folder = anvil_dir(data_dir)
    assert (folder / "state.good.json").read_bytes() == (folder / "state.json").read_bytes()
    assert state_block((folder / "state.json").read_bytes()) == head


def test_a_state_restored_by_the_operator_is_loaded_even_when_the_copy_is_newer(
    tmp_path: Path,
) -> None:
    """An older state.json that parses is what the operator meant to run (a backup put back):
    it is loaded, not the guard's newer copy, which follows it."""
    data_dir = tmp_path / "data"
    settings = ChainSettings(kind="anvil", data_dir=data_dir)
    state = anvil_dir(data_dir) / "state.json"
    with connect(settings) as chain:
        consortium = _founded(chain, data_dir)
        older_head = chain.block_number()
    older = state.read_bytes()
    with connect(settings) as chain:
        _issue_one(Consortium(chain, consortium.deployment, consortium.members), "MN-NEWER-1")
        assert chain.block_number() > older_head
    state.write_bytes(older)
    with connect(settings) as chain:
        assert chain.anvil is not None
        assert chain.anvil.restored is None
        assert chain.block_number() == older_head
    assert (anvil_dir(data_dir) / "state.good.json").read_bytes() == state.read_bytes()


@pytest.fixture
def default_block_time() -> Iterator[None]:
    before = anvil.default_block_time()
    yield
    set_default_block_time(before)


@pytest.mark.usefixtures("default_block_time")
def test_the_default_block_time_applies_to_an_anvil_started_without_one(tmp_path: Path) -> None:
    set_default_block_time(1)
    with connect(ChainSettings(kind="anvil", data_dir=tmp_path)) as chain:
        assert chain.anvil is not None
        assert chain.anvil.block_time == 1
        start = chain.block_number()
        deadline = time.monotonic() + 30
        while chain.block_number() == start and time.monotonic() < deadline:
            time.sleep(0.1)
        assert chain.block_number() > start  # blocks come without any transaction


@pytest.mark.usefixtures("default_block_time")
def test_a_default_block_time_that_is_not_positive_is_refused() -> None:
    before = anvil.default_block_time()
    with pytest.raises(AnvilError, match="must be positive or None, got 0"):
        set_default_block_time(0)
    assert anvil.default_block_time() == before


def test_a_second_anvil_on_the_same_data_dir_is_refused(anvil_chain: Chain) -> None:
    assert anvil_chain.anvil is not None
    with pytest.raises(AnvilError, match="already runs"):
        start_anvil(anvil_chain.anvil.data_dir)


def test_status_follows_a_background_anvil_from_up_to_down(tmp_path: Path) -> None:
    assert not anvil_status(tmp_path).running
    process = start_anvil(tmp_path, detach=True)
    try:
        status = anvil_status(tmp_path)
        assert status.running
        assert status.answering
        assert status.pid == process.pid
        assert status.url == process.url
        assert status.block_number is not None
        if process.block_time is None:  # automine: no transaction, no block
            assert status.block_number == 0
        found = running_anvil(tmp_path)
        assert found is not None
        assert found.guard_pid == process.guard_pid
        assert found.is_guarded()
    finally:
        assert stop_anvil(tmp_path)
    assert not anvil_status(tmp_path).running
    assert not process.is_guarded()
    assert not stop_anvil(tmp_path)


def test_a_stale_pid_file_is_ignored_and_removed(tmp_path: Path) -> None:
    process = start_anvil(tmp_path)
    pid_file = anvil_dir(tmp_path) / "anvil.json"
    record = pid_file.read_text()
    process.stop()
    pid_file.write_text(record)  # as left behind by a crashed `aeo chain up`
    assert running_anvil(tmp_path) is None
    assert not pid_file.exists()


def test_interval_mining_uses_the_block_time(tmp_path: Path) -> None:
    settings = ChainSettings(kind="anvil", data_dir=tmp_path, block_time=1)
    with connect(settings) as chain:
        assert chain.anvil is not None
        assert chain.anvil.block_time == 1
        start = chain.block_number()
        deadline = time.monotonic() + 30
        while chain.block_number() == start and time.monotonic() < deadline:
            time.sleep(0.1)
        assert chain.block_number() > start


def test_a_dead_node_surfaces_as_chain_unavailable_on_reads_and_writes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    chain = connect(ChainSettings(kind="anvil", data_dir=data_dir))
    try:
        consortium = _founded(chain, data_dir)
        certificate = _issue_one(consortium, "MN-DOWN-1")
        operator = consortium.member("MN").operator
        tx = TxClient(chain, consortium.deployment)
        signed = sign(
            tx.prepare(calls.suspend(certificate, ReasonCode.FAILED_AUDIT)),
            operator,
            nonce=tx.nonce(operator.address),
            gas=100_000,
            fees=tx.fees(),
            chain_id=tx.chain_id,
        )
        assert chain.anvil is not None
        chain.anvil.kill()

        reader = RegistryReader(chain, consortium.deployment)
        with pytest.raises(ChainUnavailableError):
            reader.get_certificate(certificate)
        with pytest.raises(ChainUnavailableError):
            tx.broadcast(signed)
        with pytest.raises(ChainUnavailableError):
            tx.wait_receipt(signed.hash, timeout=5)
        with pytest.raises(ChainUnavailableError):
            consortium.operator("MN").revoke(certificate, ReasonCode.FRAUD)
    finally:
        chain.close()
