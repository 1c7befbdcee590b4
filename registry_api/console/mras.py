"""The MRA pages: the list and "what we recognize", an MRA's page, proposing one, and signing,
suspending, resuming and terminating it, each after a page that names the MRA and the
consequence; then the operation's page, which follows it from pending to confirmed.

Reads come from the index through :mod:`registry_api.services.mras` (with the contract's
rules, :mod:`contracts.domain.rules`); writes go through the same service functions and the
same role requirements as the API's routes (:mod:`registry_api.routes.mras`), as the
signed-in person's console key, so the outbox records the person.

Every form carries an idempotency key made when the form was shown: sending it twice (a
double click, a reload of the answer) finds the first operation rather than making another.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, get_args

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Path, Request
from markupsafe import escape
from pydantic import ValidationError
from starlette.responses import Response

from contracts.domain import days, enums
from contracts.domain.days import Day

from ..auth import AuthenticatedKey, RoleRequirement
from ..db import Authority, Mra, Operation, OperationState
from ..deps import SessionDep
from ..errors import ConflictError, FieldError, ForbiddenError, InvalidError, NotFoundError
from ..outbox import get_operation
from ..routes import mras as api
from ..schemas.mras import MAX_PARTIES, MraCreate
from ..services import mras as service
from ..workers import wake_sender
from .app import redirect
from .csrf import ConsoleRoute
from .deps import console_of, now_of
from .i18n import N_

router = APIRouter(route_class=ConsoleRoute)


def api_requirement(alias: object) -> RoleRequirement:
    """The role requirement inside one of the API's ``Annotated[..., Depends(...)]`` aliases:
    the console's pages declare the very object the API's routes do."""
    requirement = get_args(alias)[1].dependency
    assert isinstance(requirement, RoleRequirement)
    return requirement


MRA_READERS = api_requirement(api.MraReader)
MRA_WRITERS = api_requirement(api.MraWriter)
Reader = Annotated[AuthenticatedKey, Depends(MRA_READERS)]
Writer = Annotated[AuthenticatedKey, Depends(MRA_WRITERS)]
MraId = Annotated[int, Path(ge=1, le=api.MAX_MRA_ID)]
IdempotencyField = Annotated[str, Form(min_length=8, max_length=64, pattern=r"^[0-9a-f-]+$")]
FormText = Annotated[str, Form(max_length=64)]
#: the partner rows the proposal form offers (the own administration is the first party)
PARTNER_ROWS = MAX_PARTIES - 1
SHOWN_PARTNER_ROWS = 3

#: the names people use for the MRA statuses (the contract's MraStatus)
STATUS_LABELS: Mapping[str, str] = {
    "proposed": N_("Proposed, waiting for signatures"),
    "not_yet_in_force": N_("Signed, not yet in force"),
    "in_force": N_("In force"),
    "suspended": N_("Suspended"),
    "terminated": N_("Terminated"),
    "ended": N_("Ended"),
}
OPERATION_LABELS: Mapping[OperationState, str] = {
    OperationState.PENDING: N_("Pending: waiting to be sent to the chain"),
    OperationState.SIGNED: N_("Pending: signed, being sent to the chain"),
    OperationState.SUBMITTED: N_("Pending: sent, waiting for the chain to confirm"),
    OperationState.CONFIRMED: N_("Confirmed by the chain"),
    OperationState.FAILED: N_("Failed: the chain refused it"),
}
FINAL_STATES = frozenset({OperationState.CONFIRMED, OperationState.FAILED})


@dataclass(frozen=True, slots=True)
class ActionText:
    title: str
    consequence: str
    button: str


ACTIONS: Mapping[service.MraAction, ActionText] = {
    service.MraAction.SIGN: ActionText(
        N_("Sign MRA %(id)s"),
        N_(
            "Your administration signs this arrangement on the chain. When every party has "
            "signed, it comes into force on its first day, and each party recognizes the "
            "tiers listed here."
        ),
        N_("Sign the MRA"),
    ),
    service.MraAction.SUSPEND: ActionText(
        N_("Suspend MRA %(id)s"),
        N_(
            "From the moment the chain confirms it, no party recognizes the others' "
            "certificates under this MRA: border posts stop granting its benefits. Only your "
            "administration can resume it."
        ),
        N_("Suspend the MRA"),
    ),
    service.MraAction.RESUME: ActionText(
        N_("Resume MRA %(id)s"),
        N_(
            "The arrangement is in force again once the chain confirms it, and the parties "
            "recognize each other's certificates under it. Only the administration that "
            "suspended it can resume it."
        ),
        N_("Resume the MRA"),
    ),
    service.MraAction.TERMINATE: ActionText(
        N_("Terminate MRA %(id)s"),
        N_(
            "This is final: the arrangement ends for every party and can never be resumed. "
            "A new arrangement would have to be proposed and signed again."
        ),
        N_("Terminate the MRA"),
    ),
}


def untrusted_error(field: str, message: str) -> FieldError:
    """A field error whose words come from a service or a validator and may quote what was
    typed. The templates pass messages through ``_()``, which trusts catalogue text as
    markup; this one is escaped first, so it shows as text."""
    return FieldError(field, escape(message))


def today(request: Request) -> Day:
    return days.to_day(now_of(request).date())


def tier_text(tiers: int) -> str:
    return ", ".join(enums.tier_names(tiers)) if tiers else "–"


def offered_actions(mra: Mra, own: str, day: Day) -> list[service.MraAction]:
    """The actions this administration may try on ``mra`` now (the contract decides the
    rest, such as who may resume)."""
    party = service.party_of(mra, own)
    status = service.effective_status(mra, day)
    if party is None or status in (enums.MraStatus.TERMINATED, enums.MraStatus.ENDED):
        return []
    offered = []
    if status is enums.MraStatus.PROPOSED and party.signed_at is None:
        offered.append(service.MraAction.SIGN)
    if mra.status == "in_force":
        offered.append(service.MraAction.SUSPEND)
    if mra.status == "suspended":
        offered.append(service.MraAction.RESUME)
    offered.append(service.MraAction.TERMINATE)
    return offered


@dataclass(frozen=True, slots=True)
class Recognized:
    """A partner's tiers this administration recognizes today, and the MRAs that say so."""

    authority: str
    name: str
    tiers: int
    mra_ids: tuple[int, ...]


def what_we_recognize(db: SessionDep, own: str, day: Day) -> list[Recognized]:
    """For every other member or MRA party: its tiers recognized here on ``day``, the union
    over the MRAs in force between us of its recognized tiers (as the contract's
    ``recognizes`` decides a certificate)."""
    names = {row.code: row.name for row in db.scalars(sa.select(Authority))}
    partners = set(names) | {
        party.authority for mra in db.scalars(sa.select(Mra)) for party in mra.parties
    }
    partners.discard(own)
    found = []
    for partner in sorted(partners):
        tiers = service.covered_tiers(db, own=partner, partner=own, day=day)
        in_force = tuple(
            service.mra_number(mra)
            for mra in service.mras_between(db, own, partner)
            if service.effective_status(mra, day) is enums.MraStatus.IN_FORCE
        )
        found.append(Recognized(partner, names.get(partner, partner), tiers, in_force))
    return found


def mra_view(mra: Mra, day: Day) -> dict[str, Any]:
    status = service.status_name(service.effective_status(mra, day))
    return {
        "id": service.mra_number(mra),
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "stored": mra.status,
        "proposer": mra.proposer,
        "effective_from": mra.effective_from,
        "ends_on": mra.ends_on,
        "text_hash": "0x" + mra.text_hash.hex(),
        "updated_block": mra.updated_block,
        "parties": [
            {
                "authority": party.authority,
                "tiers": tier_text(party.recognized_tiers),
                "signed_at": party.signed_at,
            }
            for party in sorted(mra.parties, key=lambda p: p.authority)
        ],
        "signed": sum(1 for party in mra.parties if party.signed_at is not None),
    }


# ---------------------------------------------------------------- the list


@router.get("/mras", name="mras")
def mra_list(request: Request, db: SessionDep, caller: Reader) -> Response:
    day = today(request)
    rows, _count = service.list_mras(db, day=day, limit=1000)
    context = {
        "mras": [mra_view(mra, day) for mra in rows],
        "recognized": what_we_recognize(db, caller.authority, day),
        "own": caller.authority,
        "may_write": caller.role in MRA_WRITERS.roles,
        "today": days.from_day(day),
        "tier_text": tier_text,
    }
    return console_of(request).page(request, "mras.html", context)


# ---------------------------------------------------------------- proposing


@dataclass
class ProposalForm:
    """What the proposal form holds, as typed (so a page with errors shows it again)."""

    own_tiers: list[str]
    partners: list[str]
    partner_tiers: list[list[str]]
    effective_from: str = ""
    ends_on: str = ""
    text: str = ""
    idempotency_key: str = ""


def _tier_bits(values: Sequence[str]) -> int:
    bits = 0
    for value in values:
        tier = enums.parse_tier_name(value)
        if tier is not None:
            bits |= int(tier)
    return bits


def form_date(value: str, field: str, errors: list[FieldError]) -> date | None:
    """The day typed in a date field (None when empty); a bad one adds an error for it."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.append(FieldError(field, N_("Enter a real date, for example 2026-07-01")))
        return None


def _form_field(loc: Sequence[int | str], rows: Sequence[int]) -> str:
    """The form field of a pydantic error location in :class:`MraCreate` (``rows``: the
    form's partner row of each party after ours)."""
    if not loc:
        # The model's own checks: the text rule cannot fail here, so it is the dates' order.
        return "ends_on"
    if loc[0] != "parties":
        return str(loc[0])
    index = loc[1] if len(loc) >= 2 and isinstance(loc[1], int) else None
    if index == 0:
        return "own_tiers"
    if index is None or index > len(rows):
        return "partner_1"
    tiers = len(loc) > 2 and loc[2] == "recognized_tiers"
    return f"{'tiers' if tiers else 'partner'}_{rows[index - 1]}"


def proposal_of(form: ProposalForm, own: str) -> tuple[MraCreate | None, list[FieldError]]:
    """The API's request body for ``form``, or the errors naming the form's fields."""
    errors: list[FieldError] = []
    effective_from = form_date(form.effective_from, "effective_from", errors)
    if effective_from is None and not any(e.field == "effective_from" for e in errors):
        errors.append(FieldError("effective_from", N_("Enter the first day of the MRA")))
    ends_on = form_date(form.ends_on, "ends_on", errors)
    if not form.text.strip():
        errors.append(FieldError("text", N_("Enter the text of the arrangement")))
    rows = [i for i, code in enumerate(form.partners, start=1) if code.strip()]
    if not rows:
        errors.append(FieldError("partner_1", N_("Enter at least one partner administration")))
    parties: list[dict[str, Any]] = [
        {"authority": own, "recognized_tiers": _tier_bits(form.own_tiers)}
    ]
    parties += [
        {
            "authority": form.partners[i - 1].strip().upper(),
            "recognized_tiers": _tier_bits(form.partner_tiers[i - 1]),
        }
        for i in rows
    ]
    if errors:
        return None, errors
    body = {
        "parties": parties,
        "effective_from": effective_from,
        "ends_on": ends_on,
        "text": form.text,
    }
    try:
        return MraCreate.model_validate(body), []
    except ValidationError as exc:
        for error in exc.errors():
            errors.append(untrusted_error(_form_field(error["loc"], rows), error["msg"]))
        return None, errors


_SERVICE_FIELDS = {"body.parties": "partner_1", "body.ends_on": "ends_on", "body.text_hash": "text"}


def _proposal_page(
    request: Request, form: ProposalForm, errors: Sequence[FieldError], status_code: int = 200
) -> Response:
    context = {
        "form": form,
        "errors": list(errors),
        "tier_names": enums.TIER_NAMES,
        "rows": range(1, len(form.partners) + 1),
    }
    return console_of(request).page(request, "mras_propose.html", context, status_code=status_code)


@router.get("/mras/propose")
def proposal_page(request: Request, _caller: Writer) -> Response:
    form = ProposalForm(
        own_tiers=[],
        partners=[""] * SHOWN_PARTNER_ROWS,
        partner_tiers=[[] for _ in range(SHOWN_PARTNER_ROWS)],
        effective_from=days.from_day(today(request)).isoformat(),
        idempotency_key=str(uuid.uuid4()),
    )
    return _proposal_page(request, form, [])


@router.post("/mras/propose")
def propose(
    request: Request,
    db: SessionDep,
    caller: Writer,
    idempotency_key: IdempotencyField,
    own_tiers: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006 (FastAPI copies it)
    partner_1: FormText = "",
    partner_2: FormText = "",
    partner_3: FormText = "",
    tiers_1: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006
    tiers_2: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006
    tiers_3: Annotated[list[str], Form(max_length=8)] = [],  # noqa: B006
    effective_from: FormText = "",
    ends_on: FormText = "",
    text: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    form = ProposalForm(
        own_tiers=own_tiers,
        partners=[partner_1, partner_2, partner_3],
        partner_tiers=[tiers_1, tiers_2, tiers_3],
        effective_from=effective_from,
        ends_on=ends_on,
        text=text,
        idempotency_key=idempotency_key,
    )
    body, errors = proposal_of(form, caller.authority)
    if body is None:
        return _proposal_page(request, form, errors, 400)
    try:
        result = service.propose(
            db, key=caller, idempotency_key=idempotency_key, request=body, day=today(request)
        )
    except InvalidError as exc:
        fields = [
            untrusted_error(_SERVICE_FIELDS.get(error.field, "partner_1"), error.message)
            for error in exc.errors
        ] or [untrusted_error("partner_1", exc.detail)]
        return _proposal_page(request, form, fields, 400)
    wake_sender(request)
    return redirect(
        request, f"{request.scope.get('root_path', '')}/mras/operations/{result.operation.id}"
    )


# ---------------------------------------------------------------- the operation


@dataclass(frozen=True, slots=True)
class Subject:
    """A link to what an operation changed: its path, and its words (a message with
    ``params``)."""

    path: str
    label: str
    params: Mapping[str, Any]


def followed_operation(
    request: Request,
    db: SessionDep,
    operation_id: uuid.UUID,
    *,
    kinds: Mapping[str, str],
    base: str,
    subject: Subject | None = None,
    expects_subject: bool = False,
    fragment: bool = False,
) -> Response:
    """The page (or, with ``fragment``, the polled part) that follows an operation of one of
    ``kinds`` (kind: its name for people) from pending to confirmed or failed. ``base``:
    the path its page lives under; ``subject``: a link to what it changed, once known
    (``expects_subject``: keep polling a confirmed operation until it is).
    Other kinds answer 404: each area follows its own writes."""
    operation = get_operation(db, operation_id)
    if operation.kind not in kinds:
        raise NotFoundError(f"no operation {operation_id} here")
    root = request.scope.get("root_path", "")
    # A confirmed proposal's MRA gets its id from the chain: the page keeps asking until the
    # index has it, so that the link to it appears without a reload.
    waiting = operation.state is OperationState.CONFIRMED and subject is None and expects_subject
    context = {
        "operation": operation,
        "state_label": OPERATION_LABELS[operation.state],
        "final": operation.state in FINAL_STATES and not waiting,
        "kind_label": kinds[operation.kind],
        "tx_hash": "0x" + operation.tx_hash.hex() if operation.tx_hash else None,
        "page_url": f"{root}{base}/operations/{operation.id}",
        "subject": subject,
        "back": base,
    }
    template = "mras_operation_status.html" if fragment else "mras_operation.html"
    return console_of(request).page(request, template, context)


OPERATION_KINDS: Mapping[str, str] = {
    "mra_propose": N_("Proposal of an MRA"),
    "mra_sign": N_("Signature of an MRA"),
    "mra_suspend": N_("Suspension of an MRA"),
    "mra_resume": N_("Resumption of an MRA"),
    "mra_terminate": N_("Termination of an MRA"),
}


def _changed_mra(db: SessionDep, operation_id: uuid.UUID) -> Subject | None:
    """A link to the MRA an operation changed (a proposal's, once confirmed and indexed)."""
    operation = db.get(Operation, operation_id)
    mra_id: int | None = None
    if operation is not None and operation.kind == "mra_propose":
        created = service.proposed_by(db, operation)
        mra_id = service.mra_number(created) if created is not None else None
    elif operation is not None and (operation.certificate_number or "").startswith("MRA-"):
        mra_id = int((operation.certificate_number or "").removeprefix("MRA-"))
    if mra_id is None:
        return None
    return Subject(f"/mras/{mra_id}", N_("See MRA %(id)s"), {"id": mra_id})


@router.get("/mras/operations/{operation_id}", dependencies=[Depends(MRA_READERS)])
def operation_page(request: Request, db: SessionDep, operation_id: uuid.UUID) -> Response:
    return followed_operation(
        request,
        db,
        operation_id,
        kinds=OPERATION_KINDS,
        base="/mras",
        subject=_changed_mra(db, operation_id),
        expects_subject=True,
    )


@router.get("/mras/operations/{operation_id}/status", dependencies=[Depends(MRA_READERS)])
def operation_status(request: Request, db: SessionDep, operation_id: uuid.UUID) -> Response:
    """The operation's state alone, for the page's htmx polling (every second until final)."""
    return followed_operation(
        request,
        db,
        operation_id,
        kinds=OPERATION_KINDS,
        base="/mras",
        subject=_changed_mra(db, operation_id),
        expects_subject=True,
        fragment=True,
    )


# ---------------------------------------------------------------- one MRA


@router.get("/mras/{mra_id}", name="mra")
def mra_page(request: Request, db: SessionDep, caller: Reader, mra_id: MraId) -> Response:
    day = today(request)
    mra = service.get_mra(db, mra_id)
    own_party = service.party_of(mra, caller.authority)
    context = {
        "mra": mra_view(mra, day),
        "own": caller.authority,
        "own_signed": own_party is not None and own_party.signed_at is not None,
        "actions": offered_actions(mra, caller.authority, day)
        if caller.role in MRA_WRITERS.roles
        else [],
        "action_texts": ACTIONS,
    }
    return console_of(request).page(request, "mras_detail.html", context)


def _confirmation(
    request: Request,
    mra: Mra,
    action: service.MraAction,
    *,
    idempotency_key: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "mra": mra_view(mra, today(request)),
        "action": action,
        "text": ACTIONS[action],
        "idempotency_key": idempotency_key,
        "refusal": error,
    }
    return console_of(request).page(request, "mras_confirm.html", context, status_code=status_code)


@router.get("/mras/{mra_id}/{action}")
def confirmation_page(
    request: Request, db: SessionDep, _caller: Writer, mra_id: MraId, action: service.MraAction
) -> Response:
    mra = service.get_mra(db, mra_id)
    return _confirmation(request, mra, action, idempotency_key=str(uuid.uuid4()))


@router.post("/mras/{mra_id}/{action}")
def change(
    request: Request,
    db: SessionDep,
    caller: Writer,
    mra_id: MraId,
    action: service.MraAction,
    idempotency_key: IdempotencyField,
) -> Response:
    mra = service.get_mra(db, mra_id)
    try:
        result = service.change(
            db,
            key=caller,
            idempotency_key=idempotency_key,
            action=action,
            mra_id=mra_id,
            day=today(request),
        )
    except (ConflictError, ForbiddenError, InvalidError) as exc:
        db.rollback()
        return _confirmation(
            request,
            mra,
            action,
            idempotency_key=str(uuid.uuid4()),
            error=exc.detail,
            status_code=int(exc.status),
        )
    wake_sender(request)
    return redirect(
        request, f"{request.scope.get('root_path', '')}/mras/operations/{result.operation.id}"
    )
