"""Who may call each route of the API: every ``/v1`` route x every role, for keys of this
administration, keys this administration made for another one (``partner_authority``), and
keys another administration's service made.

One declarative catalog, :data:`CATALOG`, names each route, the roles it admits (from issue 3's
role list and docs/api.md) and what an admitted caller gets with a valid request. The tests
check that the app's routes and their ``x-roles`` are exactly the catalog's, then send each
route's request as each caller:

- a role the route admits gets the route's success status (writes: 202 into the outbox, not
  waited for);
- any other role gets 403 naming the roles it needs;
- no key, a malformed or unknown token, a revoked key, or a key made by another
  administration's service (even with an admitted role) gets 401, and nothing changes there.

Whether what an admitted partner reads is limited to what its MRAs cover is in
test_mras_partner.py and test_feed_pagination.py; whose webhooks a partner manages is in
test_webhooks_registration.py; who may send each contract write on-chain is
tests/contracts/test_access_matrix.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from eth_account import Account
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from contracts.bootstrap import Consortium
from contracts.domain import days, ids
from contracts.domain.enums import MembershipAction, ReasonCode
from contracts.domain.events import MembershipProposed
from contracts.logs import first_event, receipt_events
from registry_api.auth import RoleRequirement, token_prefix
from registry_api.db import ApiKey, Operation, Role
from registry_api.routes.snapshots import PUBLIC_PATHS
from registry_api.services.api_keys import revoke_api_key
from registry_api.services.feed import FeedStreamSettings

from .certificate_data import amend_body, record_body
from .conftest import ChainApp
from .feed_support import S, propose_mra
from .registry_support import issue, open_registry, record, register_key_on_chain
from .support import assert_problem, bearer

# Slow, so not in `make test-fast` (`make test` runs it): every route x every role (test_auth
# covers authorization in the fast run).
pytestmark = pytest.mark.slow

# ---------------------------------------------------------------- roles, as issue 3 names them

ALL = frozenset(Role)
#: this administration's staff (partners and border officers are not)
STAFF = frozenset({Role.ADMIN, Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR})
ADMIN = frozenset({Role.ADMIN})
#: issuing officers issue and change certificates and bulk-load them
CERTIFICATE_WRITERS = frozenset({Role.ADMIN, Role.ISSUING_OFFICER})
#: printing certificates and following imports is the AEO unit's and audit's business
DOCUMENT_READERS = frozenset({Role.ADMIN, Role.ISSUING_OFFICER, Role.AUDITOR})
CONSORTIUM_READERS = frozenset({Role.ADMIN, Role.AUDITOR})
MRA_WRITERS = frozenset({Role.ADMIN, Role.MRA_OFFICER})
MRA_READERS = frozenset({Role.ADMIN, Role.MRA_OFFICER, Role.AUDITOR})
#: recognition is half of a border check
RECOGNITION_READERS = MRA_READERS | {Role.BORDER_OFFICER}
PARTNERS = frozenset({Role.PARTNER})
FEED_READERS = STAFF | {Role.PARTNER}
WEBHOOK_OWNERS = frozenset({Role.ADMIN, Role.PARTNER})
#: the programme's KPIs: the AEO unit, its managers and auditors; border posts report checks
KPI_READERS = frozenset({Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER})
BORDER_OFFICERS = frozenset({Role.BORDER_OFFICER})

#: the administration keys of "another administration" name, and whose MRAs partners read
PARTNER_CODE = "KZ"
#: a membership proposal's target: a member that is neither this one nor the partner
THIRD_MEMBER = {"MN": "KR", "KR": "MN"}

IMPORT_CSV = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until\n"
    "{number},Tavan Bogd Trade LLC,Peace Avenue 17,Ulaanbaatar,{country},TIN,5012345,"
    "IM;EX,AEOS,Ulaanbaatar Customs House,B. Bat-Erdene,2025-01-15,2028-01-14\n"
)


# ---------------------------------------------------------------- callers


@dataclass(frozen=True)
class Caller:
    """Who sends a request: a role, the administration its key names, and its token."""

    role: Role
    partner_authority: str | None
    token: str

    @property
    def label(self) -> str:
        return f"{self.role.value}" + (
            f" of {self.partner_authority}" if self.partner_authority else ""
        )


#: every kind of key this administration can hold: each role of its own staff and border
#: posts, and the two roles a key of another administration may have
CALLER_KINDS: tuple[tuple[Role, str | None], ...] = (
    (Role.ADMIN, None),
    (Role.ISSUING_OFFICER, None),
    (Role.MRA_OFFICER, None),
    (Role.AUDITOR, None),
    (Role.BORDER_OFFICER, None),
    (Role.PARTNER, PARTNER_CODE),
    (Role.BORDER_OFFICER, PARTNER_CODE),
)


# ---------------------------------------------------------------- the prepared state


class World:
    """One administration's registry and, made on first use, the state a route's request
    needs so that an admitted caller succeeds: certificates (active, suspended), MRAs
    (proposed, in force, suspended by us), a registered signing key, an import, an
    operation, a membership proposal, API keys and webhooks.

    With ``placeholders`` nothing is made: each target is well-formed but does not exist,
    for requests that must be refused before anything is looked up."""

    def __init__(self, registry: ChainApp, *, placeholders: bool = False) -> None:
        self.registry = registry
        self.own = registry.authority
        self.placeholders = placeholders
        self._pools: dict[str, list[str]] = {"active": [], "suspended": []}
        self._serial = 0
        # A stream that ends quickly, so that an admitted caller's 200 is an answer.
        registry.app.state.feed_stream = FeedStreamSettings(
            stream_poll_interval=0.05, stream_heartbeat=1.0, stream_max_seconds=0.2
        )

    @property
    def consortium(self) -> Consortium:
        return self.registry.consortium

    def caller(self, role: Role, partner_authority: str | None = None) -> Caller:
        token = self.registry.token(role, partner_authority=partner_authority)
        return Caller(role, partner_authority, token)

    @cached_property
    def admin(self) -> Caller:
        return self.caller(Role.ADMIN)

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    def send(self, token: str | None, request: Request) -> httpx.Response:
        """Send ``request`` with ``token`` (None: no Authorization header) and a fresh
        Idempotency-Key."""
        kwargs = dict(request.kwargs)
        headers = {"Idempotency-Key": str(uuid.uuid4()), **kwargs.pop("headers", {})}
        if token is not None:
            headers |= bearer(token)
        return self.registry.client.request(request.method, request.url, headers=headers, **kwargs)

    # certificates

    def new_number(self) -> str:
        return f"{self.own}-AUTHZ-{self.serial():04d}"

    @cached_property
    def certificate(self) -> str:
        """A certificate confirmed on-chain and indexed, of a tier the partner's MRA covers."""
        if self.placeholders:
            return f"{self.own}-AUTHZ-NONE"
        number = self.new_number()
        issue(self.registry, record(number, self.own))
        return number

    def _pooled(self, kind: str) -> str:
        """A certificate of ``kind`` no request has changed yet (a change queued for one
        makes a second change of the same kind a 409, so each caller gets its own)."""
        if self.placeholders:
            return f"{self.own}-AUTHZ-NONE"
        pool = self._pools[kind]
        if not pool:
            numbers = [self.new_number() for _ in CALLER_KINDS]
            issue(self.registry, *(record(number, self.own) for number in numbers))
            if kind == "suspended":
                writer = self.consortium.operator(self.own)
                for number in numbers:
                    writer.suspend(ids.certificate_id(self.own, number), ReasonCode.FAILED_AUDIT)
                self.registry.settle()
            pool.extend(numbers)
        return pool.pop()

    def active_certificate(self, _caller: Caller) -> str:
        return self._pooled("active")

    def suspended_certificate(self, _caller: Caller) -> str:
        return self._pooled("suspended")

    def base_certificate(self, _caller: Caller) -> str:
        return self.certificate

    def shared_certificate(self, _caller: Caller) -> str:
        """The certificate, under an MRA in force with the partner."""
        self.mra_in_force(_caller)
        return self.certificate

    def printable_certificate(self, _caller: Caller) -> str:
        """The certificate, with this registry's signing key registered on-chain."""
        self.signing_key(_caller)
        return self.certificate

    # MRAs between this administration and the partner

    def _mra(self, signers: tuple[str, ...], *, suspend: bool = False) -> int:
        mra_id = propose_mra(
            self.consortium, PARTNER_CODE, {PARTNER_CODE: S, self.own: S}, signers=signers
        )
        if suspend:
            self.consortium.operator(self.own).suspend_mra(mra_id)
        self.registry.settle()
        return mra_id

    @cached_property
    def _proposed_mra(self) -> int:
        return self._mra(signers=())

    @cached_property
    def _mra_in_force(self) -> int:
        return self._mra(signers=(self.own,))

    @cached_property
    def _suspended_mra(self) -> int:
        return self._mra(signers=(self.own,), suspend=True)

    def proposed_mra(self, _caller: Caller) -> int:
        return 2**40 if self.placeholders else self._proposed_mra

    def mra_in_force(self, _caller: Caller) -> int:
        return 2**40 if self.placeholders else self._mra_in_force

    def mra_suspended_by_us(self, _caller: Caller) -> int:
        return 2**40 if self.placeholders else self._suspended_mra

    # consortium administration

    @cached_property
    def _signing_key(self) -> str:
        return register_key_on_chain(self.registry).hex()

    def signing_key(self, _caller: Caller) -> str:
        return "00" * 8 if self.placeholders else self._signing_key

    @cached_property
    def _indexed(self) -> bool:
        self.registry.settle()
        return True

    def indexed(self, _caller: Caller) -> bool:
        """The members and their accounts, indexed from the chain."""
        return self.placeholders or self._indexed

    def own_operator_account(self, caller: Caller) -> str:
        """One of this administration's accounts the service does not send from."""
        self.indexed(caller)
        return self.consortium.member(self.own).operator.address

    @cached_property
    def _proposal(self) -> int:
        receipt = self.consortium.admin(PARTNER_CODE).propose_membership(
            MembershipAction.SUSPEND, THIRD_MEMBER[self.own]
        )
        event = first_event(
            receipt_events(self.consortium.chain, self.consortium.deployment, receipt),
            MembershipProposed,
        )
        self.registry.settle()
        return event.proposal_id

    def open_proposal(self, _caller: Caller) -> int:
        return 2**40 if self.placeholders else self._proposal

    # rows of this registry

    def any_key(self, _caller: Caller) -> int:
        return 2**30 if self.placeholders else self.key_id(self.admin.token)

    def key_id(self, token: str) -> int:
        with self.registry.session() as session:
            return session.scalars(
                sa.select(ApiKey.id).where(ApiKey.prefix == token_prefix(token))
            ).one()

    def fresh_key(self, _caller: Caller) -> int:
        if self.placeholders:
            return 2**30
        return self.key_id(self.caller(Role.AUDITOR).token)

    @cached_property
    def _import(self) -> str:
        answer = self.send(
            self.admin.token,
            Request(
                "POST",
                "/v1/imports",
                {"content": self.import_csv(), "headers": {"Content-Type": "text/csv"}},
            ),
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def an_import(self, _caller: Caller) -> str:
        return str(uuid.UUID(int=1)) if self.placeholders else self._import

    @cached_property
    def _operation(self) -> str:
        answer = self.send(
            self.admin.token,
            Request("POST", "/v1/certificates", {"json": record_body(self.new_number())}),
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def an_operation(self, _caller: Caller) -> str:
        return str(uuid.UUID(int=1)) if self.placeholders else self._operation

    def own_webhook(self, caller: Caller) -> int:
        """A webhook the caller manages: its own if it may register one, else an admin's."""
        if self.placeholders:
            return 2**30
        owner = caller if caller.role in WEBHOOK_OWNERS else self.admin
        answer = self.send(
            owner.token, Request("POST", "/v1/webhooks", {"json": self.webhook_body()})
        )
        assert answer.status_code == 201, answer.text
        webhook_id: int = answer.json()["id"]
        return webhook_id

    # bodies

    def certificate_body(self) -> dict[str, Any]:
        return record_body(self.new_number())

    def import_csv(self) -> str:
        return IMPORT_CSV.format(number=self.new_number(), country=self.own)

    def mra_body(self) -> dict[str, Any]:
        return {
            "parties": [
                {"authority": self.own, "recognized_tiers": S},
                {"authority": PARTNER_CODE, "recognized_tiers": S},
            ],
            "effective_from": days.from_day(days.today()).isoformat(),
            "text": f"Arrangement {self.serial()} between {self.own} and {PARTNER_CODE}",
        }

    def account_body(self) -> dict[str, Any]:
        return {"address": Account.create().address, "roles": ["operator"]}

    def proposal_body(self) -> dict[str, Any]:
        return {"action": "suspend", "authority": THIRD_MEMBER[self.own]}

    def webhook_body(self) -> dict[str, Any]:
        return {"url": f"http://127.0.0.1:9/authz/{self.serial()}"}


# ---------------------------------------------------------------- the catalog

Target = Callable[[World, Caller], object]
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Route:
    """A route, the roles it admits, and a request that an admitted caller succeeds with."""

    method: str
    path: str
    roles: frozenset[Role]
    success: int
    #: each path parameter's value, from the prepared state
    targets: dict[str, Target] = field(default_factory=dict)
    json: Body | None = None
    csv: Callable[[World], str] | None = None
    stream: bool = False
    #: state the request needs besides its targets
    prepare: Target | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    def request(self, world: World, caller: Caller) -> Request:
        """This route's request for ``caller``, its targets made or found in ``world``."""
        if self.prepare is not None:
            self.prepare(world, caller)
        url = self.path.format(**{name: t(world, caller) for name, t in self.targets.items()})
        kwargs: dict[str, Any] = {}
        if self.json is not None:
            kwargs["json"] = self.json(world)
        if self.csv is not None:
            kwargs["content"] = self.csv(world)
            kwargs["headers"] = {"Content-Type": "text/csv"}
        if self.stream:
            kwargs["headers"] = {"Accept": "text/event-stream"}
        return Request(self.method, url, kwargs)

    def send(self, world: World, caller: Caller) -> httpx.Response:
        return world.send(caller.token, self.request(world, caller))


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    kwargs: dict[str, Any]


def _static(value: Any) -> Body:
    return lambda _world: value


CATALOG: tuple[Route, ...] = (
    Route("GET", "/v1/me", ALL, 200),
    # users and API keys
    Route("POST", "/v1/admin/api-keys", ADMIN, 201, json=_static({"user": "x", "role": "auditor"})),
    Route("GET", "/v1/admin/api-keys", ADMIN, 200),
    Route("GET", "/v1/admin/api-keys/{key_id}", ADMIN, 200, {"key_id": World.any_key}),
    Route("DELETE", "/v1/admin/api-keys/{key_id}", ADMIN, 200, {"key_id": World.fresh_key}),
    # certificates
    Route("POST", "/v1/certificates", CERTIFICATE_WRITERS, 202, json=World.certificate_body),
    Route(
        "POST",
        "/v1/certificates/{number}/amend",
        CERTIFICATE_WRITERS,
        202,
        {"number": World.active_certificate},
        json=_static(amend_body(tiers=2, valid_until="2030-01-14")),
    ),
    Route(
        "POST",
        "/v1/certificates/{number}/renew",
        CERTIFICATE_WRITERS,
        202,
        {"number": World.active_certificate},
        json=_static({"valid_until": "2031-01-14", "reason_code": ReasonCode.REASSESSED}),
    ),
    Route(
        "POST",
        "/v1/certificates/{number}/suspend",
        CERTIFICATE_WRITERS,
        202,
        {"number": World.active_certificate},
        json=_static({"reason_code": ReasonCode.FAILED_AUDIT, "remedy_deadline": "2031-06-30"}),
    ),
    Route(
        "POST",
        "/v1/certificates/{number}/reinstate",
        CERTIFICATE_WRITERS,
        202,
        {"number": World.suspended_certificate},
        json=_static({"reason_code": ReasonCode.REMEDIED}),
    ),
    Route(
        "POST",
        "/v1/certificates/{number}/revoke",
        CERTIFICATE_WRITERS,
        202,
        {"number": World.active_certificate},
        json=_static({"reason_code": ReasonCode.FRAUD}),
    ),
    Route("GET", "/v1/certificates", STAFF, 200),
    Route("GET", "/v1/certificates/{number}", STAFF, 200, {"number": World.base_certificate}),
    Route(
        "GET", "/v1/certificates/{number}/history", STAFF, 200, {"number": World.base_certificate}
    ),
    Route("GET", "/v1/operations/{operation_id}", STAFF, 200, {"operation_id": World.an_operation}),
    # certificate documents
    *(
        Route(
            "GET",
            f"/v1/certificates/{{number}}/{document}",
            DOCUMENT_READERS,
            200,
            {"number": World.printable_certificate},
        )
        for document in ("payload", "qr.png", "qr.svg", "certificate.pdf", "credential")
    ),
    # bulk import
    Route("POST", "/v1/imports", CERTIFICATE_WRITERS, 202, csv=World.import_csv),
    Route("GET", "/v1/imports", DOCUMENT_READERS, 200),
    Route("GET", "/v1/imports/{import_id}", DOCUMENT_READERS, 200, {"import_id": World.an_import}),
    # consortium administration
    Route("GET", "/v1/admin/signing-keys", CONSORTIUM_READERS, 200),
    Route("POST", "/v1/admin/signing-keys", ADMIN, 202, json=_static({})),
    Route(
        "POST",
        "/v1/admin/signing-keys/rotate",
        ADMIN,
        202,
        json=_static({}),
        prepare=World.signing_key,  # a rotation starts from a registered key
    ),
    Route(
        "POST",
        "/v1/admin/signing-keys/{kid}/revoke",
        ADMIN,
        202,
        {"kid": World.signing_key},
        json=_static({}),
    ),
    Route("GET", "/v1/admin/accounts", CONSORTIUM_READERS, 200),
    Route("POST", "/v1/admin/accounts", ADMIN, 202, json=World.account_body),
    Route(
        "DELETE",
        "/v1/admin/accounts/{address}",
        ADMIN,
        202,
        {"address": World.own_operator_account},
    ),
    Route("GET", "/v1/admin/membership-proposals", CONSORTIUM_READERS, 200),
    Route(
        "POST",
        "/v1/admin/membership-proposals",
        ADMIN,
        202,
        json=World.proposal_body,
        prepare=World.indexed,
    ),
    Route(
        "POST",
        "/v1/admin/membership-proposals/{proposal_id}/vote",
        ADMIN,
        202,
        {"proposal_id": World.open_proposal},
    ),
    # MRAs and recognition
    Route("POST", "/v1/mras", MRA_WRITERS, 202, json=World.mra_body),
    Route("GET", "/v1/mras", MRA_READERS, 200),
    Route("GET", "/v1/mras/{mra_id}", MRA_READERS, 200, {"mra_id": World.mra_in_force}),
    Route("POST", "/v1/mras/{mra_id}/sign", MRA_WRITERS, 202, {"mra_id": World.proposed_mra}),
    Route("POST", "/v1/mras/{mra_id}/suspend", MRA_WRITERS, 202, {"mra_id": World.mra_in_force}),
    Route(
        "POST", "/v1/mras/{mra_id}/resume", MRA_WRITERS, 202, {"mra_id": World.mra_suspended_by_us}
    ),
    Route("POST", "/v1/mras/{mra_id}/terminate", MRA_WRITERS, 202, {"mra_id": World.mra_in_force}),
    Route(
        "GET",
        "/v1/recognition/{issuer}/{number}",
        RECOGNITION_READERS,
        200,
        {"issuer": lambda _w, _c: PARTNER_CODE, "number": lambda _w, _c: "KZ-AEO-0001"},
    ),
    # batch recognition: officers for this administration, partner keys for theirs
    Route(
        "POST",
        "/v1/recognition/batch",
        ALL,
        200,
        json=_static({"items": [{"number": "KZ-AEO-0001"}, {"scheme": "TIN", "value": "1"}]}),
    ),
    # partners, the feed, webhooks
    Route("GET", "/v1/partner/certificates", PARTNERS, 200),
    Route(
        "GET",
        "/v1/partner/certificates/{number}",
        PARTNERS,
        200,
        {"number": World.shared_certificate},
    ),
    Route("GET", "/v1/feed", FEED_READERS, 200),
    Route("GET", "/v1/feed/stream", FEED_READERS, 200, stream=True),
    Route("POST", "/v1/webhooks", WEBHOOK_OWNERS, 201, json=World.webhook_body),
    Route("GET", "/v1/webhooks", WEBHOOK_OWNERS, 200),
    Route(
        "GET", "/v1/webhooks/{webhook_id}", WEBHOOK_OWNERS, 200, {"webhook_id": World.own_webhook}
    ),
    Route(
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        WEBHOOK_OWNERS,
        204,
        {"webhook_id": World.own_webhook},
    ),
    Route(
        "POST",
        "/v1/webhooks/{webhook_id}/enable",
        WEBHOOK_OWNERS,
        200,
        {"webhook_id": World.own_webhook},
    ),
    Route(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        WEBHOOK_OWNERS,
        200,
        {"webhook_id": World.own_webhook},
    ),
    # KPIs
    Route("GET", "/v1/kpis", KPI_READERS, 200),
    Route(
        "PUT",
        "/v1/kpis/targets/{kpi}",
        ADMIN,
        200,
        {"kpi": lambda _w, _c: "suspensions.open"},
        json=_static({"baseline": 3, "target": 1, "target_date": "2027-12-31"}),
    ),
    Route(
        "POST",
        "/v1/kpis/border-checks",
        BORDER_OFFICERS,
        200,
        json=_static(
            {
                "post": "Zamyn-Uud",
                "counts": [{"day": "2026-05-20", "verdict": "recognized", "count": 3}],
            }
        ),
    ),
)
ROUTES = {route.key: route for route in CATALOG}
WRITE_ROUTES = tuple(route for route in CATALOG if route.writes)


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def declared_roles(app: FastAPI) -> dict[tuple[str, str], frozenset[Role]]:
    """(method, path) -> the roles its ``require_roles`` admits, for every ``/v1`` route;
    fails on a route that declares none, or more than one requirement."""
    declared: dict[tuple[str, str], frozenset[Role]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = str(context.path)
        if not isinstance(route, APIRoute) or not path.startswith("/v1/"):
            continue
        if path in PUBLIC_PATHS:
            continue  # the signed snapshot border posts sync from: public by design
        requirements = [
            dep.call
            for dep in route.dependant.dependencies
            if isinstance(dep.call, RoleRequirement)
        ]
        for method in sorted(route.methods or ()):
            assert len(requirements) == 1, f"{method} {path} declares {len(requirements)} roles"
            declared[(method, path)] = requirements[0].roles
    return declared


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def registries(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    def open_one(authority: str = "MN") -> ChainApp:
        return open_registry(
            stack,
            tmp_path,
            consortium,
            authority,
            rate_limit_per_minute=60_000,
            rate_limit_burst=1000,
            # World.webhook_body's URLs: loopback, which webhooks reach only when allowed.
            webhook_allowed_networks=("127.0.0.1/32",),
        )

    with ExitStack() as stack:
        yield open_one


@pytest.fixture
def world(registries: Callable[..., ChainApp]) -> World:
    return World(registries("MN"))


# ---------------------------------------------------------------- the catalog is the app's
# (test_auth.py checks it against each route's require_roles)


def test_the_openapi_x_roles_are_the_catalogs(app: FastAPI) -> None:
    document = app.openapi()
    documented = {
        (method.upper(), path): operation["x-roles"]
        for path, item in document["paths"].items()
        if path.startswith("/v1/") and path not in PUBLIC_PATHS
        for method, operation in item.items()
    }
    assert documented == {
        key: sorted(r.value for r in route.roles) for key, route in ROUTES.items()
    }


# ---------------------------------------------------------------- role x route


@pytest.mark.parametrize("route", CATALOG, ids=route_id)
def test_each_kind_of_key_is_admitted_exactly_where_the_catalog_says(
    world: World, route: Route
) -> None:
    for role, partner_authority in CALLER_KINDS:
        caller = world.caller(role, partner_authority)
        response = route.send(world, caller)
        where = f"{route_id(route)} as {caller.label}"
        if role in route.roles:
            assert response.status_code == route.success, f"{where}: {response.text}"
        else:
            body = assert_problem(response, 403, "forbidden")
            needed = ", ".join(sorted(r.value for r in route.roles))
            assert body["detail"] == (
                f"role '{role.value}' may not do this; it needs one of: {needed}"
            ), where


# ---------------------------------------------------------------- keys that are not valid here


def _unknown_token() -> str:
    return f"aeo_{uuid.uuid4().hex[:12]}_{'A' * 43}"


def _wrong_secret(world: World) -> str:
    token = world.caller(Role.ADMIN).token
    return f"aeo_{token_prefix(token)}_{'A' * 43}"


def _revoked_admitted(world: World, route: Route) -> str:
    """A key with a role the route admits, revoked."""
    assert world.admin  # another admin key, as the last one cannot be revoked
    caller = world.caller(*_admitted_kind(route))
    with world.registry.session() as session:
        revoke_api_key(session, world.key_id(caller.token))
    return caller.token


def _admitted_kind(route: Route) -> tuple[Role, str | None]:
    return next((role, p) for role, p in CALLER_KINDS if role in route.roles)


INVALID_CREDENTIALS: dict[str, Callable[[World, Route], str | None]] = {
    "no key": lambda _world, _route: None,
    "not a token": lambda _world, _route: "nonsense",
    "an unknown key": lambda _world, _route: _unknown_token(),
    "a known prefix with a wrong secret": lambda world, _route: _wrong_secret(world),
    "a revoked key of an admitted role": _revoked_admitted,
}


@pytest.mark.parametrize("credential", INVALID_CREDENTIALS)
def test_every_route_answers_401_to(registries: Callable[..., ChainApp], credential: str) -> None:
    world = World(registries("MN"), placeholders=True)
    anyone = Caller(Role.ADMIN, None, "")
    for route in CATALOG:
        token = INVALID_CREDENTIALS[credential](world, route)
        response = world.send(token, route.request(world, anyone))
        body = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer"), route_id(route)
        assert body["instance"].startswith("/v1/"), route_id(route)


def table_rows(registry: ChainApp) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``registry``'s database."""
    engine = registry.app.state.engine
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            name: sorted(map(tuple, connection.execute(table.select())), key=repr)
            for name, table in metadata.tables.items()
        }


def test_keys_another_administrations_service_made_are_unknown_here(
    registries: Callable[..., ChainApp],
) -> None:
    """KR's service made the keys (every kind): MN's service answers 401 on every route, also
    where the role is admitted."""
    mn = World(registries("MN"), placeholders=True)
    kr = World(registries("KR"))
    for role, partner in CALLER_KINDS:
        foreign = kr.caller(role, partner)
        assert kr.registry.client.get("/v1/me", headers=bearer(foreign.token)).status_code == 200
        for route in CATALOG:
            response = route.send(mn, foreign)
            body = assert_problem(response, 401, "unauthorized")
            assert body["detail"] == "the API key is not valid", (route_id(route), foreign.label)


def test_one_administrations_writers_change_nothing_at_another(
    registries: Callable[..., ChainApp],
) -> None:
    """MN's keys of every kind, sent to KR's service on every write route they would be
    admitted to at MN, aimed at KR's real certificates, MRAs, keys and webhooks: 401, and
    KR's database and what its sender would put on the chain stay as they were."""
    mn = World(registries("MN"))
    kr = World(registries("KR"))
    requests = []
    for route in WRITE_ROUTES:
        for role, partner in CALLER_KINDS:
            if role in route.roles:
                # KR's state is made first (with KR's own keys), so that preparing it is not
                # mistaken for a change the request made.
                request = route.request(kr, kr.caller(role, partner))
                requests.append((route, mn.caller(role, partner), request))
    assert {route.key for route, _caller, _request in requests} == {r.key for r in WRITE_ROUTES}
    kr.registry.settle()
    before = table_rows(kr.registry)
    block = kr.consortium.chain.w3.eth.block_number
    for route, caller, request in requests:
        response = kr.send(caller.token, request)
        body = assert_problem(response, 401, "unauthorized")
        assert body["detail"] == "the API key is not valid", (route_id(route), caller.label)
    kr.registry.settle()
    assert table_rows(kr.registry) == before
    assert kr.consortium.chain.w3.eth.block_number == block


def test_an_administrations_own_service_acts_on_nothing_of_another(
    registries: Callable[..., ChainApp],
) -> None:
    """MN's admitted writers, through MN's own service, aimed at what belongs to KR (a
    certificate, an MRA between KR and KZ, KR's signing key and account): each is refused
    before anything is queued for the chain."""
    mn = World(registries("MN"))
    kr = World(registries("KR"))
    kr_certificate = kr.certificate
    kr_kid = kr.signing_key(kr.admin)
    foreign_mra = propose_mra(mn.consortium, "KR", {"KR": S, PARTNER_CODE: S})
    mn.registry.settle()
    officer, mra_officer = mn.caller(Role.ISSUING_OFFICER), mn.caller(Role.MRA_OFFICER)
    kr_account = kr.consortium.member("KR").operator.address
    kr_and_kz = [
        {"authority": "KR", "recognized_tiers": S},
        {"authority": PARTNER_CODE, "recognized_tiers": S},
    ]
    attempts = [
        (
            officer,
            Request(
                "POST", f"/v1/certificates/{kr_certificate}/suspend", {"json": {"reason_code": 1}}
            ),
            404,
            f"no certificate '{kr_certificate}' issued by this administration",
        ),
        (
            mra_officer,
            Request("POST", f"/v1/mras/{foreign_mra}/suspend", {}),
            403,
            f"MN is not a party to MRA {foreign_mra}",
        ),
        (
            mra_officer,
            Request("POST", "/v1/mras", {"json": mn.mra_body() | {"parties": kr_and_kz}}),
            422,
            "this administration (MN) must be one of the parties it proposes",
        ),
        (
            mn.admin,
            Request("POST", f"/v1/admin/signing-keys/{kr_kid}/revoke", {"json": {}}),
            404,
            f"no signing key {kr_kid} of MN is registered on-chain (as indexed)",
        ),
        (
            mn.admin,
            Request("DELETE", f"/v1/admin/accounts/{kr_account}", {}),
            404,
            f"account {kr_account} does not act for MN (as indexed)",
        ),
    ]
    for caller, request, status, detail in attempts:
        body = assert_problem(mn.send(caller.token, request), status)
        assert body["detail"] == detail, request.url
    with mn.registry.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Operation)) == 0
