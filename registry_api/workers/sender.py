"""The outbox sender: turns accepted operations into mined transactions, exactly once.

One sender works for this administration's operator account. Each pass of
:meth:`OutboxSender.run_once`:

1. reconciles with the chain when needed (at start, and after the chain failed): mined
   receipts are recorded; operations whose transaction vanished because the node lost its
   last blocks go back to ``signed`` and are rebroadcast with their stored bytes; a nonce
   that a transaction not ours consumed sends its operation back to ``pending`` (it is
   signed anew: ours can never be mined); the next nonce is the larger of the chain's
   pending nonce and one above the highest nonce this outbox holds in flight;
2. broadcasts ``signed`` operations (stored bytes, in nonce order) and follows
   ``submitted`` ones to their receipt (``confirmed`` or ``failed`` with the decoded
   revert); a submitted transaction the node no longer knows is broadcast again;
3. takes ``pending`` operations in the order they were accepted: estimates gas (a revert
   here fails the operation with the decoded reason and sends nothing), signs with the next
   nonce, **commits the signed raw transaction, its hash and nonce**, and only then
   broadcasts it.

So a crash at any point leaves either an unsigned operation (signed later), or stored bytes
that are broadcast again (the node answers "already known", or mines them once): never two
transactions for one operation, never a lost one. While the chain is down every pass ends
early and operations wait in their state; nothing is dropped.

One process should run the sender of an account. If two do (a second replica started with
workers) on PostgreSQL, they take turns: a pass holds the account's advisory lock, a process
that finds it taken skips its pass and reconciles before its next one, and each pending
operation is claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` before it is signed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_account.signers.base import BaseAccount
from eth_typing import ChecksumAddress
from eth_utils.abi import collapse_if_tuple, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker
from web3.types import RPCEndpoint

from contracts.calls import ContractCall, contract_of, function_abi
from contracts.errors import (
    ChainConfigError,
    ChainError,
    ChainUnavailableError,
    ContractRevertError,
    NonceConflictError,
    TransactionPoolFullError,
    TransactionRejectedError,
    translate_errors,
)
from contracts.transactions import Fees, SignedTx, TxClient, TxRequest, sign

from ..db import (
    OPEN_OPERATION_STATES,
    Certificate,
    LocalStatus,
    Operation,
    OperationState,
    utc_now,
)
from ..faults import CrashAt, CrashPoint
from ..metrics import Metrics
from ..outbox import operation_call, operation_details

logger = logging.getLogger("registry_api.outbox")

#: operations signed per pass at most (a pass also commits each one: keep it bounded)
DEFAULT_BATCH = 200
#: broadcasts the node refuses (not a nonce conflict) before the operation is failed
MAX_REJECTIONS = 10


class FailPoint(StrEnum):
    """Where a test can make the sender stop dead, as a ``kill -9`` would."""

    AFTER_SIGN = "after_sign"  # signed bytes committed, nothing broadcast
    AFTER_BROADCAST = "after_broadcast"  # broadcast, state not yet recorded as submitted
    BEFORE_RECEIPT = "before_receipt"  # the receipt exists, not yet recorded


class SimulatedCrash(BaseException):
    """Raised at a :class:`FailPoint`; a BaseException so no handler on the way catches it."""


@dataclass(frozen=True, slots=True)
class _Mined:
    """The fields of a mined transaction's receipt that the outbox keeps."""

    block_number: int
    block_hash: bytes
    gas_used: int
    status: int


def _quantity(value: Any) -> int:
    """A JSON-RPC quantity: hex text from a node, an integer from eth-tester."""
    return int(value, 16) if isinstance(value, str) else int(value)


@dataclass(frozen=True, slots=True)
class _Encoder:
    """How to encode calls of one contract function: its address, selector, ABI types."""

    address: ChecksumAddress
    selector: bytes
    types: list[str]


@dataclass(frozen=True, slots=True)
class SenderStatus:
    """What readiness reports about the sender."""

    chain_ok: bool
    last_error: str | None
    next_nonce: int | None


class OutboxSender:
    """Sends this administration's operations from ``account``. Thread-safe: passes are
    serialized, so a test may call :meth:`run_once` while the worker thread runs."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        tx: TxClient,
        account: BaseAccount,
        *,
        metrics: Metrics | None = None,
        batch: int = DEFAULT_BATCH,
        fail_points: Collection[FailPoint] = (),
        crash_at: CrashAt | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.tx = tx
        self.account = account
        self.address = to_checksum_address(account.address)
        self.metrics = metrics
        self.batch = batch
        self.fail_points = frozenset(fail_points)
        #: the AEO_FAULT_CRASH_AT test hook (registry_api.faults), None in real use
        self.crash_at = crash_at
        self._lock = threading.Lock()
        self._encoders: dict[tuple[str, str], _Encoder] = {}
        self._next_nonce: int | None = None
        #: the highest nonce of ours the chain has mined, as far as this sender knows
        self._mined_nonce: int | None = None
        self._needs_recovery = True
        self._chain_ok = False
        self._last_error: str | None = None
        self._refusal: str | None = None

    # ------------------------------------------------------------------ public

    @property
    def status(self) -> SenderStatus:
        return SenderStatus(self._chain_ok, self._last_error, self._next_nonce)

    def run_once(self) -> int:
        """One pass (see the module documentation); returns how many operations changed
        state. A chain outage ends the pass quietly: the next one reconciles first."""
        with self._lock, self._pass_lease() as granted:
            if not granted:
                # Another process is sending for this account: it uses nonces we do not
                # know of, so our next pass starts by reconciling.
                logger.info("another process holds the outbox of %s; skipping a pass", self.address)
                self._needs_recovery = True
                return 0
            changed = 0
            self._refusal = None
            try:
                if not self._needs_recovery and (
                    self._signed_elsewhere() or self._chain_forgot_ours()
                ):
                    self._needs_recovery = True
                if self._needs_recovery:
                    changed += self._recover()
                    self._needs_recovery = False
                changed += self._advance_in_flight()
                changed += self._send_pending()
                changed += self._advance_in_flight()
            except (ChainUnavailableError, ChainConfigError) as exc:
                self._chain_down(exc)
                return changed
            self._chain_ok = True
            # A node that refused a transaction this pass keeps the sender "not ready".
            self._last_error = self._refusal
            return changed

    def reconcile_next_pass(self) -> None:
        """Start the next pass by reconciling with the chain and the stored operations: this
        process takes the outbox over from another (registry_api.leadership), which may
        have signed and sent meanwhile."""
        self._needs_recovery = True

    def open_operations(self) -> int:
        """Operations not yet confirmed or failed (the outbox depth)."""
        with self.session_factory() as session:
            return (
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(Operation)
                    .where(Operation.state.in_(OPEN_OPERATION_STATES))
                )
                or 0
            )

    def run_until_idle(self, max_passes: int = 1000) -> int:
        """Passes until no operation is open (or no pass changes anything); for tests and
        scripts on an automining chain. Returns the number of state changes."""
        total = 0
        for _ in range(max_passes):
            changed = self.run_once()
            total += changed
            if not self._chain_ok or self.open_operations() == 0 or changed == 0:
                break
        return total

    @contextlib.contextmanager
    def _pass_lease(self) -> Iterator[bool]:
        """Whether this pass may run. On PostgreSQL a session-level advisory lock on the
        account, held on a connection of its own for the pass; on SQLite always (one
        process owns the file, and SQLite serializes writers anyway)."""
        engine = self.session_factory.kw.get("bind")
        if not isinstance(engine, sa.Engine) or engine.dialect.name != "postgresql":
            yield True
            return
        key = _lease_key(self.address)
        with engine.connect() as connection:
            granted = bool(connection.scalar(sa.select(sa.func.pg_try_advisory_lock(key))))
            connection.commit()  # the lock is the session's: it outlives the transaction
            try:
                yield granted
            finally:
                if granted:
                    with contextlib.suppress(sa.exc.DBAPIError):
                        # A broken connection took the lock with it.
                        connection.scalar(sa.select(sa.func.pg_advisory_unlock(key)))
                        connection.commit()

    def _signed_elsewhere(self) -> bool:
        """Some operation in flight holds a nonce at or above the one we would sign with
        next: another process signed it (the outbox changed hands since our last pass)."""
        if self._next_nonce is None:
            return False
        with self.session_factory() as session:
            highest = session.scalar(
                sa.select(sa.func.max(Operation.nonce)).where(
                    Operation.sender == self.address,
                    Operation.state.in_((OperationState.SIGNED, OperationState.SUBMITTED)),
                )
            )
        return highest is not None and highest >= self._next_nonce

    # ------------------------------------------------------------------ recovery

    def _chain_forgot_ours(self) -> bool:
        """The node's mined nonce fell back below one of our mined transactions: it lost
        blocks (restarted from an older state, or reorganised). One cheap call per pass."""
        if self._mined_nonce is None:
            return False
        return self.tx.nonce(self.address, "latest") <= self._mined_nonce

    def _recover(self) -> int:
        """Reconcile the stored operations of this account with the chain."""
        deployment = self.tx.deployment
        if deployment is not None and self.tx.chain_id != deployment.chain_id:
            raise ChainConfigError(
                f"the node is chain {self.tx.chain_id}, the deployment is on chain "
                f"{deployment.chain_id}: nothing is sent"
            )
        latest = self.tx.nonce(self.address, "latest")
        pending = self.tx.nonce(self.address, "pending")
        changed = 0
        with self.session_factory() as session:
            # A node that lost its last blocks forgot transactions we recorded as mined:
            # their nonces are at or above the account's mined nonce again.
            lost = session.scalars(
                sa.select(Operation)
                .where(
                    Operation.sender == self.address,
                    Operation.nonce >= latest,
                    Operation.state.in_((OperationState.CONFIRMED, OperationState.FAILED)),
                    Operation.block_number.is_not(None),
                )
                .order_by(Operation.nonce)
            ).all()
            for operation in lost:
                if operation.tx_hash is not None and self._mined(operation.tx_hash):
                    continue
                logger.warning(
                    "operation %s: its transaction (nonce %s) is no longer on the chain; "
                    "broadcasting the stored transaction again",
                    operation.id,
                    operation.nonce,
                )
                self._reopen(session, operation)
                changed += 1

            in_flight = self._in_flight(session)
            for operation in in_flight:
                assert operation.tx_hash is not None
                assert operation.nonce is not None
                mined = self._mined(operation.tx_hash)
                if mined is not None:
                    self._finish_mined(session, operation, mined)
                    changed += 1
                elif operation.nonce < latest:
                    logger.warning(
                        "operation %s: nonce %s was used by a transaction that is not ours; "
                        "signing it again with a new nonce",
                        operation.id,
                        operation.nonce,
                    )
                    self._unsign(operation)
                    changed += 1
            session.commit()
            highest = session.scalar(
                sa.select(sa.func.max(Operation.nonce)).where(
                    Operation.sender == self.address,
                    Operation.state.in_((OperationState.SIGNED, OperationState.SUBMITTED)),
                )
            )
            self._mined_nonce = session.scalar(
                sa.select(sa.func.max(Operation.nonce)).where(
                    Operation.sender == self.address, Operation.block_number.is_not(None)
                )
            )
        self._next_nonce = max(pending, latest, (highest + 1) if highest is not None else 0)
        return changed

    def _reopen(self, session: Session, operation: Operation) -> None:
        operation.state = OperationState.SIGNED
        operation.block_number = None
        operation.finished_at = None
        operation.error = None
        payload = dict(operation.payload)
        payload.pop("receipt", None)
        operation.payload = payload
        creates = operation_details(operation).get("creates") or []
        if creates:
            session.execute(
                sa.update(Certificate)
                .where(Certificate.number.in_(creates), Certificate.status == LocalStatus.FAILED)
                .values(status=LocalStatus.PENDING)
            )

    @staticmethod
    def _unsign(operation: Operation) -> None:
        operation.state = OperationState.PENDING
        operation.nonce = None
        operation.signed_raw_tx = None
        operation.tx_hash = None
        operation.sender = None
        operation.submitted_at = None

    # ------------------------------------------------------------------ in flight

    def _in_flight(self, session: Session) -> Sequence[Operation]:
        return session.scalars(
            sa.select(Operation)
            .where(
                Operation.sender == self.address,
                Operation.state.in_((OperationState.SIGNED, OperationState.SUBMITTED)),
            )
            .order_by(Operation.nonce)
        ).all()

    def _advance_in_flight(self) -> int:
        """Broadcast signed operations and record the receipts of submitted ones."""
        changed = 0
        with self.session_factory() as session:
            for operation in self._in_flight(session):
                assert operation.tx_hash is not None
                assert operation.signed_raw_tx is not None
                mined = self._mined(operation.tx_hash)
                if mined is not None:
                    self._fail_point(FailPoint.BEFORE_RECEIPT)
                    self._finish_mined(session, operation, mined)
                    session.commit()
                    changed += 1
                    continue
                if operation.state is OperationState.SUBMITTED and self.tx.transaction_known(
                    operation.tx_hash
                ):
                    continue  # in the node's pool: wait for a block
                # Signed but never broadcast (a crash), or broadcast and forgotten by the
                # node: the same bytes again.
                if self._broadcast(session, operation):
                    changed += 1
                else:
                    break  # later nonces would only queue behind this one
        return changed

    def _broadcast(self, session: Session, operation: Operation) -> bool:
        """Broadcast the stored bytes; True when the node took them."""
        assert operation.signed_raw_tx is not None
        try:
            self.tx.broadcast(operation.signed_raw_tx)
        except NonceConflictError as exc:
            logger.warning("operation %s: %s; signing it again", operation.id, exc)
            self._unsign(operation)
            session.commit()
            self._needs_recovery = True
            return False
        except TransactionPoolFullError as exc:
            # Back-pressure, not a refusal: the stored bytes wait, the attempt is not counted
            # (an import of 40 batches would otherwise fail its later ones after 10 passes),
            # and later nonces are not sent past it.
            logger.warning("operation %s waits: %s", operation.id, exc)
            return False
        except TransactionRejectedError as exc:
            operation.attempts += 1
            self._refusal = f"the node refused operation {operation.id}: {exc}"
            logger.error("%s (attempt %s)", self._refusal, operation.attempts)
            if operation.attempts >= MAX_REJECTIONS:
                self._fail(session, operation, f"the chain node refused the transaction: {exc}")
                self._unsign_after(session, operation.nonce)
                self._needs_recovery = True
            session.commit()
            return False
        self._fail_point(FailPoint.AFTER_BROADCAST)
        if operation.state is not OperationState.SUBMITTED:
            operation.state = OperationState.SUBMITTED
            operation.submitted_at = utc_now()
        session.commit()
        return True

    def _unsign_after(self, session: Session, nonce: int | None) -> None:
        """Send every later signed-but-unmined operation back to pending: the failed one's
        nonce is free again, and nonces must stay without gaps."""
        if nonce is None:
            return
        for operation in self._in_flight(session):
            if operation.nonce is not None and operation.nonce > nonce:
                self._unsign(operation)

    def _mined(self, tx_hash: bytes) -> _Mined | None:
        """What the outbox records of a transaction's receipt, or None while it is not
        mined. Read as the node sends it: web3's formatting of every log of a receipt cost
        40 ms for a 100-certificate batch, and the sender needs four fields."""
        with translate_errors("reading a receipt"):
            raw: Any = self.tx.chain.w3.manager.request_blocking(
                RPCEndpoint("eth_getTransactionReceipt"), ["0x" + bytes(tx_hash).hex()]
            )
        if not raw or raw.get("blockNumber") is None:
            return None
        return _Mined(
            block_number=_quantity(raw["blockNumber"]),
            block_hash=bytes(HexBytes(raw["blockHash"])),
            gas_used=_quantity(raw["gasUsed"]),
            status=_quantity(raw["status"]),
        )

    def _finish_mined(self, session: Session, operation: Operation, mined: _Mined) -> None:
        operation.block_number = mined.block_number
        if operation.nonce is not None:
            self._mined_nonce = max(self._mined_nonce or 0, operation.nonce)
        payload = dict(operation.payload)
        payload["receipt"] = {
            "gas_used": mined.gas_used,
            "block_hash": "0x" + mined.block_hash.hex(),
            "status": mined.status,
        }
        operation.payload = payload
        if mined.status == 1:
            operation.state = OperationState.CONFIRMED
            operation.finished_at = utc_now()
            operation.error = None
            self._count(operation, "confirmed")
            return
        assert operation.tx_hash is not None
        receipt = self.tx.receipt(operation.tx_hash)
        revert = self.tx.revert_of(receipt) if receipt is not None else None
        reason = (
            f"{revert.name}: the transaction was mined but reverted ({revert})"
            if revert is not None
            else "the transaction was mined but reverted"
        )
        self._fail(session, operation, reason)

    def _fail(self, session: Session, operation: Operation, reason: str) -> None:
        operation.state = OperationState.FAILED
        operation.error = reason
        operation.finished_at = utc_now()
        creates = operation_details(operation).get("creates") or []
        if creates:
            session.execute(
                sa.update(Certificate)
                .where(
                    Certificate.number.in_(creates),
                    Certificate.status == LocalStatus.PENDING,
                )
                .values(status=LocalStatus.FAILED)
            )
        self._count(operation, "failed")
        logger.info("operation %s (%s) failed: %s", operation.id, operation.kind, reason)

    def _count(self, operation: Operation, outcome: str) -> None:
        if self.metrics is None:
            return
        self.metrics.operations_finished.labels(kind=operation.kind, outcome=outcome).inc()
        if outcome == "confirmed":
            elapsed = (_finished(operation) - operation.created_at).total_seconds()
            self.metrics.confirmation_seconds.labels(kind=operation.kind).observe(elapsed)

    # ------------------------------------------------------------------ new work

    def _has_in_flight(self, session: Session) -> bool:
        return bool(self._in_flight(session))

    @staticmethod
    def _claim(session: Session, operation_id: uuid.UUID) -> Operation | None:
        """Lock one pending operation for this transaction (its commit releases it), or None
        if it is no longer pending or another sender holds it. The lock and the state
        check make sure one operation is never signed twice, whoever else is sending;
        SQLite has no row locks and ignores the clause (its writers are serialized)."""
        return session.scalars(
            sa.select(Operation)
            .where(Operation.id == operation_id, Operation.state == OperationState.PENDING)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).one_or_none()

    def _store_signed(self, session: Session, operation: Operation, signed: SignedTx) -> bool:
        """Record and commit the signed transaction, if the operation is still pending.

        The update is guarded by the state, so that of two senders that both took the
        operation for pending (SQLite has no row locks) only one stores its transaction;
        False for the other, which must not broadcast its own.
        """
        stored = session.execute(
            sa.update(Operation)
            .where(Operation.id == operation.id, Operation.state == OperationState.PENDING)
            .values(
                state=OperationState.SIGNED,
                sender=self.address,
                nonce=signed.nonce,
                signed_raw_tx=bytes(signed.raw),
                tx_hash=bytes(signed.hash),
                attempts=Operation.attempts + 1,
            )
            .returning(Operation.id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        session.commit()
        if stored is None:
            session.expire(operation)
            logger.warning("operation %s was signed by another sender; skipping it", operation.id)
            return False
        session.refresh(operation)
        return True

    def _send_pending(self) -> int:
        changed = 0
        fees: Fees | None = None
        with self.session_factory() as session:
            pending = session.scalars(
                sa.select(Operation.id)
                .where(Operation.state == OperationState.PENDING)
                .order_by(Operation.created_at, Operation.id)
                .limit(self.batch)
            ).all()
            session.commit()  # end the read: each claim below is a transaction of its own
            for operation_id in pending:
                if self._needs_recovery:
                    break  # a conflict this pass: reconcile before using more nonces
                operation = self._claim(session, operation_id)
                if operation is None:
                    continue
                try:
                    request = self._prepare(operation_call(operation))
                    gas = self.tx.gas_limit(request, self.address)
                except ContractRevertError as exc:
                    if self._has_in_flight(session):
                        # It may depend on our own transactions not mined yet (suspend
                        # after issue): decide once they are.
                        break
                    self._fail(
                        session,
                        operation,
                        f"{exc.name}: the contract refused the operation at gas estimation; "
                        f"no transaction was sent ({exc})",
                    )
                    session.commit()
                    changed += 1
                    continue
                except (ValueError, KeyError, TypeError) as exc:
                    self._fail(session, operation, f"the operation cannot be encoded: {exc}")
                    session.commit()
                    changed += 1
                    continue
                if fees is None:
                    fees = self.tx.fees()
                assert self._next_nonce is not None
                if self.crash_at is not None:
                    self.crash_at.reached(CrashPoint.BEFORE_SIGN)
                signed = sign(
                    request,
                    self.account,
                    nonce=self._next_nonce,
                    gas=gas,
                    fees=fees,
                    chain_id=self.tx.chain_id,
                )
                # The bytes are durable before anything leaves the process.
                if not self._store_signed(session, operation, signed):
                    continue  # another sender signed it first; ours is never broadcast
                self._next_nonce += 1
                changed += 1
                self._fail_point(FailPoint.AFTER_SIGN)
                if not self._broadcast(session, operation):
                    break
        return changed

    # ------------------------------------------------------------------ helpers

    def _prepare(self, call: ContractCall) -> TxRequest:
        """``TxClient.prepare``, encoded with eth-abi straight from the function's ABI: the
        arguments are already ABI-level values (``contracts.calls`` checked their shapes), and
        web3's ``encode_abi`` spends ten times as long normalizing them (70 ms for a batch of
        100 certificates) under the GIL the indexer and the API share."""
        if self.tx.deployment is None:
            return self.tx.prepare(call)
        key = (call.contract, call.function)
        encoder = self._encoders.get(key)
        if encoder is None:
            contract = contract_of(self.tx.chain, self.tx.deployment, call.contract)
            types = [
                collapse_if_tuple(dict(spec))
                for spec in function_abi(call.contract, call.function).get("inputs", [])
            ]
            selector = function_signature_to_4byte_selector(f"{call.function}({','.join(types)})")
            encoder = _Encoder(contract.address, selector, types)
            self._encoders[key] = encoder
        try:
            data = encoder.selector + abi_encode(encoder.types, list(call.args))
        except EncodingError as exc:
            raise ValueError(str(exc)) from exc
        return TxRequest(to=encoder.address, data=HexBytes(data))

    def _fail_point(self, point: FailPoint) -> None:
        if self.crash_at is not None:
            self.crash_at.reached(CrashPoint(point.value))
        if point in self.fail_points:
            raise SimulatedCrash(point.value)

    def _chain_down(self, exc: ChainError) -> None:
        if self._chain_ok or self._last_error is None:
            logger.warning("the chain is unavailable; operations wait: %s", exc)
        self._chain_ok = False
        self._last_error = str(exc)
        self._needs_recovery = True


def _lease_key(address: str) -> int:
    """The advisory lock key of an account's outbox (a signed 64-bit integer, as PostgreSQL
    wants), the same in every process."""
    digest = hashlib.sha256(f"aeo-outbox:{address}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _finished(operation: Operation) -> datetime:
    return operation.finished_at or utc_now()
