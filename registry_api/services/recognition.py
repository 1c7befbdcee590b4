"""Batch recognition: many certificates, named by number or by an identifier the asker holds,
answered in one pass from the index with the contract's own rules.

Who recognizes: a partner key asks for its own administration (the one it belongs to);
officers of this administration ask for this administration, or for another member
(``as``) to see what that member's border would answer. What is looked up:

- a certificate number: this administration's certificates; officers may also name another
  issuer, whose certificates the index knows from their events;
- an identifier (scheme, value): this administration's certificates whose record carries it
  as an alias or as the holder's identification (``certificate_aliases``). Several may
  (a revoked certificate and the new one): the answer is the best of them, recognized
  first, then in effect, then the latest valid from, then the number.

A partner sees only what an MRA in force lets it see, as ``GET /v1/partner/certificates``
does: a certificate of this administration with a tier that an MRA in force between the
two covers. Anything else (not issued, issued but not covered, another issuer's) answers
exactly as an unknown certificate, so the endpoint tells a partner nothing about holders
outside its MRAs.

Every answer of one batch is as of one indexed block (read once, in the same transaction
as the lookups).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.domain import enums, ids, rules
from contracts.domain.days import Day
from contracts.domain.state import MraRecord

from ..db import Authority, Certificate, CertificateEvent, IndexerCursor, Mra, MraParty
from ..db.certificates import CertificateAlias
from ..indexer import CURSOR_NAME
from . import mras

#: items one batch may hold: a risk engine's working set for one screening run
MAX_BATCH_ITEMS: Final = 1000


@dataclass(frozen=True, slots=True)
class ByNumber:
    number: str
    #: None: this administration
    issuer: str | None = None


@dataclass(frozen=True, slots=True)
class ByIdentifier:
    #: normalised as records.normalise_alias_scheme / normalise_alias_value do
    scheme: str
    value: str


Item = ByNumber | ByIdentifier


@dataclass(frozen=True, slots=True)
class Found:
    """One certificate as the index holds it after its latest event."""

    certificate_id: bytes
    issuer: str
    number: str
    state: mras.IndexedCertificate


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to one item (``found`` False: every other member is empty)."""

    found: bool
    recognized: bool
    reason: enums.RecognitionReason
    issuer: str | None = None
    number: str | None = None
    certificate_id: bytes | None = None
    status: enums.EffectiveStatus | None = None
    tiers: int | None = None
    valid_from: Day | None = None
    valid_until: Day | None = None
    mra_id: int | None = None


#: what every unknown (or, to a partner, not shared) item answers
UNKNOWN: Final = Answer(
    found=False, recognized=False, reason=enums.RecognitionReason.UNKNOWN_CERTIFICATE
)


@dataclass(frozen=True, slots=True)
class BatchResult:
    authority: str
    answers: list[Answer]
    day: Day
    #: the last block the index holds (-1: nothing indexed yet) and when it got there
    block: int
    indexed_at: datetime | None


# ---------------------------------------------------------------- reads


def _latest_states(session: Session, certificate_ids: Iterable[bytes]) -> dict[bytes, Found]:
    """The latest indexed event of each certificate, as its state."""
    wanted = list(set(certificate_ids))
    if not wanted:
        return {}
    rank = (
        sa.func.row_number()
        .over(
            partition_by=CertificateEvent.certificate_id,
            order_by=(CertificateEvent.block_number.desc(), CertificateEvent.log_index.desc()),
        )
        .label("rank")
    )
    latest = (
        sa.select(
            CertificateEvent.certificate_id,
            CertificateEvent.issuer,
            CertificateEvent.number,
            CertificateEvent.data["state"].label("state"),
            rank,
        )
        .where(CertificateEvent.certificate_id.in_(sa.bindparam("ids", expanding=True)))
        .subquery()
    )
    rows = session.execute(
        sa.select(latest.c.certificate_id, latest.c.issuer, latest.c.number, latest.c.state).where(
            latest.c.rank == 1
        ),
        {"ids": wanted},
    ).all()
    found: dict[bytes, Found] = {}
    for certificate_id, issuer, number, state in rows:
        held = _state(issuer, state)
        if held is not None and number is not None:
            found[certificate_id] = Found(certificate_id, issuer, number, held)
    return found


def _state(issuer: str, state: Any) -> mras.IndexedCertificate | None:
    if not isinstance(state, Mapping):
        return None
    status = mras.STORED_CERTIFICATE_STATUS.get(str(state.get("status")))
    try:
        tiers = int(state["tiers"])
        valid_from, valid_until = Day(int(state["valid_from"])), Day(int(state["valid_until"]))
    except (KeyError, TypeError, ValueError):
        return None
    if status is None:
        return None
    return mras.IndexedCertificate(issuer, tiers, status, valid_from, valid_until)


def _by_identifier(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[bytes]]:
    """The certificate ids each (scheme, value) is an alias or identification of."""
    if not keys:
        return {}
    matches: dict[tuple[str, str], list[bytes]] = {}
    values = sorted({value for _scheme, value in keys})
    wanted = set(keys)
    # One indexed IN on the value, the scheme checked here: a tuple IN is not portable.
    rows = session.execute(
        sa.select(
            CertificateAlias.scheme, CertificateAlias.value, CertificateAlias.certificate_id
        ).where(CertificateAlias.value.in_(sa.bindparam("values", expanding=True))),
        {"values": values},
    ).all()
    for scheme, value, certificate_id in rows:
        if (scheme, value) in wanted:
            matches.setdefault((scheme, value), []).append(certificate_id)
    return matches


def _own_numbers(session: Session, numbers: Sequence[str]) -> dict[str, bytes]:
    if not numbers:
        return {}
    rows = session.execute(
        sa.select(Certificate.number, Certificate.certificate_id).where(
            Certificate.number.in_(sa.bindparam("numbers", expanding=True))
        ),
        {"numbers": sorted(set(numbers))},
    ).all()
    return dict(rows)


def _index_position(session: Session) -> tuple[int, datetime | None]:
    cursor = session.get(IndexerCursor, CURSOR_NAME)
    if cursor is None:
        return -1, None
    return cursor.block_number, cursor.updated_at


def _mras_of(session: Session, authority: str) -> list[Mra]:
    keys = sa.select(MraParty.mra_id).where(MraParty.authority == authority)
    return list(session.scalars(sa.select(Mra).where(Mra.mra_id.in_(keys))).all())


# ---------------------------------------------------------------- the batch


def recognize_batch(
    session: Session,
    items: Sequence[Item],
    *,
    own: str,
    authority: str,
    partner: bool,
    day: Day,
) -> BatchResult:
    """Answer every item, in order: does ``authority`` recognize it on ``day``.

    ``own`` is this administration; ``partner`` limits what is visible to what the MRAs in
    force between ``own`` and ``authority`` share (module documentation)."""
    block, indexed_at = _index_position(session)
    own_ids = _own_numbers(
        session,
        [i.number for i in items if isinstance(i, ByNumber) and i.issuer in (None, own)],
    )
    other_ids = {
        (item.issuer, item.number): ids.certificate_id(item.issuer, item.number)
        for item in items
        if isinstance(item, ByNumber) and item.issuer not in (None, own) and not partner
    }
    aliases = _by_identifier(
        session, [(i.scheme, i.value) for i in items if isinstance(i, ByIdentifier)]
    )
    candidate_ids = [
        *own_ids.values(),
        *other_ids.values(),
        *(cid for found in aliases.values() for cid in found),
    ]
    states = _latest_states(session, candidate_ids)

    mra_records = [mras.as_record(mra) for mra in _mras_of(session, authority)]
    statuses = {
        row.code: _authority_status(row.status) for row in session.scalars(sa.select(Authority))
    }
    shared_tiers = _shared_tiers(mra_records, own=own, partner=authority, day=day)

    def visible(found: Found) -> bool:
        if not partner:
            return True
        return found.issuer == own and bool(found.state.tiers & shared_tiers)

    def answer(found: Found) -> Answer:
        state = found.state
        status = rules.effective_status(state.status, state.valid_from, state.valid_until, day)
        verdict = rules.recognize(
            authority,
            issuer=found.issuer,
            tiers=state.tiers,
            status=status,
            issuer_status=statuses.get(found.issuer, enums.AuthorityStatus.NONE),
            mras=mra_records,
            day=day,
        )
        return Answer(
            found=True,
            recognized=verdict.recognized,
            reason=verdict.reason,
            issuer=found.issuer,
            number=found.number,
            certificate_id=found.certificate_id,
            status=status,
            tiers=state.tiers,
            valid_from=state.valid_from,
            valid_until=state.valid_until,
            mra_id=verdict.mra_id or None,
        )

    answers: list[Answer] = []
    for item in items:
        if isinstance(item, ByNumber):
            if item.issuer in (None, own):
                certificate_id = own_ids.get(item.number)
            else:
                certificate_id = other_ids.get((item.issuer, item.number))
            candidates = [certificate_id] if certificate_id is not None else []
        else:
            candidates = aliases.get((item.scheme, item.value), [])
        shown = [
            answer(states[cid]) for cid in candidates if cid in states and visible(states[cid])
        ]
        answers.append(max(shown, key=_preference) if shown else UNKNOWN)
    return BatchResult(authority, answers, day, block, indexed_at)


def _preference(answer: Answer) -> tuple[bool, bool, int, str]:
    return (
        answer.recognized,
        answer.status is enums.EffectiveStatus.ACTIVE,
        int(answer.valid_from or 0),
        answer.number or "",
    )


def _authority_status(stored: str) -> enums.AuthorityStatus:
    try:
        return enums.AuthorityStatus[stored.upper()]
    except KeyError:
        return enums.AuthorityStatus.NONE


def _shared_tiers(mra_records: Sequence[MraRecord], *, own: str, partner: str, day: Day) -> int:
    """``own``'s tiers that ``partner`` recognizes under an MRA in force on ``day`` (the same
    union as :func:`registry_api.services.mras.covered_tiers`, over MRAs already loaded)."""
    tiers = 0
    for mra in mra_records:
        own_party, partner_party = mra.party(own), mra.party(partner)
        if own_party is None or partner_party is None:
            continue
        if rules.mra_status(mra, day) is enums.MraStatus.IN_FORCE:
            tiers |= own_party.recognized_tiers
    return tiers
