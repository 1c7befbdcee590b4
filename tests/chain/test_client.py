"""The typed client: reads as dataclasses, every write, and the outbox's sign-then-send path."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.providers import BaseProvider
from web3.types import RPCEndpoint, RPCResponse

from contracts import calls, reader as reader_module
from contracts.bootstrap import Consortium
from contracts.calls import ContractCall, Issuance
from contracts.chain import Chain, ChainSettings, advance_time, latest_timestamp
from contracts.domain import days, ids
from contracts.domain.enums import (
    AccountRole,
    AuthorityStatus,
    CertificateStatus,
    EffectiveStatus,
    KeyAlgorithm,
    MembershipAction,
    MraState,
    MraStatus,
    ProposalStatus,
    ReasonCode,
    RecognitionReason,
    Tier,
)
from contracts.errors import NonceConflictError, TransactionPoolFullError, TransactionRejectedError
from contracts.reader import RegistryReader
from contracts.transactions import Fees, TxClient, TxRequest, sign

SOURCES = Path(reader_module.__file__).resolve().parent / "src"
S = Tier.SECURITY_SAFETY


def _today(consortium: Consortium) -> int:
    return days.day_of(latest_timestamp(consortium.chain))


def _reader(consortium: Consortium) -> RegistryReader:
    return RegistryReader(consortium.chain, consortium.deployment)


# --- mirrors of the Solidity definitions -------------------------------------------------------


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper()


def test_the_python_enums_mirror_the_solidity_enums() -> None:
    mirrors = {
        "AuthorityStatus": AuthorityStatus,
        "MembershipAction": MembershipAction,
        "ProposalStatus": ProposalStatus,
        "CertificateStatus": CertificateStatus,
        "EffectiveStatus": EffectiveStatus,
        "MraState": MraState,
        "MraStatus": MraStatus,
        "RecognitionReason": RecognitionReason,
    }
    declared = {}
    for path in SOURCES.rglob("*.sol"):
        for name, body in re.findall(r"enum\s+(\w+)\s*\{([^}]*)\}", path.read_text()):
            declared[name] = [_upper_snake(m.strip()) for m in body.split(",") if m.strip()]
    assert set(declared) == set(mirrors)
    for name, members in declared.items():
        assert [m.name for m in mirrors[name]] == members, name
        assert [m.value for m in mirrors[name]] == list(range(len(members))), name


def test_reason_codes_tiers_and_roles_mirror_the_solidity_constants() -> None:
    reasons = dict(
        re.findall(
            r"uint8 internal constant (\w+) = (\d+);", (SOURCES / "ReasonCodes.sol").read_text()
        )
    )
    assert {m.name: m.value for m in ReasonCode} == {k: int(v) for k, v in reasons.items()}
    tiers = dict(
        re.findall(
            r"uint8 internal constant (\w+) = 1 << (\d);", (SOURCES / "Tiers.sol").read_text()
        )
    )
    assert {m.name: m.value for m in Tier} == {k: 1 << int(v) for k, v in tiers.items()}
    roles = dict(
        re.findall(
            r"uint8 constant ROLE_(\w+) = (\d+);",
            (SOURCES / "interfaces" / "IAuthorities.sol").read_text(),
        )
    )
    assert {m.name: m.value for m in AccountRole} == {k: int(v) for k, v in roles.items()}


# --- reads ---------------------------------------------------------------------------------------


@pytest.mark.both_chains
def test_the_clients_certificate_id_and_digest_agree_with_the_contracts(
    consortium: Consortium,
) -> None:
    reader = _reader(consortium)
    for issuer, number in [("MN", "MN-AEO-2025-000001"), ("KR", "A/1.2-3"), ("EAEU", "9")]:
        assert reader.certificate_id(issuer, number) == ids.certificate_id(issuer, number)
    holder = ids.holder_ref("EORI", "mn 123 456")
    commitment = os.urandom(32)
    assert reader.record_digest(holder, commitment) == ids.record_digest(holder, commitment)

    today = _today(consortium)
    consortium.operator("MN").issue("MN-DIGEST-1", S, today, today + 10, holder, commitment)
    stored = reader.get_certificate(ids.certificate_id("MN", "MN-DIGEST-1"))
    assert stored.digest == ids.record_digest(holder, commitment)


@pytest.mark.both_chains
def test_an_unknown_certificate_reads_as_unknown_never_as_active(consortium: Consortium) -> None:
    reader = _reader(consortium)
    unknown = ids.certificate_id("MN", "MN-NOBODY")
    certificate = reader.get_certificate(unknown)
    assert not certificate.known
    assert certificate.status is CertificateStatus.NONE
    assert certificate.effective_status is EffectiveStatus.UNKNOWN
    assert certificate.issuer is None
    assert reader.status_of(unknown) is EffectiveStatus.UNKNOWN
    recognition = reader.recognizes("KZ", unknown)
    assert not recognition.recognized
    assert recognition.reason is RecognitionReason.UNKNOWN_CERTIFICATE


@pytest.mark.both_chains
def test_the_consortium_reads_back_as_dataclasses(consortium: Consortium) -> None:
    reader = _reader(consortium)
    assert reader.member_codes() == ["MN", "KZ", "KR"]
    assert reader.active_member_count() == 3
    assert reader.bootstrapper() is None
    mn = reader.get_authority("MN")
    assert mn.status is AuthorityStatus.ACTIVE
    assert mn.name == "Mongolia Customs General Administration"
    member = consortium.member("MN")
    assert set(mn.accounts) == {member.admin.address, member.operator.address}
    operator = reader.account_of(member.operator.address)
    assert (operator.authority, operator.roles, operator.authority_active) == (
        "MN",
        AccountRole.OPERATOR,
        True,
    )
    assert not reader.account_of(Account.create().address).authority
    assert not reader.get_authority("XX").known


# --- writes: every function -------------------------------------------------------------------


@pytest.mark.both_chains
def test_a_certificate_goes_through_its_whole_lifecycle(consortium: Consortium) -> None:
    reader = _reader(consortium)
    operator = consortium.operator("MN")
    today = _today(consortium)
    operator.issue("MN-LIFE-1", S, today, today + 365, os.urandom(32), os.urandom(32))
    certificate = ids.certificate_id("MN", "MN-LIFE-1")

    holder, commitment = os.urandom(32), os.urandom(32)
    operator.amend(certificate, S | Tier.CUSTOMS_SIMPLIFICATIONS, holder, commitment, 32)
    amended = reader.get_certificate(certificate)
    assert (amended.version, amended.tiers) == (2, S | Tier.CUSTOMS_SIMPLIFICATIONS)
    assert amended.digest == ids.record_digest(holder, commitment)

    operator.renew(certificate, today + 730)
    assert reader.get_certificate(certificate).valid_until == today + 730

    operator.suspend(certificate, ReasonCode.FAILED_AUDIT)
    assert reader.status_of(certificate) is EffectiveStatus.SUSPENDED
    operator.reinstate(certificate, ReasonCode.REMEDIED)
    assert reader.status_of(certificate) is EffectiveStatus.ACTIVE
    operator.revoke(certificate, ReasonCode.FRAUD)
    assert reader.get_certificate(certificate).status is CertificateStatus.REVOKED


@pytest.mark.both_chains
def test_a_batch_issues_every_certificate_with_dates_given_as_dates(
    consortium: Consortium,
) -> None:
    start = days.from_day(_today(consortium))
    items = [
        Issuance(f"MN-BATCH-{i}", S, start, date(2030, 12, 31), os.urandom(32), os.urandom(32))
        for i in range(5)
    ]
    consortium.operator("MN").issue_batch(items)
    reader = _reader(consortium)
    for item in items:
        stored = reader.get_certificate(ids.certificate_id("MN", item.number))
        assert stored.status is CertificateStatus.ACTIVE
        assert stored.valid_until_date == date(2030, 12, 31)


@pytest.mark.both_chains
def test_an_mra_is_proposed_signed_suspended_resumed_and_terminated(
    consortium: Consortium,
) -> None:
    reader = _reader(consortium)
    today = _today(consortium)
    consortium.operator("MN").propose_mra(["MN", "KZ"], [S, S], today, 0, os.urandom(32))
    (mra_id,) = reader.mras_of("KZ")
    assert reader.mra_status(mra_id) is MraStatus.PROPOSED

    consortium.operator("KZ").sign_mra(mra_id)
    mra = reader.get_mra(mra_id)
    assert (mra.state, mra.status, mra.signed) == (
        MraState.SIGNED,
        MraStatus.IN_FORCE,
        (True, True),
    )
    assert mra.tiers_of("KZ") is S

    today = _today(consortium)
    consortium.operator("MN").issue("MN-MRA-1", S, today, today + 9, os.urandom(32), os.urandom(32))
    certificate = ids.certificate_id("MN", "MN-MRA-1")
    assert reader.recognizes("KZ", certificate) == reader_module.Recognition(
        True, RecognitionReason.RECOGNIZED, mra_id
    )

    consortium.operator("KZ").suspend_mra(mra_id)
    assert reader.recognizes("KZ", certificate).reason is RecognitionReason.MRA_SUSPENDED
    consortium.operator("KZ").resume_mra(mra_id)
    assert reader.mra_status(mra_id) is MraStatus.IN_FORCE
    consortium.operator("MN").terminate_mra(mra_id)
    assert reader.mra_status(mra_id) is MraStatus.TERMINATED
    assert reader.recognizes("KR", certificate).reason is RecognitionReason.NO_MRA


@pytest.mark.both_chains
def test_admins_manage_accounts_keys_and_membership_votes(consortium: Consortium) -> None:
    reader = _reader(consortium)
    admin = consortium.admin("MN")

    extra = Account.create().address
    admin.add_account(extra, AccountRole.OPERATOR | AccountRole.ADMIN)
    assert reader.account_of(extra).roles == AccountRole.OPERATOR | AccountRole.ADMIN
    admin.remove_account(extra)
    assert reader.account_of(extra).authority is None

    es256 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    )
    eddsa = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    admin.register_signing_key(es256, KeyAlgorithm.ES256)
    admin.register_signing_key(eddsa, KeyAlgorithm.EDDSA)
    key = reader.get_signing_key(ids.key_id(es256))
    assert (key.authority, key.algorithm, key.public_key, key.revoked_at) == (
        "MN",
        KeyAlgorithm.ES256,
        es256,
        0,
    )
    assert reader.get_authority("MN").signing_keys == (ids.key_id(es256), ids.key_id(eddsa))
    advance_time(consortium.chain, 60)
    admin.revoke_signing_key(ids.key_id(eddsa))
    assert reader.get_signing_key(ids.key_id(eddsa)).revoked_at > 0
    assert not reader.get_signing_key(b"\x00" * 8).known

    newcomer = Account.create().address
    admin.propose_membership(MembershipAction.ADMIT, "UZ", "Uzbekistan Customs", newcomer)
    proposal = reader.get_proposal(1)
    assert (proposal.status, proposal.code, proposal.proposer) == (ProposalStatus.OPEN, "UZ", "MN")
    assert (proposal.approvals, proposal.required) == (1, 2)
    assert (reader.member_count(), reader.active_member_count()) == (3, 3)
    consortium.admin("KZ").vote(1)
    assert reader.get_proposal(1).status is ProposalStatus.EXECUTED
    assert reader.get_authority("UZ").status is AuthorityStatus.ACTIVE
    assert reader.has_voted(1, "KZ")
    assert reader.member_count() == 4


# --- the outbox path: sign now, broadcast later ------------------------------------------------


@pytest.mark.both_chains
def test_transactions_signed_ahead_with_explicit_nonces_apply_when_broadcast_later(
    consortium: Consortium,
) -> None:
    operator = consortium.member("MN").operator
    tx = TxClient(consortium.chain, consortium.deployment)
    today = _today(consortium)
    nonce = tx.nonce(operator.address)
    fees = tx.fees()
    signed = []
    for offset, number in enumerate(["MN-OUTBOX-1", "MN-OUTBOX-2"]):
        op = calls.issue(number, S, today, today + 9, os.urandom(32), os.urandom(32))
        stored = ContractCall.from_json(op.to_json())  # as the outbox persists it
        request = tx.prepare(stored)
        signed.append(
            sign(
                request,
                operator,
                nonce=nonce + offset,
                gas=tx.gas_limit(request, operator.address),
                fees=fees,
                chain_id=tx.chain_id,
            )
        )
    assert tx.nonce(operator.address) == nonce  # nothing left the process yet

    for item in signed:
        assert tx.broadcast(item.raw) == item.hash
    for item in signed:
        assert tx.check(tx.wait_receipt(item.hash, timeout=30))["status"] == 1
    # After a crash the outbox resends the same bytes: accepted, applied once.
    assert tx.broadcast(signed[0].raw) == signed[0].hash
    assert tx.nonce(operator.address) == nonce + 2
    reader = _reader(consortium)
    assert reader.get_certificate(ids.certificate_id("MN", "MN-OUTBOX-2")).known

    other = sign(
        tx.prepare(calls.suspend(ids.certificate_id("MN", "MN-OUTBOX-1"), ReasonCode.FAILED_AUDIT)),
        operator,
        nonce=nonce,
        gas=100_000,
        fees=fees,
        chain_id=tx.chain_id,
    )
    with pytest.raises(NonceConflictError) as caught:
        tx.broadcast(other)
    assert (caught.value.sender, caught.value.nonce) == (operator.address, nonce)


def test_every_operation_round_trips_through_json() -> None:
    kid = b"\x01" * 8
    ops = [
        calls.issue("MN-1", S, 20000, 20365, b"\x02" * 32, b"\x03" * 32),
        calls.issue_batch([Issuance("MN-2", S, 20000, 20365, b"\x02" * 32, b"\x03" * 32)]),
        calls.amend(b"\x04" * 32, S, b"\x02" * 32, b"\x03" * 32, ReasonCode.CORRECTION),
        calls.renew(b"\x04" * 32, 21000),
        calls.suspend(b"\x04" * 32, ReasonCode.FAILED_AUDIT),
        calls.reinstate(b"\x04" * 32, ReasonCode.REMEDIED),
        calls.revoke(b"\x04" * 32, ReasonCode.FRAUD),
        calls.bootstrap_member("MN", "Mongolia", "0x" + "11" * 20),
        calls.close_bootstrap(),
        calls.propose_membership(MembershipAction.SUSPEND, "KZ"),
        calls.vote(3),
        calls.add_account("0x" + "11" * 20, AccountRole.OPERATOR),
        calls.remove_account("0x" + "11" * 20),
        calls.register_signing_key(b"\x02" * 33, KeyAlgorithm.ES256, 0),
        calls.revoke_signing_key(kid),
        calls.propose_mra(["MN", "KZ"], [S, S], 20000, 0, b"\x05" * 32),
        calls.sign_mra(1),
        calls.suspend_mra(1),
        calls.resume_mra(1),
        calls.terminate_mra(1),
    ]
    for op in ops:
        restored = ContractCall.from_json(op.to_json())
        assert restored.contract == op.contract
        assert restored.function == op.function
        assert ContractCall.to_json(restored) == op.to_json()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: calls.issue("mn 1", S, 1, 2, b"\x00" * 32, b"\x00" * 32), "certificate number"),
        (lambda: calls.issue("MN-1", S, 1, 2, b"\x00" * 31, b"\x00" * 32), "holder_ref must be 32"),
        (lambda: calls.issue("MN-1", 256, 1, 2, b"\x00" * 32, b"\x00" * 32), "tiers must be"),
        (lambda: calls.renew(b"\x00" * 32, 70000), "valid_until must be a date"),
        (lambda: calls.add_account("not an address", 1), "account must be a 20-byte"),
        (lambda: calls.propose_mra(["MN", "kz"], [S, S], 1, 0, b"\x01" * 32), "authority code"),
        (lambda: calls.revoke_signing_key(b"\x01" * 7), "kid must be 8 bytes"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_operation_json_naming_an_unknown_function_is_refused() -> None:
    with pytest.raises(ValueError, match="has no function 'mint'"):
        ContractCall.from_json({"contract": "registry", "function": "mint", "args": []})


class _NodeThatRefuses(BaseProvider):
    """A node whose ``eth_sendRawTransaction`` answers one fixed error, as Besu and geth word
    them (neither runs here, so their words stand in for them); it knows no transaction."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == "eth_sendRawTransaction":
            return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": self.message}}
        return {"jsonrpc": "2.0", "id": 1, "result": None}


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Transaction pool is full", TransactionPoolFullError),
        ("txpool is full", TransactionPoolFullError),
        ("Transaction nonce is too distant from current sender nonce", TransactionPoolFullError),
        ("insufficient funds for gas * price + value", TransactionRejectedError),
        ("nonce too low", NonceConflictError),
    ],
)
def test_a_full_pool_is_told_apart_from_a_refused_transaction(
    message: str, error: type[Exception]
) -> None:
    signed = sign(
        TxRequest(to=to_checksum_address("0x" + "11" * 20), data=HexBytes(b"")),
        Account.create(),
        nonce=3,
        gas=21_000,
        fees=Fees(max_fee_per_gas=0, max_priority_fee_per_gas=0),
        chain_id=1,
    )
    chain = Chain("rpc", Web3(_NodeThatRefuses(message)), ChainSettings())
    with pytest.raises(error) as raised:
        TxClient(chain).broadcast(signed)
    assert type(raised.value) is error
