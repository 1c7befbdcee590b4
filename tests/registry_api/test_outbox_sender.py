"""The outbox sender: crash at every step, foreign nonces, a chain that lost blocks, a
chain that is down. Each ends with every accepted operation applied exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from hexbytes import HexBytes
from web3 import Web3

from contracts.anvil import free_port
from contracts.bootstrap import new_account
from contracts.chain import Chain, ChainSettings, revert_to_snapshot, snapshot
from contracts.deploy import Deployment
from contracts.domain import ids
from contracts.domain.enums import AccountRole
from contracts.errors import TransactionPoolFullError
from contracts.transactions import SignedTx, TxClient
from contracts.writer import RegistryWriter
from registry_api.app import create_app
from registry_api.db import Operation, OperationState, Role
from registry_api.keystore import create_operator_key
from registry_api.workers import ChainAccess
from registry_api.workers.sender import MAX_REJECTIONS, FailPoint, OutboxSender, SimulatedCrash

from .certificate_data import (
    assert_index_equals_chain,
    issue,
    issued_count,
    operation,
    post,
    record_body,
)
from .conftest import ChainApp, ChainAppFactory, new_database_url
from .support import make_settings

# Slow, so not in `make test-fast` (`make test` runs it): the sender against chain failures.
pytestmark = pytest.mark.slow

NUMBER = "MN-AEO-2025-0001"


def new_sender(mn: ChainApp, *fail_points: FailPoint) -> OutboxSender:
    """A sender as a fresh process would build it (nothing remembered but the database)."""
    consortium = mn.consortium
    return OutboxSender(
        mn.app.state.session_factory,
        TxClient(consortium.chain, consortium.deployment),
        consortium.member(mn.authority).operator,
        fail_points=fail_points,
    )


def operator_nonce(mn: ChainApp) -> int:
    address = mn.consortium.member(mn.authority).operator.address
    return int(mn.consortium.chain.w3.eth.get_transaction_count(address))


def the_operation(mn: ChainApp) -> Operation:
    with mn.session() as session:
        return session.scalars(sa.select(Operation)).one()


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


@pytest.mark.parametrize("point", list(FailPoint))
def test_a_sender_killed_at_any_step_leaves_exactly_one_transaction(
    mn: ChainApp, point: FailPoint
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    accepted = issue(mn, officer, NUMBER)
    before = operator_nonce(mn)

    with pytest.raises(SimulatedCrash):
        new_sender(mn, point).run_once()
    crashed = the_operation(mn)
    assert crashed.signed_raw_tx is not None
    assert crashed.nonce == before
    if point is FailPoint.AFTER_SIGN:
        assert crashed.state is OperationState.SIGNED
        assert operator_nonce(mn) == before  # nothing left the process

    restarted = new_sender(mn)
    restarted.run_until_idle()
    done = operation(mn, officer, accepted["id"])
    assert done["state"] == "confirmed"
    assert done["tx_hash"] == "0x" + crashed.tx_hash.hex()  # the very bytes signed before
    assert operator_nonce(mn) == before + 1
    assert issued_count(mn, NUMBER) == 1
    mn.settle()
    assert_index_equals_chain(mn)


def test_a_crash_between_signing_and_broadcast_of_many_operations_keeps_their_order(
    mn: ChainApp,
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, NUMBER)
    post(mn.client, f"/v1/certificates/{NUMBER}/suspend", {"reason_code": 1}, officer)
    post(mn.client, f"/v1/certificates/{NUMBER}/reinstate", {"reason_code": 16}, officer)
    with pytest.raises(SimulatedCrash):
        new_sender(mn, FailPoint.AFTER_BROADCAST).run_once()
    new_sender(mn).run_until_idle()
    mn.settle()
    with mn.session() as session:
        states = session.scalars(sa.select(Operation.state).order_by(Operation.nonce)).all()
    assert states == [OperationState.CONFIRMED] * 3
    history = mn.client.get(f"/v1/certificates/{NUMBER}/history", headers=officer).json()
    assert [e["kind"] for e in history["data"]] == ["issued", "suspended", "reinstated"]


def test_a_nonce_taken_by_a_transaction_not_ours_is_detected_and_the_operation_resigned(
    mn: ChainApp,
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    accepted = issue(mn, officer, NUMBER)
    with pytest.raises(SimulatedCrash):
        new_sender(mn, FailPoint.AFTER_SIGN).run_once()
    stored = the_operation(mn)
    # Someone else signs with the operator key meanwhile (a script, another instance).
    mn.consortium.operator("MN").issue("MN-OTHER", 1, 20000, 21000, b"\x01" * 32, b"\x02" * 32)
    new_sender(mn).run_until_idle()
    done = operation(mn, officer, accepted["id"])
    assert done["state"] == "confirmed"
    assert done["nonce"] == stored.nonce + 1
    assert done["tx_hash"] != "0x" + stored.tx_hash.hex()
    assert issued_count(mn, NUMBER) == 1


def test_when_the_chain_loses_its_last_blocks_the_stored_transaction_is_sent_again(
    mn: ChainApp,
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    chain = mn.consortium.chain
    issue(mn, officer, "MN-KEPT")
    mn.settle()
    before_loss = snapshot(chain)
    accepted = issue(mn, officer, NUMBER)
    mn.settle()
    first = operation(mn, officer, accepted["id"])
    assert first["state"] == "confirmed"
    assert mn.client.get(f"/v1/certificates/{NUMBER}", headers=officer).json()["status"] == "active"

    revert_to_snapshot(chain, before_loss)  # the node restarted from an older state
    assert issued_count(mn, NUMBER) == 0

    mn.settle()
    again = operation(mn, officer, accepted["id"])
    assert again["state"] == "confirmed"
    assert again["tx_hash"] == first["tx_hash"]  # the stored bytes, not a new signature
    assert issued_count(mn, NUMBER) == 1
    assert issued_count(mn, "MN-KEPT") == 1
    assert mn.client.get(f"/v1/certificates/{NUMBER}", headers=officer).json()["status"] == "active"
    assert_index_equals_chain(mn)


def _second_operator(mn: ChainApp) -> LocalAccount:
    account = new_account(mn.consortium.chain)
    mn.consortium.admin("MN").add_account(account.address, AccountRole.OPERATOR)
    return account


def test_a_transaction_that_reverts_when_mined_fails_its_operation_with_the_reason(
    mn: ChainApp,
) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, NUMBER)
    mn.settle()
    accepted = post(mn.client, f"/v1/certificates/{NUMBER}/suspend", {"reason_code": 1}, officer)
    with pytest.raises(SimulatedCrash):
        new_sender(mn, FailPoint.AFTER_SIGN).run_once()
    # Another operator of MN revokes it between our signing and our broadcast.
    other = RegistryWriter(mn.consortium.chain, mn.consortium.deployment, _second_operator(mn))
    other.revoke(ids.certificate_id("MN", NUMBER), 5)
    new_sender(mn).run_until_idle()
    failed = operation(mn, officer, accepted.json()["id"])
    assert failed["state"] == "failed"
    assert failed["block_number"] is not None
    assert failed["error"].startswith("CertificateAlreadyRevoked: the transaction was mined")
    mn.settle()
    assert (
        mn.client.get(f"/v1/certificates/{NUMBER}", headers=officer).json()["status"] == "revoked"
    )


class _FullPool(TxClient):
    """A node whose pool has no room for the first ``refusals`` broadcasts (a busy Besu
    network; Besu does not run here, so this stands in for it), then takes them."""

    def __init__(self, chain: Chain, deployment: Deployment, refusals: int) -> None:
        super().__init__(chain, deployment)
        self.refusals = refusals

    def broadcast(self, signed: SignedTx | bytes) -> HexBytes:
        if self.refusals > 0:
            self.refusals -= 1
            raise TransactionPoolFullError("the node has no room: Transaction pool is full")
        return super().broadcast(signed)


def test_a_full_transaction_pool_makes_operations_wait_not_fail(mn: ChainApp) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    accepted = [issue(mn, officer, f"{NUMBER}-{n}")["id"] for n in range(2)]
    consortium = mn.consortium
    full = _FullPool(consortium.chain, consortium.deployment, refusals=1_000)
    sender = OutboxSender(
        mn.app.state.session_factory, full, consortium.member(mn.authority).operator
    )
    for _ in range(MAX_REJECTIONS + 5):
        sender.run_once()
    waiting = [operation(mn, officer, id_) for id_ in accepted]
    assert {o["state"] for o in waiting} <= {"pending", "signed"}
    assert full.refusals < 1_000 - MAX_REJECTIONS  # more refusals than would fail it before
    full.refusals = 0  # blocks drained the pool
    sender.run_until_idle()
    done = [operation(mn, officer, id_) for id_ in accepted]
    assert [o["state"] for o in done] == ["confirmed", "confirmed"]
    assert done[1]["nonce"] == done[0]["nonce"] + 1
    assert [issued_count(mn, f"{NUMBER}-{n}") for n in range(2)] == [1, 1]


@pytest.fixture
def dead_chain() -> Chain:
    """A node that does not answer: nothing listens on its port."""
    url = f"http://127.0.0.1:{free_port()}"
    return Chain("rpc", Web3(Web3.HTTPProvider(url)), ChainSettings(kind="rpc", rpc_url=url))


def test_writes_are_accepted_while_the_chain_is_down_and_applied_when_it_is_back(
    tmp_path: Path, mn: ChainApp, dead_chain: Chain
) -> None:
    consortium = mn.consortium
    settings = make_settings(
        tmp_path / "outage",
        new_database_url(tmp_path / "outage"),
        authority="MN",
        run_workers=False,
    )
    down = ChainAccess(dead_chain, consortium.deployment, consortium.member("MN").operator)
    with TestClient(create_app(settings, chain_access=down)) as client:
        app = client.app
        token = ChainApp("MN", app, client, consortium).token(Role.ISSUING_OFFICER)
        headers = {"Authorization": f"Bearer {token}"}
        accepted = post(client, "/v1/certificates", record_body(NUMBER), headers)
        assert accepted.status_code == 202
        workers = app.state.workers
        assert workers.sender.run_once() == 0
        assert workers.indexer.run_once() == 0
        ready = client.get("/readyz")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["chain"]["ok"] is False
        assert checks["sender"]["ok"] is False
        assert (
            client.get(f"/v1/operations/{accepted.json()['id']}", headers=headers).json()["state"]
            == "pending"
        )

    up = ChainAccess(consortium.chain, consortium.deployment, consortium.member("MN").operator)
    with TestClient(create_app(settings, chain_access=up)) as client:
        back = ChainApp("MN", client.app, client, consortium)
        back.settle()
        assert operation(back, headers, accepted.json()["id"])["state"] == "confirmed"
        assert client.get("/readyz").status_code == 200
    assert issued_count(mn, NUMBER) == 1


def test_metrics_show_the_outbox_depth_and_confirmation_times(mn: ChainApp) -> None:
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, NUMBER)
    text = mn.client.get("/metrics").text
    assert 'aeo_outbox_depth{state="pending"} 1.0' in text
    mn.settle()
    text = mn.client.get("/metrics").text
    assert 'aeo_outbox_depth{state="pending"} 0.0' in text
    assert 'aeo_operation_confirmation_seconds_count{kind="issue"} 1.0' in text
    assert 'aeo_operations_finished_total{kind="issue",outcome="confirmed"} 1.0' in text
    assert "aeo_indexer_lag_blocks 0.0" in text


def test_a_service_configured_for_a_node_that_is_down_starts_and_accepts_writes(
    tmp_path: Path, mn: ChainApp
) -> None:
    """Settings only (deployment file, rpc URL, encrypted operator key), as in production:
    the node does not answer at start-up, yet the service serves and queues writes."""
    consortium = mn.consortium
    data_dir = tmp_path / "configured"
    consortium.deployment.save(data_dir / "deployment.json")
    passphrase = "correct horse battery staple"
    create_operator_key(
        data_dir / "operator-key.json",
        passphrase,
        private_key=consortium.member("MN").operator.key,
        scrypt_n=2**4,
    )
    settings = make_settings(
        data_dir,
        new_database_url(data_dir),
        chain="rpc",
        rpc_url=f"http://127.0.0.1:{free_port()}",
        passphrase=passphrase,
        deployment_file=data_dir / "deployment.json",
        operator_key_file=data_dir / "operator-key.json",
        run_workers=True,
    )
    with TestClient(create_app(settings)) as client:
        service = ChainApp("MN", client.app, client, consortium)
        headers = service.headers(Role.ISSUING_OFFICER)
        accepted = post(client, "/v1/certificates", record_body(NUMBER), headers)
        assert accepted.status_code == 202
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["chain"]["ok"] is False
        assert service.workers.sender is not None
        assert service.workers.sender.address == consortium.member("MN").operator.address
        assert operation(service, headers, accepted.json()["id"])["state"] == "pending"
