"""MRAs: proposing and changing them through the outbox, reading them from the index, which tiers a
partner's MRAs cover (what it may read: :mod:`registry_api.services.partner`), and "do we
recognize certificate C".

Every read here is answered from the index (``mras``, ``mra_parties``, ``authorities``,
``certificate_events``), never from the chain, with the contract's own rules as
:mod:`contracts.domain.rules` states them (the same module the offline verifier uses, so the
border post, the API and the contract give one answer). A day is whole UTC days since
1970-01-01 (:mod:`contracts.domain.days`); routes pass today's.

Writes are checked against the index only where it proves the contract would refuse (an
unknown MRA, a caller that is not a party, a terminal status, a second signature); anything
else is the contract's to decide, and a refusal ends the operation ``failed`` with the
decoded revert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts import calls
from contracts.calls import ContractCall
from contracts.domain import days, enums, ids, rules, state
from contracts.domain.days import Day

from ..auth import AuthenticatedKey
from ..db import (
    Authority,
    CertificateEvent,
    FeedEntry,
    LocalStatus,
    Mra,
    MraParty,
    Operation,
)
from ..db.chain_index import MRA_STATE_NAMES, mra_key
from ..errors import ConflictError, FieldError, ForbiddenError, InvalidError, NotFoundError
from ..outbox import Accepted, enqueue_once, request_fingerprint
from ..schemas.mras import MraCreate

#: the indexer's ``mras.status`` values and the contract state each stands for
STORED_STATES: dict[str, enums.MraState] = {name: state for state, name in MRA_STATE_NAMES.items()}
#: effective statuses callers may filter by (the contract's MraStatus, lower case)
STATUS_NAMES = tuple(s.name.lower() for s in enums.MraStatus if s is not enums.MraStatus.UNKNOWN)
#: certificate rows that exist on-chain (pending and failed ones never reached it)
ON_CHAIN = tuple(status for status in LocalStatus if status.on_chain is not None)
MRA_ID_BYTES = 32
#: certificate status names (database and index) and the contract's stored status
STORED_CERTIFICATE_STATUS = {
    status.value: status.on_chain for status in LocalStatus if status.on_chain is not None
}


class MraAction(StrEnum):
    SIGN = "sign"
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"

    @property
    def kind(self) -> str:
        """The operation kind the outbox records."""
        return f"mra_{self.value}"


# ---------------------------------------------------------------- ids and status


def mra_number(mra: Mra) -> int:
    return int.from_bytes(mra.mra_id, "big")


def as_record(mra: Mra) -> state.MraRecord:
    """The indexed MRA as the rules module takes it."""
    return state.MraRecord(
        mra_id=mra_number(mra),
        parties=tuple(
            state.MraParty(
                authority=party.authority,
                recognized_tiers=party.recognized_tiers,
                signed=party.signed_at is not None,
            )
            for party in mra.parties
        ),
        status=STORED_STATES.get(mra.status, enums.MraState.NONE),
        effective_from=days.to_day(mra.effective_from),
        ends_on=days.to_day(mra.ends_on) if mra.ends_on is not None else Day(0),
        text_hash=mra.text_hash,
    )


def effective_status(mra: Mra, day: Day) -> enums.MraStatus:
    """What the contract's ``mraStatus`` answers on ``day``."""
    return rules.mra_status(as_record(mra), day)


def status_name(status: enums.MraStatus) -> str:
    return status.name.lower()


def party_of(mra: Mra, authority: str) -> MraParty | None:
    return next((party for party in mra.parties if party.authority == authority), None)


# ---------------------------------------------------------------- reads


def get_mra(session: Session, mra_id: int) -> Mra:
    mra = session.get(Mra, mra_key(mra_id)) if 0 < mra_id < 2 ** (8 * MRA_ID_BYTES) else None
    if mra is None:
        raise NotFoundError(
            f"no MRA {mra_id} in the index (one proposed in the last seconds may not be "
            "indexed yet)"
        )
    return mra


def list_mras(
    session: Session,
    *,
    day: Day,
    status: str | None = None,
    party: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Mra], int]:
    """One page of indexed MRAs, oldest first, with their effective ``status`` on ``day``.

    The effective status depends on the day, so it is computed here rather than filtered
    in SQL; a registry holds tens of MRAs, not millions.
    """
    query = sa.select(Mra)
    if party is not None:
        query = query.where(
            Mra.mra_id.in_(sa.select(MraParty.mra_id).where(MraParty.authority == party))
        )
    rows = list(session.scalars(query).all())
    rows.sort(key=mra_number)
    if status is not None:
        rows = [mra for mra in rows if status_name(effective_status(mra, day)) == status]
    return rows[offset : offset + limit], len(rows)


def mras_between(session: Session, first: str, second: str) -> list[Mra]:
    """Every indexed MRA both authorities are parties to, in id order."""
    shared = (
        sa.select(MraParty.mra_id)
        .where(MraParty.authority.in_((first, second)))
        .group_by(MraParty.mra_id)
        .having(sa.func.count() == (1 if first == second else 2))
    )
    rows = list(session.scalars(sa.select(Mra).where(Mra.mra_id.in_(shared))).all())
    rows.sort(key=mra_number)
    return rows


def covered_tiers(session: Session, *, own: str, partner: str, day: Day) -> int:
    """The tiers of ``own``'s certificates that ``partner`` recognizes on ``day``: the union
    over every MRA in force between them of ``own``'s recognized tiers (0: none)."""
    tiers = 0
    for mra in mras_between(session, own, partner):
        if effective_status(mra, day) is enums.MraStatus.IN_FORCE:
            own_party = party_of(mra, own)
            assert own_party is not None
            tiers |= own_party.recognized_tiers
    return tiers


def mra_ids_of(session: Session, authority: str) -> list[int]:
    """The ids of every indexed MRA ``authority`` is a party to."""
    keys = session.scalars(sa.select(MraParty.mra_id).where(MraParty.authority == authority)).all()
    return sorted(int.from_bytes(key, "big") for key in keys)


# ---------------------------------------------------------------- recognition


@dataclass(frozen=True, slots=True)
class IndexedCertificate:
    """A certificate of any issuer as the index knows it from its events."""

    issuer: str
    tiers: int
    status: enums.CertificateStatus
    valid_from: Day
    valid_until: Day


def latest_state(event: CertificateEvent) -> IndexedCertificate | None:
    """A certificate's state after ``event``: the indexer keeps the whole state on each event
    (``data.state``: status, tiers, valid_from and valid_until as day numbers)."""
    held = (event.data or {}).get("state") or {}
    status = STORED_CERTIFICATE_STATUS.get(str(held.get("status")))
    try:
        tiers, valid_from, valid_until = (
            int(held["tiers"]),
            Day(int(held["valid_from"])),
            Day(int(held["valid_until"])),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if status is None:
        return None
    return IndexedCertificate(event.issuer, tiers, status, valid_from, valid_until)


def indexed_certificate(session: Session, certificate_id: bytes) -> IndexedCertificate | None:
    """The certificate (of any issuer) as of its latest indexed event; None if unknown."""
    latest = session.scalars(
        sa.select(CertificateEvent)
        .where(CertificateEvent.certificate_id == certificate_id)
        .order_by(CertificateEvent.block_number.desc(), CertificateEvent.log_index.desc())
        .limit(1)
    ).first()
    return latest_state(latest) if latest is not None else None


def authority_status(session: Session, code: str) -> enums.AuthorityStatus:
    row = session.get(Authority, code)
    if row is None:
        return enums.AuthorityStatus.NONE
    try:
        return enums.AuthorityStatus[row.status.upper()]
    except KeyError:
        return enums.AuthorityStatus.NONE


@dataclass(frozen=True, slots=True)
class Recognition:
    authority: str
    issuer: str
    number: str
    certificate_id: bytes
    answer: rules.RecognitionAnswer
    certificate_status: enums.EffectiveStatus
    tiers: int | None
    day: Day


def recognition(
    session: Session, *, authority: str, issuer: str, number: str, day: Day
) -> Recognition:
    """Does ``authority`` recognize certificate ``number`` of ``issuer`` on ``day``: the
    contract's ``recognizes``, answered from the index."""
    certificate_id = ids.certificate_id(issuer, number)
    certificate = indexed_certificate(session, certificate_id)
    if certificate is None:
        status = enums.EffectiveStatus.UNKNOWN
        tiers = None
    else:
        status = rules.effective_status(
            certificate.status, certificate.valid_from, certificate.valid_until, day
        )
        tiers = certificate.tiers
    answer = rules.recognize(
        authority,
        issuer=issuer,
        tiers=tiers or 0,
        status=status,
        issuer_status=authority_status(session, issuer),
        mras=[as_record(mra) for mra in mras_between(session, authority, issuer)],
        day=day,
    )
    return Recognition(authority, issuer, number, certificate_id, answer, status, tiers, day)


# ---------------------------------------------------------------- writes


def text_hash_of(request: MraCreate) -> bytes:
    if request.text is not None:
        return ids.keccak(request.text.encode("utf-8"))
    assert request.text_hash is not None
    return bytes.fromhex(request.text_hash[2:])


def propose(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    request: MraCreate,
    day: Day,
) -> Accepted:
    """Record a proposal of ``request`` by this administration (its signature included)."""
    own = key.authority
    codes = [party.authority for party in request.parties]
    if own not in codes:
        raise InvalidError(
            f"this administration ({own}) must be one of the parties it proposes",
            errors=[FieldError("body.parties", f"must include {own}")],
            extra={"chain_error": "MraNotParty"},
        )
    if request.ends_on is not None and days.to_day(request.ends_on) < day:
        raise InvalidError(
            "an MRA cannot end in the past",
            errors=[FieldError("body.ends_on", "must be today or later")],
            extra={"chain_error": "MraInvalidDates"},
        )
    text_hash = text_hash_of(request)
    if not any(text_hash):
        raise InvalidError(
            "the text hash must not be zero",
            errors=[FieldError("body.text_hash", "must not be zero")],
            extra={"chain_error": "MraInvalidTextHash"},
        )
    call = calls.propose_mra(
        codes,
        [party.recognized_tiers for party in request.parties],
        request.effective_from,
        request.ends_on or 0,
        text_hash,
    )
    details = {"parties": codes, "text_hash": "0x" + text_hash.hex()}
    return enqueue_once(
        session,
        key=key,
        idempotency_key=idempotency_key,
        kind="mra_propose",
        subject=None,
        request_fingerprint=request_fingerprint(
            "mra_propose", None, request.model_dump(mode="json", exclude_none=True)
        ),
        prepare=lambda _session: (call, details),
    )


def check_change(mra: Mra, own: str, action: MraAction, day: Day) -> None:
    """Refuse what the index proves the contract would refuse."""
    mra_id = mra_number(mra)
    party = party_of(mra, own)
    if party is None:
        raise ForbiddenError(
            f"{own} is not a party to MRA {mra_id}", extra={"chain_error": "MraNotParty"}
        )
    status = effective_status(mra, day)
    if status in (enums.MraStatus.TERMINATED, enums.MraStatus.ENDED):
        raise ConflictError(
            f"MRA {mra_id} is {status_name(status)}: nothing can change it any more",
            extra={"chain_error": "MraStatusMismatch", "mra_status": status_name(status)},
        )
    if action is MraAction.SIGN:
        if party.signed_at is not None:
            raise ConflictError(
                f"{own} has already signed MRA {mra_id}",
                extra={"chain_error": "MraAlreadySigned"},
            )
        if status is not enums.MraStatus.PROPOSED:
            raise ConflictError(
                f"MRA {mra_id} is {status_name(status)}; only a proposed MRA can be signed",
                extra={"chain_error": "MraStatusMismatch", "mra_status": status_name(status)},
            )


def change(
    session: Session,
    *,
    key: AuthenticatedKey,
    idempotency_key: str,
    action: MraAction,
    mra_id: int,
    day: Day,
) -> Accepted:
    """Record this administration's ``action`` on MRA ``mra_id``."""
    builders = {
        MraAction.SIGN: calls.sign_mra,
        MraAction.SUSPEND: calls.suspend_mra,
        MraAction.RESUME: calls.resume_mra,
        MraAction.TERMINATE: calls.terminate_mra,
    }

    def prepare(session: Session) -> tuple[ContractCall, dict[str, int]]:
        check_change(get_mra(session, mra_id), key.authority, action, day)
        return builders[action](mra_id), {"mra_id": mra_id}

    return enqueue_once(
        session,
        key=key,
        idempotency_key=idempotency_key,
        kind=action.kind,
        subject=f"MRA-{mra_id}",
        request_fingerprint=request_fingerprint(action.kind, f"MRA-{mra_id}", None),
        prepare=prepare,
    )


def proposed_by(session: Session, operation: Operation) -> Mra | None:
    """The MRA a confirmed ``mra_propose`` operation created, once indexed (the chain assigns
    the id, so it is found through the proposal's transaction in the feed)."""
    if operation.kind != "mra_propose" or operation.tx_hash is None:
        return None
    tx_hash = "0x" + operation.tx_hash.hex()
    entries = session.scalars(
        sa.select(FeedEntry).where(FeedEntry.kind == "mra.proposed").order_by(FeedEntry.sequence)
    ).all()
    for entry in entries:
        chain = entry.payload.get("chain") or {}
        mra = entry.payload.get("mra") or {}
        if chain.get("tx_hash") == tx_hash and "mra_id" in mra:
            return session.get(Mra, mra_key(int(mra["mra_id"])))
    return None
