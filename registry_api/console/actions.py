"""Changing certificates from the console: issue, amend, renew, suspend, reinstate, revoke.

Each form is checked by the API's own schemas (``schemas.certificates``) and service rules
(``services.certificates``): a field's message comes back next to it, what was typed is kept,
and a check as you type (htmx, ``/certificates/new/check``) answers the same messages out of
band. A form accepted becomes an operation in the outbox under the person's console key
(the certificate's history names them), with the form's own idempotency key, so a form sent
twice (a double click, a reload) is applied once. The browser then goes to the certificate's
page, which follows the operation until the chain confirms it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from contracts.domain.enums import TIER_NAMES, ReasonCode
from contracts.domain.record import CertificateRecord
from contracts.domain.rules import ALLOWED_REASONS, Transition

from ..db import Certificate, LocalStatus, Operation
from ..deps import SessionDep
from ..errors import ConflictError, InvalidError, RegistryError
from ..outbox import Accepted
from ..schemas.certificates import (
    CertificateAmend,
    CertificateCreate,
    CertificateReinstate,
    CertificateRenew,
    CertificateRevoke,
    CertificateSuspend,
)
from ..services import certificates as service
from ..services.certificates import Action
from ..workers import wake_sender
from .app import redirect
from .certificates import TIER_LABELS, WRITERS, _number, chain_banner, field_error
from .csrf import ConsoleRoute
from .deps import SignedIn, SignedInDep, console_of
from .i18n import N_

router = APIRouter(route_class=ConsoleRoute, dependencies=[Depends(WRITERS)])

REASON_LABELS: Mapping[ReasonCode, str] = {
    ReasonCode.FAILED_AUDIT: N_("Failed audit"),
    ReasonCode.NON_COMPLIANCE: N_("Non-compliance with the AEO criteria"),
    ReasonCode.HOLDER_REQUEST: N_("At the holder's request"),
    ReasonCode.CEASED_TRADING: N_("The holder ceased trading"),
    ReasonCode.FRAUD: N_("Fraud"),
    ReasonCode.ADMINISTRATIVE_ERROR: N_("Administrative error"),
    ReasonCode.INSOLVENCY: N_("Insolvency"),
    ReasonCode.SECURITY_BREACH: N_("Security breach"),
    ReasonCode.REMEDIED: N_("The findings were remedied"),
    ReasonCode.SUSPENDED_IN_ERROR: N_("Suspended in error"),
    ReasonCode.DATA_CHANGE: N_("Change of the holder's data"),
    ReasonCode.TIER_CHANGE: N_("Change of tier"),
    ReasonCode.SITES_CHANGE: N_("Change of sites"),
    ReasonCode.CORRECTION: N_("Correction of a mistake"),
    ReasonCode.REASSESSED: N_("Reassessed"),
}

#: the record's fields in the form, in order, and where each sits in the API's body
RECORD_FIELDS = (
    "holder_legal_name",
    "holder_street",
    "holder_postal_code",
    "holder_city",
    "holder_country",
    "holder_id_scheme",
    "holder_id_number",
    "business_roles",
    "tiers",
    "validated_criteria",
    "issuing_office",
    "officer",
    "valid_from",
    "valid_until",
)
ISSUE_FIELDS = ("number", *RECORD_FIELDS)
_BODY_PATHS = {
    "holder.legal_name": "holder_legal_name",
    "holder.address.street": "holder_street",
    "holder.address.postal_code": "holder_postal_code",
    "holder.address.city": "holder_city",
    "holder.address.country": "holder_country",
    "holder.identification.scheme": "holder_id_scheme",
    "holder.identification.number": "holder_id_number",
}
#: what each action's form holds besides a record
ACTION_FIELDS: Mapping[Action, tuple[str, ...]] = {
    Action.AMEND: (*RECORD_FIELDS, "reason_code"),
    Action.RENEW: ("valid_until", "reason_code"),
    Action.SUSPEND: ("reason_code", "remedy_deadline"),
    Action.REINSTATE: ("reason_code",),
    Action.REVOKE: ("reason_code",),
}
ACTION_TITLES: Mapping[Action, str] = {
    Action.AMEND: N_("Amend certificate %(number)s"),
    Action.RENEW: N_("Renew certificate %(number)s"),
    Action.SUSPEND: N_("Suspend certificate %(number)s"),
    Action.REINSTATE: N_("Reinstate certificate %(number)s"),
    Action.REVOKE: N_("Revoke certificate %(number)s"),
}
ACTION_BUTTONS: Mapping[Action, str] = {
    Action.AMEND: N_("Amend certificate"),
    Action.RENEW: N_("Renew certificate"),
    Action.SUSPEND: N_("Suspend certificate"),
    Action.REINSTATE: N_("Reinstate certificate"),
    Action.REVOKE: N_("Revoke certificate"),
}
_SCHEMAS: Mapping[Action, type[BaseModel]] = {
    Action.AMEND: CertificateAmend,
    Action.RENEW: CertificateRenew,
    Action.SUSPEND: CertificateSuspend,
    Action.REINSTATE: CertificateReinstate,
    Action.REVOKE: CertificateRevoke,
}
_SERVICES: Mapping[Action, Callable[..., Accepted]] = {
    Action.AMEND: service.amend_certificate,
    Action.RENEW: service.renew_certificate,
    Action.SUSPEND: service.suspend_certificate,
    Action.REINSTATE: service.reinstate_certificate,
    Action.REVOKE: service.revoke_certificate,
}
#: the certificate statuses each action is offered for (the service decides in the end)
_OFFERED: Mapping[Action, frozenset[LocalStatus]] = {
    Action.AMEND: frozenset({LocalStatus.ACTIVE, LocalStatus.SUSPENDED}),
    Action.RENEW: frozenset({LocalStatus.ACTIVE}),
    Action.SUSPEND: frozenset({LocalStatus.ACTIVE}),
    Action.REINSTATE: frozenset({LocalStatus.SUSPENDED}),
    Action.REVOKE: frozenset({LocalStatus.ACTIVE, LocalStatus.SUSPENDED}),
}
_LIST_SPLIT = re.compile(r"[\s,;]+")
FORM_TEXT_LIMIT = 1024


def reason_options(action: Action) -> list[tuple[int, str]]:
    """The reasons the contracts accept for ``action`` (``ALLOWED_REASONS``), by code."""
    allowed = ALLOWED_REASONS[Transition(action.value)]
    return [(int(code), REASON_LABELS[code]) for code in sorted(allowed)]


# ---------------------------------------------------------------- the form and its body


async def form_of(request: Request) -> FormData:
    """The posted form (read once; the CSRF check may have read it already)."""
    return await request.form(max_files=0, max_fields=64)


FormDep = Annotated[FormData, Depends(form_of)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:FORM_TEXT_LIMIT] if isinstance(value, str) else ""


def typed_values(form: FormData, names: Sequence[str]) -> dict[str, Any]:
    """What the person typed, to show again (``tiers``: the checked boxes)."""
    values: dict[str, Any] = {name: _text(form, name) for name in names}
    if "tiers" in names:
        values["tiers"] = [v for v in form.getlist("tiers") if isinstance(v, str)][:8]
    values["idempotency_key"] = _text(form, "idempotency_key")
    return values


def _items(text: str) -> list[str]:
    return [item.upper() for item in _LIST_SPLIT.split(text) if item]


def _tiers(checked: Sequence[str]) -> int:
    tiers = 0
    for value in checked:
        if value.isdigit() and int(value) in {1 << bit for bit in range(len(TIER_NAMES))}:
            tiers |= int(value)
    return tiers


def record_body(values: Mapping[str, Any]) -> dict[str, Any]:
    """The API's record members from the form's values (empty optional members left out,
    so the schema's defaults and messages apply as they do to a JSON body)."""
    address: dict[str, Any] = {
        "street": values["holder_street"],
        "city": values["holder_city"],
        "country": values["holder_country"].upper(),
    }
    if values["holder_postal_code"]:
        address["postal_code"] = values["holder_postal_code"]
    body: dict[str, Any] = {
        "holder": {
            "legal_name": values["holder_legal_name"],
            "address": address,
            "identification": {
                "scheme": values["holder_id_scheme"].upper(),
                "number": values["holder_id_number"],
            },
        },
        "business_roles": _items(values["business_roles"]),
        "tiers": _tiers(values["tiers"]),
        "validated_criteria": _items(values["validated_criteria"]),
        "issuing_office": values["issuing_office"],
        "officer": values["officer"],
        "valid_from": values["valid_from"] or None,
    }
    if values["valid_until"]:
        body["valid_until"] = values["valid_until"]
    return body


def form_field(path: Sequence[str | int], fields: Sequence[str]) -> str:
    """The form field a schema error's location names (``holder.address.city`` ->
    ``holder_city``, ``business_roles.0`` -> ``business_roles``)."""
    parts = [str(part) for part in path if not isinstance(part, int)]
    if parts and parts[0] == "body":
        parts = parts[1:]
    dotted = ".".join(parts)
    for prefix, name in _BODY_PATHS.items():
        if dotted == prefix or dotted.startswith(prefix + "."):
            return name
    if parts and parts[0] in fields:
        return parts[0]
    return "action"


_REQUIRED = N_("Enter this")


def schema_errors(
    exc: ValidationError, values: Mapping[str, Any], fields: Sequence[str]
) -> list[dict[str, str]]:
    """One message per field (its first), in the form's order."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = form_field(error["loc"], fields)
        if name in found:
            continue
        typed = values.get(name)
        if name == "tiers" and not typed:
            found[name] = N_("Choose at least one tier")
        elif not typed:
            found[name] = _REQUIRED
        else:
            found[name] = str(error["msg"])
    order = {name: i for i, name in enumerate((*fields, "action"))}
    return [field_error(name, found[name]) for name in sorted(found, key=order.__getitem__)]


def registry_errors(exc: RegistryError, fields: Sequence[str]) -> list[dict[str, str]]:
    """A service's refusal as messages: next to the fields it names, else for the form."""
    if exc.errors:
        return [
            field_error(form_field(error.field.split("."), fields), error.message)
            for error in exc.errors
        ]
    return [field_error("action", exc.detail)]


def _issue_body(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"number": values["number"].upper(), **record_body(values)}


def check_issue(
    db: Session, authority: str, values: Mapping[str, Any]
) -> tuple[CertificateCreate | None, list[dict[str, str]]]:
    """The API's checks of an issue, without queueing anything: the schema, the record's
    rules, the number's prefix and whether the number is taken."""
    try:
        body = CertificateCreate.model_validate(_issue_body(values))
    except ValidationError as exc:
        return None, schema_errors(exc, values, ISSUE_FIELDS)
    try:
        service.build_record(authority, body.number, body)
    except InvalidError as exc:
        return None, registry_errors(exc, ISSUE_FIELDS)
    prefix = service.number_prefix_error(
        body.number, service.other_member_codes(db, authority), "number"
    )
    if prefix is not None:
        return None, [field_error("number", prefix.message)]
    existing = db.scalars(
        sa.select(Certificate).where(Certificate.number == body.number)
    ).one_or_none()
    if existing is not None and existing.status is not LocalStatus.FAILED:
        return None, [field_error("number", N_("This number is already issued"))]
    return body, []


def _new_key(values: Mapping[str, Any]) -> str:
    """The form's idempotency key: the one it was rendered with, if it looks like one."""
    key = str(values.get("idempotency_key") or "")
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return str(uuid.uuid4())


def _replayed(db: Session, who: SignedIn, idempotency_key: str) -> Operation | None:
    return db.scalars(
        sa.select(Operation).where(
            Operation.api_key_id == who.key.id,
            Operation.idempotency_key == idempotency_key,
            Operation.kind == Action.ISSUE.value,
        )
    ).one_or_none()


def _accepted(request: Request, outcome: Accepted, number: str) -> Response:
    if outcome.created:
        wake_sender(request)
    root = request.scope.get("root_path", "")
    return redirect(request, f"{root}/certificates/{number}?operation={outcome.operation.id}")


# ---------------------------------------------------------------- issue


def _issue_page(
    request: Request,
    values: Mapping[str, Any],
    errors: list[dict[str, str]],
    status_code: int = 200,
) -> Response:
    context = {
        "form": values,
        "errors": errors,
        "tier_options": [(1 << bit, TIER_LABELS[name]) for bit, name in enumerate(TIER_NAMES)],
        "chain_down": chain_banner(request),
    }
    return console_of(request).page(
        request, "certificate_issue.html", context, status_code=status_code
    )


@router.get("/certificates/new")
def issue_form(request: Request, who: SignedInDep) -> Response:
    values: dict[str, Any] = dict.fromkeys(ISSUE_FIELDS, "")
    values["tiers"] = []
    values["officer"] = who.person.display_name
    values["valid_from"] = datetime.now(UTC).date().isoformat()
    values["idempotency_key"] = str(uuid.uuid4())
    return _issue_page(request, values, [])


@router.post("/certificates/new/check")
def issue_check(request: Request, db: SessionDep, who: SignedInDep, form: FormDep) -> Response:
    """The messages of every field (empty where all is well), out of band: htmx asks as the
    person types and puts each next to its field. Fields not filled in yet say nothing."""
    values = typed_values(form, ISSUE_FIELDS)
    _body, errors = check_issue(db, who.key.authority, values)
    touched = {name for name in ISSUE_FIELDS if values.get(name)}
    shown = [error for error in errors if error["field"] in touched]
    context = {"fields": ISSUE_FIELDS, "errors": shown}
    return console_of(request).page(request, "certificate_checks.html", context)


@router.post("/certificates/new")
def issue(request: Request, db: SessionDep, who: SignedInDep, form: FormDep) -> Response:
    values = typed_values(form, ISSUE_FIELDS)
    idempotency_key = _new_key(values)
    replayed = _replayed(db, who, idempotency_key)
    if replayed is not None and replayed.certificate_number is not None:
        # The same form sent again (a double click, a reload): its operation, not a
        # "number already issued" for the certificate it created.
        return _accepted(request, Accepted(replayed, created=False), replayed.certificate_number)
    body, errors = check_issue(db, who.key.authority, values)
    if body is None:
        return _issue_page(request, values, errors, status_code=400)
    try:
        outcome = service.issue_certificate(
            db, key=who.key, idempotency_key=idempotency_key, body=body
        )
    except (InvalidError, ConflictError) as exc:
        db.rollback()
        return _issue_page(request, values, registry_errors(exc, ISSUE_FIELDS), 400)
    return _accepted(request, outcome, body.number)


# ---------------------------------------------------------------- changes of a certificate


def _record_values(record: CertificateRecord) -> dict[str, Any]:
    address = record.holder.address
    return {
        "holder_legal_name": record.holder.legal_name,
        "holder_street": address.street,
        "holder_postal_code": address.postal_code or "",
        "holder_city": address.city,
        "holder_country": address.country,
        "holder_id_scheme": record.holder.identification.scheme,
        "holder_id_number": record.holder.identification.number,
        "business_roles": ", ".join(record.business_roles),
        "tiers": [str(1 << bit) for bit in range(len(TIER_NAMES)) if record.tiers & (1 << bit)],
        "validated_criteria": ", ".join(record.validated_criteria),
        "issuing_office": record.issuing_office,
        "officer": record.officer,
        "valid_from": record.valid_from.isoformat(),
        "valid_until": record.valid_until.isoformat() if record.valid_until else "",
    }


def _action_page(
    request: Request,
    db: Session,
    action: Action,
    number: str,
    values: Mapping[str, Any] | None,
    errors: list[dict[str, str]],
    status_code: int = 200,
) -> Response:
    view = service.read_certificate(db, number)
    certificate: Certificate = view.certificate
    if values is None:
        values = _first_values(action, view)
    projection = service.project(db, certificate)
    context = {
        "action": action.value,
        "title": ACTION_TITLES[action],
        "button": ACTION_BUTTONS[action],
        "certificate": certificate,
        "view": view,
        "form": values,
        "errors": errors,
        "reason_options": reason_options(action),
        "tier_options": [(1 << bit, TIER_LABELS[name]) for bit, name in enumerate(TIER_NAMES)],
        "offered": projection.status in _OFFERED[action],
        "projected_status": projection.status.value,
        "chain_down": chain_banner(request),
        "today": datetime.now(UTC).date().isoformat(),
    }
    return console_of(request).page(
        request, "certificate_action.html", context, status_code=status_code
    )


def _first_values(action: Action, view: service.CertificateView) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(ACTION_FIELDS[action], "")
    if action is Action.AMEND:
        values.update(_record_values(view.record))
        if view.valid_until is not None:
            values["valid_until"] = view.valid_until.isoformat()
    options = reason_options(action)
    if len(options) == 1:
        values["reason_code"] = str(options[0][0])
    values["idempotency_key"] = str(uuid.uuid4())
    return values


def action_form(action: Action) -> Callable[..., Response]:
    def page(request: Request, db: SessionDep, number: str) -> Response:
        return _action_page(request, db, action, _number(number), None, [])

    return page


def action_body(
    action: Action, values: Mapping[str, Any], view: service.CertificateView
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if action is Action.AMEND:
        body = record_body(values)
        # An amendment keeps the sites (the form does not edit them) and the validity
        # (renewal changes it): both are the current ones, as the API requires.
        body["sites"] = [site.model_dump(mode="json") for site in view.record.sites]
        body["valid_from"] = view.record.valid_from.isoformat()
        if view.valid_until is not None:
            body["valid_until"] = view.valid_until.isoformat()
        else:
            body.pop("valid_until", None)
    elif action is Action.RENEW:
        body["valid_until"] = values["valid_until"] or None
    elif action is Action.SUSPEND and values["remedy_deadline"]:
        body["remedy_deadline"] = values["remedy_deadline"]
    body["reason_code"] = values["reason_code"] or None
    return body


def act(action: Action) -> Callable[..., Response]:
    fields = ACTION_FIELDS[action]

    def submit(
        request: Request, db: SessionDep, who: SignedInDep, form: FormDep, number: str
    ) -> Response:
        number = _number(number)
        values = typed_values(form, fields)
        view = service.read_certificate(db, number)
        try:
            body = _SCHEMAS[action].model_validate(action_body(action, values, view))
        except ValidationError as exc:
            errors = schema_errors(exc, values, fields)
            if not values["reason_code"]:
                errors = [
                    field_error("reason_code", N_("Choose a reason"))
                    if error["field"] == "reason_code"
                    else error
                    for error in errors
                ]
            return _action_page(request, db, action, number, values, errors, 400)
        try:
            outcome = _run(action, db, who, number, body, values)
        except (InvalidError, ConflictError) as exc:
            db.rollback()
            errors = registry_errors(exc, fields)
            return _action_page(request, db, action, number, values, errors, 400)
        return _accepted(request, outcome, number)

    return submit


# One route per action, so that the certificate's documents (``.../qr.png``) and page,
# whose numbers may hold "/", never read as an action.
for _action_kind in ACTION_FIELDS:
    router.add_api_route(
        f"/certificates/{{number:path}}/{_action_kind.value}",
        action_form(_action_kind),
        methods=["GET"],
        name=f"{_action_kind.value}_form",
    )
    router.add_api_route(
        f"/certificates/{{number:path}}/{_action_kind.value}",
        act(_action_kind),
        methods=["POST"],
        name=_action_kind.value,
    )


def _run(
    action: Action,
    db: Session,
    who: SignedIn,
    number: str,
    body: BaseModel,
    values: Mapping[str, Any],
) -> Accepted:
    return _SERVICES[action](
        db, key=who.key, idempotency_key=_new_key(values), number=number, body=body
    )
