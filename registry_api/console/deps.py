"""The console's dependencies: the app, its clock, the browser's session, and the signed-in
person as the API's principal (which the API's ``require_roles`` checks take as they are:
the console app overrides ``registry_api.auth.authenticate`` with :func:`signed_in_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ..auth import AuthenticatedKey
from ..db import AccessEventKind, Authority, ConsoleSession, Person, Role, SessionStage
from ..deps import SessionDep
from .accounts import Origin, record_event
from .principal import principal
from .sessions import SESSION_COOKIE, Timeouts, find_session, touch

if TYPE_CHECKING:
    from .app import ConsoleApp


class SignInRequired(Exception):
    """The page needs a signed-in person; ``expired``: the browser's session just ended."""

    def __init__(self, *, expired: bool = False) -> None:
        super().__init__("sign-in required")
        self.expired = expired


@dataclass(frozen=True, slots=True)
class SignedIn:
    person: Person
    session: ConsoleSession
    key: AuthenticatedKey

    @property
    def role(self) -> Role:
        return self.key.role


def console_of(request: Request) -> ConsoleApp:
    return cast("ConsoleApp", request.app)


def now_of(request: Request) -> datetime:
    return console_of(request).clock()


def origin_of(request: Request, method: str | None = None) -> Origin:
    client = request.client.host if request.client is not None else None
    return Origin(
        client=client, request_id=getattr(request.state, "request_id", None), method=method
    )


def _administration(request: Request, db: Session) -> None:
    """The administration's name for the page header (the chain index has it; the code
    until the indexer has seen it)."""
    code = console_of(request).settings.authority
    authority = db.get(Authority, code)
    request.state.console_administration = (
        f"{authority.name} ({code})" if authority is not None else code
    )


def current_session(request: Request, db: SessionDep) -> ConsoleSession | None:
    """The browser's live session at any stage of its sign-in, or None. A session found
    ended is deleted (and logged) here, and the page is told (``console_expired``)."""
    _administration(request, db)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    row = find_session(db, token)
    if row is None:
        request.state.console_expired = True
        return None
    now = now_of(request)
    why = Timeouts.of(console_of(request).settings).ended(row, now)
    if why is None and not row.person.active:
        why = "account disabled"
    if why is None and row.api_key is not None and row.api_key.revoked_at is not None:
        why = "console key revoked"
    if why is not None:
        if row.stage is SessionStage.SIGNED_IN:
            record_event(
                db,
                AccessEventKind.SESSION_EXPIRED,
                now=now,
                person=row.person,
                role=row.role.value,
                origin=origin_of(request, row.method.value),
                detail=why,
            )
        db.delete(row)
        db.commit()
        request.state.console_expired = True
        return None
    return row


CurrentSession = Annotated[ConsoleSession | None, Depends(current_session)]


def signed_in(request: Request, db: SessionDep, row: CurrentSession) -> SignedIn:
    """The signed-in person; SignInRequired (the sign-in page) otherwise."""
    if row is None or row.stage is not SessionStage.SIGNED_IN or row.api_key is None:
        raise SignInRequired(expired=bool(getattr(request.state, "console_expired", False)))
    if touch(row, now_of(request)):
        db.commit()
    who = SignedIn(
        person=row.person,
        session=row,
        key=principal(row.person, row.api_key, console_of(request).settings.authority),
    )
    request.state.console_who = who
    return who


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


async def signed_in_key(who: SignedInDep) -> AuthenticatedKey:
    """Stands in for ``registry_api.auth.authenticate`` in the console."""
    return who.key
