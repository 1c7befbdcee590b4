"""Webhooks partners register: create (the signing secret is returned once), list, read,
delete, enable again after a failure streak, and the delivery log (each delivery with its
latest attempts).

A webhook belongs to the API key that registered it: its deliveries carry what that key may
read of the feed. Its owner is that key's user (with the same partner administration), so
after a key rotation the user still manages the webhooks of the old key; this
administration's admins manage every webhook.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from ..auth import AuthenticatedKey
from ..db import ApiKey, DeliveryState, Role, Webhook, WebhookDelivery, WebhookDeliveryAttempt
from ..errors import ConflictError, FieldError, InvalidError, NotFoundError

#: a partner integration needs one or two; the bound keeps a leaked key from fanning out
MAX_WEBHOOKS_PER_OWNER = 10
SECRET_PREFIX = "whsec_"  # noqa: S105 -- the scheme tag of every webhook secret, not one
URL_FIELD = "body.url"


def _invalid_url(message: str) -> InvalidError:
    return InvalidError(f"url {message}", errors=[FieldError(URL_FIELD, message)])


def check_url(url: str, *, production: bool) -> str:
    """``url`` if deliveries may go there; InvalidError naming ``body.url`` otherwise.

    In production only https, and no loopback, private or link-local address literal: the
    service posts from inside the administration's network, and a partner must not aim it
    at that network (names resolving there are the firewall's to stop).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid_url(f"is not a valid URL: {exc}") from None
    del port  # parsed only to refuse a malformed one
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise _invalid_url(f"must use {' or '.join(allowed)}")
    if not parts.hostname:
        raise _invalid_url("must name a host")
    if parts.username is not None or parts.password is not None:
        raise _invalid_url("must not carry a user name or password; verify AEO-Signature")
    if parts.fragment:
        raise _invalid_url("must not have a #fragment")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise _invalid_url("must not contain spaces or control characters")
    if production:
        host = parts.hostname
        if host == "localhost" or host.endswith(".localhost"):
            raise _invalid_url("must not point at this machine")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return url
        if not address.is_global:
            raise _invalid_url("must not be a loopback, private or link-local address")
    return url


def _owner_filter(session: Session, key: AuthenticatedKey) -> sa.ColumnElement[bool] | None:
    """The webhooks ``key`` manages (None: all of them, for admins)."""
    if key.role is Role.ADMIN:
        return None
    caller = session.get(ApiKey, key.id)
    assert caller is not None  # the key authenticated this request
    same_partner = (
        ApiKey.partner_authority.is_(None)
        if key.partner_authority is None
        else ApiKey.partner_authority == key.partner_authority
    )
    return Webhook.api_key_id.in_(
        sa.select(ApiKey.id).where(ApiKey.user_id == caller.user_id, same_partner)
    )


def _owned(session: Session, key: AuthenticatedKey) -> sa.Select[Webhook, ApiKey]:
    query = sa.select(Webhook, ApiKey).join(ApiKey, ApiKey.id == Webhook.api_key_id)
    condition = _owner_filter(session, key)
    return query if condition is None else query.where(condition)


def create_webhook(
    session: Session, *, key: AuthenticatedKey, url: str, production: bool
) -> tuple[Webhook, ApiKey, str]:
    """Register ``url`` for ``key``; returns the webhook, its key and the secret (which is
    stored, since every delivery is signed with it, but shown only now)."""
    url = check_url(url, production=production)
    condition = _owner_filter(session, key)
    if condition is not None:
        active = session.scalar(
            sa.select(sa.func.count(Webhook.id)).where(condition, Webhook.active.is_(True))
        )
        if (active or 0) >= MAX_WEBHOOKS_PER_OWNER:
            raise ConflictError(
                f"this user already has {MAX_WEBHOOKS_PER_OWNER} active webhooks; delete one "
                "before registering another"
            )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    webhook = Webhook(api_key_id=key.id, url=url, secret=secret, active=True)
    session.add(webhook)
    session.commit()
    owner = session.get(ApiKey, key.id)
    assert owner is not None
    return webhook, owner, secret


def list_webhooks(
    session: Session, *, key: AuthenticatedKey, limit: int = 50, offset: int = 0
) -> tuple[list[tuple[Webhook, ApiKey]], int]:
    query = _owned(session, key)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Webhook.id).limit(limit).offset(offset)).all()
    return [(webhook, owner) for webhook, owner in rows], count


def get_webhook(
    session: Session, *, key: AuthenticatedKey, webhook_id: int
) -> tuple[Webhook, ApiKey]:
    """A webhook ``key`` manages; NotFoundError for the others (whether or not they exist)."""
    row = session.execute(_owned(session, key).where(Webhook.id == webhook_id)).first()
    if row is None:
        raise NotFoundError(f"no webhook with id {webhook_id}")
    webhook, owner = row
    return webhook, owner


def delete_webhook(session: Session, *, key: AuthenticatedKey, webhook_id: int) -> None:
    """Delete a webhook and its delivery log; an attempt in flight is not recorded."""
    webhook, _owner = get_webhook(session, key=key, webhook_id=webhook_id)
    session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    session.delete(webhook)
    session.commit()


def enable_webhook(
    session: Session, *, key: AuthenticatedKey, webhook_id: int
) -> tuple[Webhook, ApiKey]:
    """Resume a disabled webhook from the entry it failed on (its attempts count anew)."""
    webhook, owner = get_webhook(session, key=key, webhook_id=webhook_id)
    if owner.revoked_at is not None:
        raise ConflictError(
            f"webhook {webhook_id} belongs to a revoked API key; register it again with an "
            "active key"
        )
    if webhook.active:
        return webhook, owner
    failed = session.scalars(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook.id,
            WebhookDelivery.state == DeliveryState.FAILED,
        )
    ).all()
    for delivery in failed:
        delivery.state = DeliveryState.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = None
    webhook.active = True
    webhook.disabled_at = None
    session.commit()
    return webhook, owner


def list_deliveries(
    session: Session,
    *,
    key: AuthenticatedKey,
    webhook_id: int,
    state: DeliveryState | None = None,
    limit: int = 50,
    offset: int = 0,
    attempts_per_delivery: int = 10,
) -> tuple[list[tuple[WebhookDelivery, list[WebhookDeliveryAttempt]]], int]:
    """A webhook's delivery log, newest entry first, each delivery with its latest
    ``attempts_per_delivery`` attempts (newest first); and how many deliveries match."""
    webhook, _owner = get_webhook(session, key=key, webhook_id=webhook_id)
    query = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookDelivery.feed_sequence.desc()).limit(limit).offset(offset)
    ).all()
    attempts = _latest_attempts(session, [row.id for row in rows], attempts_per_delivery)
    return [(row, attempts.get(row.id, [])) for row in rows], count


def _latest_attempts(
    session: Session, delivery_ids: list[int], per_delivery: int
) -> dict[int, list[WebhookDeliveryAttempt]]:
    """The latest ``per_delivery`` attempts of each delivery, newest first, in one query."""
    if not delivery_ids:
        return {}
    ranked = (
        sa.select(
            WebhookDeliveryAttempt,
            sa.func.row_number()
            .over(
                partition_by=WebhookDeliveryAttempt.delivery_id,
                order_by=WebhookDeliveryAttempt.id.desc(),
            )
            .label("rank"),
        )
        .where(WebhookDeliveryAttempt.delivery_id.in_(delivery_ids))
        .subquery()
    )
    attempt = aliased(WebhookDeliveryAttempt, ranked)
    found: dict[int, list[WebhookDeliveryAttempt]] = {}
    for row in session.scalars(
        sa.select(attempt)
        .where(ranked.c.rank <= per_delivery)
        .order_by(attempt.delivery_id, attempt.id.desc())
    ):
        found.setdefault(row.delivery_id, []).append(row)
    return found
