"""Every contract write for one account: :class:`RegistryWriter` builds the call
(:mod:`contracts.calls`), signs it locally, sends it and waits for the receipt
(:mod:`contracts.transactions`)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3.types import TxReceipt

from contracts import calls
from contracts.calls import ZERO_ADDRESS, ContractCall, Issuance, contract_of
from contracts.domain.enums import MembershipAction, ReasonCode
from contracts.errors import translate_errors
from contracts.transactions import TxClient, send_and_wait

if TYPE_CHECKING:
    from contracts.chain import Chain
    from contracts.deploy import Deployment


class RegistryWriter:
    """Every contract write for one account, signed locally, sent, and waited for.

    Each method returns the receipt, or raises ``ContractRevertError`` (decoded, already at
    gas estimation) / ``TransactionFailedError`` / ``ChainUnavailableError``. Calls from
    several threads are serialized so nonces never collide.
    """

    def __init__(
        self, chain: Chain, deployment: Deployment, account: LocalAccount, timeout: float = 120.0
    ) -> None:
        self.chain = chain
        self.deployment = deployment
        self.account = account
        self.timeout = timeout
        self.tx = TxClient(chain, deployment)
        self._lock = threading.Lock()

    @property
    def address(self) -> ChecksumAddress:
        return to_checksum_address(self.account.address)

    def transact(self, op: ContractCall) -> TxReceipt:
        request = self.tx.prepare(op)
        with self._lock:
            assert request.to is not None
            return send_and_wait(
                self.chain,
                self.account,
                to=request.to,
                data=request.data,
                timeout=self.timeout,
                client=self.tx,
            )

    def call(self, op: ContractCall) -> Any:
        """Run ``op`` as an eth_call from this account (no transaction): its return value,
        or the decoded revert."""
        contract = contract_of(self.chain, self.deployment, op.contract)
        with translate_errors(f"{op.function}()"):
            return contract.functions[op.function](*op.args).call({"from": self.address})

    # certificates
    def issue(
        self,
        number: str,
        tiers: int,
        valid_from: date | int,
        valid_until: date | int,
        holder_ref: bytes,
        commitment: bytes,
    ) -> TxReceipt:
        return self.transact(
            calls.issue(number, tiers, valid_from, valid_until, holder_ref, commitment)
        )

    def issue_batch(self, items: Sequence[Issuance]) -> TxReceipt:
        return self.transact(calls.issue_batch(items))

    def amend(
        self, certificate_id: bytes, tiers: int, holder_ref: bytes, commitment: bytes, reason: int
    ) -> TxReceipt:
        return self.transact(calls.amend(certificate_id, tiers, holder_ref, commitment, reason))

    def renew(
        self, certificate_id: bytes, valid_until: date | int, reason: int = ReasonCode.REASSESSED
    ) -> TxReceipt:
        return self.transact(calls.renew(certificate_id, valid_until, reason))

    def suspend(self, certificate_id: bytes, reason: int) -> TxReceipt:
        return self.transact(calls.suspend(certificate_id, reason))

    def reinstate(self, certificate_id: bytes, reason: int) -> TxReceipt:
        return self.transact(calls.reinstate(certificate_id, reason))

    def revoke(self, certificate_id: bytes, reason: int) -> TxReceipt:
        return self.transact(calls.revoke(certificate_id, reason))

    # authorities
    def bootstrap_member(self, code: str, name: str, admin: str) -> TxReceipt:
        return self.transact(calls.bootstrap_member(code, name, admin))

    def close_bootstrap(self) -> TxReceipt:
        return self.transact(calls.close_bootstrap())

    def propose_membership(
        self,
        action: MembershipAction,
        code: str,
        name: str = "",
        admin: str = ZERO_ADDRESS,
    ) -> TxReceipt:
        return self.transact(calls.propose_membership(action, code, name, admin))

    def vote(self, proposal_id: int) -> TxReceipt:
        return self.transact(calls.vote(proposal_id))

    def add_account(self, account: str, roles: int) -> TxReceipt:
        return self.transact(calls.add_account(account, roles))

    def remove_account(self, account: str) -> TxReceipt:
        return self.transact(calls.remove_account(account))

    def register_signing_key(
        self, public_key: bytes, algorithm: int, valid_from: int = 0, kid: bytes | None = None
    ) -> TxReceipt:
        return self.transact(calls.register_signing_key(public_key, algorithm, valid_from, kid))

    def revoke_signing_key(self, kid: bytes, revoked_at: int = 0) -> TxReceipt:
        return self.transact(calls.revoke_signing_key(kid, revoked_at))

    # MRAs
    def propose_mra(
        self,
        parties: Sequence[str],
        recognized_tiers: Sequence[int],
        effective_from: date | int,
        ends_on: date | int = 0,
        text_hash: bytes = b"",
    ) -> TxReceipt:
        return self.transact(
            calls.propose_mra(parties, recognized_tiers, effective_from, ends_on, text_hash)
        )

    def sign_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(calls.sign_mra(mra_id))

    def suspend_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(calls.suspend_mra(mra_id))

    def resume_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(calls.resume_mra(mra_id))

    def terminate_mra(self, mra_id: int) -> TxReceipt:
        return self.transact(calls.terminate_mra(mra_id))
