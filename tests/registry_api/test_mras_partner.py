"""Two administrations on one chain: MN issues, KR (a partner under an MRA in force) reads
the full records and follows the change; what KR may not read answers 404, like what does
not exist, and other administrations see nothing."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.domain import days, ids
from registry_api.db import Role

from .certificate_data import issue, post, record_body
from .conftest import ChainApp, ChainAppFactory
from .feed_support import C, S, propose_mra
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): two services with an MRA in force per
# test.
pytestmark = pytest.mark.slow


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    service = chain_app("MN")
    officer = service.headers(Role.ISSUING_OFFICER)
    issue(service, officer, "MN-S", tiers=S)
    issue(service, officer, "MN-C", tiers=C)
    issue(service, officer, "MN-SC", tiers=S | C)
    propose_mra(service.consortium, "MN", {"MN": S, "KR": S})
    service.settle()
    return service


def partner(service: ChainApp, authority: str) -> dict[str, str]:
    token = service.token(Role.PARTNER, user=f"{authority} risk unit", partner_authority=authority)
    return {"Authorization": f"Bearer {token}"}


def shared(service: ChainApp, headers: dict[str, str]) -> dict[str, Any]:
    answer = service.client.get("/v1/partner/certificates", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_partner_reads_the_full_records_its_mra_covers(mn: ChainApp) -> None:
    kr = partner(mn, "KR")
    listing = shared(mn, kr)
    assert listing["count"] == 2
    assert [item["number"] for item in listing["data"]] == ["MN-S", "MN-SC"]
    one = mn.client.get("/v1/partner/certificates/MN-S", headers=kr).json()
    sent = record_body("MN-S", tiers=S)
    assert one["record"] == {
        "issuer": "MN",
        **sent,
        "business_roles": ["EX", "IM"],
        "aliases": [],  # record v2's field, empty for a record that has none
    }
    assert (one["status"], one["effective_status"], one["version"]) == ("active", "active", 1)
    assert one["certificate_id"] == "0x" + ids.certificate_id("MN", "MN-S").hex()
    assert one["proof_matches"] is True
    assert one["valid_until"] == sent["valid_until"]


def test_what_a_partner_may_not_read_looks_like_what_does_not_exist(mn: ChainApp) -> None:
    kr = partner(mn, "KR")
    uncovered = assert_problem(mn.client.get("/v1/partner/certificates/MN-C", headers=kr), 404)
    missing = assert_problem(mn.client.get("/v1/partner/certificates/MN-NONE", headers=kr), 404)
    assert uncovered["detail"] == "no certificate MN-C is shared with KR"
    assert missing["detail"] == "no certificate MN-NONE is shared with KR"
    assert set(uncovered) == set(missing)

    kz = partner(mn, "KZ")  # no MRA with MN
    assert shared(mn, kz) == {"data": [], "count": 0}
    assert_problem(mn.client.get("/v1/partner/certificates/MN-S", headers=kz), 404)


def test_the_partner_sees_the_suspension_in_the_record_and_the_feed(mn: ChainApp) -> None:
    kr = partner(mn, "KR")
    cursor = mn.client.get("/v1/feed", params={"limit": 500}, headers=kr).json()["next_cursor"]
    answer = post(
        mn.client,
        "/v1/certificates/MN-S/suspend",
        {"reason_code": 1, "remedy_deadline": "2030-06-30"},
        mn.headers(Role.ISSUING_OFFICER),
    )
    assert answer.status_code == 202, answer.text
    mn.settle()

    record = mn.client.get("/v1/partner/certificates/MN-S", headers=kr).json()
    assert (record["status"], record["effective_status"]) == ("suspended", "suspended")
    assert (record["status_reason"], record["remedy_deadline"]) == (1, "2030-06-30")
    assert record["proof_matches"] is True
    news = mn.client.get("/v1/feed", params={"after": cursor}, headers=kr).json()["data"]
    assert [(e["kind"], e["number"]) for e in news] == [("certificate.suspended", "MN-S")]
    assert news[0]["payload"]["certificate"]["status"] == "suspended"


def test_nothing_is_shared_while_the_mra_is_suspended(mn: ChainApp) -> None:
    kr = partner(mn, "KR")
    mras = mn.client.get("/v1/mras", headers=mn.headers(Role.AUDITOR)).json()["data"]
    mn.consortium.operator("KR").suspend_mra(mras[0]["id"])
    mn.settle()
    assert shared(mn, kr) == {"data": [], "count": 0}
    assert_problem(mn.client.get("/v1/partner/certificates/MN-S", headers=kr), 404)


def test_an_mra_not_yet_in_force_shares_nothing(chain_app: ChainAppFactory) -> None:
    service = chain_app("MN")
    issue(service, service.headers(Role.ISSUING_OFFICER), "MN-S", tiers=S)
    day = days.today()
    propose_mra(service.consortium, "MN", {"MN": S, "KR": S}, effective_from=day + 3)
    service.settle()
    assert shared(service, partner(service, "KR"))["count"] == 0


@pytest.mark.parametrize(
    "role", [Role.ADMIN, Role.AUDITOR, Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.BORDER_OFFICER]
)
def test_partner_routes_are_for_partner_keys_only(mn: ChainApp, role: Role) -> None:
    headers = mn.headers(role)
    assert_problem(mn.client.get("/v1/partner/certificates", headers=headers), 403)
    assert_problem(mn.client.get("/v1/partner/certificates/MN-S", headers=headers), 403)


def test_a_partner_sees_no_internal_route(mn: ChainApp) -> None:
    kr = partner(mn, "KR")
    assert_problem(mn.client.get("/v1/certificates/MN-S", headers=kr), 403)
    assert_problem(mn.client.get("/v1/recognition/MN/MN-S", headers=kr), 403)
