"""Certificates in the console: the search page, a certificate's page (record, timeline,
QR code and downloads) and the small fragment that follows an accepted write until the chain
confirms it.

Pages only parse, call :mod:`registry_api.services.certificates` /
:mod:`registry_api.services.documents` and render; the role checks are the API's
(``require_roles`` with the roles of the API's routes), so a role the API refuses is refused
here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Depends, Query, Request
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from contracts.domain import days
from contracts.domain.enums import DEFINED_TIERS, TIER_NAMES, reason_name, tier_names
from contracts.domain.record import CertificateNumber

from ..auth import Role, require_roles
from ..db import ApiKey, LocalStatus, Operation, OperationState
from ..deps import SessionDep, SettingsDep
from ..errors import NotFoundError
from ..outbox import operation_details
from ..rendering.pdf import PDF_MEDIA_TYPE, certificate_pdf, qr_png
from ..routes.documents import DOCUMENT_ROLES, payload_cache
from ..routes.operations import STAFF_ROLES
from ..services import certificates as service, documents as documents_service
from ..services.documents import PayloadCache
from .csrf import ConsoleRoute
from .deps import SignedInDep, console_of
from .i18n import N_
from .principal import CONSOLE_KEY_PREFIX

router = APIRouter(route_class=ConsoleRoute)

#: the API's roles: ``routes/certificates.py`` reads with these, writes with WRITERS
READERS = require_roles(Role.ISSUING_OFFICER, Role.ADMIN, Role.MRA_OFFICER, Role.AUDITOR)
WRITERS = require_roles(Role.ISSUING_OFFICER, Role.ADMIN)
DOCUMENTS = require_roles(*DOCUMENT_ROLES)
OPERATIONS = require_roles(*STAFF_ROLES)

PAGE_SIZE = 50
#: how often the pending-write fragment asks again (the chain confirms in a block or two)
POLL_SECONDS = 1

STATUS_LABELS: Mapping[str, str] = {
    "pending": N_("Pending"),
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
    "failed": N_("Failed"),
    "expired": N_("Expired"),
    "not_yet_valid": N_("Not yet valid"),
}
TIER_LABELS: Mapping[str, str] = {
    "C": N_("C: customs simplifications (AEOC)"),
    "S": N_("S: security and safety (AEOS)"),
    "A": N_("A: grade A"),
    "AA": N_("AA: grade AA"),
    "AAA": N_("AAA: grade AAA"),
}
EVENT_LABELS: Mapping[str, str] = {
    "issued": N_("Issued"),
    "amended": N_("Amended"),
    "renewed": N_("Renewed"),
    "suspended": N_("Suspended"),
    "reinstated": N_("Reinstated"),
    "revoked": N_("Revoked"),
    "issue": N_("Issue"),
    "amend": N_("Amendment"),
    "renew": N_("Renewal"),
    "suspend": N_("Suspension"),
    "reinstate": N_("Reinstatement"),
    "revoke": N_("Revocation"),
}
OPERATION_LABELS: Mapping[str, str] = {
    "pending": N_("Pending: waiting to be sent to the chain"),
    "signed": N_("Pending: signed, being sent to the chain"),
    "submitted": N_("Pending: sent, waiting for the chain to confirm"),
    "confirmed": N_("Confirmed by the chain"),
    "failed": N_("Failed: the chain refused it"),
}


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def tier_label(tiers: int) -> str:
    return ", ".join(tier_names(tiers))


def chain_banner(request: Request) -> bool:
    """Whether writes wait for the chain now: the sender's last attempt failed (the node
    does not answer) or this service has no operator key. Read from the sender's status,
    never from the chain: a page must not wait for a node that is down."""
    workers = getattr(request.app.state, "workers", None)
    if workers is None or workers.access is None:
        return False
    sender = workers.sender
    return sender is None or bool(sender.status.last_error)


# ---------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class SearchForm:
    """What the search form holds, as typed (strings), and what it means once checked."""

    values: dict[str, str]
    filters: service.SearchFilters | None
    errors: list[dict[str, str]]


SEARCH_FIELDS = ("number", "holder_name", "holder_id", "tier", "status", "valid_from", "valid_to")


def _date_field(name: str, text: str, errors: list[dict[str, str]]) -> date | None:
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
        days.to_day(value)
    except ValueError:
        errors.append(field_error(name, N_("Enter a real date, like 2027-03-31")))
        return None
    return value


def parse_search(raw: Mapping[str, str | None]) -> SearchForm:
    values = {name: (raw.get(name) or "").strip()[:512] for name in SEARCH_FIELDS}
    errors: list[dict[str, str]] = []
    tier: int | None = None
    if values["tier"]:
        try:
            tier = int(values["tier"])
        except ValueError:
            tier = None
        if tier is None or not 1 <= tier <= int(DEFINED_TIERS):
            errors.append(field_error("tier", N_("Choose a tier from the list")))
            tier = None
    status = values["status"] or None
    if status is not None and status not in service.SEARCH_STATUSES:
        errors.append(field_error("status", N_("Choose a status from the list")))
    if len(values["number"]) > 32:
        errors.append(field_error("number", N_("A certificate number has at most 32 characters")))
    if len(values["holder_id"]) > 82:
        errors.append(field_error("holder_id", N_("An identifier has at most 82 characters")))
    valid_from = _date_field("valid_from", values["valid_from"], errors)
    valid_to = _date_field("valid_to", values["valid_to"], errors)
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        errors.append(
            field_error("valid_to", N_("The end of the window must not be before its start"))
        )
    if errors:
        return SearchForm(values, None, errors)
    filters = service.SearchFilters(
        number=values["number"].upper() or None,
        holder_id=values["holder_id"] or None,
        holder_name=values["holder_name"] or None,
        status=status,
        tier=tier,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    return SearchForm(values, filters, [])


def _is_fragment(request: Request, target: str) -> bool:
    """An htmx request that swaps only ``target`` (history restores ask for whole pages)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == target
        and request.headers.get("hx-history-restore-request") != "true"
    )


@router.get("/certificates", dependencies=[Depends(READERS)])
def search(
    request: Request,
    db: SessionDep,
    who: SignedInDep,
    after: Annotated[str | None, Query(max_length=32)] = None,
    number: Annotated[str | None, Query(max_length=1024)] = None,
    holder_name: Annotated[str | None, Query(max_length=1024)] = None,
    holder_id: Annotated[str | None, Query(max_length=1024)] = None,
    tier: Annotated[str | None, Query(max_length=1024)] = None,
    status: Annotated[str | None, Query(max_length=1024)] = None,
    valid_from: Annotated[str | None, Query(max_length=1024)] = None,
    valid_to: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    form = parse_search(
        {
            "number": number,
            "holder_name": holder_name,
            "holder_id": holder_id,
            "tier": tier,
            "status": status,
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
    )
    page: service.SearchPage | None = None
    if form.filters is not None:
        page = service.search_page(db, form.filters, after=after or None, limit=PAGE_SIZE)
    query = "&".join(f"{name}={value}" for name, value in _encoded(form.values).items() if value)
    context: dict[str, Any] = {
        "form": form.values,
        "errors": form.errors,
        "page": page,
        "after": after,
        "query": query,
        "status_options": [(name, STATUS_LABELS[name]) for name in service.SEARCH_STATUSES],
        "tier_options": [(1 << bit, TIER_LABELS[name]) for bit, name in enumerate(TIER_NAMES)],
        "STATUS_LABELS": STATUS_LABELS,
        "tier_label": tier_label,
        "can_issue": who.role in WRITERS.roles,
    }
    fragment = _is_fragment(request, "results")
    context["fragment"] = fragment
    # An htmx answer with field errors is still swapped in (the base page's htmx config
    # swaps every status); a whole page with errors says 400 to anything else.
    status_code = 400 if form.errors else 200
    name = "certificates_results.html" if fragment else "certificates.html"
    return console_of(request).page(request, name, context, status_code=status_code)


def _encoded(values: Mapping[str, str]) -> dict[str, str]:
    return {name: quote_plus(value) for name, value in values.items()}


# ---------------------------------------------------------------- a certificate


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a certificate's timeline: an indexed event (confirmed) or an accepted
    operation the index does not show yet (pending)."""

    kind: str
    at: datetime
    who: str | None
    via_console: bool
    reason: str | None
    remedy_deadline: date | None
    tx_hash: str | None
    block_number: int | None
    confirmed: bool
    operation_id: str | None


def _via_console(key: ApiKey | None) -> bool:
    return key is not None and key.prefix.startswith(CONSOLE_KEY_PREFIX)


def timeline(db: Session, number: str, pending: tuple[Operation, ...]) -> list[TimelineEntry]:
    """The certificate's history, oldest first, then what waits for the chain. Who asked
    is the user of the API key (a person's console key names the person), and whether they
    used the console."""
    entries = []
    for item in service.certificate_history(db, number):
        event = item.event
        operation = event.data.get("operation") or {}
        key = db.get(ApiKey, int(operation["api_key_id"])) if operation else None
        entries.append(
            TimelineEntry(
                kind=event.kind,
                at=event.block_time,
                who=item.requested_by,
                via_console=_via_console(key),
                reason=reason_name(event.reason_code) if event.reason_code is not None else None,
                remedy_deadline=(
                    service.operation_remedy_deadline(db, operation.get("id"))
                    if event.kind == "suspended"
                    else None
                ),
                tx_hash="0x" + event.tx_hash.hex(),
                block_number=event.block_number,
                confirmed=True,
                operation_id=operation.get("id"),
            )
        )
    for op in pending:
        key = db.get(ApiKey, op.api_key_id)
        deadline = operation_details(op).get("remedy_deadline")
        entries.append(
            TimelineEntry(
                kind=op.kind,
                at=op.created_at,
                who=key.user.name if key is not None else None,
                via_console=_via_console(key),
                reason=None,
                remedy_deadline=date.fromisoformat(deadline) if deadline else None,
                tx_hash="0x" + op.tx_hash.hex() if op.tx_hash else None,
                block_number=op.block_number,
                confirmed=False,
                operation_id=str(op.id),
            )
        )
    return entries


_NUMBER: TypeAdapter[str] = TypeAdapter(CertificateNumber)


def _number(number: str) -> str:
    """The path's number, or the 404 page (a malformed number names no certificate)."""
    try:
        return str(_NUMBER.validate_python(number))
    except ValidationError:
        raise NotFoundError(f"no certificate {number!r}") from None


@router.get("/certificates/{number:path}/qr.png", dependencies=[Depends(DOCUMENTS)])
def qr_image(
    number: str,
    db: SessionDep,
    settings: SettingsDep,
    cache: Annotated[PayloadCache, Depends(payload_cache)],
) -> Response:
    certificate = documents_service.documentable_certificate(db, settings, _number(number))
    signed = documents_service.signed_payload(db, settings, cache, certificate)
    image = qr_png(signed.text)
    return Response(image.content, media_type=image.media_type)


@router.get("/certificates/{number:path}/payload", dependencies=[Depends(DOCUMENTS)])
def payload_text(
    number: str,
    db: SessionDep,
    settings: SettingsDep,
    cache: Annotated[PayloadCache, Depends(payload_cache)],
) -> Response:
    certificate = documents_service.documentable_certificate(db, settings, _number(number))
    signed = documents_service.signed_payload(db, settings, cache, certificate)
    filename = certificate.number.replace("/", "-")
    return Response(
        signed.text,
        media_type="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{filename}.txt"'},
    )


@router.get("/certificates/{number:path}/certificate.pdf", dependencies=[Depends(DOCUMENTS)])
def pdf_document(
    number: str,
    db: SessionDep,
    settings: SettingsDep,
    cache: Annotated[PayloadCache, Depends(payload_cache)],
) -> Response:
    now = datetime.now(UTC)
    certificate = documents_service.documentable_certificate(db, settings, _number(number))
    signed = documents_service.signed_payload(db, settings, cache, certificate, now)
    document = documents_service.certificate_document(db, settings, certificate, signed, now)
    filename = certificate.number.replace("/", "-")
    return Response(
        certificate_pdf(document),
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
    )


def certificate_context(db: Session, who: Any, number: str) -> dict[str, Any]:
    view = service.read_certificate(db, number)
    certificate = view.certificate
    record = view.record
    pending = view.pending
    return {
        "certificate": certificate,
        "record": record,
        "view": view,
        "timeline": timeline(db, certificate.number, pending),
        "pending": pending,
        "tier_label": tier_label,
        "STATUS_LABELS": STATUS_LABELS,
        "EVENT_LABELS": EVENT_LABELS,
        "OPERATION_LABELS": OPERATION_LABELS,
        "documents": who.role in DOCUMENTS.roles
        and certificate.status in {LocalStatus.ACTIVE, LocalStatus.SUSPENDED},
        "can_act": who.role in WRITERS.roles,
        "reason_name": reason_name,
    }


@router.get("/certificates/{number:path}", dependencies=[Depends(READERS)])
def certificate_page(
    request: Request,
    db: SessionDep,
    who: SignedInDep,
    number: str,
    operation: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    context = certificate_context(db, who, _number(number))
    followed = None
    if operation:
        try:
            followed = db.get(Operation, uuid.UUID(operation))
        except ValueError:
            followed = None
        if followed is not None and followed.certificate_number != context["certificate"].number:
            followed = None
    context["followed"] = followed
    context["chain_down"] = chain_banner(request)
    context["POLL_SECONDS"] = POLL_SECONDS
    return console_of(request).page(request, "certificate.html", context)


# ---------------------------------------------------------------- accepted writes


@router.get("/operations/{operation_id}", dependencies=[Depends(OPERATIONS)])
def operation_fragment(request: Request, db: SessionDep, operation_id: str) -> Response:
    """The state of one accepted write, as a fragment that replaces itself every second
    while the write is pending and stops asking once it is confirmed or failed."""
    try:
        found = db.get(Operation, uuid.UUID(operation_id))
    except ValueError:
        found = None
    if found is None:
        raise NotFoundError(f"no operation {operation_id!r}")
    context = {
        "operation": found,
        "OPERATION_LABELS": OPERATION_LABELS,
        "EVENT_LABELS": EVENT_LABELS,
        "terminal": found.state in {OperationState.CONFIRMED, OperationState.FAILED},
        "POLL_SECONDS": POLL_SECONDS,
        "chain_down": chain_banner(request),
    }
    return console_of(request).page(request, "operation_state.html", context)
