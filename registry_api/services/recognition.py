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
from ..db.chain_index import CURSOR_NAME
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


_HELD = CertificateEvent.data
#: an event's certificate and the state after it (only ``data.state``: the whole of ``data``
#: holds the record, a kilobyte to decode per event)
_EVENT_COLUMNS: Final = (
    CertificateEvent.certificate_id,
    CertificateEvent.issuer,
    CertificateEvent.number,
    CertificateEvent.block_number,
    CertificateEvent.log_index,
    _HELD["state"],
)

# Each lookup reads every event of the certificates it finds (a handful each) in the same
# query and keeps the latest here: one indexed join, no second round trip, no window.
_OWN_BY_NUMBER: Final = (
    sa.select(Certificate.number, *_EVENT_COLUMNS)
    .join(CertificateEvent, CertificateEvent.certificate_id == Certificate.certificate_id)
    .where(Certificate.number.in_(sa.bindparam("numbers", expanding=True)))
)
_BY_ALIAS: Final = (
    sa.select(CertificateAlias.value, *_EVENT_COLUMNS)
    .join(CertificateEvent, CertificateEvent.certificate_id == CertificateAlias.certificate_id)
    .where(
        CertificateAlias.scheme == sa.bindparam("scheme"),
        CertificateAlias.value.in_(sa.bindparam("values", expanding=True)),
    )
)
_BY_ID: Final = sa.select(sa.literal_column("NULL"), *_EVENT_COLUMNS).where(
    CertificateEvent.certificate_id.in_(sa.bindparam("ids", expanding=True))
)


class _Reader:
    """The latest state of every certificate the lookups met, and which key found which."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.states: dict[bytes, Found] = {}
        self._order: dict[bytes, tuple[int, int]] = {}

    def read(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> dict[Any, set[bytes]]:
        """Run a lookup whose first column is its key; the certificate ids under each key."""
        found: dict[Any, set[bytes]] = {}
        for row in self.connection.execute(statement, params):
            key, certificate_id, issuer, number, block, log_index, held = row
            found.setdefault(key, set()).add(certificate_id)
            position = (block, log_index)
            if self._order.get(certificate_id, (-1, -1)) >= position:
                continue
            self._order[certificate_id] = position
            state = _state(issuer, held)
            if state is None or number is None:
                # Not a state the chain holds (or one the index cannot read): unknown.
                self.states.pop(certificate_id, None)
                continue
            self.states[certificate_id] = Found(certificate_id, issuer, number, state)
        return found


def _state(issuer: str, held: Any) -> mras.IndexedCertificate | None:
    """The ``data.state`` the indexer keeps on each event, or None if it is not one."""
    if not isinstance(held, dict):
        return None
    stored = mras.STORED_CERTIFICATE_STATUS.get(str(held.get("status")))
    try:
        tiers, start, end = int(held["tiers"]), int(held["valid_from"]), int(held["valid_until"])
    except (KeyError, TypeError, ValueError):
        return None
    if stored is None:
        return None
    return mras.IndexedCertificate(issuer, tiers, stored, Day(start), Day(end))


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
    reader = _Reader(session.connection())
    numbers = {i.number for i in items if isinstance(i, ByNumber) and i.issuer in (None, own)}
    by_number = reader.read(_OWN_BY_NUMBER, {"numbers": sorted(numbers)}) if numbers else {}
    other_ids = {
        (item.issuer, item.number): ids.certificate_id(item.issuer, item.number)
        for item in items
        if isinstance(item, ByNumber) and item.issuer not in (None, own) and not partner
    }
    if other_ids:
        reader.read(_BY_ID, {"ids": sorted(set(other_ids.values()))})
    by_scheme: dict[str, set[str]] = {}
    for item in items:
        if isinstance(item, ByIdentifier):
            by_scheme.setdefault(item.scheme, set()).add(item.value)
    aliases: dict[tuple[str, str], set[bytes]] = {}
    # One query per scheme, each on the (scheme, value) index: a tuple IN is not portable.
    for scheme, values in sorted(by_scheme.items()):
        for value, found in reader.read(
            _BY_ALIAS, {"scheme": scheme, "values": sorted(values)}
        ).items():
            aliases[(scheme, value)] = found
    states = reader.states

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
        candidates: Iterable[bytes]
        if isinstance(item, ByNumber):
            if item.issuer in (None, own):
                candidates = by_number.get(item.number, ())
            else:
                other = other_ids.get((item.issuer, item.number))
                candidates = (other,) if other is not None else ()
        else:
            candidates = aliases.get((item.scheme, item.value), ())
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


# ---------------------------------------------------------------- the public lookup

#: numbers or identifiers one public lookup may ask for
MAX_PUBLIC_QUERIES: Final = 10


@dataclass(frozen=True, slots=True)
class PublicAnswer:
    """What anyone may learn: ``valid`` / ``not_valid`` and the consented details, or
    ``unknown``, which is also the answer for a holder who did not consent."""

    result: str
    holder_name: str | None = None
    tiers: int | None = None
    valid_from: Day | None = None
    valid_until: Day | None = None


PUBLIC_UNKNOWN: Final = PublicAnswer("unknown")


def public_lookup(
    session: Session, items: Sequence[Item], *, own: str, day: Day
) -> list[PublicAnswer]:
    """This administration's certificates only, answered from the index as the batch is;
    nothing at all about a holder without consent (module documentation of the route)."""
    own_items = [
        item
        for item in items
        if not (isinstance(item, ByNumber) and item.issuer not in (None, own))
    ]
    result = recognize_batch(session, own_items, own=own, authority=own, partner=False, day=day)
    answers = dict(zip(map(id, own_items), result.answers, strict=True))
    found = [a.certificate_id for a in result.answers if a.found and a.certificate_id]
    consented: dict[bytes, str] = {}
    if found:
        rows = session.execute(
            sa.select(Certificate.certificate_id, Certificate.holder_legal_name).where(
                Certificate.certificate_id.in_(sa.bindparam("ids", expanding=True)),
                Certificate.public_consent_date.is_not(None),
            ),
            {"ids": sorted(set(found))},
        ).all()
        consented = dict(rows)
    public: list[PublicAnswer] = []
    for item in items:
        answer = answers.get(id(item))
        if answer is None or answer.certificate_id not in consented:
            public.append(PUBLIC_UNKNOWN)
            continue
        valid = answer.status is enums.EffectiveStatus.ACTIVE
        public.append(
            PublicAnswer(
                "valid" if valid else "not_valid",
                holder_name=consented[answer.certificate_id],
                tiers=answer.tiers,
                valid_from=answer.valid_from,
                valid_until=answer.valid_until,
            )
        )
    return public
