"""``POST /v1/recognition/batch`` on MN's registry: a KR partner asks by number and by the
identifiers it holds, and learns only what the MN-KR MRA (security tier) shares; MN's
officers ask for MN or for another member. One chain, real contracts, the real indexer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.domain import ids
from registry_api.db import Role

from .certificate_data import issue, post
from .conftest import ChainApp, ChainAppFactory
from .feed_support import C, S, propose_mra
from .support import assert_problem

# Slow, so not in `make test-fast`: a service with an MRA in force per test.
pytestmark = pytest.mark.slow

EORI = {"scheme": "EORI", "value": "DE123456789012345"}


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    service = chain_app("MN")
    officer = service.headers(Role.ISSUING_OFFICER)
    issue(service, officer, "MN-S", tiers=S, aliases=[EORI])
    issue(
        service,
        officer,
        "MN-C",
        tiers=C,
        aliases=[{"scheme": "NAT:KR-BRN", "value": "105-87-12345"}],
        holder={
            "legal_name": "Gobi Trans LLC",
            "address": {"street": "Seoul Street 4", "city": "Ulaanbaatar", "country": "MN"},
            "identification": {"scheme": "TIN", "number": "6000001"},
        },
    )
    propose_mra(service.consortium, "MN", {"MN": S, "KR": S})
    service.settle()
    return service


def partner(service: ChainApp, authority: str) -> dict[str, str]:
    token = service.token(Role.PARTNER, user=f"{authority} risk unit", partner_authority=authority)
    return {"Authorization": f"Bearer {token}"}


def batch(service: ChainApp, headers: dict[str, str], items: list[Any], **extra: Any) -> Any:
    return service.client.post(
        "/v1/recognition/batch", json={"items": items, **extra}, headers=headers
    )


def answers(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_a_partner_gets_answers_in_order_by_number_and_by_identifier(mn: ChainApp) -> None:
    response = batch(
        mn,
        partner(mn, "KR"),
        [
            {"number": "MN-S"},
            {"scheme": "eori", "value": "de 1234-5678-9012-345"},
            {"scheme": "TIN", "value": "5012345"},  # the holder's own identification
            {"number": "MN-NONE"},
        ],
    )
    body = response.json()
    first, by_alias, by_identification, unknown = answers(response)
    assert body["authority"] == "KR"
    assert body["count"] == 4
    assert body["as_of"]["block"] > 0
    assert first["item"] == {"number": "MN-S"}
    assert by_alias["item"] == EORI
    for answer in (first, by_alias, by_identification):
        assert answer["found"] is True
        assert (answer["issuer"], answer["number"], answer["status"]) == ("MN", "MN-S", "active")
        assert (answer["recognized"], answer["reason"], answer["mra_id"]) == (
            True,
            "recognized",
            1,
        )
        assert answer["certificate_id"] == "0x" + ids.certificate_id("MN", "MN-S").hex()
        assert (answer["valid_from"], answer["valid_until"]) == ("2025-01-15", "2028-01-14")
    assert unknown["found"] is False
    assert (unknown["recognized"], unknown["reason"]) == (False, "unknown_certificate")


def test_not_covered_and_unknown_answer_a_partner_byte_for_byte_alike(mn: ChainApp) -> None:
    kr = partner(mn, "KR")
    items = [
        {"number": "MN-C"},  # issued, but its tier is outside the MRA
        {"number": "MN-NOPE"},
        {"scheme": "NAT:KR-BRN", "value": "1058712345"},  # MN-C's alias
        {"scheme": "NAT:KR-BRN", "value": "1058700000"},
        {"issuer": "KZ", "number": "KZ-0001"},  # another issuer: never shown to a partner
    ]
    data = answers(batch(mn, kr, items))

    def without_item(answer: dict[str, Any]) -> bytes:
        rest = {key: value for key, value in answer.items() if key != "item"}
        return json.dumps(rest, sort_keys=True).encode()

    assert len({without_item(answer) for answer in data}) == 1
    assert data[0]["found"] is False


def test_officers_ask_for_their_administration_or_another_member(mn: ChainApp) -> None:
    officer = mn.headers(Role.MRA_OFFICER)
    own = answers(batch(mn, officer, [{"number": "MN-C"}]))
    assert (own[0]["found"], own[0]["reason"]) == (True, "own_certificate")
    as_kr = answers(batch(mn, officer, [{"number": "MN-C"}, {"number": "MN-S"}], authority="KR"))
    assert [(a["recognized"], a["reason"]) for a in as_kr] == [
        (False, "tier_not_covered"),
        (True, "recognized"),
    ]
    as_kz = answers(batch(mn, officer, [{"number": "MN-S"}], authority="KZ"))
    assert (as_kz[0]["found"], as_kz[0]["reason"]) == (True, "no_mra")


def test_a_suspension_reaches_the_partner_as_not_active(mn: ChainApp) -> None:
    suspended = post(
        mn.client,
        "/v1/certificates/MN-S/suspend",
        {"reason_code": 1},
        mn.headers(Role.ISSUING_OFFICER),
    )
    assert suspended.status_code == 202, suspended.text
    mn.settle()
    (answer,) = answers(batch(mn, partner(mn, "KR"), [EORI]))
    assert (answer["found"], answer["status"]) == (True, "suspended")
    assert (answer["recognized"], answer["reason"]) == (False, "certificate_not_active")


def test_a_partner_may_not_ask_for_another_administration(mn: ChainApp) -> None:
    problem = assert_problem(
        batch(mn, partner(mn, "KR"), [{"number": "MN-S"}], authority="KZ"), 403
    )
    assert problem["errors"] == [{"field": "body.authority", "message": "must be KR or left out"}]


def test_more_than_1000_items_are_refused_naming_the_field(mn: ChainApp) -> None:
    items = [{"number": f"MN-{i}"} for i in range(1001)]
    problem = assert_problem(batch(mn, partner(mn, "KR"), items), 422)
    assert [error["field"] for error in problem["errors"]] == ["body.items"]
    assert answers(batch(mn, partner(mn, "KR"), items[:1000]))[999]["item"] == {"number": "MN-999"}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"scheme": "VAT", "value": "1"}, "body.items[0].scheme"),
        ({"scheme": "EORI", "value": "--"}, "body.items[0].value"),
        ({"scheme": "EORI"}, "body.items[0]"),
        ({"number": "MN-S", "scheme": "EORI", "value": "1"}, "body.items[0]"),
        ({"number": "mn s"}, "body.items[0].number"),
        ({"scheme": "EORI", "value": "1", "issuer": "MN"}, "body.items[0]"),
        ({"number": "MN-S", "holder": "x"}, "body.items[0].holder"),
    ],
)
def test_a_bad_item_is_refused_naming_it(mn: ChainApp, item: dict[str, Any], field: str) -> None:
    problem = assert_problem(batch(mn, partner(mn, "KR"), [item]), 422)
    assert [error["field"] for error in problem["errors"]] == [field]
