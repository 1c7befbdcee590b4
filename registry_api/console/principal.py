"""The signed-in person as the API's principal, so that the console's pages pass the same
role checks as the API's routes (``registry_api.auth.require_roles``) and their writes are
recorded under the person's name.

The API's services take an :class:`~registry_api.auth.AuthenticatedKey`, whose ``id`` is
an ``api_keys`` row (the outbox and the import jobs name it, and a certificate's history
shows its user's name). A person acts through a *console key*: an ``api_keys`` row of the
person's user, with the session's role, whose prefix starts with ``console-``. No bearer
token can ever match one: a token's prefix is 12 hexadecimal characters, and the stored
hash is of random bytes nobody kept. Disabling a person revokes their console keys.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import AuthenticatedKey
from ..db import ApiKey, ConsoleSession, Person

CONSOLE_KEY_PREFIX = "console-"


def console_key(db: Session, person: Person, session_row: ConsoleSession) -> ApiKey:
    """The console key of ``person`` for the session's role (created on first use)."""
    found = db.scalars(
        sa.select(ApiKey)
        .where(
            ApiKey.user_id == person.user_id,
            ApiKey.role == session_row.role,
            ApiKey.partner_authority.is_(None)
            if session_row.partner_authority is None
            else ApiKey.partner_authority == session_row.partner_authority,
            ApiKey.prefix.startswith(CONSOLE_KEY_PREFIX),
            ApiKey.revoked_at.is_(None),
        )
        .order_by(ApiKey.id)
    ).first()
    if found is not None:
        return found
    key = ApiKey(
        user_id=person.user_id,
        prefix=CONSOLE_KEY_PREFIX + secrets.token_hex(4),
        secret_hash=hashlib.sha256(secrets.token_bytes(32)).digest(),
        role=session_row.role,
        partner_authority=session_row.partner_authority,
    )
    db.add(key)
    db.flush()
    return key


def principal(person: Person, key: ApiKey, authority: str) -> AuthenticatedKey:
    return AuthenticatedKey(
        id=key.id,
        prefix=key.prefix,
        user=person.name,
        role=key.role,
        partner_authority=key.partner_authority,
        authority=authority,
    )
