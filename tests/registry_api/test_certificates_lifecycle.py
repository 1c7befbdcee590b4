"""Each certificate action through HTTP, against the memory chain and a SQLite file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts.domain import ids
from contracts.reader import RegistryReader
from registry_api.db import Role

from .certificate_data import (
    amend_body,
    assert_index_equals_chain,
    issue,
    operation,
    post,
    record_body,
)
from .conftest import ChainApp, ChainAppFactory
from .support import assert_problem

NUMBER = "MN-AEO-2025-0001"


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


@pytest.fixture
def officer(mn: ChainApp) -> dict[str, str]:
    return mn.headers(Role.ISSUING_OFFICER)


def read(mn: ChainApp, headers: dict[str, str], number: str = NUMBER) -> dict[str, Any]:
    response = mn.client.get(f"/v1/certificates/{number}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_issuing_answers_202_with_an_operation_that_ends_confirmed(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    response = post(mn.client, "/v1/certificates", record_body(NUMBER), officer)
    assert response.status_code == 202
    accepted = response.json()
    assert response.headers["location"] == f"/v1/operations/{accepted['id']}"
    assert (accepted["kind"], accepted["subject"], accepted["state"]) == (
        "issue",
        NUMBER,
        "pending",
    )
    assert read(mn, officer)["status"] == "pending"

    mn.settle()
    done = operation(mn, officer, accepted["id"])
    assert done["state"] == "confirmed"
    assert done["tx_hash"].startswith("0x")
    assert done["block_number"] > 0
    assert done["gas_used"] > 0
    assert done["error"] is None


@pytest.mark.slow
def test_an_issued_certificate_reads_with_its_chain_state_and_a_matching_proof(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    mn.settle()
    body = read(mn, mn.headers(Role.AUDITOR))
    assert body["status"] == "active"
    assert body["effective_status"] == "active"
    assert body["record"]["holder"]["legal_name"] == "Tavan Bogd Trade LLC"
    chain = body["chain"]
    assert chain["status"] == "active"
    assert chain["version"] == 1
    assert chain["valid_until"] == "2028-01-14"
    proof = body["proof"]
    assert proof["matches"] is True
    assert proof["commitment"] == proof["chain_commitment"]
    on_chain = RegistryReader(mn.consortium.chain, mn.consortium.deployment).get_certificate(
        ids.certificate_id("MN", NUMBER)
    )
    assert on_chain.known
    assert on_chain.issuer == "MN"


@pytest.mark.slow
def test_a_record_changed_behind_the_service_fails_its_proof(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    mn.settle()
    from registry_api.db import Certificate

    with mn.session() as session:
        row = session.query(Certificate).filter_by(number=NUMBER).one()
        row.holder_legal_name = "Someone Else LLC"
        session.commit()
    proof = read(mn, officer)["proof"]
    assert proof["matches"] is False
    assert proof["commitment"] != proof["chain_commitment"]


@pytest.mark.slow
def test_amending_replaces_the_record_once_the_amendment_is_on_chain(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    mn.settle()
    renamed = amend_body(
        holder={
            "legal_name": "Tavan Bogd Group LLC",
            "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
            "identification": {"scheme": "TIN", "number": "5012345"},
        },
        tiers=3,
        reason_code=33,
    )
    accepted = post(mn.client, f"/v1/certificates/{NUMBER}/amend", renamed, officer)
    assert accepted.status_code == 202, accepted.text
    # Until the chain has it, the certificate still reads as issued.
    assert read(mn, officer)["record"]["holder"]["legal_name"] == "Tavan Bogd Trade LLC"
    mn.settle()
    body = read(mn, officer)
    assert body["record"]["holder"]["legal_name"] == "Tavan Bogd Group LLC"
    assert body["record"]["tiers"] == 3
    assert body["version"] == 2
    assert body["proof"]["matches"] is True
    assert_index_equals_chain(mn)


@pytest.mark.slow
def test_an_amendment_cannot_change_validity(mn: ChainApp, officer: dict[str, str]) -> None:
    issue(mn, officer, NUMBER)
    response = post(
        mn.client,
        f"/v1/certificates/{NUMBER}/amend",
        amend_body(valid_until="2030-01-01"),
        officer,
    )
    body = assert_problem(response, 422, "invalid")
    assert body["errors"] == [{"field": "body.valid_until", "message": "must stay 2028-01-14"}]


@pytest.mark.slow
def test_renewing_extends_the_validity_on_chain_and_in_reads(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    mn.settle()
    response = post(
        mn.client, f"/v1/certificates/{NUMBER}/renew", {"valid_until": "2031-01-14"}, officer
    )
    assert response.status_code == 202, response.text
    mn.settle()
    body = read(mn, officer)
    assert body["valid_until"] == "2031-01-14"
    assert body["record"]["valid_until"] == "2028-01-14"
    assert body["proof"]["matches"] is True
    # An amendment after a renewal carries the renewed validity.
    amended = post(
        mn.client,
        f"/v1/certificates/{NUMBER}/amend",
        amend_body(valid_until="2031-01-14", officer="D. Enkh"),
        officer,
    )
    assert amended.status_code == 202, amended.text
    mn.settle()
    assert read(mn, officer)["record"]["officer"] == "D. Enkh"
    assert_index_equals_chain(mn)


@pytest.mark.slow
def test_a_renewal_that_does_not_extend_is_a_conflict(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    response = post(
        mn.client, f"/v1/certificates/{NUMBER}/renew", {"valid_until": "2027-01-01"}, officer
    )
    body = assert_problem(response, 409, "conflict")
    assert body["errors"][0]["field"] == "body.valid_until"


def test_suspend_reinstate_and_revoke_reach_the_chain_with_their_reasons(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    deadline = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()
    suspended = post(
        mn.client,
        f"/v1/certificates/{NUMBER}/suspend",
        {"reason_code": 1, "remedy_deadline": deadline},
        officer,
    )
    assert suspended.status_code == 202, suspended.text
    mn.settle()
    body = read(mn, officer)
    assert body["status"] == "suspended"
    assert body["status_reason"] == {"code": 1, "name": "FAILED_AUDIT"}
    assert body["remedy_deadline"] == deadline

    post(mn.client, f"/v1/certificates/{NUMBER}/reinstate", {"reason_code": 16}, officer)
    mn.settle()
    body = read(mn, officer)
    assert body["status"] == "active"
    assert body["remedy_deadline"] is None

    post(mn.client, f"/v1/certificates/{NUMBER}/revoke", {"reason_code": 5}, officer)
    mn.settle()
    body = read(mn, officer)
    assert (body["status"], body["status_reason"]) == ("revoked", {"code": 5, "name": "FRAUD"})
    on_chain = RegistryReader(mn.consortium.chain, mn.consortium.deployment).get_certificate(
        ids.certificate_id("MN", NUMBER)
    )
    assert on_chain.status.name == "REVOKED"
    assert_index_equals_chain(mn)


@pytest.mark.slow
def test_issue_then_suspend_at_once_is_accepted_and_applied_in_order(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    response = post(mn.client, f"/v1/certificates/{NUMBER}/suspend", {"reason_code": 2}, officer)
    assert response.status_code == 202, response.text
    mn.settle()
    assert read(mn, officer)["status"] == "suspended"


@pytest.mark.slow
def test_history_says_who_when_why_and_where(mn: ChainApp) -> None:
    headers = {"Authorization": f"Bearer {mn.token(Role.ISSUING_OFFICER, user='b.bat-erdene')}"}
    issue(mn, headers, NUMBER)
    post(mn.client, f"/v1/certificates/{NUMBER}/suspend", {"reason_code": 8}, headers)
    mn.settle()
    response = mn.client.get(f"/v1/certificates/{NUMBER}/history", headers=mn.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    entries = response.json()["data"]
    assert [e["kind"] for e in entries] == ["issued", "suspended"]
    suspended = entries[1]
    assert suspended["reason"] == {"code": 8, "name": "SECURITY_BREACH"}
    assert suspended["requested_by"] == "b.bat-erdene"
    assert suspended["operator"] == mn.consortium.member("MN").operator.address
    assert suspended["tx_hash"].startswith("0x")
    assert suspended["block_number"] > entries[0]["block_number"]
    assert datetime.fromisoformat(suspended["at"]).date() <= datetime.now(UTC).date()


def test_every_write_requires_an_idempotency_key(mn: ChainApp, officer: dict[str, str]) -> None:
    response = mn.client.post("/v1/certificates", json=record_body(NUMBER), headers=officer)
    body = assert_problem(response, 422, "invalid")
    assert body["errors"] == [
        {"field": "header.Idempotency-Key", "message": "is required on this request"}
    ]
    response = mn.client.post(
        f"/v1/certificates/{NUMBER}/revoke", json={"reason_code": 5}, headers=officer
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("suspend", {"reason_code": 5}),  # fraud revokes, never suspends
        ("reinstate", {"reason_code": 1}),
        ("revoke", {"reason_code": 16}),
        ("renew", {"valid_until": "2031-01-01", "reason_code": 32}),
        ("suspend", {"reason_code": 999}),
    ],
)
def test_a_reason_code_the_action_does_not_take_is_refused_before_queueing(
    mn: ChainApp, officer: dict[str, str], action: str, body: dict[str, object]
) -> None:
    issue(mn, officer, NUMBER)
    response = post(mn.client, f"/v1/certificates/{NUMBER}/{action}", body, officer)
    problem = assert_problem(response, 422, "invalid")
    assert problem["errors"][0]["field"] == "body.reason_code"
    assert "must be one of" in problem["errors"][0]["message"]
    with mn.session() as session:
        from registry_api.db import Operation

        assert session.query(Operation).count() == 1  # only the issue


@pytest.mark.slow
def test_a_remedy_deadline_in_the_past_is_refused(mn: ChainApp, officer: dict[str, str]) -> None:
    issue(mn, officer, NUMBER)
    response = post(
        mn.client,
        f"/v1/certificates/{NUMBER}/suspend",
        {"reason_code": 1, "remedy_deadline": "2020-01-01"},
        officer,
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "body.remedy_deadline"


@pytest.mark.slow
def test_changing_a_revoked_certificate_is_a_conflict_at_request_time(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    post(mn.client, f"/v1/certificates/{NUMBER}/revoke", {"reason_code": 4}, officer)
    # Refused before the revocation is even on-chain: the accepted one will apply first.
    for action, body in [
        ("suspend", {"reason_code": 1}),
        ("reinstate", {"reason_code": 16}),
        ("revoke", {"reason_code": 5}),
        ("renew", {"valid_until": "2031-01-01"}),
        ("amend", amend_body()),
    ]:
        response = post(mn.client, f"/v1/certificates/{NUMBER}/{action}", body, officer)
        assert "revoked" in assert_problem(response, 409, "conflict")["detail"]


@pytest.mark.slow
def test_reinstating_an_active_certificate_is_a_conflict(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    mn.settle()
    response = post(mn.client, f"/v1/certificates/{NUMBER}/reinstate", {"reason_code": 16}, officer)
    body = assert_problem(response, 409, "conflict")
    assert body["detail"] == (
        f"certificate {NUMBER} is active; only an suspended certificate can be reinstated"
    )


@pytest.mark.slow
def test_issuing_a_number_twice_is_a_conflict_naming_the_number(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    issue(mn, officer, NUMBER)
    response = post(mn.client, "/v1/certificates", record_body(NUMBER), officer)
    body = assert_problem(response, 409, "conflict")
    assert body["errors"] == [
        {"field": "body.number", "message": "is already issued by this administration"}
    ]


@pytest.mark.slow
def test_a_revert_at_estimation_fails_the_operation_with_the_decoded_reason(
    mn: ChainApp, officer: dict[str, str]
) -> None:
    """The number was issued on-chain without this database knowing (another instance of
    the same administration, say): the sender sends nothing and says why."""
    record = record_body(NUMBER)
    mn.consortium.operator("MN").issue(
        NUMBER, 2, date(2025, 1, 15), date(2028, 1, 14), b"\x01" * 32, b"\x02" * 32
    )
    nonce_before = mn.consortium.chain.w3.eth.get_transaction_count(
        mn.consortium.member("MN").operator.address
    )
    accepted = post(mn.client, "/v1/certificates", record, officer).json()
    mn.settle()
    failed = operation(mn, officer, accepted["id"])
    assert failed["state"] == "failed"
    assert failed["error"].startswith("CertificateAlreadyExists: the contract refused")
    assert failed["tx_hash"] is None
    assert (
        mn.consortium.chain.w3.eth.get_transaction_count(
            mn.consortium.member("MN").operator.address
        )
        == nonce_before
    )
    assert read(mn, officer)["status"] == "failed"


def test_invalid_records_name_each_field(mn: ChainApp, officer: dict[str, str]) -> None:
    body = record_body(NUMBER, tiers=64, valid_until="2020-01-01")
    body["holder"]["legal_name"] = "  "
    response = post(mn.client, "/v1/certificates", body, officer)
    problem = assert_problem(response, 422, "invalid")
    fields = {e["field"] for e in problem["errors"]}
    assert {"body.tiers", "body.holder.legal_name"} <= fields
    dates = post(
        mn.client, "/v1/certificates", record_body(NUMBER, valid_until="2020-01-01"), officer
    )
    assert assert_problem(dates, 422)["errors"][0]["message"].endswith(
        "valid_until must not be before valid_from"
    )


@pytest.mark.slow
def test_unknown_certificates_answer_404(mn: ChainApp, officer: dict[str, str]) -> None:
    assert_problem(mn.client.get("/v1/certificates/MN-NOPE", headers=officer), 404, "not-found")
    response = post(mn.client, "/v1/certificates/MN-NOPE/suspend", {"reason_code": 1}, officer)
    assert_problem(response, 404, "not-found")
    assert_problem(
        mn.client.get("/v1/operations/0f8c2a4e-6b1d-4c3e-9a57-2d8e1f0b6c3a", headers=officer),
        404,
        "not-found",
    )


WRITES = [
    ("POST", "/v1/certificates", record_body("MN-AEO-2025-0099")),
    ("POST", f"/v1/certificates/{NUMBER}/suspend", {"reason_code": 1}),
    ("POST", f"/v1/certificates/{NUMBER}/revoke", {"reason_code": 1}),
]
READS = [
    ("GET", f"/v1/certificates/{NUMBER}", None),
    ("GET", f"/v1/certificates/{NUMBER}/history", None),
    ("GET", "/v1/certificates", None),
]
WRITERS = {Role.ADMIN, Role.ISSUING_OFFICER}
READERS = {Role.ADMIN, Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR}


@pytest.mark.slow
@pytest.mark.parametrize("role", list(Role))
def test_roles_matrix_of_the_certificate_routes(mn: ChainApp, role: Role) -> None:
    issue(mn, mn.headers(Role.ISSUING_OFFICER), NUMBER)
    partner = "KZ" if role is Role.PARTNER else None
    headers = {"Authorization": f"Bearer {mn.token(role, partner_authority=partner)}"}
    for method, path, body in WRITES + READS:
        response = mn.client.request(
            method, path, json=body, headers={**headers, "Idempotency-Key": f"{role}-{path}"}
        )
        allowed = WRITERS if method == "POST" else READERS
        if role in allowed:
            assert response.status_code < 300, (role, path, response.text)
        else:
            assert_problem(response, 403, "forbidden")
    assert_problem(mn.client.get(f"/v1/certificates/{NUMBER}"), 401, "unauthorized")
