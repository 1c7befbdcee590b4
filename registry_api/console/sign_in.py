"""Signing in with a local account: the password, the second factor (or its enrolment), a
password chosen by an administrator changed, then the session; and signing out.

Each step is a page that works without JavaScript. A step's success replaces the session
row and its cookie (a new token each time); a failure re-renders the form with the error
next to the field and what was typed (never the password).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from ..db import AccessEventKind, ConsoleSession, Person, SessionStage, SignInMethod, SignInSource
from ..deps import SessionDep
from . import accounts, totp
from .accounts import check_password, record_event
from .app import ConsoleApp, redirect, sign_in_url
from .csrf import ConsoleRoute
from .deps import CurrentSession, SignedIn, console_of, origin_of, signed_in
from .i18n import N_
from .passwords import PasswordPolicyError, check_password_policy
from .principal import console_key
from .sessions import COOKIE_PATH, SESSION_COOKIE, start_session

router = APIRouter(route_class=ConsoleRoute)

#: one message for every refusal of a name and password (unknown name, wrong password,
#: locked, disabled): the page must not tell which
WRONG_CREDENTIALS = N_("The account name or password is not right")
WRONG_CODE = N_("The code is not right, or it was used already")

FormText = Annotated[str, Form(max_length=1024)]


def safe_next(request: Request, value: str | None, *, sign_in: bool = False) -> str:
    """Where to go after signing in: a console page, never another site (nor a sign-in
    step, the provider's callback or a static file). With ``sign_in`` the sign-in pages
    are allowed (the language menu returns to the page it was chosen on)."""
    root = request.scope.get("root_path", "")
    path = (value or "").split("?", 1)[0]
    sign_in_page = path == f"{root}/sign-in" or path.startswith(f"{root}/sign-in/")
    excluded = (
        (sign_in_page and not sign_in)
        or path == f"{root}/sign-out"
        or path.startswith((f"{root}/sso/", f"{root}/static/"))
    )
    plain = value is not None and "\\" not in value and all(ord(char) >= 32 for char in value)
    if value and plain and path.startswith(f"{root}/") and not path.startswith("//"):
        return value if not excluded else f"{root}/"
    return f"{root}/"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    secure = request.url.scheme == "https" or console_of(request).settings.console_behind_tls
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def _field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def next_stage(person: Person, current: SessionStage | None) -> SessionStage:
    """The step after ``current`` (None: the password was just accepted): the second
    factor first, then a password an administrator set, then enrolment of a required
    second factor, then signed in."""
    if current is None and person.has_totp:
        return SessionStage.TOTP
    if person.password_change_required and current is not SessionStage.PASSWORD_CHANGE:
        return SessionStage.PASSWORD_CHANGE
    if person.totp_required and not person.has_totp:
        return SessionStage.TOTP_ENROLMENT
    return SessionStage.SIGNED_IN


STAGE_PAGES = {
    SessionStage.TOTP: "/sign-in/code",
    SessionStage.PASSWORD_CHANGE: "/account/password",
    SessionStage.TOTP_ENROLMENT: "/account/two-factor",
}


def advance(
    request: Request,
    db: SessionDep,
    person: Person,
    *,
    current: ConsoleSession | None,
    method: SignInMethod,
    next_path: str | None = None,
) -> Response:
    """Move the sign-in on to its next step, with a new session token."""
    console = console_of(request)
    now = console.clock()
    stage = next_stage(person, current.stage if current is not None else None)
    row, token = start_session(
        db,
        person,
        stage=stage,
        method=method,
        role=person.role,
        partner_authority=person.partner_authority,
        now=now,
        replacing=current,
    )
    if stage is SessionStage.SIGNED_IN:
        row.api_key = console_key(db, person, row)
        accounts.signed_in(
            db, person, role=row.role, now=now, origin=origin_of(request, method.value)
        )
        target = safe_next(request, next_path or request.session.get("next"))
        request.session.clear()
    else:
        if next_path:
            request.session["next"] = next_path
        target = request.scope.get("root_path", "") + STAGE_PAGES[stage]
    db.commit()
    response = redirect(request, target)
    set_session_cookie(request, response, token)
    return response


def _pending(row: ConsoleSession | None, *stages: SessionStage) -> ConsoleSession:
    from .deps import SignInRequired

    if row is None or row.stage not in stages:
        raise SignInRequired(expired=False)
    return row


# ---------------------------------------------------------------- the password


@router.get("/sign-in", name="sign_in")
def sign_in_page(request: Request, row: CurrentSession, next: str | None = None) -> Response:
    console = console_of(request)
    if row is not None and row.stage is SessionStage.SIGNED_IN:
        return redirect(request, safe_next(request, next))
    return _sign_in_form(console, request, next_path=next)


def _sign_in_form(
    console: ConsoleApp,
    request: Request,
    *,
    next_path: str | None,
    name: str = "",
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    notice = request.session.pop("notice", None)
    if getattr(request.state, "console_expired", False) and notice is None:
        notice = "expired"
    settings = console.settings
    context: dict[str, Any] = {
        "local_accounts": settings.console_local_accounts,
        "sso": console.oidc is not None,
        "provider_name": settings.console_oidc_provider_name,
        "next": next_path or "",
        "name": name,
        "errors": errors or [],
        "notice": notice,
        "idle_minutes": settings.console_session_idle_minutes,
    }
    response = console.page(request, "sign_in.html", context, status_code=status_code)
    if getattr(request.state, "console_expired", False):
        response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    db: SessionDep,
    row: CurrentSession,
    name: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    console = console_of(request)
    if not console.settings.console_local_accounts:
        return console.error_page(
            request,
            404,
            N_("Page not found"),
            N_("This registry signs people in through its identity provider only."),
        )
    name = name.strip()
    errors = []
    if not name:
        errors.append(_field_error("name", N_("Enter your account name")))
    if not password:
        errors.append(_field_error("password", N_("Enter your password")))
    if errors:
        return _sign_in_form(
            console, request, next_path=next, name=name, errors=errors, status_code=400
        )
    check = check_password(
        db,
        console.passwords,
        name=name,
        password=password,
        now=console.clock(),
        origin=origin_of(request, "password"),
    )
    if not check.ok or check.person is None:
        db.commit()
        return _sign_in_form(
            console,
            request,
            next_path=next,
            name=name,
            errors=[_field_error("password", WRONG_CREDENTIALS)],
            status_code=400,
        )
    return advance(
        request, db, check.person, current=row, method=SignInMethod.PASSWORD, next_path=next
    )


# ---------------------------------------------------------------- the second factor


@router.get("/sign-in/code")
def code_page(request: Request, row: CurrentSession) -> Response:
    _pending(row, SessionStage.TOTP)
    return console_of(request).page(request, "totp.html")


@router.post("/sign-in/code")
def code(request: Request, db: SessionDep, row: CurrentSession, code: FormText = "") -> Response:
    pending = _pending(row, SessionStage.TOTP)
    console = console_of(request)
    if not code.strip():
        errors = [_field_error("code", N_("Enter the code your app shows"))]
        return console.page(request, "totp.html", {"errors": errors}, status_code=400)
    check = accounts.check_totp(
        db,
        pending.person,
        console.keys.require_sealer(),
        code,
        now=console.clock(),
        origin=origin_of(request, "totp"),
    )
    if not check.ok:
        db.commit()
        errors = [_field_error("code", WRONG_CODE)]
        return console.page(request, "totp.html", {"errors": errors}, status_code=400)
    return advance(request, db, pending.person, current=pending, method=SignInMethod.PASSWORD_TOTP)


# ---------------------------------------------------------------- enrolment


def _enrolling(request: Request, db: SessionDep, row: ConsoleSession | None) -> tuple[Person, bool]:
    """The person setting up a second factor, and whether as a step of signing in."""
    if row is not None and row.stage is SessionStage.TOTP_ENROLMENT:
        return row.person, True
    who: SignedIn = signed_in(request, db, row)
    if who.person.source is not SignInSource.LOCAL:
        raise _NotForSso()
    return who.person, False


class _NotForSso(Exception):
    pass


def _enrolment_page(
    request: Request,
    person: Person,
    secret: str,
    *,
    errors: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    uri = totp.provisioning_uri(
        secret, account=person.name, issuer=f"AEO registry {console.settings.authority}"
    )
    context = {
        "qr": totp.qr_data_uri(uri),
        "secret": totp.grouped(secret),
        "errors": errors or [],
    }
    return console.page(request, "totp_setup.html", context, status_code=status_code)


@router.get("/account/two-factor")
def enrolment_page(request: Request, db: SessionDep, row: CurrentSession) -> Response:
    console = console_of(request)
    try:
        person, _ = _enrolling(request, db, row)
    except _NotForSso:
        return _sso_account_page(request)
    if person.has_totp:
        return console.page(request, "totp_done.html")
    sealer = console.keys.require_sealer()
    if person.totp_secret is None:
        person.totp_secret = sealer.seal(person.id, totp.new_secret())
        db.commit()
    return _enrolment_page(request, person, sealer.open(person.id, person.totp_secret))


@router.post("/account/two-factor")
def enrol(request: Request, db: SessionDep, row: CurrentSession, code: FormText = "") -> Response:
    console = console_of(request)
    try:
        person, signing_in = _enrolling(request, db, row)
    except _NotForSso:
        return _sso_account_page(request)
    if person.has_totp or person.totp_secret is None:
        return redirect(request, request.url.path)
    sealer = console.keys.require_sealer()
    secret = sealer.open(person.id, person.totp_secret)
    if not code.strip():
        errors = [_field_error("code", N_("Enter the code your app shows"))]
        return _enrolment_page(request, person, secret, errors=errors, status_code=400)
    check = accounts.confirm_totp_enrolment(
        db, person, sealer, code, now=console.clock(), origin=origin_of(request, "totp")
    )
    if not check.ok:
        db.commit()
        errors = [_field_error("code", WRONG_CODE)]
        return _enrolment_page(request, person, secret, errors=errors, status_code=400)
    if signing_in:
        assert row is not None
        return advance(request, db, person, current=row, method=SignInMethod.PASSWORD_TOTP)
    db.commit()
    request.session["notice"] = "totp_enrolled"
    return redirect(request, request.scope.get("root_path", "") + "/")


def _sso_account_page(request: Request) -> Response:
    return console_of(request).error_page(
        request,
        404,
        N_("Page not found"),
        N_("You sign in through your identity provider: it manages your password and factors."),
    )


# ---------------------------------------------------------------- changing the password


@router.get("/account/password")
def password_page(request: Request, db: SessionDep, row: CurrentSession) -> Response:
    person, forced = _changing_password(request, db, row)
    if person is None:
        return _sso_account_page(request)
    return console_of(request).page(request, "password.html", {"forced": forced})


def _changing_password(
    request: Request, db: SessionDep, row: ConsoleSession | None
) -> tuple[Person | None, bool]:
    if row is not None and row.stage is SessionStage.PASSWORD_CHANGE:
        return row.person, True
    who = signed_in(request, db, row)
    if who.person.source is not SignInSource.LOCAL:
        return None, False
    return who.person, False


@router.post("/account/password")
def change_password(
    request: Request,
    db: SessionDep,
    row: CurrentSession,
    current_password: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:
    console = console_of(request)
    person, forced = _changing_password(request, db, row)
    if person is None:
        return _sso_account_page(request)
    errors = []
    if not forced and not console.passwords.verify(person.password_hash, current_password):
        errors.append(_field_error("current_password", N_("Your current password is not right")))
    try:
        check_password_policy(new_password, name=person.name)
    except PasswordPolicyError:
        errors.append(_field_error("new_password", N_("Choose a password of 12 to 256 characters")))
    else:
        if new_password != confirm_password:
            errors.append(_field_error("confirm_password", N_("Type the same new password twice")))
        elif console.passwords.verify(person.password_hash, new_password):
            errors.append(
                _field_error("new_password", N_("Choose another password than the one you had"))
            )
    if errors:
        return console.page(
            request, "password.html", {"forced": forced, "errors": errors}, status_code=400
        )
    now = console.clock()
    person.password_hash = console.passwords.hash(new_password)
    person.password_change_required = False
    record_event(
        db,
        AccessEventKind.PASSWORD_CHANGED,
        now=now,
        person=person,
        origin=origin_of(request, "password"),
    )
    # Other browsers signed in with the old password are signed out.
    for other in person_sessions(db, person):
        if row is None or other.id != row.id:
            db.delete(other)
    if forced:
        assert row is not None
        return advance(request, db, person, current=row, method=row.method)
    db.commit()
    request.session["notice"] = "password_changed"
    return redirect(request, request.scope.get("root_path", "") + "/")


def person_sessions(db: SessionDep, person: Person) -> list[ConsoleSession]:
    import sqlalchemy as sa

    return list(db.scalars(sa.select(ConsoleSession).where(ConsoleSession.person_id == person.id)))


# ---------------------------------------------------------------- signing out


@router.post("/sign-out")
def sign_out(request: Request, db: SessionDep, row: CurrentSession) -> Response:
    if row is not None:
        console = console_of(request)
        if row.stage is SessionStage.SIGNED_IN:
            record_event(
                db,
                AccessEventKind.SIGNED_OUT,
                now=console.clock(),
                person=row.person,
                role=row.role.value,
                origin=origin_of(request, row.method.value),
            )
        db.delete(row)
        db.commit()
    request.session.clear()
    request.session["notice"] = "signed_out"
    response = redirect(request, sign_in_url(request))
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
