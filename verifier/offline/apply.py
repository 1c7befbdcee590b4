"""Applying the chain's events to the offline cache's tables: one typed handler per domain
event class (:mod:`contracts.domain.events`), in a table keyed by class."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, Final

from contracts.domain import events as ev, ids
from contracts.domain.enums import AuthorityStatus, CertificateStatus, MraState
from verifier.errors import CacheError

#: Contract events that change nothing a verifier reads (accounts, votes before they execute).
NOT_CACHED: Final = (
    ev.BootstrapClosed,
    ev.AccountAdded,
    ev.AccountRemoved,
    ev.MembershipProposed,
    ev.MembershipVoted,
    ev.MembershipExecuted,
)


def as_event(event: ev.ChainEvent | Mapping[str, Any]) -> ev.ChainEvent:
    if isinstance(event, ev.ChainEvent):
        return event
    if isinstance(event, Mapping):
        try:
            return ev.event_from_mapping(event)
        except ev.InvalidEvent as exc:
            raise CacheError(str(exc)) from exc
    raise CacheError(f"{type(event).__name__} is not a chain event")


def position(event: ev.ChainEvent) -> tuple[int, int]:
    return event.position


def apply_event(db: sqlite3.Connection, event: ev.ChainEvent) -> None:
    handler = HANDLERS.get(type(event))
    if handler is None:
        known = ", ".join(sorted(cls.event_name for cls in HANDLERS))
        raise CacheError(f"unknown event {event.event_name}; known: {known}")
    handler(db, event)


def _expect_one(cursor: sqlite3.Cursor, event: ev.ChainEvent, what: str) -> None:
    if cursor.rowcount != 1:
        raise CacheError(
            f"{event.event_name} in block {event.block_number} names {what} the cache does "
            "not hold: the sync missed earlier events; sync again from the start"
        )


def _authority_admitted(db: sqlite3.Connection, e: ev.AuthorityAdmitted) -> None:
    db.execute(
        "INSERT INTO authorities (code, name, status, changed_at) VALUES (?, ?, ?, ?)",
        (e.code, e.name, AuthorityStatus.ACTIVE, e.block_timestamp),
    )


_AuthorityEvent = ev.AuthoritySuspended | ev.AuthorityReinstated | ev.AuthorityRemoved
_MraEvent = ev.MraInForce | ev.MraSuspended | ev.MraResumed | ev.MraTerminated


def _authority_status(status: AuthorityStatus) -> Callable[[sqlite3.Connection, Any], None]:
    def apply(db: sqlite3.Connection, e: _AuthorityEvent) -> None:
        cursor = db.execute(
            "UPDATE authorities SET status = ?, changed_at = ? WHERE code = ?",
            (status, e.block_timestamp, e.code),
        )
        _expect_one(cursor, e, f"authority {e.code}")

    return apply


def _key_registered(db: sqlite3.Connection, e: ev.SigningKeyRegistered) -> None:
    if ids.key_id(e.public_key) != e.kid:
        raise CacheError(f"SigningKeyRegistered: kid {e.kid.hex()} is not the key's id")
    db.execute(
        "INSERT INTO signing_keys (kid, authority, algorithm, public_key, valid_from) "
        "VALUES (?, ?, ?, ?, ?)",
        (e.kid, e.authority, int(e.algorithm), e.public_key, e.valid_from),
    )


def _key_revoked(db: sqlite3.Connection, e: ev.SigningKeyRevoked) -> None:
    cursor = db.execute(
        "UPDATE signing_keys SET revoked_at = ? WHERE kid = ? AND authority = ?",
        (e.revoked_at, e.kid, e.authority),
    )
    _expect_one(cursor, e, f"signing key {e.kid.hex()}")


def _status_change(
    db: sqlite3.Connection,
    e: ev.CertificateIssued | ev.CertificateStatusChanged,
    status: CertificateStatus,
    reason: int,
) -> None:
    db.execute(
        "INSERT INTO status_changes (certificate_id, block_number, log_index, status, reason, "
        "since) VALUES (?, ?, ?, ?, ?, ?)",
        (
            e.certificate_id,
            e.block_number,
            e.log_index,
            int(status),
            int(reason),
            e.block_timestamp,
        ),
    )


def _certificate_issued(db: sqlite3.Connection, e: ev.CertificateIssued) -> None:
    number = e.number
    if ids.certificate_id(e.issuer, number) != e.certificate_id:
        raise CacheError(f"CertificateIssued: id is not the id of {e.issuer}/{number}")
    db.execute(
        "INSERT INTO certificates (id, issuer, number, tiers, status, valid_from, valid_until, "
        "version, digest, holder_ref, commitment, status_reason, status_since) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 0, ?)",
        (
            e.certificate_id,
            e.issuer,
            number,
            int(e.tiers),
            CertificateStatus.ACTIVE,
            e.valid_from,
            e.valid_until,
            ids.record_digest(e.holder_ref, e.commitment),
            e.holder_ref,
            e.commitment,
            e.block_timestamp,
        ),
    )
    _status_change(db, e, CertificateStatus.ACTIVE, 0)


def _certificate_amended(db: sqlite3.Connection, e: ev.CertificateAmended) -> None:
    cursor = db.execute(
        "UPDATE certificates SET version = ?, tiers = ?, holder_ref = ?, commitment = ?, "
        "digest = ? WHERE id = ?",
        (
            e.version,
            int(e.tiers),
            e.holder_ref,
            e.commitment,
            ids.record_digest(e.holder_ref, e.commitment),
            e.certificate_id,
        ),
    )
    _expect_one(cursor, e, f"certificate 0x{e.certificate_id.hex()}")


def _certificate_renewed(db: sqlite3.Connection, e: ev.CertificateRenewed) -> None:
    cursor = db.execute(
        "UPDATE certificates SET valid_until = ? WHERE id = ?", (e.valid_until, e.certificate_id)
    )
    _expect_one(cursor, e, f"certificate 0x{e.certificate_id.hex()}")


def _certificate_status(db: sqlite3.Connection, e: ev.CertificateStatusChanged) -> None:
    cursor = db.execute(
        "UPDATE certificates SET status = ?, status_reason = ?, status_since = ? WHERE id = ?",
        (int(e.status), int(e.reason), e.block_timestamp, e.certificate_id),
    )
    _expect_one(cursor, e, f"certificate 0x{e.certificate_id.hex()}")
    _status_change(db, e, CertificateStatus(int(e.status)), int(e.reason))


def _mra_proposed(db: sqlite3.Connection, e: ev.MraProposed) -> None:
    if len(e.parties) != len(e.recognized_tiers):
        raise CacheError(f"MraProposed {e.mra_id}: parties and recognized_tiers differ in length")
    db.execute(
        "INSERT INTO mras (id, status, effective_from, ends_on, text_hash, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (e.mra_id, MraState.PROPOSED, e.effective_from, e.ends_on, e.text_hash, e.block_timestamp),
    )
    db.executemany(
        "INSERT INTO mra_parties (mra_id, position, authority, recognized_tiers, signed) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (e.mra_id, i, party, int(tiers), party == e.party)
            for i, (party, tiers) in enumerate(zip(e.parties, e.recognized_tiers, strict=True))
        ],
    )


def _mra_signed(db: sqlite3.Connection, e: ev.MraSigned) -> None:
    cursor = db.execute(
        "UPDATE mra_parties SET signed = 1 WHERE mra_id = ? AND authority = ?",
        (e.mra_id, e.party),
    )
    _expect_one(cursor, e, f"party {e.party} of MRA {e.mra_id}")


def _mra_status(status: MraState) -> Callable[[sqlite3.Connection, Any], None]:
    def apply(db: sqlite3.Connection, e: _MraEvent) -> None:
        cursor = db.execute(
            "UPDATE mras SET status = ?, changed_at = ? WHERE id = ?",
            (status, e.block_timestamp, e.mra_id),
        )
        _expect_one(cursor, e, f"MRA {e.mra_id}")

    return apply


# Keyed by class; a handler takes exactly its class (the table is the only place that pairs
# them, so mypy cannot check the pairing: a test applies every class).
HANDLERS: Final[dict[type[ev.ChainEvent], Callable[[sqlite3.Connection, Any], None]]] = {
    ev.AuthorityAdmitted: _authority_admitted,
    ev.AuthoritySuspended: _authority_status(AuthorityStatus.SUSPENDED),
    ev.AuthorityReinstated: _authority_status(AuthorityStatus.ACTIVE),
    ev.AuthorityRemoved: _authority_status(AuthorityStatus.REMOVED),
    ev.SigningKeyRegistered: _key_registered,
    ev.SigningKeyRevoked: _key_revoked,
    ev.CertificateIssued: _certificate_issued,
    ev.CertificateAmended: _certificate_amended,
    ev.CertificateRenewed: _certificate_renewed,
    ev.CertificateStatusChanged: _certificate_status,
    ev.MraProposed: _mra_proposed,
    ev.MraSigned: _mra_signed,
    ev.MraInForce: _mra_status(MraState.SIGNED),
    ev.MraSuspended: _mra_status(MraState.SUSPENDED),
    ev.MraResumed: _mra_status(MraState.SIGNED),
    ev.MraTerminated: _mra_status(MraState.TERMINATED),
}
