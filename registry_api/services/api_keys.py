"""Users and their API keys: create (the token is returned once), list, revoke."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contracts.domain import ids

from ..auth import forget_api_key, hash_token, new_token
from ..db import ApiKey, Role, User, utc_now
from ..errors import ConflictError, FieldError, InvalidError, NotFoundError

#: roles held by users of another administration, who must name it
PARTNER_ROLES = frozenset({Role.PARTNER, Role.BORDER_OFFICER})


def _check_partner_authority(role: Role, partner_authority: str | None, own_authority: str) -> None:
    field = "body.partner_authority"
    if partner_authority is None:
        if role is Role.PARTNER:
            raise InvalidError(
                "a partner key must name the partner administration",
                errors=[FieldError(field, "is required for role 'partner'")],
            )
        return
    if role not in PARTNER_ROLES:
        raise InvalidError(
            f"role '{role.value}' is held by this administration's own staff",
            errors=[FieldError(field, f"must be absent for role '{role.value}'")],
        )
    try:
        ids.authority_code(partner_authority)
    except ValueError as exc:
        raise InvalidError(str(exc), errors=[FieldError(field, str(exc))]) from None
    if partner_authority == own_authority:
        raise InvalidError(
            "partner_authority names this administration",
            errors=[FieldError(field, f"must be another administration than {own_authority}")],
        )


def get_or_create_user(session: Session, name: str) -> User:
    user = session.scalars(sa.select(User).where(User.name == name)).one_or_none()
    if user is None:
        user = User(name=name)
        session.add(user)
        session.flush()
    return user


def create_api_key(
    session: Session,
    *,
    user: str,
    role: Role,
    own_authority: str,
    partner_authority: str | None = None,
    created_by_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``user`` (created on first use) and return it with its token.

    The token is not stored anywhere: this is the only time anyone sees it.
    """
    _check_partner_authority(role, partner_authority, own_authority)
    holder = get_or_create_user(session, user)
    prefix, token = new_token()
    key = ApiKey(
        user=holder,
        prefix=prefix,
        secret_hash=hash_token(token),
        role=role,
        partner_authority=partner_authority,
        created_by_id=created_by_id,
    )
    session.add(key)
    session.commit()
    return key, token


def get_api_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFoundError(f"no API key with id {key_id}")
    return key


def list_api_keys(
    session: Session,
    *,
    include_revoked: bool = False,
    role: Role | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ApiKey], int]:
    """One page of keys, newest first, and how many match in all."""
    query = sa.select(ApiKey)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    if role is not None:
        query = query.where(ApiKey.role == role)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(ApiKey.id.desc()).limit(limit).offset(offset)).all()
    return list(page), count


def active_admin_count(session: Session) -> int:
    query = sa.select(sa.func.count(ApiKey.id)).where(
        ApiKey.role == Role.ADMIN, ApiKey.revoked_at.is_(None)
    )
    return session.scalar(query) or 0


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key (it answers 401 from now on; in other processes of this service within
    ``auth.KEY_CACHE_SECONDS``). Revoking a revoked key changes nothing.

    The last active admin key cannot be revoked: nobody could manage keys afterwards.
    """
    key = get_api_key(session, key_id)
    if key.revoked_at is not None:
        return key
    if key.role is Role.ADMIN and active_admin_count(session) <= 1:
        raise ConflictError(
            "this is the last active admin key; create another admin key before revoking it"
        )
    key.revoked_at = utc_now()
    session.commit()
    forget_api_key(key.id)
    return key
