"""The live :class:`~verifier.source.StatusSource`: the registry's state read from the chain.

Each answer maps to contract views through the chain layer's read-only
:class:`~contracts.reader.RegistryReader`:

- ``signing_key``: ``getSigningKey`` (algorithm 0 means no such key);
- ``certificate``: ``getCertificate`` for the slot, plus one ``eth_getLogs`` filtered by the
  certificate id (topic 1) and the issue, amend and status-change events (topic 0) for what the
  slot does not store: the status history with reasons and dates, the holder reference and
  the certificate number;
- ``authority``: ``getAuthority``;
- ``recognition``: ``MraRegistry.recognizes``, the contract's own answer, so the online verdict
  can never disagree with the chain. It answers for the latest block's day, not the ``day``
  asked for (the protocol allows it; ``info().as_of`` says when that is).

``info()`` is the latest block: its number, hash and time (``as_of``). Any failure to reach
the node raises :class:`~verifier.errors.SourceUnavailable`, which the pipeline reports as
``check_unavailable``, never as a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final, TypeVar

from eth_typing import HexStr
from eth_utils.abi import event_abi_to_log_topic
from web3.exceptions import Web3RPCError
from web3.types import FilterParams, LogReceipt

from contracts import logs
from contracts.artifacts import REGISTRY, load_artifact
from contracts.domain import events as chain_events
from contracts.domain.enums import (
    AuthorityStatus,
    CertificateStatus,
    KeyAlgorithm,
    RecognitionReason,
)
from contracts.domain.rules import RecognitionAnswer
from contracts.domain.state import AuthorityRecord, CertificateSlot, SigningKeyRecord, StatusChange
from contracts.errors import ChainError, translate_errors
from contracts.reader import Certificate, RegistryReader
from verifier.errors import SourceUnavailable
from verifier.source import SourceInfo

__all__ = ["ChainStatusSource"]

_T = TypeVar("_T")

# The events that say what a certificate's slot does not: its history and its record.
_HISTORY_EVENTS: Final = (
    chain_events.CertificateIssued,
    chain_events.CertificateAmended,
    chain_events.CertificateStatusChanged,
)
# A status change mined between the slot read and the log read makes the two disagree;
# reading both again settles it, unless the certificate changes on every block.
_READ_ATTEMPTS: Final = 3


class ChainStatusSource:
    """A :class:`~verifier.source.StatusSource` over the live chain.

    ``log_range``: the widest block range one ``eth_getLogs`` may span. None (the default)
    reads a certificate's events in one query from the deploy block; a number pages
    backwards from the latest block until the certificate's issue event, for nodes that cap
    the range (Besu's ``--rpc-max-logs-range``).
    """

    def __init__(self, reader: RegistryReader, *, log_range: int | None = None) -> None:
        if log_range is not None and log_range < 1:
            raise ValueError(f"log_range must be at least 1 or None; got {log_range}")
        self.reader = reader
        self.log_range = log_range
        self._topics = _history_topics()

    # ------------------------------------------------------------ StatusSource

    def info(self) -> SourceInfo:
        number, block_hash, timestamp = _ask("reading the latest block", self._latest_block)
        moment = datetime.fromtimestamp(timestamp, UTC)
        return SourceInfo(
            kind="chain",
            as_of=moment,
            block_number=number,
            block_hash=block_hash,
            block_time=moment,
        )

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        if len(kid) != 8:  # no key can have another id length: an answer, not a failure
            return None
        key = _ask("reading a signing key", lambda: self.reader.get_signing_key(kid))
        if not key.known or key.authority is None:
            return None
        return SigningKeyRecord(
            kid=key.kid,
            authority=key.authority,
            algorithm=KeyAlgorithm(int(key.algorithm)),
            public_key=key.public_key,
            valid_from=key.valid_from,
            revoked_at=key.revoked_at,
        )

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        if len(certificate_id) != 32:
            return None
        label = f"certificate 0x{certificate_id.hex()}"
        for _ in range(_READ_ATTEMPTS):
            slot = _ask(f"reading {label}", lambda: self.reader.get_certificate(certificate_id))
            if not slot.known or slot.issuer is None:
                return None
            found = _ask(f"reading the events of {label}", lambda: self._events(certificate_id))
            record = _record(slot, slot.issuer, found)
            if record is not None:
                return record
        raise SourceUnavailable(
            f"{label} kept changing while it was read ({_READ_ATTEMPTS} attempts), or the "
            "node's event logs disagree with its state: verify again"
        )

    def authority(self, code: str) -> AuthorityRecord | None:
        found = _ask(f"reading authority {code}", lambda: self.reader.get_authority(code))
        if not found.known:
            return None
        return AuthorityRecord(found.code, found.name, AuthorityStatus(int(found.status)))

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: int
    ) -> RecognitionAnswer:
        answer = _ask(
            f"asking whether {authority} recognizes the certificate",
            lambda: self.reader.recognizes(authority, certificate.certificate_id),
        )
        reason = RecognitionReason(int(answer.reason))
        # The contract says 0 where no MRA is concerned; the verifier's answers say None.
        return RecognitionAnswer(answer.recognized, reason, answer.mra_id or None)

    # ------------------------------------------------------------ chain reads

    def _latest_block(self) -> tuple[int, bytes, int]:
        with translate_errors("reading the latest block"):
            block = self.reader.chain.w3.eth.get_block("latest")
        return int(block["number"]), bytes(block["hash"]), int(block["timestamp"])

    def _events(self, certificate_id: bytes) -> list[chain_events.ChainEvent]:
        """The certificate's issue, amend and status-change events, in chain order."""
        chain = self.reader.chain
        start = self.reader.deployment.start_block
        end = chain.block_number()
        found: list[chain_events.ChainEvent] = []
        while end >= start:
            low = start if self.log_range is None else max(start, end - self.log_range + 1)
            # The chain layer's own decoding (block times included); private there, but
            # writing it a second time here would be worse.
            found[:0] = logs.decode_logs(chain, self._logs(certificate_id, low, end))
            if any(isinstance(e, chain_events.CertificateIssued) for e in found):
                break  # nothing of this certificate lies before its issue
            end = low - 1
        return found

    def _logs(self, certificate_id: bytes, low: int, high: int) -> list[LogReceipt]:
        params: FilterParams = {
            "fromBlock": low,
            "toBlock": high,
            "address": self.reader.deployment.registry,
            # Hex text, not bytes: eth-tester matches topics only in that form.
            "topics": [self._topics, HexStr("0x" + certificate_id.hex())],
        }
        try:
            with translate_errors("reading certificate events"):
                return list(self.reader.chain.w3.eth.get_logs(params))
        except Web3RPCError as exc:
            # A node refusing the range answers an RPC error, not a network failure.
            raise SourceUnavailable(
                f"the chain node refused the event query for blocks {low}..{high} "
                f"({exc.message}); give the source a smaller log_range"
            ) from exc


def _history_topics() -> list[HexStr]:
    wanted = {cls.event_name for cls in _HISTORY_EVENTS}
    return [
        HexStr("0x" + event_abi_to_log_topic(element).hex())
        for element in load_artifact(REGISTRY).abi
        if element["type"] == "event" and element["name"] in wanted
    ]


def _record(
    slot: Certificate, issuer: str, events: Sequence[chain_events.ChainEvent]
) -> CertificateSlot | None:
    """The record from the slot and its events; None when the two disagree (a change landed
    between the reads)."""
    issued = next((e for e in events if isinstance(e, chain_events.CertificateIssued)), None)
    if issued is None:
        return None
    history = [StatusChange(CertificateStatus.ACTIVE, 0, issued.block_timestamp)]
    holder_ref = issued.holder_ref
    amendments = 0
    for event in events:
        if isinstance(event, chain_events.CertificateStatusChanged):
            history.append(
                StatusChange(
                    CertificateStatus(int(event.status)), int(event.reason), event.block_timestamp
                )
            )
        elif isinstance(event, chain_events.CertificateAmended):
            holder_ref = event.holder_ref
            amendments += 1
    status = CertificateStatus(int(slot.status))
    if history[-1].status is not status or amendments + 1 != slot.version:
        return None
    return CertificateSlot(
        certificate_id=slot.id,
        issuer=issuer,
        tiers=int(slot.tiers),
        status=status,
        valid_from=slot.valid_from,
        valid_until=slot.valid_until,
        version=slot.version,
        digest=slot.digest,
        history=tuple(history),
        holder_ref=holder_ref,
        number=issued.number,
    )


def _ask(what: str, read: Callable[[], _T]) -> _T:
    """Runs one chain read; every chain-layer failure becomes ``SourceUnavailable``."""
    try:
        return read()
    except SourceUnavailable:
        raise
    except ChainError as exc:
        raise SourceUnavailable(f"{what} failed: {exc}") from exc
