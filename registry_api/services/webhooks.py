"""Webhooks partners register: create (the signing secret is returned once), list, read,
delete, enable again after a failure streak, and the delivery log (each delivery with its
latest attempts).

A webhook belongs to the API key that registered it: its deliveries carry what that key may
read of the feed. Its owner is that key's user (with the same partner administration), so
after a key rotation the user still manages the webhooks of the old key; this
administration's admins manage every webhook.

Two protections live here, used at registration and by the dispatcher
(registry_api.workers.webhooks) at each delivery:

- :class:`AddressPolicy`: where deliveries may go. The service posts from inside the
  administration's network, so a partner must not aim it at that network: every address a
  host resolves to must be public (not loopback, private, link-local, shared, multicast,
  reserved, unspecified, nor an IPv6 form of such an IPv4 address), unless an operator put
  it in ``AEO_WEBHOOK_ALLOWED_NETWORKS``. Registration resolves once to refuse the obvious
  cases; the dispatcher checks again at connect time and connects to the address it checked.
- :class:`WebhookSecrets`: the signing secrets are stored sealed (AES-GCM) under a key
  derived from the service's passphrase, never in clear.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.orm import Session, aliased, sessionmaker

from ..auth import AuthenticatedKey
from ..db import ApiKey, DeliveryState, Role, Webhook, WebhookDelivery, WebhookDeliveryAttempt
from ..errors import (
    ConfigurationError,
    ConflictError,
    FieldError,
    InvalidError,
    NotFoundError,
    UnavailableError,
)
from ..settings import Settings

logger = logging.getLogger("registry_api.webhooks")

#: a partner integration needs one or two; the bound keeps a leaked key from fanning out
MAX_WEBHOOKS_PER_OWNER = 10
SECRET_PREFIX = "whsec_"  # noqa: S105 -- the scheme tag of every webhook secret, not one
URL_FIELD = "body.url"

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# ---------------------------------------------------------------- where deliveries may go

#: RFC 6598 shared address space (carrier-grade NAT): not public, yet neither
#: ``is_private`` nor ``is_reserved`` in every Python version
_SHARED = IPv4Network("100.64.0.0/10")
#: RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached
_NAT64 = IPv6Network("64:ff9b::/96")
#: RFC 8215 local-use NAT64 prefix: where the IPv4 address sits depends on the site
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")


class BlockedAddressError(Exception):
    """A webhook's host is, or resolves to, an address deliveries must not reach. The text
    names the address: it is for the service's log, never for the partner."""


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 form reaches: IPv4-mapped, 6to4, well-known NAT64. (The
    deprecated IPv4-compatible ::a.b.c.d is in ::/8, which ``is_reserved`` refuses.)"""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ipv4_refusal(address: IPv4Address) -> str | None:
    checks = (
        (address.is_unspecified or address in IPv4Network("0.0.0.0/8"), "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address in _SHARED, "shared (carrier-grade NAT)"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "not public"),
    )
    return next((reason for refused, reason in checks if refused), None)


def _ipv6_refusal(address: IPv6Address) -> str | None:
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_site_local, "site-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not public"),
    )
    return next((reason for refused, reason in checks if refused), None)


Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (``getaddrinfo``), each once, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses webhook deliveries may reach: public ones, and those in
    ``allowed_networks`` (``AEO_WEBHOOK_ALLOWED_NETWORKS``). ``resolver`` turns a host
    into addresses (tests give one that answers as a rebinding DNS server would)."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def of(cls, settings: Settings, resolver: Resolver = system_resolver) -> AddressPolicy:
        return cls(tuple(settings.webhook_allowed_networks), resolver)

    def _allowed(self, address: IPAddress) -> bool:
        return any(
            address.version == network.version and address in network
            for network in self.allowed_networks
        )

    def refusal(self, address: IPAddress) -> str | None:
        """Why deliveries must not reach ``address`` (None: they may)."""
        if self._allowed(address):
            return None
        if isinstance(address, IPv4Address):
            return _ipv4_refusal(address)
        if address in _NAT64_LOCAL:
            return "NAT64 local-use"
        if address.teredo is not None:
            return "Teredo tunnel"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            # A translated or tunnelled form reaches its IPv4 address: judge that one.
            if self._allowed(embedded):
                return None
            reason = _ipv4_refusal(embedded)
            return None if reason is None else f"{reason} IPv4 address in IPv6 form"
        return _ipv6_refusal(address)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, once each, if deliveries may reach all of
        them; BlockedAddressError if one is refused (a host with one internal address among
        public ones is refused: which one a connection uses is not ours to choose).
        ``socket.gaierror`` if the name does not resolve."""
        name = host.rstrip(".").lower()
        if (name == "localhost" or name.endswith(".localhost")) and not self._allowed(
            IPv4Address("127.0.0.1")
        ):
            # RFC 6761: always this machine, whatever a resolver answers for it.
            raise BlockedAddressError(f"{host} is a loopback name")
        found: list[IPAddress] = []
        for text in self.resolver(host, port):
            address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
            reason = self.refusal(address)
            if reason is not None:
                raise BlockedAddressError(f"{host} resolves to {address}, a {reason} address")
            if address not in found:
                found.append(address)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} resolves to no address")
        return found


def _invalid_url(message: str) -> InvalidError:
    return InvalidError(f"url {message}", errors=[FieldError(URL_FIELD, message)])


def check_url(url: str, *, production: bool, policy: AddressPolicy | None = None) -> str:
    """``url`` if deliveries may go there; InvalidError naming ``body.url`` otherwise.

    In production only https. In every environment the host must not be, nor resolve to,
    an address ``policy`` refuses (default: public addresses only). A name that does not
    resolve now is accepted: the dispatcher checks again at each connection, and records a
    ``dns_error`` until it resolves.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _invalid_url(f"is not a valid URL: {exc}") from None
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
    try:
        # The dispatcher sends to the URL as httpx reads it (IDNA host, encoded path).
        host = httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise _invalid_url(f"is not a valid URL: {exc}") from None
    default_port = 443 if parts.scheme == "https" else 80
    try:
        (policy or AddressPolicy()).addresses(host, port or default_port)
    except BlockedAddressError as exc:
        logger.info("webhook URL refused: %s", exc)
        raise _invalid_url(
            "must point at a public address: its host is, or resolves to, a loopback, "
            "private, link-local or other non-public address"
        ) from None
    except (OSError, UnicodeError, ValueError):
        pass  # not resolvable now (see above)
    return url


# ---------------------------------------------------------------- secrets at rest

#: the KDF's fixed context: a key derived for webhook secrets serves nothing else
SECRETS_KDF_LABEL = b"aeo-registry/webhook-secrets/v1/"
#: scrypt cost: 32 MiB and 0.1 to 0.25 s (measured on the shared 2-core machine), once per
#: process (the key is cached). A copy of the database must not make guessing the passphrase
#: cheap: the passphrase also opens the key files.
SECRETS_SCRYPT_N = 2**15
SEALED_PREFIX = "v1:"
_NONCE_BYTES = 12


class WebhookSecretError(ConfigurationError):
    """A stored webhook secret cannot be opened: the service's passphrase is not the one it
    was sealed with, or there is none."""


@lru_cache(maxsize=8)
def _derive_key(passphrase: str, authority: str) -> bytes:
    kdf = Scrypt(
        salt=SECRETS_KDF_LABEL + authority.encode("ascii"),
        length=32,
        n=SECRETS_SCRYPT_N,
        r=8,
        p=1,
    )
    return kdf.derive(passphrase.encode("utf-8"))


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


class WebhookSecrets:
    """Seals and opens webhook secrets: AES-256-GCM under a key derived with scrypt from the
    service's passphrase and the fixed label :data:`SECRETS_KDF_LABEL` plus the authority.
    Each secret is bound to its webhook's id (associated data), so a sealed value copied to
    another row does not open there."""

    def __init__(self, passphrase: str, authority: str) -> None:
        self._passphrase = passphrase
        self._authority = authority

    @classmethod
    def of(cls, settings: Settings) -> WebhookSecrets | None:
        """The service's sealer, or None when it has no passphrase (development only)."""
        if settings.passphrase is None or not settings.passphrase.get_secret_value():
            return None
        return cls(settings.passphrase.get_secret_value(), settings.authority)

    def __repr__(self) -> str:
        return f"WebhookSecrets(authority={self._authority!r})"

    def _aead(self) -> AESGCM:
        # Derived on first use and cached per passphrase: a service that never sees a
        # webhook never pays for scrypt.
        return AESGCM(_derive_key(self._passphrase, self._authority))

    @staticmethod
    def _context(webhook_id: int) -> bytes:
        return f"aeo-registry webhook {webhook_id}".encode("ascii")

    def seal(self, webhook_id: int, secret: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead().encrypt(nonce, secret.encode("utf-8"), self._context(webhook_id))
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, webhook_id: int, stored: str) -> str:
        if not is_sealed(stored):
            raise WebhookSecretError(f"webhook {webhook_id}'s stored secret is not sealed")
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(SEALED_PREFIX))
            opened = self._aead().decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._context(webhook_id)
            )
        except (InvalidTag, ValueError):
            raise WebhookSecretError(
                f"webhook {webhook_id}'s secret does not open with this service's passphrase: "
                "it was sealed under another one (AEO_PASSPHRASE / AEO_PASSPHRASE_FILE), or "
                "the row was altered"
            ) from None
        return opened.decode("utf-8")


def reveal_secret(sealer: WebhookSecrets | None, webhook: Webhook) -> str:
    """The secret ``webhook``'s deliveries are signed with; WebhookSecretError if it cannot
    be opened (never a wrong key: AES-GCM refuses instead of giving garbage)."""
    if not is_sealed(webhook.secret):
        # Stored before secrets were sealed, on a service that has no passphrase to seal it.
        return webhook.secret
    if sealer is None:
        raise WebhookSecretError(
            f"webhook {webhook.id}'s secret is sealed and this service has no passphrase "
            "(AEO_PASSPHRASE / AEO_PASSPHRASE_FILE)"
        )
    return sealer.open(webhook.id, webhook.secret)


def seal_stored_secrets(
    session_factory: sessionmaker[Session], sealer: WebhookSecrets | None
) -> int:
    """At start-up: seal the secrets stored in clear by earlier versions, and check that
    every sealed one opens. Returns how many were sealed now. ConfigurationError
    (WebhookSecretError) when some cannot be opened: a service with the wrong passphrase
    must say so at once, not sign deliveries with a wrong key."""
    with session_factory() as session:
        webhooks = session.scalars(sa.select(Webhook).order_by(Webhook.id)).all()
        clear = [webhook for webhook in webhooks if not is_sealed(webhook.secret)]
        if sealer is None:
            if len(clear) < len(webhooks):
                raise WebhookSecretError(
                    "webhook secrets in the database are sealed and this service has no "
                    "passphrase (AEO_PASSPHRASE / AEO_PASSPHRASE_FILE)"
                )
            if clear:
                logger.warning(
                    "%d webhook secrets are stored in clear: set AEO_PASSPHRASE to seal them",
                    len(clear),
                )
            return 0
        unreadable = []
        for webhook in webhooks:
            if not is_sealed(webhook.secret):
                continue
            try:
                sealer.open(webhook.id, webhook.secret)
            except WebhookSecretError:
                unreadable.append(webhook.id)
        if unreadable:
            raise WebhookSecretError(
                f"{len(unreadable)} webhook secrets (webhooks {unreadable[:10]}) do not open "
                "with this service's passphrase (AEO_PASSPHRASE / AEO_PASSPHRASE_FILE): start "
                "it with the passphrase they were sealed under"
            )
        for webhook in clear:
            webhook.secret = sealer.seal(webhook.id, webhook.secret)
        session.commit()
        if clear:
            logger.info("sealed %d webhook secrets stored in clear", len(clear))
        return len(clear)


# ---------------------------------------------------------------- the webhooks


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
    session: Session,
    *,
    key: AuthenticatedKey,
    url: str,
    production: bool,
    sealer: WebhookSecrets | None,
    policy: AddressPolicy | None = None,
) -> tuple[Webhook, ApiKey, str]:
    """Register ``url`` for ``key``; returns the webhook, its key and the secret (stored
    sealed by ``sealer``, since every delivery is signed with it, but shown only now).
    UnavailableError without a sealer: a secret is never stored in clear."""
    url = check_url(url, production=production, policy=policy)
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
    if sealer is None:
        raise UnavailableError(
            "this registry cannot keep webhook secrets: it has no passphrase to seal them "
            "with (its operator sets AEO_PASSPHRASE or AEO_PASSPHRASE_FILE)"
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    webhook = Webhook(api_key_id=key.id, url=url, secret="", active=True)
    session.add(webhook)
    session.flush()  # the id the sealed secret is bound to
    webhook.secret = sealer.seal(webhook.id, secret)
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
