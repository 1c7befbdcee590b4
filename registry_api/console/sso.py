"""Single sign-on with the administration's OpenID Connect provider: the authorization
code flow with PKCE (S256), through Authlib's Starlette client.

``/console/sso/start`` discovers the provider (``<issuer>/.well-known/openid-configuration``,
fetched once and kept), keeps the state, the nonce and the PKCE verifier in the signed
sign-in state cookie (``SameSite=Lax``: the provider's redirect back is a cross-site
navigation, on which a ``Strict`` cookie would not be sent) and sends the browser to the
provider. ``/console/sso/callback`` checks the state, exchanges the code (with the verifier)
for tokens, verifies the ID token (signature against the provider's published keys, issuer,
audience, expiry, nonce), reads the role claim (from the ID token, else from the userinfo
answer), maps it to a role, and starts the session.

The callback answers with a small page of this site that moves on to the console (a meta
refresh and a link), not with a redirect: the session cookie is ``SameSite=Strict``, and
Chromium does not send a Strict cookie set on the response of a cross-site navigation with
the redirect that follows it; a navigation started by a page of this site carries it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx2
import sqlalchemy as sa
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Request
from joserfc.errors import JoseError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..db import (
    AccessEventKind,
    Person,
    SessionStage,
    SignInMethod,
    SignInSource,
    User,
)
from ..deps import SessionDep
from ..settings import Settings
from . import accounts
from .accounts import DISPLAY_NAME_LENGTH, NAME_LENGTH, record_event
from .csrf import ConsoleRoute
from .deps import CurrentSession, console_of, origin_of
from .i18n import N_
from .principal import console_key
from .roles import RoleTarget, claim_values, map_role
from .sessions import start_session

logger = logging.getLogger("registry_api.console")

router = APIRouter(route_class=ConsoleRoute)

CLIENT_NAME = "idp"
#: seconds for each request to the provider (discovery, token, keys, userinfo)
PROVIDER_TIMEOUT = 10.0


@dataclass
class OidcClient:
    settings: Settings
    oauth: OAuth

    @classmethod
    def of(cls, settings: Settings) -> OidcClient | None:
        issuer = settings.console_oidc_issuer
        if issuer is None:
            return None
        secret = settings.console_oidc_client_secret
        scopes = settings.console_oidc_scopes.split()
        if "openid" not in scopes:
            scopes.insert(0, "openid")
        oauth = OAuth()
        oauth.register(
            CLIENT_NAME,
            client_id=settings.console_oidc_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": " ".join(scopes),
                "code_challenge_method": "S256",
                "timeout": PROVIDER_TIMEOUT,
                # A public client (no secret) authenticates with PKCE alone.
                **({} if secret is not None else {"token_endpoint_auth_method": "none"}),
            },
        )
        return cls(settings, oauth)

    @property
    def client(self) -> Any:
        return self.oauth.create_client(CLIENT_NAME)

    @property
    def issuer(self) -> str:
        assert self.settings.console_oidc_issuer is not None
        return self.settings.console_oidc_issuer


class SsoFailed(Exception):
    """The provider's answer did not check out; ``detail`` is for the access log."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _client(request: Request) -> OidcClient:
    oidc = console_of(request).oidc
    if oidc is None:
        from starlette.exceptions import HTTPException

        raise HTTPException(404)
    assert isinstance(oidc, OidcClient)
    return oidc


def _failure_page(request: Request, title: str, message: str, status_code: int) -> Response:
    return console_of(request).error_page(request, status_code, title, message)


def _log(request: Request, kind: AccessEventKind, *, name: str | None, detail: str) -> None:
    console = console_of(request)
    with console.session_factory()() as db:
        record_event(
            db, kind, now=console.clock(), name=name, origin=origin_of(request, "oidc"),
            detail=detail[:1000],
        )  # fmt: skip
        db.commit()


@router.get("/sso/start")
async def start(request: Request, next: str | None = None) -> Response:
    oidc = _client(request)
    if next:
        request.session["next"] = next
    redirect_uri = request.url_for("sso_callback")
    try:
        response: Response = await oidc.client.authorize_redirect(request, redirect_uri)
    except (httpx2.HTTPError, OAuthError, ValueError, KeyError, RuntimeError) as exc:
        detail = f"the provider cannot be reached: {type(exc).__name__}: {exc}"
        logger.warning("console sign-in: %s", detail)
        await run_in_threadpool(_log, request, AccessEventKind.SSO_FAILED, name=None, detail=detail)
        return _failure_page(
            request,
            N_("The identity provider cannot be reached"),
            N_("Try again in a moment. If it lasts, tell your registry's support."),
            503,
        )
    return response


async def _claims(request: Request, oidc: OidcClient) -> dict[str, Any]:
    """The verified claims of the person the provider sent back."""
    try:
        token = await oidc.client.authorize_access_token(request)
    except OAuthError as exc:
        raise SsoFailed(f"{exc.error}: {exc.description or ''}".strip(": ")) from None
    except JoseError as exc:
        raise SsoFailed(f"the ID token does not verify: {exc.error}: {exc.description}") from None
    except httpx2.HTTPError as exc:
        raise SsoFailed(f"the provider cannot be reached: {type(exc).__name__}") from None
    except (ValueError, KeyError) as exc:
        raise SsoFailed(f"the provider's answer is malformed: {type(exc).__name__}") from None
    userinfo = token.get("userinfo")
    if not userinfo or not userinfo.get("sub"):
        raise SsoFailed("the provider sent no ID token")
    claims = dict(userinfo)
    if not claim_values(claims, oidc.settings.console_oidc_role_claim):
        # The role claim may be in the userinfo answer only (many providers keep the ID
        # token small); its subject must be the ID token's.
        try:
            extra = dict(await oidc.client.userinfo(token=token))
        except (httpx2.HTTPError, OAuthError, ValueError) as exc:
            raise SsoFailed(f"the userinfo answer failed: {type(exc).__name__}") from None
        if extra.get("sub") != claims["sub"]:
            raise SsoFailed("the userinfo answer is about another subject")
        claims = {**extra, **claims}
    return claims


def _name_for(db: Session, claims: dict[str, Any], issuer: str) -> str:
    """An account name for a new person: the provider's user name, made unique."""
    base = (
        str(claims.get("preferred_username") or claims.get("email") or claims["sub"]).strip()[
            : NAME_LENGTH - 12
        ]
        or str(claims["sub"])[: NAME_LENGTH - 12]
    )
    name = base
    suffix = 1
    while db.scalars(sa.select(User.id).where(User.name == name)).first() is not None:
        suffix += 1
        name = f"{base}~{suffix}"
    return name


def _person(
    db: Session, claims: dict[str, Any], issuer: str, target: RoleTarget, now: datetime
) -> Person:
    """The person (issuer, subject) names, created at the first sign-in; its display name
    and role as the provider says today."""
    subject = str(claims["sub"])[:255]
    display = str(claims.get("name") or claims.get("preferred_username") or subject)
    person = db.scalars(
        sa.select(Person).where(Person.oidc_issuer == issuer, Person.oidc_subject == subject)
    ).one_or_none()
    if person is None:
        name = _name_for(db, claims, issuer)
        user = User(name=name)
        db.add(user)
        db.flush()
        person = Person(
            name=name,
            display_name=display[:DISPLAY_NAME_LENGTH],
            user=user,
            source=SignInSource.OIDC,
            role=target.role,
            partner_authority=target.partner_authority,
            oidc_issuer=issuer,
            oidc_subject=subject,
            created_at=now,
        )
        db.add(person)
        db.flush()
    person.display_name = display[:DISPLAY_NAME_LENGTH]
    person.role = target.role
    person.partner_authority = target.partner_authority
    return person


@router.get("/sso/callback", name="sso_callback")
async def callback(request: Request, db: SessionDep, row: CurrentSession) -> Response:
    oidc = _client(request)
    try:
        claims = await _claims(request, oidc)
    except SsoFailed as exc:
        logger.warning("console sign-in through the provider failed: %s", exc.detail)
        await run_in_threadpool(
            _log, request, AccessEventKind.SSO_FAILED, name=None, detail=exc.detail
        )
        return _failure_page(
            request,
            N_("Sign-in through your identity provider did not work"),
            N_("Nothing was signed in. Start again from the sign-in page."),
            400,
        )
    values = claim_values(claims, oidc.settings.console_oidc_role_claim)
    target = map_role(
        values, oidc.settings.console_oidc_role_mapping, own_authority=oidc.settings.authority
    )
    who = str(claims.get("preferred_username") or claims["sub"])
    if target is None:
        detail = (
            f"subject {claims['sub']!r}: no value of claim "
            f"{oidc.settings.console_oidc_role_claim!r} maps to a role (values: {values!r})"
        )
        await run_in_threadpool(_log, request, AccessEventKind.SSO_REFUSED, name=who, detail=detail)
        return _failure_page(
            request,
            N_("You have no role in this registry"),
            N_(
                "Your identity provider signed you in, but gave you none of the roles this "
                "registry knows. Ask your administrator for a role in the AEO registry."
            ),
            403,
        )
    return await run_in_threadpool(_sign_in, request, db, row, claims, target, oidc.issuer)


def _sign_in(
    request: Request,
    db: Session,
    row: Any,
    claims: dict[str, Any],
    target: RoleTarget,
    issuer: str,
) -> Response:
    from .sign_in import safe_next, set_session_cookie

    console = console_of(request)
    now = console.clock()
    origin = origin_of(request, "oidc")
    person = _person(db, claims, issuer, target, now)
    if not person.active:
        record_event(db, AccessEventKind.DISABLED, now=now, person=person, origin=origin)
        db.commit()
        return _failure_page(
            request,
            N_("Your account is disabled"),
            N_("Ask an administrator of this registry to enable it."),
            403,
        )
    session_row, token = start_session(
        db,
        person,
        stage=SessionStage.SIGNED_IN,
        method=SignInMethod.OIDC,
        role=target.role,
        partner_authority=target.partner_authority,
        now=now,
        replacing=row,
    )
    session_row.api_key = console_key(db, person, session_row)
    accounts.signed_in(db, person, role=target.role, now=now, origin=origin)
    db.commit()
    target_path = safe_next(request, request.session.get("next"))
    request.session.clear()
    response = console.page(request, "landing.html", {"target": target_path})
    set_session_cookie(request, response, token)
    return response
