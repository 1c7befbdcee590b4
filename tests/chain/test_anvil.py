"""The anvil process: persisted state, crash behaviour, pid file management."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from contracts import ids
from contracts.anvil import (
    anvil_dir,
    anvil_status,
    running_anvil,
    start_anvil,
    stop_anvil,
)
from contracts.bootstrap import Consortium, bootstrap_consortium, new_account
from contracts.chain import Chain, ChainSettings, connect, latest_timestamp
from contracts.client import (
    CertificateStatus,
    Ops,
    ReasonCode,
    RegistryReader,
    Tier,
    TxClient,
    sign,
)
from contracts.deploy import deploy, load_deployment
from contracts.errors import AnvilError, ChainUnavailableError
from contracts.events import CertificateIssued, fetch_events

pytestmark = pytest.mark.anvil


def _issue_one(consortium: Consortium, number: str) -> bytes:
    chain = consortium.chain
    today = ids.day_of(latest_timestamp(chain))
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
        assert status.block_number == 0
    finally:
        assert stop_anvil(tmp_path)
    assert not anvil_status(tmp_path).running
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
            tx.prepare(Ops.suspend(certificate, ReasonCode.FAILED_AUDIT)),
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
