"""Reverts come back as typed exceptions carrying the error's decoded values."""

from __future__ import annotations

import os

import pytest

from contracts import calls
from contracts.bootstrap import Consortium
from contracts.chain import latest_timestamp
from contracts.domain import days, ids
from contracts.domain.enums import AccountRole, KeyAlgorithm, ReasonCode, Tier
from contracts.errors import (
    ConflictRevertError,
    InvalidRevertError,
    NotFoundRevertError,
    RevertCategory,
    TransactionFailedError,
    UnauthorizedRevertError,
)
from contracts.transactions import TxClient, sign

pytestmark = pytest.mark.both_chains


def _issue(consortium: Consortium, code: str, number: str) -> bytes:
    today = days.day_of(latest_timestamp(consortium.chain))
    consortium.operator(code).issue(
        number, Tier.SECURITY_SAFETY, today, today + 365, os.urandom(32), os.urandom(32)
    )
    return ids.certificate_id(code, number)


def test_another_authoritys_operator_gets_certificate_not_issuer(consortium: Consortium) -> None:
    certificate = _issue(consortium, "MN", "MN-ERR-1")
    with pytest.raises(UnauthorizedRevertError) as caught:
        consortium.operator("KZ").suspend(certificate, ReasonCode.FAILED_AUDIT)
    assert caught.value.name == "CertificateNotIssuer"
    assert caught.value.args == {
        "id": certificate,
        "issuer": ids.authority_code("MN"),
        "caller": ids.authority_code("KZ"),
    }
    assert caught.value.category is RevertCategory.UNAUTHORIZED


def test_issuing_a_number_twice_is_a_conflict(consortium: Consortium) -> None:
    certificate = _issue(consortium, "MN", "MN-ERR-2")
    with pytest.raises(ConflictRevertError) as caught:
        _issue(consortium, "MN", "MN-ERR-2")
    assert caught.value.name == "CertificateAlreadyExists"
    assert caught.value.args == {"id": certificate}


def test_suspending_an_unknown_certificate_is_not_found(consortium: Consortium) -> None:
    unknown = ids.certificate_id("MN", "MN-NEVER-ISSUED")
    with pytest.raises(NotFoundRevertError) as caught:
        consortium.operator("MN").suspend(unknown, ReasonCode.FAILED_AUDIT)
    assert caught.value.name == "CertificateUnknown"
    assert caught.value.args == {"id": unknown}
    assert isinstance(caught.value, LookupError)


def test_a_reason_outside_the_operations_set_is_invalid(consortium: Consortium) -> None:
    certificate = _issue(consortium, "MN", "MN-ERR-3")
    with pytest.raises(InvalidRevertError) as caught:
        consortium.operator("MN").suspend(certificate, ReasonCode.REMEDIED)
    assert caught.value.name == "CertificateReasonNotAllowed"
    assert caught.value.args["reason"] == ReasonCode.REMEDIED
    assert isinstance(caught.value, ValueError)


def test_an_admin_only_write_by_an_operator_names_the_account_and_role(
    consortium: Consortium,
) -> None:
    operator = consortium.operator("MN")
    with pytest.raises(UnauthorizedRevertError) as caught:
        operator.add_account("0x" + "12" * 20, AccountRole.OPERATOR)
    assert caught.value.name == "AuthorityUnauthorizedAccount"
    assert caught.value.args == {"account": operator.address, "neededRole": AccountRole.ADMIN}


def test_a_key_id_that_is_not_the_keys_hash_is_invalid(consortium: Consortium) -> None:
    public_key = b"\x02" + os.urandom(32)
    wrong = b"\x00" * 8
    with pytest.raises(InvalidRevertError) as caught:
        consortium.admin("MN").register_signing_key(public_key, KeyAlgorithm.ES256, kid=wrong)
    assert caught.value.name == "SigningKeyIdMismatch"
    assert caught.value.args == {"kid": wrong, "expected": ids.key_id(public_key)}


def test_an_mra_proposed_by_a_non_party_is_refused(consortium: Consortium) -> None:
    today = days.day_of(latest_timestamp(consortium.chain))
    with pytest.raises(UnauthorizedRevertError) as caught:
        consortium.operator("KR").propose_mra(
            ["MN", "KZ"], [Tier.SECURITY_SAFETY] * 2, today, 0, os.urandom(32)
        )
    assert caught.value.name == "MraNotParty"
    assert caught.value.args == {"mraId": 0, "caller": ids.authority_code("KR")}


def test_a_transaction_mined_despite_reverting_raises_with_the_decoded_reason(
    consortium: Consortium,
) -> None:
    certificate = _issue(consortium, "MN", "MN-ERR-4")
    operator = consortium.member("MN").operator
    tx = TxClient(consortium.chain, consortium.deployment)
    # An outbox that signed before the state changed: explicit gas, no estimation.
    request = tx.prepare(calls.suspend(certificate, ReasonCode.REMEDIED))
    signed = sign(
        request,
        operator,
        nonce=tx.nonce(operator.address),
        gas=200_000,
        fees=tx.fees(),
        chain_id=tx.chain_id,
    )
    tx.broadcast(signed)
    receipt = tx.wait_receipt(signed.hash, timeout=30)
    assert receipt["status"] == 0
    with pytest.raises(TransactionFailedError) as caught:
        tx.check(receipt)
    assert caught.value.tx_hash == signed.hash
    assert caught.value.revert is not None
    assert caught.value.revert.name == "CertificateReasonNotAllowed"
