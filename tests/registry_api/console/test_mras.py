"""The MRA pages: who may see and change them, the proposal form's errors, the confirmations,
one operation per form however often it is sent, and (on a deployed consortium) an MRA
proposed in MN's console and signed in KR's, pending then confirmed, and then recognized."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from registry_api.db import ApiKey, Authority, Mra, MraParty, Operation, Role
from registry_api.db.chain_index import mra_key

from ..conftest import ChainApp, ChainAppFactory
from .support import People, cheap_passwords, console_of, csrf_of, post_form, sign_in

STAFF_READERS = (Role.ADMIN, Role.MRA_OFFICER, Role.AUDITOR)
OTHERS = (Role.ISSUING_OFFICER, Role.PARTNER, Role.BORDER_OFFICER)
PARTNER_OF = {Role.PARTNER: "KR", Role.BORDER_OFFICER: "KR"}
TEXT = "Arrangement between the customs administrations of Mongolia and Korea on AEO"


def add_indexed_mra(
    app: FastAPI,
    mra_id: int,
    *,
    status: str = "in_force",
    parties: dict[str, int] | None = None,
    effective_from: date = date(2026, 1, 1),
    signed: bool = True,
) -> None:
    """An MRA as the indexer records it from the chain's events."""
    parties = parties or {"MN": 2, "KR": 24}
    with app.state.session_factory() as session:
        for code, name in (("MN", "Mongolia Customs"), ("KR", "Korea Customs Service")):
            if session.get(Authority, code) is None:
                session.add(Authority(code=code, name=name, status="active", updated_block=1))
        mra = Mra(
            mra_id=mra_key(mra_id),
            status=status,
            proposer="MN",
            effective_from=effective_from,
            ends_on=None,
            text_hash=bytes(range(32)),
            updated_block=7,
        )
        mra.parties = [
            MraParty(
                authority=code,
                recognized_tiers=tiers,
                signed_at=datetime(2025, 12, 1, tzinfo=UTC) if signed or code == "MN" else None,
            )
            for code, tiers in parties.items()
        ]
        session.add(mra)
        session.commit()


def signed_in_as(client: TestClient, people: People, role: Role) -> None:
    name = f"{role.value.replace('_', '')}{len(people.passwords)}"
    sign_in(client, name, people.add(name, role, partner_authority=PARTNER_OF.get(role)))


def operations(app: FastAPI) -> list[Operation]:
    with app.state.session_factory() as session:
        rows = list(session.scalars(sa.select(Operation)))
        session.expunge_all()
        return rows


# ---------------------------------------------------------------- who sees what


@pytest.mark.parametrize("role", STAFF_READERS)
def test_the_mra_list_shows_each_mra_and_what_we_recognize_to_staff_who_may_read_it(
    app: FastAPI, client: TestClient, people: People, role: Role
) -> None:
    add_indexed_mra(app, 1)
    add_indexed_mra(app, 2, status="proposed", parties={"MN": 1, "KR": 1}, signed=False)
    signed_in_as(client, people, role)
    page = client.get("/console/mras")
    assert page.status_code == 200
    assert 'href="/console/mras"' in client.get("/console/").text
    mras = page.text.split('id="mras"', 1)[1]
    assert 'href="/console/mras/1"' in mras
    assert "In force" in mras
    assert "Proposed, waiting for signatures" in mras
    assert "KR (AA, AAA); MN (S)" in mras
    assert "1 of 2" in mras
    # Korea's AA and AAA under MRA 1 (in force), not the C of the proposed MRA 2
    recognized = page.text.split('id="recognized"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"Korea Customs Service \(KR\)</td>\s*<td>AA, AAA</td>", recognized)
    assert 'href="/console/mras/1"' in recognized
    assert 'href="/console/mras/2"' not in recognized
    detail = client.get("/console/mras/1")
    assert detail.status_code == 200
    assert "0x000102" in detail.text
    writes = "/console/mras/1/suspend" in detail.text
    assert writes == (role in (Role.ADMIN, Role.MRA_OFFICER))


@pytest.mark.parametrize("role", OTHERS)
def test_every_mra_page_is_refused_to_the_other_roles(
    app: FastAPI, client: TestClient, people: People, role: Role
) -> None:
    add_indexed_mra(app, 1)
    signed_in_as(client, people, role)
    for path in ("/console/mras", "/console/mras/1", "/console/mras/propose",
                 "/console/mras/1/suspend"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 403, path
        assert "You cannot see this page" in page.text
    assert 'href="/console/mras"' not in client.get("/console/").text


def test_an_auditor_may_read_but_not_propose_nor_change_an_mra(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_indexed_mra(app, 1)
    signed_in_as(client, people, Role.AUDITOR)
    html = client.get("/console/mras").text
    assert "Propose an MRA" not in html
    assert client.get("/console/mras/propose").status_code == 403
    refused = client.post(
        "/console/mras/1/suspend",
        data={"csrf_token": csrf_of(html), "idempotency_key": "0123456789abcdef"},
    )
    assert refused.status_code == 403
    assert operations(app) == []


def test_an_unknown_mra_is_the_404_page(client: TestClient, people: People) -> None:
    signed_in_as(client, people, Role.MRA_OFFICER)
    for path in ("/console/mras/99", "/console/mras/99/sign"):
        page = client.get(path)
        assert page.status_code == 404
        assert "Page not found" in page.text
    assert client.get("/console/mras/0").status_code == 400
    assert client.get("/console/mras/1/dance").status_code == 400


# ---------------------------------------------------------------- proposing


def test_a_proposal_with_bad_input_shows_each_error_next_to_its_field_and_keeps_what_was_typed(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.MRA_OFFICER)
    form = client.get("/console/mras/propose").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    answer = client.post(
        "/console/mras/propose",
        data={
            "csrf_token": csrf_of(form),
            "idempotency_key": key.group(1),
            "partner_1": "k1",
            "effective_from": "2026-13-40",
            "ends_on": "",
            "text": "",
            "own_tiers": ["S"],
        },
    )
    assert answer.status_code == 400
    html = answer.text
    assert 'class="error-summary"' in html
    assert 'id="effective_from-error"' in html
    assert "Enter a real date, for example 2026-07-01" in html
    assert 'id="text-error"' in html
    assert 'value="k1"' in html  # typed values are kept
    assert 'value="2026-13-40"' in html
    assert 'value="S" checked' in html
    second = client.post(
        "/console/mras/propose",
        data={
            "csrf_token": csrf_of(form),
            "idempotency_key": key.group(1),
            "partner_1": "k1",
            "effective_from": "2026-07-01",
            "ends_on": "2026-06-01",
            "text": TEXT,
        },
    )
    assert second.status_code == 400
    assert 'id="partner_1-error"' in second.text  # k1 is no authority code
    assert TEXT in second.text
    assert operations(app) == []


def test_a_proposal_ending_before_it_starts_shows_the_error_at_the_last_day(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.MRA_OFFICER)
    answer = post_form(
        client,
        "/console/mras/propose",
        {
            "idempotency_key": "0123456789abcdef",
            "partner_1": "KR",
            "effective_from": "2026-07-01",
            "ends_on": "2026-06-30",
            "text": TEXT,
        },
    )
    assert answer.status_code == 400
    assert 'id="ends_on-error"' in answer.text
    assert "ends_on must not be before effective_from" in answer.text
    assert 'value="2026-06-30"' in answer.text
    assert operations(app) == []


def test_a_proposal_naming_ourselves_as_partner_shows_the_apis_error_at_the_partner_field(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.MRA_OFFICER)
    answer = post_form(
        client,
        "/console/mras/propose",
        {
            "idempotency_key": "0123456789abcdef",
            "partner_1": "MN",
            "effective_from": "2026-07-01",
            "text": TEXT,
        },
    )
    assert answer.status_code == 400
    assert 'id="partner_1-error"' in answer.text
    assert "more than once" in answer.text
    assert operations(app) == []


def test_a_proposal_is_one_operation_recorded_under_the_person_however_often_it_is_sent(
    app: FastAPI, client: TestClient, people: People
) -> None:
    signed_in_as(client, people, Role.MRA_OFFICER)
    form = client.get("/console/mras/propose").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    data = {
        "csrf_token": csrf_of(form),
        "idempotency_key": key.group(1),
        "own_tiers": ["S"],
        "partner_1": "kr",
        "tiers_1": ["AA", "AAA"],
        "effective_from": "2026-07-01",
        "text": TEXT,
    }
    first = client.post("/console/mras/propose", data=data, follow_redirects=False)
    again = client.post("/console/mras/propose", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    [operation] = operations(app)
    assert operation.kind == "mra_propose"
    assert operation.payload["details"]["parties"] == ["MN", "KR"]
    with app.state.session_factory() as session:
        key_row = session.get(ApiKey, operation.api_key_id)
        assert key_row is not None
        assert key_row.prefix.startswith("console-")
        assert key_row.user.name == "mraofficer0"
    page = client.get(first.headers["location"])
    assert page.status_code == 200
    assert "Pending: waiting to be sent to the chain" in page.text
    assert 'hx-trigger="every 1s"' in page.text


def test_every_mra_form_refuses_a_post_without_its_csrf_token(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_indexed_mra(app, 1)
    signed_in_as(client, people, Role.ADMIN)
    for path in ["/console/mras/propose"] + [
        f"/console/mras/1/{action}" for action in ("sign", "suspend", "resume", "terminate")
    ]:
        refused = client.post(
            path,
            data={"idempotency_key": "0123456789abcdef", "partner_1": "KR", "text": TEXT},
        )
        assert refused.status_code == 403, path
        assert "This form has expired" in refused.text
    assert operations(app) == []


# ---------------------------------------------------------------- changing one


def test_the_suspension_page_names_the_mra_and_the_consequence_before_anything_is_done(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_indexed_mra(app, 4)
    signed_in_as(client, people, Role.MRA_OFFICER)
    page = client.get("/console/mras/4/suspend")
    assert page.status_code == 200
    assert "Suspend MRA 4" in page.text
    assert "KR, MN" in page.text
    assert "no party recognizes the others" in page.text
    assert operations(app) == []
    sent = client.post(
        "/console/mras/4/suspend",
        data={
            "csrf_token": csrf_of(page.text),
            "idempotency_key": re.findall(r'name="idempotency_key" value="([^"]+)"', page.text)[0],
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    [operation] = operations(app)
    assert (operation.kind, operation.certificate_number) == ("mra_suspend", "MRA-4")
    status = client.get(sent.headers["location"] + "/status")
    assert status.text.lstrip().startswith('<div id="operation"')  # the fragment, no page


def test_signing_an_mra_we_already_signed_is_refused_on_the_page_with_the_reason(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_indexed_mra(app, 5, status="proposed", signed=False)
    signed_in_as(client, people, Role.MRA_OFFICER)
    assert "/console/mras/5/sign" not in client.get("/console/mras/5").text
    answer = post_form(client, "/console/mras/5/sign", {"idempotency_key": "0123456789abcdef"})
    assert answer.status_code == 409
    assert "MN has already signed MRA 5" in answer.text
    assert operations(app) == []


def test_a_missing_idempotency_key_is_the_400_page_and_nothing_is_done(
    app: FastAPI, client: TestClient, people: People
) -> None:
    add_indexed_mra(app, 1)
    signed_in_as(client, people, Role.MRA_OFFICER)
    answer = post_form(client, "/console/mras/1/terminate", {}, page="/console/mras/1")
    assert answer.status_code == 400
    assert "The request was not understood" in answer.text
    assert operations(app) == []


# ---------------------------------------------------------------- on a deployed consortium


@pytest.fixture
def consoles(chain_app: ChainAppFactory) -> tuple[ChainApp, ChainApp]:
    mn, kr = chain_app("MN"), chain_app("KR")
    for service in (mn, kr):
        console_of(service.app).passwords = cheap_passwords()
    return mn, kr


def _follow(service: ChainApp, location: str) -> str:
    service.settle()
    return service.client.get(location).text


@pytest.mark.slow
def test_an_mra_proposed_in_mns_console_and_signed_in_krs_comes_into_force_and_is_recognized(
    consoles: tuple[ChainApp, ChainApp],
) -> None:
    mn, kr = consoles
    sign_in(mn.client, "bat", People(mn.app).add("bat", Role.MRA_OFFICER))
    sent = post_form(
        mn.client,
        "/console/mras/propose",
        {
            "idempotency_key": "5f0c6d2e-2b7d-4e3a-9c5f-8d6b1a0e7c2f",
            "own_tiers": "S",
            "partner_1": "KR",
            "tiers_1": "AA",
            "effective_from": date.today().isoformat(),
            "text": TEXT,
        },
    )
    assert sent.status_code == 303
    assert "Pending" in mn.client.get(sent.headers["location"]).text
    confirmed = _follow(mn, sent.headers["location"])
    assert "Confirmed by the chain" in confirmed
    assert 'hx-trigger="every 1s"' not in confirmed  # polling stops
    mra_id = int(re.findall(r'href="/console/mras/(\d+)"', confirmed)[0])

    kr.settle()
    sign_in(kr.client, "kim", People(kr.app).add("kim", Role.MRA_OFFICER))
    detail = kr.client.get(f"/console/mras/{mra_id}").text
    assert "Proposed, waiting for signatures" in detail
    assert f"/console/mras/{mra_id}/sign" in detail
    confirm = kr.client.get(f"/console/mras/{mra_id}/sign").text
    signed = kr.client.post(
        f"/console/mras/{mra_id}/sign",
        data={
            "csrf_token": csrf_of(confirm),
            "idempotency_key": re.findall(r'name="idempotency_key" value="([^"]+)"', confirm)[0],
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert "Confirmed by the chain" in _follow(kr, signed.headers["location"])

    mn.settle()
    for service, partner, tiers in ((mn, "KR", "AA"), (kr, "MN", "S")):
        page = service.client.get("/console/mras").text
        assert "In force" in page
        recognized = page.split('id="recognized"', 1)[1].split("</table>", 1)[0]
        assert re.search(rf"\({partner}\)</td>\s*<td>{tiers}</td>", recognized), recognized
