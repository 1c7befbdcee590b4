"""Issuing and changing certificates from the console: the API's rules, the person in the
history, pending then confirmed, refusals, CSRF, and bad input kept with its message."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web3 import Web3

from contracts.anvil import free_port
from contracts.bootstrap import Consortium
from contracts.chain import Chain, ChainSettings
from registry_api.app import create_app
from registry_api.db import Operation, OperationState, Role
from registry_api.workers import ChainAccess

from ..conftest import new_database_url
from ..support import make_settings
from .certificate_support import Officers, officers
from .support import People, cheap_passwords, console_of, csrf_of, sign_in

__all__ = ["officers"]

NUMBER = "MN-AEO-2026-0001"


def issue_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "number": NUMBER,
        "holder_legal_name": "Khan Logistics LLC",
        "holder_street": "Chinggis Avenue 5",
        "holder_postal_code": "",
        "holder_city": "Ulaanbaatar",
        "holder_country": "MN",
        "holder_id_scheme": "TIN",
        "holder_id_number": "6012345",
        "business_roles": "IM, EX",
        "tiers": ["2"],
        "validated_criteria": "C1, C6.2",
        "issuing_office": "Ulaanbaatar Customs House",
        "officer": "B. Bat-Erdene",
        "valid_from": "2026-01-15",
        "valid_until": "2029-01-14",
    }
    form.update(overrides)
    return form


def operations(officers: Officers) -> list[Operation]:
    with officers.mn.session() as session:
        return list(session.scalars(sa.select(Operation).order_by(Operation.created_at)))


def slot(html: str, field: str) -> str:
    found = re.search(rf'<div id="{field}-slot" class="field__slot"[^>]*>(.*?)</div>', html, re.S)
    assert found is not None, f"no slot for {field}"
    return found.group(1)


def test_an_officer_issues_sees_pending_then_confirmed_and_the_history_names_them(
    officers: Officers,
) -> None:
    client = officers.client(Role.ISSUING_OFFICER)
    answer = officers.post(Role.ISSUING_OFFICER, "/console/certificates/new", issue_form())
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"/console/certificates/{NUMBER}?operation=")
    operation_id = location.rsplit("=", 1)[1]
    page = client.get(location).text
    assert "Pending: waiting to be sent to the chain" in page
    fragment = client.get(f"/console/operations/{operation_id}").text
    assert 'hx-trigger="every 1s"' in fragment
    officers.mn.settle()
    fragment = client.get(f"/console/operations/{operation_id}").text
    assert "Confirmed by the chain" in fragment
    assert "hx-trigger" not in fragment  # the polling stops
    page = client.get(f"/console/certificates/{NUMBER}").text
    assert re.search(r"<td>Issued</td>\s*<td>issuing-officer \(console\)</td>", page)
    [operation] = operations(officers)
    assert operation.state is OperationState.CONFIRMED


def test_the_same_form_sent_twice_is_one_operation(officers: Officers) -> None:
    client = officers.client(Role.ISSUING_OFFICER)
    html = client.get("/console/certificates/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert key is not None
    data = {**issue_form(), "csrf_token": csrf_of(html), "idempotency_key": key.group(1)}
    first = client.post("/console/certificates/new", data=data, follow_redirects=False)
    second = client.post("/console/certificates/new", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(operations(officers)) == 1


def test_bad_issue_input_shows_each_message_next_to_its_field_and_keeps_what_was_typed(
    officers: Officers,
) -> None:
    form = issue_form(
        holder_legal_name="", holder_country="Mongolia", tiers=[], valid_until="2020-01-01"
    )
    answer = officers.post(Role.ISSUING_OFFICER, "/console/certificates/new", form)
    assert answer.status_code == 400
    html = answer.text
    assert "There is a problem" in html
    assert "Enter this" in slot(html, "holder_legal_name")
    assert slot(html, "holder_country").strip()
    assert "Choose at least one tier" in slot(html, "tiers")
    assert 'value="Mongolia"' in html
    assert 'value="Khan Logistics LLC"' not in html
    assert 'value="6012345"' in html
    assert operations(officers) == []


def test_a_number_of_another_member_or_already_issued_is_refused_next_to_the_number(
    officers: Officers,
) -> None:
    answer = officers.post(
        Role.ISSUING_OFFICER, "/console/certificates/new", issue_form(number="KZ-AEO-1")
    )
    assert answer.status_code == 400
    assert "the code of another member" in slot(answer.text, "number")
    officers.issue(NUMBER)
    again = officers.post(Role.ISSUING_OFFICER, "/console/certificates/new", issue_form())
    assert again.status_code == 400
    assert "This number is already issued" in slot(again.text, "number")
    assert len(operations(officers)) == 1


def test_the_check_as_you_type_answers_the_touched_fields_messages_out_of_band(
    officers: Officers,
) -> None:
    client = officers.client(Role.ISSUING_OFFICER)
    html = client.get("/console/certificates/new").text
    answer = client.post(
        "/console/certificates/new/check",
        data={"csrf_token": csrf_of(html), "holder_country": "Mongolia", "number": NUMBER},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert "<html" not in answer.text
    assert 'id="holder_country-slot" class="field__slot" hx-swap-oob="true"' in answer.text
    assert slot(answer.text, "holder_country").strip()
    # untouched fields say nothing yet, the valid number neither
    assert slot(answer.text, "holder_legal_name").strip() == ""
    assert slot(answer.text, "number").strip() == ""
    assert operations(officers) == []


def test_suspend_offers_the_suspension_reasons_only_and_records_the_deadline(
    officers: Officers,
) -> None:
    officers.issue(NUMBER)
    client = officers.client(Role.ISSUING_OFFICER)
    path = f"/console/certificates/{NUMBER}/suspend"
    form = client.get(path).text
    offered = set(re.findall(r'<option value="(\d+)"', form))
    assert offered == {"1", "2", "3", "6", "7", "8"}
    answer = officers.post(
        Role.ISSUING_OFFICER, path, {"reason_code": "1", "remedy_deadline": "2099-06-30"}
    )
    assert answer.status_code == 303, answer.text
    officers.mn.settle()
    page = client.get(f"/console/certificates/{NUMBER}").text
    assert "tag--suspended" in page
    assert "FAILED_AUDIT" in page
    assert "remedy by 2099-06-30" in page
    assert re.search(r"<td>Suspended</td>\s*<td>issuing-officer \(console\)</td>", page)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"reason_code": ""}, "reason_code", "Choose a reason"),
        ({"reason_code": "16"}, "reason_code", "must be one of"),
        ({"reason_code": "1", "remedy_deadline": "2020-01-01"}, "remedy_deadline", "or later"),
        ({"reason_code": "1", "remedy_deadline": "soon"}, "remedy_deadline", "date"),
    ],
)
def test_a_bad_suspension_shows_the_message_next_to_the_field(
    officers: Officers, data: dict[str, str], field: str, message: str
) -> None:
    officers.issue(NUMBER)
    answer = officers.post(Role.ISSUING_OFFICER, f"/console/certificates/{NUMBER}/suspend", data)
    assert answer.status_code == 400
    assert message in slot(answer.text, field)
    if data.get("remedy_deadline"):
        assert f'value="{data["remedy_deadline"]}"' in answer.text
    assert len(operations(officers)) == 1  # the issue only


def test_suspending_a_suspended_certificate_says_why_on_the_form(officers: Officers) -> None:
    officers.issue(NUMBER)
    path = f"/console/certificates/{NUMBER}/suspend"
    assert officers.post(Role.ISSUING_OFFICER, path, {"reason_code": "2"}).status_code == 303
    again = officers.post(Role.ISSUING_OFFICER, path, {"reason_code": "2"})
    assert again.status_code == 400
    assert "only an active certificate can be suspended" in slot(again.text, "action")


def test_reinstate_renew_and_amend_go_through_the_apis_rules(officers: Officers) -> None:
    officers.issue(NUMBER)
    base = f"/console/certificates/{NUMBER}"
    amend = officers.client(Role.ADMIN).get(f"{base}/amend").text
    assert 'value="Tavan Bogd Trade LLC"' in amend  # the current record, to change
    form = {
        "holder_legal_name": "Tavan Bogd Group LLC",
        "holder_street": "Peace Avenue 17",
        "holder_postal_code": "",
        "holder_city": "Ulaanbaatar",
        "holder_country": "MN",
        "holder_id_scheme": "TIN",
        "holder_id_number": "5012345",
        "business_roles": "IM, EX",
        "tiers": ["2"],
        "validated_criteria": "C1, C6.2",
        "issuing_office": "Ulaanbaatar Customs House",
        "officer": "B. Bat-Erdene",
        "reason_code": "32",
    }
    assert officers.post(Role.ADMIN, f"{base}/amend", form).status_code == 303
    renew = officers.post(
        Role.ADMIN, f"{base}/renew", {"valid_until": "2027-01-01", "reason_code": "48"}
    )
    assert renew.status_code == 400
    assert "must be later than 2028-01-14" in slot(renew.text, "valid_until")
    ok = officers.post(
        Role.ADMIN, f"{base}/renew", {"valid_until": "2031-01-14", "reason_code": "48"}
    )
    assert ok.status_code == 303
    assert officers.post(Role.ADMIN, f"{base}/suspend", {"reason_code": "3"}).status_code == 303
    assert officers.post(Role.ADMIN, f"{base}/reinstate", {"reason_code": "16"}).status_code == 303
    officers.mn.settle()
    page = officers.client(Role.ADMIN).get(base).text
    assert "Tavan Bogd Group LLC" in page
    assert "until 2031-01-14" in page
    assert "tag--active" in page
    kinds = re.findall(r"<td>(Issued|Amended|Renewed|Suspended|Reinstated)</td>", page)
    assert kinds == ["Issued", "Amended", "Renewed", "Suspended", "Reinstated"]


def test_the_revocation_page_names_the_certificate_and_the_consequence(
    officers: Officers,
) -> None:
    officers.issue(NUMBER)
    client = officers.client(Role.ISSUING_OFFICER)
    page = client.get(f"/console/certificates/{NUMBER}/revoke").text
    assert (
        f"Revoking certificate {NUMBER} of Tavan Bogd Trade LLC is final: it can never be "
        "reinstated"
    ) in page
    assert ">Revoke certificate</button>" in page
    answer = officers.post(
        Role.ISSUING_OFFICER, f"/console/certificates/{NUMBER}/revoke", {"reason_code": "5"}
    )
    assert answer.status_code == 303
    officers.mn.settle()
    after = client.get(f"/console/certificates/{NUMBER}").text
    assert "tag--revoked" in after
    assert "A revoked certificate has no document." in after


ACTION_PATHS = [
    "/console/certificates/new",
    f"/console/certificates/{NUMBER}/amend",
    f"/console/certificates/{NUMBER}/renew",
    f"/console/certificates/{NUMBER}/suspend",
    f"/console/certificates/{NUMBER}/reinstate",
    f"/console/certificates/{NUMBER}/revoke",
]


@pytest.mark.parametrize(
    "role", [Role.AUDITOR, Role.MRA_OFFICER, Role.PARTNER, Role.BORDER_OFFICER]
)
def test_roles_that_may_not_write_cannot_open_or_send_a_change(
    officers: Officers, role: Role
) -> None:
    officers.issue(NUMBER)
    client = officers.client(role)
    token = csrf_of(client.get("/console/").text)
    for path in ACTION_PATHS:
        assert client.get(path).status_code == 403, path
        answer = client.post(
            path, data={"csrf_token": token, "reason_code": "1"}, follow_redirects=False
        )
        assert answer.status_code == 403, path
    assert len(operations(officers)) == 1
    page = client.get(f"/console/certificates/{NUMBER}")
    if page.status_code == 200:
        assert "Change this certificate" not in page.text


@pytest.mark.parametrize("path", [*ACTION_PATHS, "/console/certificates/new/check"])
def test_every_form_without_its_csrf_token_is_refused_and_does_nothing(
    officers: Officers, path: str
) -> None:
    officers.issue(NUMBER)
    client = officers.client(Role.ADMIN)
    answer = client.post(
        path,
        data={**issue_form(number="MN-AEO-2026-0009"), "reason_code": "1"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    assert len(operations(officers)) == 1


def test_a_chain_outage_shows_a_banner_and_the_issue_is_queued(
    tmp_path: Path, consortium: Consortium
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there: a node that is down
    dead = Chain("rpc", Web3(Web3.HTTPProvider(url)), ChainSettings(kind="rpc", rpc_url=url))
    settings = make_settings(
        tmp_path / "outage",
        new_database_url(tmp_path / "outage"),
        run_workers=False,
        passphrase=secrets.token_urlsafe(18),
    )
    access = ChainAccess(dead, consortium.deployment, consortium.member("MN").operator)
    with TestClient(create_app(settings, chain_access=access)) as client:
        app = client.app
        assert isinstance(app, FastAPI)
        console_of(app).passwords = cheap_passwords()
        password = People(app).add("tuya", Role.ISSUING_OFFICER)
        assert sign_in(client, "tuya", password).status_code == 303
        banner = "The chain cannot be reached now."
        assert banner not in client.get("/console/certificates/new").text
        html = client.get("/console/certificates/new").text
        answer = client.post(
            "/console/certificates/new",
            data={**issue_form(), "csrf_token": csrf_of(html)},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        workers = app.state.workers
        assert workers.sender.run_once() == 0  # the node does not answer
        page = client.get(answer.headers["location"]).text
        assert banner in page
        assert "Pending: waiting to be sent to the chain" in page
        assert "this change is kept and sent when it answers" in page
        with app.state.session_factory() as session:
            [operation] = session.scalars(sa.select(Operation)).all()
            assert operation.state is OperationState.PENDING
