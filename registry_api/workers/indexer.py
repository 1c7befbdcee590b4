"""The indexer: follows the registry contracts' events into this administration's database.

It is the only source of certificate history, on-chain status, the consortium's members,
accounts, signing keys and MRAs as the API serves them, and the only writer of the partner
feed (``feed_entries``, described in docs/api.md under "Feed entries"). Reads never ask the
chain.

Each pass of :meth:`Indexer.run_once`:

1. checks that the block under the stored cursor is still the chain's (same hash); if not,
   the chain rewound (a reorganisation, or a node restarted from an older state): the index
   rolls back to the last block it still agrees with and re-indexes from there;
2. reads events page by page (at most 1,000 blocks a page: Besu's log-range limit) and
   applies each page in one database transaction, cursor (block and hash) included. Events
   are keyed by (transaction hash, log index), so a page delivered twice changes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import BlockNotFound

from contracts.chain import Chain
from contracts.deploy import Deployment
from contracts.domain import days, ids
from contracts.domain.encoding import jsonable
from contracts.domain.enums import AuthorityStatus, CertificateStatus as ChainStatus
from contracts.domain.events import (
    AccountAdded,
    AccountRemoved,
    AuthorityAdmitted,
    AuthorityReinstated,
    AuthorityRemoved,
    AuthoritySuspended,
    BootstrapClosed,
    CertificateAmended,
    CertificateIssued,
    CertificateRenewed,
    CertificateStatusChanged,
    ChainEvent,
    MembershipExecuted,
    MembershipProposed,
    MembershipVoted,
    MraInForce,
    MraProposed,
    MraResumed,
    MraSigned,
    MraSuspended,
    MraTerminated,
    SigningKeyRegistered,
    SigningKeyRevoked,
)
from contracts.domain.record import CertificateRecord
from contracts.errors import ChainUnavailableError, translate_errors
from contracts.logs import BESU_MAX_LOG_RANGE, iter_event_pages
from contracts.reader import RegistryReader

from .. import status_lists
from ..db import (
    Authority,
    AuthorityAccount,
    Certificate,
    CertificateEvent,
    FeedEntry,
    IndexedSigningKey,
    IndexerCursor,
    LocalStatus,
    Mra,
    MraParty,
    Operation,
    insert_if_absent,
    utc_now,
)
from ..db.chain_index import CURSOR_NAME, MRA_STATE_NAMES, mra_key
from ..faults import CrashAt, CrashPoint
from ..metrics import Metrics
from ..outbox import operation_details

logger = logging.getLogger("registry_api.indexer")

#: how many stored block hashes a rewind compares with the chain per round trip
_SAFE_POINT_BATCH = 64

CertificateChange = (
    CertificateIssued | CertificateAmended | CertificateRenewed | CertificateStatusChanged
)
CertificateEventTypes = (
    CertificateIssued,
    CertificateAmended,
    CertificateRenewed,
    CertificateStatusChanged,
)

_STATUS_CHANGE_KIND = {
    ChainStatus.ACTIVE: "reinstated",
    ChainStatus.SUSPENDED: "suspended",
    ChainStatus.REVOKED: "revoked",
}
_FEED_KINDS: dict[type[ChainEvent], str] = {
    AuthorityAdmitted: "authority.admitted",
    AuthoritySuspended: "authority.suspended",
    AuthorityReinstated: "authority.reinstated",
    AuthorityRemoved: "authority.removed",
    BootstrapClosed: "consortium.bootstrap_closed",
    MembershipProposed: "membership.proposed",
    MembershipVoted: "membership.voted",
    MembershipExecuted: "membership.executed",
    AccountAdded: "account.added",
    AccountRemoved: "account.removed",
    SigningKeyRegistered: "signing_key.registered",
    SigningKeyRevoked: "signing_key.revoked",
    MraProposed: "mra.proposed",
    MraSigned: "mra.signed",
    MraInForce: "mra.in_force",
    MraSuspended: "mra.suspended",
    MraResumed: "mra.resumed",
    MraTerminated: "mra.terminated",
}


# ---------------------------------------------------------------------- JSON forms


def event_args(event: ChainEvent) -> dict[str, Any]:
    """The event's own arguments (not where it happened), JSON-safe."""
    meta = {f.name for f in fields(ChainEvent)}
    args = {f.name: jsonable(getattr(event, f.name)) for f in fields(event) if f.name not in meta}
    if isinstance(event, CertificateIssued):
        # Feed compatibility: partners read the ABI form of the number (bytes32 hex) in
        # ``payload.data``, as they always have; the event carries it as text.
        args["number"] = jsonable(ids.certificate_number(event.number))
    return args


def block_time(event: ChainEvent) -> datetime:
    return datetime.fromtimestamp(event.block_timestamp, UTC)


def chain_position(event: ChainEvent) -> dict[str, Any]:
    return {
        "block_number": event.block_number,
        "block_hash": "0x" + event.block_hash.hex(),
        "block_time": block_time(event).isoformat().replace("+00:00", "Z"),
        "tx_hash": "0x" + event.tx_hash.hex(),
        "log_index": event.log_index,
    }


# ---------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class IndexerStatus:
    ok: bool
    block: int | None
    head: int | None
    last_error: str | None

    @property
    def lag(self) -> int | None:
        if self.block is None or self.head is None:
            return None
        return max(self.head - self.block, 0)


#: values per ``IN (...)`` list of a page's look-ups (well below every backend's limit)
_IN_CHUNK = 500


def _chunks(values: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


@dataclass(frozen=True, slots=True)
class _Latest:
    """A certificate's latest indexed event: where it is, the number, the state after it."""

    position: tuple[int, int]
    number: str | None
    state: dict[str, Any]


@dataclass(slots=True)
class _PageState:
    """What applying a page's certificate events reads from the database, read once for
    the page (a few ``IN`` queries instead of four queries per event) and kept current
    as the page's events are applied."""

    #: (tx hash, log index) of the events already indexed
    seen: set[tuple[bytes, int]]
    #: certificate id -> its latest event
    latest: dict[bytes, _Latest]
    #: tx hash -> this service's operation that sent it
    operations: dict[bytes, Operation]
    #: certificate id -> our certificate's row
    own: dict[bytes, Certificate]

    @classmethod
    def load(
        cls, session: Session, events: Sequence[CertificateChange], authority: str
    ) -> _PageState:
        tx_hashes = list(dict.fromkeys(event.tx_hash for event in events))
        # An issue starts a certificate's state afresh: only later events need the latest.
        followed = list(
            dict.fromkeys(
                event.certificate_id for event in events if not isinstance(event, CertificateIssued)
            )
        )
        ours = list(
            dict.fromkeys(event.certificate_id for event in events if event.issuer == authority)
        )
        seen: set[tuple[bytes, int]] = set()
        operations: dict[bytes, Operation] = {}
        for chunk in _chunks(tx_hashes):
            seen.update(
                (bytes(tx_hash), log_index)
                for tx_hash, log_index in session.execute(
                    sa.select(CertificateEvent.tx_hash, CertificateEvent.log_index).where(
                        CertificateEvent.tx_hash.in_(chunk)
                    )
                )
            )
            for operation in session.scalars(
                sa.select(Operation).where(Operation.tx_hash.in_(chunk))
            ):
                assert operation.tx_hash is not None
                operations.setdefault(bytes(operation.tx_hash), operation)
        latest: dict[bytes, _Latest] = {}
        for chunk in _chunks(followed):
            ranked = (
                sa.select(
                    CertificateEvent.certificate_id,
                    CertificateEvent.block_number,
                    CertificateEvent.log_index,
                    CertificateEvent.number,
                    CertificateEvent.data,
                    sa.func.row_number()
                    .over(
                        partition_by=CertificateEvent.certificate_id,
                        order_by=(
                            CertificateEvent.block_number.desc(),
                            CertificateEvent.log_index.desc(),
                        ),
                    )
                    .label("rank"),
                )
                .where(CertificateEvent.certificate_id.in_(chunk))
                .subquery()
            )
            for certificate_id, block, log_index, number, data, _rank in session.execute(
                sa.select(ranked).where(ranked.c.rank == 1)
            ):
                latest[bytes(certificate_id)] = _Latest(
                    (block, log_index), number, dict(data.get("state", {}))
                )
        own: dict[bytes, Certificate] = {}
        for chunk in _chunks(ours):
            for certificate in session.scalars(
                sa.select(Certificate).where(Certificate.certificate_id.in_(chunk))
            ):
                own[bytes(certificate.certificate_id)] = certificate
        return cls(seen, latest, operations, own)

    def saw(self, event: CertificateChange, number: str | None, state: dict[str, Any]) -> None:
        """Record ``event`` as applied: the certificate's latest, unless an event later
        in the chain is already indexed (as the database's ordering would say)."""
        position = (event.block_number, event.log_index)
        known = self.latest.get(event.certificate_id)
        if known is None or position > known.position:
            self.latest[event.certificate_id] = _Latest(position, number, state)


class Indexer:
    """Indexes the events of ``deployment`` on ``chain`` for ``authority``'s database.

    Thread-safe: passes are serialized, so a test can call :meth:`run_once` while the
    worker thread runs.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        chain: Chain,
        deployment: Deployment,
        authority: str,
        *,
        metrics: Metrics | None = None,
        page_size: int = BESU_MAX_LOG_RANGE,
        crash_at: CrashAt | None = None,
    ) -> None:
        if not 1 <= page_size <= BESU_MAX_LOG_RANGE:
            raise ValueError(f"page_size must be 1..{BESU_MAX_LOG_RANGE}; got {page_size}")
        self.session_factory = session_factory
        self.chain = chain
        self.deployment = deployment
        self.authority = authority
        self.metrics = metrics
        self.page_size = page_size
        #: the AEO_FAULT_CRASH_AT test hook (registry_api.faults), None in real use
        self.crash_at = crash_at
        self.reader = RegistryReader(chain, deployment)
        self._lock = threading.Lock()
        self._ok = False
        self._head: int | None = None
        self._block: int | None = None
        self._last_error: str | None = None
        #: the hash of the block the index ends at, as the chain had it at the last pass
        self._block_hash_at_cursor: bytes | None = None

    # ------------------------------------------------------------------ public

    @property
    def status(self) -> IndexerStatus:
        return IndexerStatus(self._ok, self._block, self._head, self._last_error)

    def cursor(self) -> int:
        """The last block whose events are all in the database."""
        with self.session_factory() as session:
            return self._cursor(session).block_number

    def poll(self) -> int:
        """What the worker thread calls every ``indexer_poll_interval``: one look at the
        chain's latest block, and a pass (:meth:`run_once`) only when it is not the block
        the index ends at (same number, same hash: a node restored to another block of
        the same height is noticed too), or the last pass failed. So the poll interval can
        be a fraction of the block time at the cost of one header read per poll."""
        try:
            with translate_errors("reading the latest block"):
                latest = self.chain.w3.eth.get_block("latest")
        except ChainUnavailableError:
            return self.run_once()  # records the outage, as a pass would
        number, block_hash = latest.get("number"), latest.get("hash")
        if (
            self._ok
            and number == self._block
            and block_hash is not None
            and bytes(block_hash) == self._block_hash_at_cursor
        ):
            return 0
        return self.run_once()

    def run_once(self, max_pages: int | None = None) -> int:
        """Index up to the chain head (or ``max_pages`` pages); returns the number of events
        applied. A chain outage ends the pass quietly; the next pass resumes from the cursor."""
        with self._lock:
            try:
                applied = self._run(max_pages)
            except ChainUnavailableError as exc:
                if self._ok or self._last_error is None:
                    logger.warning("the chain is unavailable; indexing waits: %s", exc)
                self._ok = False
                self._last_error = str(exc)
                return 0
            self._ok = True
            self._last_error = None
            return applied

    # ------------------------------------------------------------------ passes

    def _cursor(self, session: Session, *, lock: bool = False) -> IndexerCursor:
        """The cursor row; ``lock``: hold it (``FOR UPDATE``) until the transaction ends, so
        that on PostgreSQL two indexers of one database apply a page one after the other
        and feed sequences are committed in order (SQLite serializes writers anyway)."""
        cursor = session.get(
            IndexerCursor, CURSOR_NAME, with_for_update=lock, populate_existing=lock
        )
        if cursor is None:
            # Two indexers starting together on PostgreSQL both find no cursor.
            insert_if_absent(
                session,
                IndexerCursor,
                {
                    "name": CURSOR_NAME,
                    "block_number": self.deployment.start_block - 1,
                    "block_hash": None,
                    "updated_at": utc_now(),
                },
                key=["name"],
            )
            cursor = session.get(
                IndexerCursor, CURSOR_NAME, with_for_update=lock, populate_existing=True
            )
            assert cursor is not None
        return cursor

    def _block_hash(self, number: int) -> bytes | None:
        """The canonical hash of block ``number``, or None past the head."""
        try:
            with translate_errors("reading a block header"):
                block = self.chain.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        block_hash = block.get("hash")
        return bytes(block_hash) if block_hash is not None else None

    def _run(self, max_pages: int | None) -> int:
        head = self.chain.block_number()
        self._head = head
        with self.session_factory() as session:
            cursor = self._cursor(session)
            session.commit()
            if cursor.block_hash is not None and (
                cursor.block_number > head
                or self._block_hash(cursor.block_number) != cursor.block_hash
            ):
                self._rewind(session, cursor, head)
            start = cursor.block_number + 1
            self._block_hash_at_cursor = cursor.block_hash
        self._update_metrics(start - 1, head)
        applied = 0
        pages = 0
        while start <= head and (max_pages is None or pages < max_pages):
            stop = min(start + self.page_size - 1, head)
            stop_hash = self._block_hash(stop)
            page = next(iter_event_pages(self.chain, self.deployment, start, stop, self.page_size))
            if stop_hash is None or self._block_hash(stop) != stop_hash:
                # The chain changed under the page: the next pass starts with the rewind check.
                logger.warning("blocks %s..%s changed while being read; retrying", start, stop)
                break
            with self.session_factory() as session:
                cursor = self._cursor(session, lock=True)
                if cursor.block_number != start - 1:
                    break  # another process's indexer applied this page while we waited
                applied += self.apply_events(session, page.events)
                cursor.block_number = stop
                cursor.block_hash = stop_hash
                session.commit()
            self._block_hash_at_cursor = stop_hash
            if self.crash_at is not None:
                self.crash_at.reached(CrashPoint.AFTER_INDEX_PAGE)
            self._update_metrics(stop, head)
            start = stop + 1
            pages += 1
        return applied

    def _update_metrics(self, block: int, head: int) -> None:
        self._block = block
        if self.metrics is not None:
            self.metrics.indexer_block.set(block)
            self.metrics.indexer_lag_blocks.set(max(head - block, 0))

    # ------------------------------------------------------------------ applying events

    def apply_events(self, session: Session, events: Sequence[ChainEvent]) -> int:
        """Apply ``events`` (in chain order) to the session; no commit. Events already in
        the database are skipped, so delivering them twice is harmless. Returns how many
        were new.

        Certificate events are the bulk of a page (an import issues 100 per transaction):
        what they need from the database is read once for the page (:class:`_PageState`),
        and each run of them is written with one multi-row insert of events and one of
        feed entries, in chain order, so feed sequences still follow the chain."""
        changes = [event for event in events if isinstance(event, CertificateEventTypes)]
        page = _PageState.load(session, changes, self.authority) if changes else None
        applied = 0
        run: list[CertificateChange] = []
        for event in events:
            if isinstance(event, CertificateEventTypes):
                run.append(event)
                continue
            if run:
                assert page is not None
                applied += self._apply_certificate_run(session, page, run)
                run = []
            if self._seen(session, event):
                continue
            self._apply_consortium_event(session, event)
            applied += 1
            session.flush()
        if run:
            assert page is not None
            applied += self._apply_certificate_run(session, page, run)
        # Our certificates whose status changed: their W3C status lists are rewritten in
        # this page's transaction (registry_api.status_lists).
        status_lists.status_changed(
            session,
            {
                event.certificate_id
                for event in changes
                if isinstance(event, CertificateStatusChanged) and event.issuer == self.authority
            },
        )
        return applied

    def _seen(self, session: Session, event: ChainEvent) -> bool:
        """Whether a non-certificate event already has its feed entry (or, for events not in
        this feed, was applied: those upserts are idempotent anyway)."""
        tx_hash = "0x" + event.tx_hash.hex()
        candidates = session.scalars(
            sa.select(FeedEntry).where(
                FeedEntry.block_number == event.block_number,
                FeedEntry.event_id.is_(None),
            )
        ).all()
        for entry in candidates:
            position = entry.payload.get("chain") or {}
            if (
                position.get("tx_hash") == tx_hash
                and position.get("log_index") == event.log_index
                and "retracted_by" not in entry.payload
            ):
                return True
        return False

    # certificates

    def _previous(self, session: Session, certificate_id: bytes) -> CertificateEvent | None:
        return session.scalars(
            sa.select(CertificateEvent)
            .where(CertificateEvent.certificate_id == certificate_id)
            .order_by(CertificateEvent.block_number.desc(), CertificateEvent.log_index.desc())
            .limit(1)
        ).first()

    def _apply_certificate_run(
        self, session: Session, page: _PageState, events: Sequence[CertificateChange]
    ) -> int:
        """Apply consecutive certificate events: one insert of their rows (ids returned in
        order), then one of their feed entries. Returns how many were new."""
        rows: list[dict[str, Any]] = []
        feed: list[tuple[int, dict[str, Any]]] = []
        for event in events:
            change = self._certificate_change(page, event)
            if change is None:
                continue
            row, entry = change
            if entry is not None:
                feed.append((len(rows), entry))
            rows.append(row)
        if not rows:
            return 0
        ids = session.scalars(
            sa.insert(CertificateEvent).returning(
                CertificateEvent.id, sort_by_parameter_order=True
            ),
            rows,
        ).all()
        if feed:
            session.execute(
                sa.insert(FeedEntry), [entry | {"event_id": ids[at]} for at, entry in feed]
            )
        return len(rows)

    def _certificate_change(
        self, page: _PageState, event: CertificateChange
    ) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The ``certificate_events`` row of ``event`` and, for our certificates, its feed
        entry (without ``event_id``); None when the event is already indexed. Updates our
        certificate's row and the page's view of each certificate's latest event."""
        key = (event.tx_hash, event.log_index)
        if key in page.seen:
            return None
        page.seen.add(key)
        previous = page.latest.get(event.certificate_id)
        state: dict[str, Any] = dict(previous.state) if previous else {}
        # The tiers in force before this event: what a partner's view of the entry turns on
        # along with the tiers after it (services.feed.visible).
        previous_tiers = None if isinstance(event, CertificateIssued) else state.get("tiers")
        number = previous.number if previous is not None else None
        reason: int | None = None
        if isinstance(event, CertificateIssued):
            number = event.number
            kind = "issued"
            state = {
                "status": "active",
                "version": 1,
                "tiers": int(event.tiers),
                "valid_from": event.valid_from,
                "valid_until": event.valid_until,
                "holder_ref": "0x" + event.holder_ref.hex(),
                "commitment": "0x" + event.commitment.hex(),
            }
        elif isinstance(event, CertificateAmended):
            kind = "amended"
            reason = int(event.reason)
            state |= {
                "version": event.version,
                "tiers": int(event.tiers),
                "holder_ref": "0x" + event.holder_ref.hex(),
                "commitment": "0x" + event.commitment.hex(),
            }
        elif isinstance(event, CertificateRenewed):
            kind = "renewed"
            reason = int(event.reason)
            state |= {"valid_until": event.valid_until}
        else:
            kind = _STATUS_CHANGE_KIND[event.status]
            reason = int(event.reason)
            state |= {"status": LocalStatus.of_chain(event.status).value}

        data: dict[str, Any] = {
            "event": event.event_name,
            "args": event_args(event),
            "state": state,
        }
        operation = page.operations.get(event.tx_hash)
        if operation is not None:
            data["operation"] = {
                "id": str(operation.id),
                "kind": operation.kind,
                "api_key_id": operation.api_key_id,
            }
        own = event.issuer == self.authority
        if own and number is not None:
            certificate = page.own.get(event.certificate_id)
            if certificate is not None and self._describes(certificate, event):
                self._apply_to_own(certificate, event, state, operation)
                data["record"] = certificate.to_record().canonical_dict()
        page.saw(event, number, state)

        row: dict[str, Any] = {
            "certificate_id": event.certificate_id,
            "issuer": event.issuer,
            "number": number,
            "kind": kind,
            "status": state.get("status"),
            "reason_code": reason,
            "operator": event.operator,
            "version": state.get("version"),
            "commitment": (
                bytes(HexBytes(state["commitment"])) if state.get("commitment") else None
            ),
            "data": data,
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
            "block_hash": event.block_hash,
            "log_index": event.log_index,
            "block_time": block_time(event),
            # With block_time, the partner-propagation KPI (services.kpis): how long a
            # partner's change took from its block to this index.
            "indexed_at": utc_now(),
        }
        if not own:
            return row, None
        entry: dict[str, Any] = {
            "kind": f"certificate.{kind}",
            "certificate_id": event.certificate_id,
            "number": number,
            "tiers": state.get("tiers"),
            "previous_tiers": previous_tiers,
            "payload": {
                "event": event.event_name,
                "chain": chain_position(event),
                "data": data["args"],
                "certificate": {
                    "issuer": event.issuer,
                    "number": number,
                    "status": state.get("status"),
                    "version": state.get("version"),
                    "tiers": state.get("tiers"),
                    "valid_from": days.iso_or_none(state.get("valid_from")),
                    "valid_until": days.iso_or_none(state.get("valid_until")),
                },
            },
            "block_number": event.block_number,
        }
        return row, entry

    @staticmethod
    def _describes(certificate: Certificate, event: CertificateChange) -> bool:
        """Whether our row is the record of the chain's certificate. Not when its issue
        failed, nor when the number was issued on-chain with another record (by a process
        this database does not know): then the row keeps its own status, and reads show
        the chain's state beside a proof that does not match."""
        if certificate.status is LocalStatus.FAILED:
            return False
        if isinstance(event, CertificateIssued) and certificate.commitment != event.commitment:
            logger.warning(
                "certificate %s was issued on-chain with another record than the stored one "
                "(commitment 0x%s); the stored record is not the chain's",
                certificate.number,
                event.commitment.hex(),
            )
            return False
        return not (
            certificate.status is LocalStatus.PENDING and not isinstance(event, CertificateIssued)
        )

    def _apply_to_own(
        self,
        certificate: Certificate,
        event: CertificateChange,
        state: dict[str, Any],
        operation: Operation | None,
    ) -> None:
        details = operation_details(operation) if operation is not None else {}
        if isinstance(event, CertificateAmended):
            raw = details.get("record")
            if raw is not None:
                record = CertificateRecord.model_validate(raw)
                if record.commitment() == event.commitment:
                    certificate.apply_record(record)
            if certificate.commitment != event.commitment:
                logger.warning(
                    "certificate %s was amended on-chain to a record this database does not "
                    "hold (commitment 0x%s)",
                    certificate.number,
                    event.commitment.hex(),
                )
        if isinstance(event, CertificateStatusChanged):
            certificate.status_reason = int(event.reason)
            deadline = details.get("remedy_deadline")
            certificate.remedy_deadline = (
                date.fromisoformat(deadline)
                if event.status is ChainStatus.SUSPENDED and deadline
                else None
            )
        certificate.status = LocalStatus(state["status"])
        certificate.version = int(state["version"])

    # consortium and MRAs

    def _feed(
        self, session: Session, event: ChainEvent, extra: dict[str, Any] | None = None
    ) -> None:
        payload: dict[str, Any] = {
            "event": event.event_name,
            "chain": chain_position(event),
            "data": event_args(event),
        }
        payload |= extra or {}
        session.add(
            FeedEntry(
                event_id=None,
                kind=_FEED_KINDS[type(event)],
                certificate_id=None,
                number=None,
                tiers=None,
                payload=payload,
                block_number=event.block_number,
            )
        )

    def _authority(self, session: Session, code: str, block: int) -> Authority:
        authority = session.get(Authority, code)
        if authority is None:
            # Known only through a later event (a rewind dropped its admission): the chain
            # still knows it.
            authority = Authority(code=code, name=code, status="active", updated_block=block)
            session.add(authority)
            self._refresh_authority(session, authority)
            session.flush()
        return authority

    def _apply_consortium_event(self, session: Session, event: ChainEvent) -> None:
        block = event.block_number
        when = block_time(event)
        if isinstance(event, AuthorityAdmitted):
            authority = session.get(Authority, event.code)
            if authority is None:
                authority = Authority(code=event.code, name=event.name, status="active")
                session.add(authority)
            authority.name = event.name
            authority.status = "active"
            authority.admitted_at = when
            authority.status_changed_at = when
            authority.updated_block = block
        elif isinstance(event, AuthoritySuspended | AuthorityReinstated | AuthorityRemoved):
            authority = self._authority(session, event.code, block)
            authority.status = {
                AuthoritySuspended: "suspended",
                AuthorityReinstated: "active",
                AuthorityRemoved: "removed",
            }[type(event)]
            authority.status_changed_at = when
            authority.updated_block = block
        elif isinstance(event, AccountAdded):
            self._authority(session, event.authority, block)
            account = session.get(AuthorityAccount, event.account)
            if account is None:
                account = AuthorityAccount(address=event.account)
                session.add(account)
            account.authority = event.authority
            account.roles = int(event.roles)
            account.updated_block = block
        elif isinstance(event, AccountRemoved):
            account = session.get(AuthorityAccount, event.account)
            if account is not None:
                session.delete(account)
        elif isinstance(event, SigningKeyRegistered):
            self._authority(session, event.authority, block)
            key = session.get(IndexedSigningKey, event.kid)
            if key is None:
                key = IndexedSigningKey(kid=event.kid)
                session.add(key)
            key.authority = event.authority
            key.algorithm = int(event.algorithm)
            key.public_key = event.public_key
            key.valid_from = datetime.fromtimestamp(event.valid_from, UTC)
            key.revoked_at = None
            key.updated_block = block
        elif isinstance(event, SigningKeyRevoked):
            key = session.get(IndexedSigningKey, event.kid)
            if key is not None:
                key.revoked_at = datetime.fromtimestamp(event.revoked_at, UTC)
                key.updated_block = block
        elif isinstance(
            event, MraProposed | MraSigned | MraInForce | MraSuspended | MraResumed | MraTerminated
        ):
            mra = self._apply_mra_event(session, event)
            if mra is not None and self.authority in {p.authority for p in mra.parties}:
                self._feed(
                    session,
                    event,
                    {
                        "mra": {
                            "mra_id": event.mra_id,
                            "parties": [p.authority for p in mra.parties],
                            "status": mra.status,
                        }
                    },
                )
            return
        self._feed(session, event)

    def _apply_mra_event(self, session: Session, event: ChainEvent) -> Mra | None:
        assert isinstance(
            event, MraProposed | MraSigned | MraInForce | MraSuspended | MraResumed | MraTerminated
        )
        key = mra_key(event.mra_id)
        when = block_time(event)
        known = session.get(Mra, key)
        if known is not None and known.updated_block > event.block_number:
            # An old event delivered again (MRAs of others have no feed entry to tell):
            # the row already holds what later blocks did.
            return known
        if isinstance(event, MraProposed):
            mra = session.get(Mra, key)
            if mra is None:
                mra = Mra(mra_id=key)
                session.add(mra)
            mra.status = "proposed"
            mra.proposer = event.party
            mra.effective_from = days.from_day(event.effective_from)
            mra.ends_on = days.from_day(event.ends_on) if event.ends_on else None
            mra.text_hash = event.text_hash
            mra.updated_block = event.block_number
            mra.parties = [
                MraParty(authority=party, recognized_tiers=int(tiers), signed_at=None)
                for party, tiers in zip(event.parties, event.recognized_tiers, strict=True)
            ]
            return mra
        mra = session.get(Mra, key)
        if mra is None:
            mra = self._mra_from_chain(session, event.mra_id, event.block_number)
            if mra is None:
                return None
        if isinstance(event, MraSigned):
            for party in mra.parties:
                if party.authority == event.party:
                    party.signed_at = when
        elif isinstance(event, MraInForce | MraResumed):
            mra.status = "in_force"
        elif isinstance(event, MraSuspended):
            mra.status = "suspended"
        elif isinstance(event, MraTerminated):
            mra.status = "terminated"
        mra.updated_block = event.block_number
        return mra

    # ------------------------------------------------------------------ refresh from views

    def _refresh_authority(self, session: Session, authority: Authority) -> bool:
        """Set ``authority`` from the chain's view; False when the chain does not know it."""
        view = self.reader.get_authority(authority.code)
        if not view.known:
            return False
        authority.name = view.name
        authority.status = {
            AuthorityStatus.ACTIVE: "active",
            AuthorityStatus.SUSPENDED: "suspended",
            AuthorityStatus.REMOVED: "removed",
        }[view.status]
        authority.admitted_at = datetime.fromtimestamp(view.admitted_at, UTC)
        authority.status_changed_at = datetime.fromtimestamp(view.status_changed_at, UTC)
        return True

    def _mra_from_chain(self, session: Session, mra_id: int, block: int) -> Mra | None:
        view = self.reader.get_mra(mra_id)
        if not view.known or view.state not in MRA_STATE_NAMES:
            return None
        key = mra_key(mra_id)
        mra = session.get(Mra, key)
        if mra is None:
            mra = Mra(mra_id=key)
            session.add(mra)
        signed_before = {p.authority: p.signed_at for p in mra.parties}
        mra.status = MRA_STATE_NAMES[view.state]
        mra.proposer = view.proposer or ""
        mra.effective_from = days.from_day(view.effective_from)
        mra.ends_on = days.from_day(view.ends_on) if view.ends_on else None
        mra.text_hash = view.text_hash
        mra.updated_block = block
        proposed = datetime.fromtimestamp(view.proposed_at, UTC)
        mra.parties = [
            MraParty(
                authority=party,
                recognized_tiers=int(tiers),
                signed_at=(signed_before.get(party) or proposed) if signed else None,
            )
            for party, tiers, signed in zip(
                view.parties, view.recognized_tiers, view.signed, strict=True
            )
        ]
        return mra

    # ------------------------------------------------------------------ rewinds

    def _safe_point(self, session: Session, cursor: IndexerCursor, head: int) -> int:
        """The highest indexed block the chain still has with the same hash: everything at
        or below it is unchanged (each block hash commits to its parent)."""
        floor = self.deployment.start_block - 1
        top = min(cursor.block_number, head)
        known: dict[int, bytes] = {}
        if cursor.block_hash is not None and cursor.block_number <= head:
            known[cursor.block_number] = cursor.block_hash
        for number, block_hash in session.execute(
            sa.select(CertificateEvent.block_number, CertificateEvent.block_hash)
            .where(CertificateEvent.block_number <= top)
            .distinct()
        ):
            known[number] = block_hash
        for number, payload in session.execute(
            sa.select(FeedEntry.block_number, FeedEntry.payload).where(
                FeedEntry.block_number <= top, FeedEntry.kind != "chain.rewound"
            )
        ):
            raw = (payload.get("chain") or {}).get("block_hash")
            if raw and "retracted_by" not in payload:
                known[number] = bytes(HexBytes(raw))
        for number in sorted(known, reverse=True):
            if self._block_hash(number) == known[number]:
                return number
        return floor

    def _rewind(self, session: Session, cursor: IndexerCursor, head: int) -> None:
        safe = self._safe_point(session, cursor, head)
        logger.warning(
            "the chain no longer has block %s as indexed (head %s): rolling back to block %s",
            cursor.block_number,
            head,
            safe,
        )
        dropped = session.scalars(
            sa.select(CertificateEvent).where(CertificateEvent.block_number > safe)
        ).all()
        affected = {event.certificate_id for event in dropped}
        retracted = session.scalars(
            sa.select(FeedEntry)
            .where(FeedEntry.block_number > safe, FeedEntry.kind != "chain.rewound")
            .order_by(FeedEntry.sequence)
        ).all()
        retracted = [entry for entry in retracted if "retracted_by" not in entry.payload]
        marker = FeedEntry(
            event_id=None,
            kind="chain.rewound",
            certificate_id=None,
            number=None,
            tiers=None,
            payload={
                "from_block": safe + 1,
                "retracted": [entry.sequence for entry in retracted],
            },
            block_number=max(safe, 0),
        )
        session.add(marker)
        session.flush()
        for entry in retracted:
            entry.event_id = None
            entry.payload = {**entry.payload, "retracted_by": marker.sequence}
        session.flush()
        for event in dropped:
            session.delete(event)
        session.flush()

        for certificate in session.scalars(
            sa.select(Certificate).where(Certificate.certificate_id.in_(affected))
        ):
            self._restore_own(session, certificate)
        status_lists.status_changed(session, affected)
        self._refresh_after(session, safe)

        cursor.block_number = safe
        cursor.block_hash = self._block_hash(safe) if safe >= self.deployment.start_block else None
        session.commit()
        if self.metrics is not None:
            self.metrics.indexer_block.set(safe)

    def _restore_own(self, session: Session, certificate: Certificate) -> None:
        """Put one of ours back as its remaining history says (nothing left: pending, its
        operation will be sent again)."""
        if certificate.status is LocalStatus.FAILED:
            return
        latest = self._previous(session, certificate.certificate_id)
        if latest is None or "record" not in latest.data:
            certificate.status = LocalStatus.PENDING
            certificate.version = 1
            certificate.status_reason = None
            certificate.remedy_deadline = None
            return
        state = latest.data.get("state", {})
        raw = latest.data.get("record")
        if raw is not None:
            # Stored in canonical form, which adds the "schema" member the model refuses.
            fields = {name: value for name, value in raw.items() if name != "schema"}
            certificate.apply_record(CertificateRecord.model_validate(fields))
        certificate.status = LocalStatus(state["status"])
        certificate.version = int(state["version"])
        if latest.kind in {"suspended", "revoked"}:
            certificate.status_reason = latest.reason_code
        else:
            certificate.status_reason = None
            certificate.remedy_deadline = None

    def _refresh_after(self, session: Session, safe: int) -> None:
        """Rows last changed by dropped blocks: set them from the chain's current view (the
        re-indexed events then replay on top and end in the same state)."""
        for mra in session.scalars(sa.select(Mra).where(Mra.updated_block > safe)).all():
            mra_id = int.from_bytes(mra.mra_id, "big")
            if self._mra_from_chain(session, mra_id, safe) is None:
                session.delete(mra)
        for key in session.scalars(
            sa.select(IndexedSigningKey).where(IndexedSigningKey.updated_block > safe)
        ).all():
            view = self.reader.get_signing_key(key.kid)
            if not view.known:
                session.delete(key)
                continue
            key.revoked_at = (
                datetime.fromtimestamp(view.revoked_at, UTC) if view.revoked_at else None
            )
            key.updated_block = safe
        for account in session.scalars(
            sa.select(AuthorityAccount).where(AuthorityAccount.updated_block > safe)
        ).all():
            info = self.reader.account_of(account.address)
            if info.authority is None:
                session.delete(account)
                continue
            account.authority = info.authority
            account.roles = int(info.roles)
            account.updated_block = safe
        session.flush()
        for authority in session.scalars(
            sa.select(Authority).where(Authority.updated_block > safe)
        ).all():
            if self._refresh_authority(session, authority):
                authority.updated_block = safe
                continue
            for account in session.scalars(
                sa.select(AuthorityAccount).where(AuthorityAccount.authority == authority.code)
            ).all():
                session.delete(account)
            for key in session.scalars(
                sa.select(IndexedSigningKey).where(IndexedSigningKey.authority == authority.code)
            ).all():
                session.delete(key)
            session.flush()
            session.delete(authority)
        session.flush()
