"""Transactions to the registry contracts, in steps the registry's outbox can stop between:

1. ``TxClient.prepare(call)`` -> ``TxRequest`` (to, calldata) for a
   :class:`~contracts.calls.ContractCall`;
2. ``sign(request, account, nonce=..., gas=..., fees=..., chain_id=...)`` -> ``SignedTx``
   (raw bytes and hash, computed locally: persist them BEFORE broadcasting);
3. ``TxClient.broadcast(raw)``: safe to repeat with the same bytes after a crash;
4. ``TxClient.wait_receipt(hash, timeout)``.

``send_and_wait`` runs them all for one account. Transactions are always signed locally; no
node account is ever asked to sign.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from eth_account import Account as EthAccount
from eth_account.signers.base import BaseAccount
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from contracts.calls import ContractCall, contract_of, uint
from contracts.errors import (
    ChainError,
    ContractRevertError,
    NonceConflictError,
    TransactionFailedError,
    TransactionPoolFullError,
    TransactionRejectedError,
    TransactionTimeoutError,
    translate_errors,
)

if TYPE_CHECKING:
    from contracts.chain import Chain
    from contracts.deploy import Deployment


@dataclass(frozen=True)
class TxRequest:
    """What to send: ``to`` None creates a contract."""

    to: ChecksumAddress | None
    data: HexBytes
    value: int = 0


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee caps, or a legacy gas price for chains without a base fee."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    def __post_init__(self) -> None:
        eip1559 = self.max_fee_per_gas is not None and self.max_priority_fee_per_gas is not None
        if eip1559 == (self.gas_price is not None):
            raise ValueError("give either both EIP-1559 fee caps or a legacy gas_price")

    def fields(self) -> dict[str, int]:
        if self.gas_price is not None:
            return {"gasPrice": self.gas_price}
        assert self.max_fee_per_gas is not None
        assert self.max_priority_fee_per_gas is not None
        return {
            "maxFeePerGas": self.max_fee_per_gas,
            "maxPriorityFeePerGas": self.max_priority_fee_per_gas,
            "type": 2,
        }


@dataclass(frozen=True)
class SignedTx:
    """A transaction signed locally: ``raw`` is what to (re)broadcast, ``hash`` its id."""

    raw: HexBytes
    hash: HexBytes
    sender: ChecksumAddress
    nonce: int


def sign(
    request: TxRequest,
    account: BaseAccount,
    *,
    nonce: int,
    gas: int,
    fees: Fees,
    chain_id: int,
) -> SignedTx:
    """Sign ``request`` with ``account``'s key (a key file's LocalAccount, or an HSM's
    BaseAccount). Pure: no chain access, so the outbox can persist the result before
    anything leaves the process."""
    tx: dict[str, Any] = {
        "nonce": uint(nonce, 64, "nonce"),
        "gas": uint(gas, 64, "gas"),
        "value": request.value,
        "data": bytes(request.data),
        "chainId": chain_id,
        **fees.fields(),
    }
    if request.to is not None:
        tx["to"] = request.to
    signed = account.sign_transaction(tx)
    raw = HexBytes(signed.raw_transaction)
    return SignedTx(
        raw=raw,
        hash=HexBytes(keccak(raw)),
        sender=to_checksum_address(account.address),
        nonce=nonce,
    )


def recover_sender(raw: bytes) -> ChecksumAddress:
    return to_checksum_address(EthAccount.recover_transaction(bytes(raw)))


def _rpc_message(exc: Web3RPCError) -> str:
    error = (exc.rpc_response or {}).get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return str(exc.message)


def _nonce_of(raw: bytes) -> int | None:
    """The nonce of a typed (EIP-2718) raw transaction; None for a legacy one."""
    if raw and raw[0] < 0x7F:
        return int(TypedTransaction.from_bytes(HexBytes(raw)).as_dict()["nonce"])
    return None


_ALREADY_KNOWN = ("already known", "known transaction", "already imported", "already exists")
_NONCE_USED = ("nonce too low", "nonce is too low", "replacement transaction underpriced")
# A pool with no room (geth "txpool is full", Besu "Transaction pool is full") or a sender over
# its share of it (Besu "Transaction nonce is too distant from current sender nonce").
_POOL_FULL = ("pool is full", "pool full", "too distant from current sender nonce")


class TxClient:
    """Prepare, estimate, broadcast and follow transactions to the registry contracts."""

    def __init__(self, chain: Chain, deployment: Deployment | None = None) -> None:
        self.chain = chain
        self.deployment = deployment

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    def prepare(self, op: ContractCall) -> TxRequest:
        if self.deployment is None:
            raise ChainError("preparing a registry call needs a deployment")
        contract = contract_of(self.chain, self.deployment, op.contract)
        data = contract.encode_abi(op.function, args=list(op.args))
        return TxRequest(to=contract.address, data=HexBytes(data))

    def estimate_gas(self, request: TxRequest, sender: str) -> int:
        """Gas the call needs; raises the decoded ``ContractRevertError`` when it would revert."""
        params: TxParams = {"from": to_checksum_address(sender), "data": request.data}
        if request.to is not None:
            params["to"] = request.to
        if request.value:
            params["value"] = Wei(request.value)
        with translate_errors("estimating gas"):
            return int(self.chain.w3.eth.estimate_gas(params))

    def gas_limit(self, request: TxRequest, sender: str) -> int:
        """The estimate with head room (a state change between estimate and mining can add
        a few cold accesses), capped at the block gas limit."""
        estimate = self.estimate_gas(request, sender)
        with translate_errors("reading the gas limit"):
            block_limit = int(self.chain.w3.eth.get_block("latest")["gasLimit"])
        return min(estimate + estimate // 5 + 10_000, block_limit)

    def fees(self) -> Fees:
        """Fees for the next block. On a zero-base-fee consortium chain (and our anvil) this is
        all zeros: nobody pays, yet receipts still report the real gas used."""
        with translate_errors("reading fees"):
            block = self.chain.w3.eth.get_block("latest")
            base_fee = block.get("baseFeePerGas")
            gas_price = int(self.chain.w3.eth.gas_price)
        if base_fee is None:
            return Fees(gas_price=gas_price)
        priority = max(gas_price - int(base_fee), 0)
        return Fees(max_fee_per_gas=2 * int(base_fee) + priority, max_priority_fee_per_gas=priority)

    def nonce(self, address: str, block: Literal["pending", "latest"] = "pending") -> int:
        with translate_errors("reading the nonce"):
            return int(self.chain.w3.eth.get_transaction_count(to_checksum_address(address), block))

    def broadcast(self, signed: SignedTx | bytes) -> HexBytes:
        """Send signed bytes; returns the transaction hash. Idempotent: sending bytes the
        node already has (pending or mined) succeeds. Raises ``NonceConflictError`` when a
        different transaction took the nonce, ``TransactionPoolFullError`` when the node has no
        room for it yet, ``TransactionRejectedError`` otherwise."""
        raw = bytes(signed.raw) if isinstance(signed, SignedTx) else bytes(signed)
        tx_hash = HexBytes(keccak(raw))
        try:
            with translate_errors("broadcasting"):
                self.chain.w3.eth.send_raw_transaction(bytes(raw))
            return tx_hash
        except Web3RPCError as exc:
            message = _rpc_message(exc)
        if self.transaction_known(tx_hash) or any(s in message.lower() for s in _ALREADY_KNOWN):
            return tx_hash
        if any(s in message.lower() for s in _NONCE_USED):
            sender = recover_sender(raw)
            nonce = signed.nonce if isinstance(signed, SignedTx) else _nonce_of(raw)
            raise NonceConflictError(
                f"nonce {nonce} of {sender} is already used by another transaction ({message})",
                sender=sender,
                nonce=nonce,
            )
        if any(s in message.lower() for s in _POOL_FULL):
            raise TransactionPoolFullError(f"the node has no room for the transaction: {message}")
        raise TransactionRejectedError(f"the node refused the transaction: {message}")

    def transaction_known(self, tx_hash: bytes) -> bool:
        """True when the node has the transaction (pending or mined)."""
        try:
            with translate_errors("looking up a transaction"):
                self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def receipt(self, tx_hash: bytes) -> TxReceipt | None:
        """The receipt, or None while the transaction is not mined (or unknown)."""
        try:
            with translate_errors("reading a receipt"):
                return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def wait_receipt(
        self, tx_hash: bytes, timeout: float = 120.0, poll_interval: float = 0.05
    ) -> TxReceipt:
        """The receipt once mined; ``TransactionTimeoutError`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"no receipt for 0x{bytes(tx_hash).hex()} within {timeout:g} s",
                    tx_hash=HexBytes(tx_hash),
                )
            time.sleep(interval)
            interval = min(interval * 2, 1.0)

    def revert_of(self, receipt: TxReceipt) -> ContractRevertError | None:
        """Why a mined transaction failed, by replaying it at its block (best effort: a node
        without that block's state answers None)."""
        try:
            with translate_errors("replaying a failed transaction"):
                tx = self.chain.w3.eth.get_transaction(receipt["transactionHash"])
                params: TxParams = {"from": tx["from"], "data": tx["input"], "gas": tx["gas"]}
                if tx.get("to"):
                    params["to"] = tx["to"]
                self.chain.w3.eth.call(params, block_identifier=receipt["blockNumber"])
        except ContractRevertError as exc:
            return exc
        except (ChainError, Web3RPCError, ValueError):
            return None
        return None

    def check(self, receipt: TxReceipt) -> TxReceipt:
        """Return a successful receipt; raise ``TransactionFailedError`` for status 0."""
        if receipt["status"] == 1:
            return receipt
        revert = self.revert_of(receipt)
        tx_hash = HexBytes(receipt["transactionHash"])
        reason = f": {revert}" if revert is not None else ""
        raise TransactionFailedError(
            f"transaction 0x{tx_hash.hex()} failed in block {receipt['blockNumber']}{reason}",
            tx_hash=tx_hash,
            receipt=receipt,
            revert=revert,
        )


def send_and_wait(
    chain: Chain,
    account: LocalAccount,
    *,
    to: ChecksumAddress | None,
    data: bytes,
    timeout: float = 120.0,
    client: TxClient | None = None,
) -> TxReceipt:
    """Estimate, sign with ``account``, send and wait; a revert at estimation raises the
    decoded ``ContractRevertError``, a failed receipt ``TransactionFailedError``."""
    tx = client or TxClient(chain)
    request = TxRequest(to=to, data=HexBytes(data))
    gas = tx.gas_limit(request, account.address)
    signed = sign(
        request,
        account,
        nonce=tx.nonce(account.address),
        gas=gas,
        fees=tx.fees(),
        chain_id=tx.chain_id,
    )
    tx.broadcast(signed.raw)
    return tx.check(tx.wait_receipt(signed.hash, timeout))
