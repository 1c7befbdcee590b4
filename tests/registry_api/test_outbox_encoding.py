"""The sender encodes contract calls with eth-abi from the function's ABI, not through
web3's slower ``encode_abi``: the bytes must be the very ones web3 builds, for every kind
of call the outbox sends, and a value the ABI cannot hold must fail the operation with a
clear reason rather than reach the chain. It also reads receipts without web3's log
formatting: the fields it keeps must be the ones web3 reads."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import sessionmaker

from contracts import calls
from contracts.bootstrap import Consortium
from contracts.calls import ContractCall, Issuance
from contracts.domain import ids
from contracts.domain.enums import AccountRole, KeyAlgorithm
from contracts.transactions import TxClient, sign
from registry_api.workers.sender import OutboxSender

ACCOUNT = "0x" + "ab" * 20


def items(count: int) -> list[Issuance]:
    return [
        Issuance(
            number=f"MN-AEO-{index:04d}",
            tiers=3,
            valid_from=date(2025, 1, 1),
            valid_until=date(2028, 1, 1),
            holder_ref=ids.holder_ref("TIN", f"{index}"),
            commitment=bytes([index % 256]) * 32,
        )
        for index in range(count)
    ]


CALLS = {
    "issue_batch": calls.issue_batch(items(100)),
    "issue": calls.issue("MN-1", 2, date(2025, 1, 1), date(2027, 1, 1), b"\x01" * 32, b"\x02" * 32),
    "amend": calls.amend(b"\x03" * 32, 3, b"\x04" * 32, b"\x05" * 32, 32),
    "renew": calls.renew(b"\x03" * 32, date(2030, 1, 1)),
    "suspend": calls.suspend(b"\x03" * 32, 1),
    "add_account": calls.add_account(ACCOUNT, int(AccountRole.OPERATOR)),
    "register_signing_key": calls.register_signing_key(b"\x07" * 32, KeyAlgorithm.EDDSA),
    "propose_mra": calls.propose_mra(["MN", "KR"], [3, 2], 20000, text_hash=b"\x08" * 32),
    "sign_mra": calls.sign_mra(1),
}


@pytest.fixture
def sender(consortium: Consortium) -> tuple[OutboxSender, TxClient]:
    tx = TxClient(consortium.chain, consortium.deployment)
    return OutboxSender(sessionmaker(), tx, consortium.member("MN").operator), tx


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_call_is_encoded_byte_for_byte_as_web3_encodes_it(
    sender: tuple[OutboxSender, TxClient], name: str
) -> None:
    outbox, tx = sender
    # As the outbox stores and reloads it: JSON, back to ABI-level values.
    call = ContractCall.from_json(CALLS[name].to_json())
    assert outbox._prepare(call) == tx.prepare(call)


def test_a_value_the_abi_cannot_hold_is_refused_with_the_reason(
    sender: tuple[OutboxSender, TxClient],
) -> None:
    outbox, _tx = sender
    call = ContractCall("registry", "suspend", (b"\x03" * 32, 300))
    with pytest.raises(ValueError, match="300"):
        outbox._prepare(call)


def send(tx: TxClient, consortium: Consortium, call: ContractCall) -> bytes:
    """Sign and broadcast ``call`` from MN's operator with a fixed gas limit (no estimate,
    so a call that reverts is still mined)."""
    account = consortium.member("MN").operator
    signed = sign(
        tx.prepare(call),
        account,
        nonce=tx.nonce(account.address),
        gas=300_000,
        fees=tx.fees(),
        chain_id=tx.chain_id,
    )
    return bytes(tx.broadcast(signed))


@pytest.mark.both_chains  # eth-tester answers integers, a node hex text
@pytest.mark.parametrize("reverts", [False, True], ids=["succeeded", "reverted"])
def test_a_mined_transaction_s_receipt_fields_are_read_as_web3_reads_them(
    sender: tuple[OutboxSender, TxClient], consortium: Consortium, reverts: bool
) -> None:
    outbox, tx = sender
    # Suspending a certificate nobody issued reverts; a batch of three issues succeeds.
    call = calls.suspend(b"\x03" * 32, 1) if reverts else calls.issue_batch(items(3))
    tx_hash = send(tx, consortium, call)
    receipt = tx.wait_receipt(tx_hash)  # on interval blocks the receipt comes with the block
    mined = outbox._mined(tx_hash)
    assert mined is not None
    assert mined.status == (0 if reverts else 1) == receipt["status"]
    assert mined.block_number == receipt["blockNumber"]
    assert mined.block_hash == bytes(receipt["blockHash"])
    assert mined.gas_used == receipt["gasUsed"] > 21_000


@pytest.mark.both_chains
def test_a_transaction_the_node_does_not_know_has_no_receipt(
    sender: tuple[OutboxSender, TxClient],
) -> None:
    outbox, _tx = sender
    assert outbox._mined(b"\x09" * 32) is None
