"""MRAs through HTTP on one chain with two administrations' services: MN proposes, KR signs
through its own service, then suspend, resume and terminate; every write goes through the
outbox and the index tells both services the same story."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.crypto import keccak

from contracts.domain import days
from registry_api.db import Role

from .conftest import ChainApp, ChainAppFactory
from .feed_support import S, chain_day, propose_mra
from .support import assert_problem

TEXT = "Arrangement between the customs administrations of Mongolia and Korea on AEO"


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    service = chain_app("MN")
    assert chain_day(service.consortium.chain) == days.today(), "chain clock is off"
    return service


@pytest.fixture
def kr(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("KR")


def write(
    service: ChainApp, path: str, key: str, body: Any = None, role: Role = Role.MRA_OFFICER
) -> Any:
    return service.client.post(
        path, json=body, headers=service.headers(role, **{"Idempotency-Key": key})
    )


def proposal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "parties": [
            {"authority": "MN", "recognized_tiers": S},
            {"authority": "KR", "recognized_tiers": 8 | 16},
        ],
        "effective_from": days.from_day(days.today()).isoformat(),
        "text": TEXT,
    }
    return body | overrides


def confirmed(service: ChainApp, answer: Any) -> dict[str, Any]:
    """Settle ``service`` and return the operation ``answer`` accepted, now final."""
    assert answer.status_code == 202, answer.text
    service.settle()
    operation = service.client.get(
        answer.headers["Location"], headers=service.headers(Role.AUDITOR)
    ).json()
    assert operation["state"] in {"confirmed", "failed"}, operation
    result: dict[str, Any] = operation
    return result


def mra(service: ChainApp, mra_id: int) -> dict[str, Any]:
    answer = service.client.get(f"/v1/mras/{mra_id}", headers=service.headers(Role.AUDITOR))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_mra_proposed_by_mn_and_signed_by_kr_comes_into_force_on_both_services(
    mn: ChainApp, kr: ChainApp
) -> None:
    answer = write(mn, "/v1/mras", "propose-1", proposal())
    assert answer.json()["state"] == "pending"
    assert answer.json()["kind"] == "mra_propose"
    operation = confirmed(mn, answer)
    assert operation["state"] == "confirmed"

    found = mn.client.get(
        "/v1/mras", params={"operation_id": operation["id"]}, headers=mn.headers(Role.AUDITOR)
    ).json()
    assert found["count"] == 1
    created = found["data"][0]
    assert created["status"] == "proposed"
    assert created["proposer"] == "MN"
    assert created["text_hash"] == "0x" + keccak(TEXT.encode()).hex()
    assert {(p["authority"], p["recognized_tiers"], p["signed"]) for p in created["parties"]} == {
        ("MN", S, True),
        ("KR", 24, False),
    }
    mra_id = created["id"]

    kr.settle()
    assert mra(kr, mra_id)["status"] == "proposed"
    signed = confirmed(kr, write(kr, f"/v1/mras/{mra_id}/sign", "sign-1"))
    assert signed["state"] == "confirmed"
    assert signed["kind"] == "mra_sign"
    mn.settle()
    for service in (mn, kr):
        seen = mra(service, mra_id)
        assert seen["status"] == "in_force"
        assert all(p["signed"] for p in seen["parties"])


@pytest.mark.slow
def test_suspend_resume_and_terminate_follow_the_contract_on_both_services(
    mn: ChainApp, kr: ChainApp
) -> None:
    mra_id = propose_mra(mn.consortium, "MN", {"MN": S, "KR": S})
    mn.settle()
    kr.settle()

    assert confirmed(mn, write(mn, f"/v1/mras/{mra_id}/suspend", "s-1"))["state"] == "confirmed"
    kr.settle()
    assert mra(kr, mra_id)["status"] == "suspended"

    # Only the party that suspended may resume: the contract refuses KR, the operation fails.
    refused = confirmed(kr, write(kr, f"/v1/mras/{mra_id}/resume", "r-kr"))
    assert refused["state"] == "failed"
    assert "MraNotSuspender" in refused["error"]

    assert confirmed(mn, write(mn, f"/v1/mras/{mra_id}/resume", "r-mn"))["state"] == "confirmed"
    kr.settle()
    assert mra(kr, mra_id)["status"] == "in_force"

    assert confirmed(kr, write(kr, f"/v1/mras/{mra_id}/terminate", "t-1"))["state"] == "confirmed"
    mn.settle()
    assert mra(mn, mra_id)["status"] == "terminated"

    for action in ("sign", "suspend", "resume", "terminate"):
        body = assert_problem(write(mn, f"/v1/mras/{mra_id}/{action}", f"late-{action}"), 409)
        assert body["chain_error"] in {"MraStatusMismatch", "MraAlreadySigned"}


@pytest.mark.slow
def test_a_retried_proposal_with_the_same_key_is_one_operation(mn: ChainApp) -> None:
    token = mn.token(Role.MRA_OFFICER)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "same"}
    first = mn.client.post("/v1/mras", json=proposal(), headers=headers)
    again = mn.client.post("/v1/mras", json=proposal(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = mn.client.post("/v1/mras", json=proposal(text="another text"), headers=headers)
    assert assert_problem(other, 422)["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.slow
def test_a_write_without_an_idempotency_key_is_refused(mn: ChainApp) -> None:
    answer = mn.client.post("/v1/mras", json=proposal(), headers=mn.headers(Role.MRA_OFFICER))
    assert assert_problem(answer, 422)["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {
                "parties": [
                    {"authority": "KZ", "recognized_tiers": 2},
                    {"authority": "KR", "recognized_tiers": 2},
                ]
            },
            "body.parties",
        ),
        ({"text_hash": "0x" + "ab" * 32}, "body"),
        ({"text": None}, "body"),
        (
            {
                "parties": [
                    {"authority": "MN", "recognized_tiers": 2},
                    {"authority": "MN", "recognized_tiers": 2},
                ]
            },
            "body.parties",
        ),
        (
            {
                "parties": [
                    {"authority": "MN", "recognized_tiers": 32},
                    {"authority": "KR", "recognized_tiers": 2},
                ]
            },
            "body.parties[0].recognized_tiers",
        ),
        ({"parties": [{"authority": "MN", "recognized_tiers": 2}]}, "body.parties"),
        ({"ends_on": "2020-01-01"}, "body"),
        ({"text_hash": "0x" + "00" * 32, "text": None}, "body.text_hash"),
        ({"text_hash": "0x1234", "text": None}, "body.text_hash"),
        (
            {
                "parties": [
                    {"authority": "mn", "recognized_tiers": 2},
                    {"authority": "KR", "recognized_tiers": 2},
                ]
            },
            "body.parties[0].authority",
        ),
    ],
    ids=[
        "without-this-administration",
        "text-and-hash",
        "neither-text-nor-hash",
        "duplicate-party",
        "reserved-tier-bit",
        "one-party",
        "ends-before-it-starts",
        "zero-hash",
        "short-hash",
        "lower-case-code",
    ],
)
def test_an_invalid_proposal_names_the_field(
    mn: ChainApp, overrides: dict[str, Any], field: str
) -> None:
    answer = write(mn, "/v1/mras", "bad", proposal(**overrides))
    body = assert_problem(answer, 422, "invalid")
    assert field in [error["field"] for error in body.get("errors", [])], body


@pytest.mark.slow
def test_a_proposal_ending_in_the_past_is_refused(mn: ChainApp) -> None:
    yesterday = days.from_day(days.today() - 1).isoformat()
    answer = write(mn, "/v1/mras", "past", proposal(effective_from="2024-01-01", ends_on=yesterday))
    body = assert_problem(answer, 422)
    assert body["errors"] == [{"field": "body.ends_on", "message": "must be today or later"}]


@pytest.mark.slow
def test_an_administration_that_is_not_a_party_cannot_change_an_mra(
    chain_app: ChainAppFactory, mn: ChainApp
) -> None:
    kz = chain_app("KZ")
    mra_id = propose_mra(mn.consortium, "MN", {"MN": S, "KR": S}, signers=())
    kz.settle()
    for action in ("sign", "suspend", "resume", "terminate"):
        body = assert_problem(write(kz, f"/v1/mras/{mra_id}/{action}", action), 403, "forbidden")
        assert body["detail"] == f"KZ is not a party to MRA {mra_id}"


@pytest.mark.slow
def test_signing_twice_or_an_unknown_mra_is_refused_before_the_chain(mn: ChainApp) -> None:
    mra_id = propose_mra(mn.consortium, "MN", {"MN": S, "KR": S}, signers=())
    mn.settle()
    assert assert_problem(write(mn, f"/v1/mras/{mra_id}/sign", "again"), 409)["chain_error"] == (
        "MraAlreadySigned"
    )
    assert_problem(write(mn, f"/v1/mras/{mra_id + 1}/sign", "unknown"), 404, "not-found")
    assert_problem(mn.client.get(f"/v1/mras/{mra_id + 1}", headers=mn.headers(Role.AUDITOR)), 404)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 202),
        (Role.MRA_OFFICER, 202),
        (Role.ISSUING_OFFICER, 403),
        (Role.AUDITOR, 403),
        (Role.BORDER_OFFICER, 403),
    ],
)
def test_only_mra_officers_and_admins_write_mras(mn: ChainApp, role: Role, status: int) -> None:
    answer = write(mn, "/v1/mras", f"by-{role.value}", proposal(), role=role)
    assert answer.status_code == status, answer.text


@pytest.mark.slow
def test_partners_cannot_see_or_write_mras(mn: ChainApp) -> None:
    token = mn.token(Role.PARTNER, partner_authority="KR")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "p"}
    assert_problem(mn.client.get("/v1/mras", headers=headers), 403)
    assert_problem(mn.client.post("/v1/mras", json=proposal(), headers=headers), 403)


@pytest.mark.slow
def test_the_list_filters_by_effective_status_and_party(
    chain_app: ChainAppFactory, mn: ChainApp
) -> None:
    day = chain_day(mn.consortium.chain)
    in_force = propose_mra(mn.consortium, "MN", {"MN": S, "KR": S})
    proposed = propose_mra(mn.consortium, "MN", {"MN": S, "KZ": S}, signers=())
    later = propose_mra(mn.consortium, "KR", {"KR": S, "MN": S}, effective_from=day + 30)
    mn.settle()
    headers = mn.headers(Role.AUDITOR)

    def ids_of(**params: Any) -> list[int]:
        answer = mn.client.get("/v1/mras", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["data"]]

    assert ids_of() == [in_force, proposed, later]
    assert ids_of(status="in_force") == [in_force]
    assert ids_of(status="proposed") == [proposed]
    assert ids_of(status="not_yet_in_force") == [later]
    assert ids_of(party="KZ") == [proposed]
    assert ids_of(limit=1, offset=1) == [proposed]
    assert_problem(mn.client.get("/v1/mras", params={"status": "live"}, headers=headers), 422)
