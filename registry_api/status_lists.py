"""This registry's W3C Bitstring Status Lists: each certificate's place in them, and the
lists' bits (docs/credentials.md).

- Each certificate of this administration has one place (:class:`~registry_api.db.StatusListEntry`):
  the same index of the revocation list and of the suspension list of one list number,
  drawn at random among the free places of the newest list (:func:`assign_index`), so a
  list's order says nothing about when a certificate was issued. It is assigned at
  issuance, or at the first credential asked of a certificate issued otherwise (a bulk
  import, or before this table existed).
- The lists are rewritten from the certificates' indexed statuses by the indexer, in the
  transaction that records a status change (:func:`status_changed`): a suspension sets the
  suspension bit, a reinstatement clears it, a revocation sets the revocation bit (terminal
  on-chain, so the bit stays set).

Apart from the services so that the indexer and the issuance can use it without importing
the documents' signing.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import credentials as vc
from .db import Certificate, LocalStatus, StatusList, StatusListEntry, insert_if_absent

#: places of a list given out before the next list is opened: past three quarters full a
#: random free place takes several draws, and a list that never fills still hides its
#: members among 131,072 places
LIST_FILL = 98_304
#: draws of a random place before falling back to the first free one
_DRAWS = 32


def _newest_list(session: Session) -> tuple[int, int]:
    """The newest list number and how many places of it are given out."""
    newest = session.scalar(sa.select(sa.func.max(StatusListEntry.list_number)))
    if newest is None:
        return 1, 0
    used = session.scalar(
        sa.select(sa.func.count())
        .select_from(StatusListEntry)
        .where(StatusListEntry.list_number == newest)
    )
    return int(newest), int(used or 0)


def _free_place(session: Session, list_number: int) -> int:
    taken = sa.select(StatusListEntry.list_index).where(StatusListEntry.list_number == list_number)
    for _ in range(_DRAWS):
        index = secrets.randbelow(vc.LIST_LENGTH)
        if session.scalar(taken.where(StatusListEntry.list_index == index)) is None:
            return index
    used = set(session.scalars(taken))
    return next(index for index in range(vc.LIST_LENGTH) if index not in used)


def assign_index(session: Session, certificate_id: bytes) -> StatusListEntry:
    """Give certificate ``certificate_id`` its place (no commit), or return the one it has.

    Two transactions may draw the same free place: the unique constraint refuses the
    second, which draws again (a savepoint keeps the rest of its transaction)."""
    existing = session.get(StatusListEntry, certificate_id)
    if existing is not None:
        return existing
    for _ in range(_DRAWS):
        list_number, used = _newest_list(session)
        if used >= LIST_FILL:
            list_number += 1
        entry = StatusListEntry(
            certificate_id=certificate_id,
            list_number=list_number,
            list_index=_free_place(session, list_number),
            assigned_at=datetime.now(UTC),
        )
        try:
            with session.begin_nested():
                session.add(entry)
                session.flush()
                # Its list exists from its first place on, all bits clear (a certificate
                # is neither suspended nor revoked when it gets its place).
                empty = vc.encode_bits(())
                insert_if_absent(
                    session,
                    StatusList,
                    {
                        "list_number": list_number,
                        "revocation": empty,
                        "suspension": empty,
                        "revision": 1,
                        "updated_at": datetime.now(UTC),
                    },
                    key=["list_number"],
                )
        except IntegrityError:
            existing = session.get(StatusListEntry, certificate_id)
            if existing is not None:  # another request gave it its place meanwhile
                return existing
            continue
        return entry
    raise RuntimeError("no free status list place after repeated draws")  # pragma: no cover


# ---------------------------------------------------------------- the lists


def rewrite_lists(session: Session, list_numbers: Iterable[int]) -> None:
    """Rewrite lists ``list_numbers`` from the statuses of their certificates (no commit)."""
    for list_number in sorted(set(list_numbers)):
        rows = session.execute(
            sa.select(StatusListEntry.list_index, Certificate.status)
            .join(Certificate, Certificate.certificate_id == StatusListEntry.certificate_id)
            .where(
                StatusListEntry.list_number == list_number,
                Certificate.status.in_((LocalStatus.SUSPENDED, LocalStatus.REVOKED)),
            )
        ).all()
        revoked = [index for index, status in rows if status is LocalStatus.REVOKED]
        suspended = [index for index, status in rows if status is LocalStatus.SUSPENDED]
        row = session.get(StatusList, list_number)
        encoded = {"revocation": vc.encode_bits(revoked), "suspension": vc.encode_bits(suspended)}
        now = datetime.now(UTC)
        if row is None:
            session.add(StatusList(list_number=list_number, revision=1, updated_at=now, **encoded))
        elif (row.revocation, row.suspension) != (encoded["revocation"], encoded["suspension"]):
            row.revocation = encoded["revocation"]
            row.suspension = encoded["suspension"]
            row.revision += 1
            row.updated_at = now
    session.flush()


def status_changed(session: Session, certificate_ids: Collection[bytes]) -> None:
    """The indexer's hook: the statuses of ``certificate_ids`` may have changed; rewrite
    the lists they are in (no commit: the indexer's page transaction commits it)."""
    if not certificate_ids:
        return
    session.flush()  # the certificates' new statuses, for the query below
    lists = session.scalars(
        sa.select(StatusListEntry.list_number)
        .where(StatusListEntry.certificate_id.in_(list(certificate_ids)))
        .distinct()
    ).all()
    rewrite_lists(session, lists)
