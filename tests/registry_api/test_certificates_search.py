"""Searching certificates: every filter, pagination with a total, answers from the index."""

from __future__ import annotations

from typing import Any

import pytest

from registry_api.db import Role

from .certificate_data import issue, post
from .conftest import ChainApp, ChainAppFactory
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): many certificates issued per test.
pytestmark = pytest.mark.slow


def holder(name: str, number: str, scheme: str = "TIN") -> dict[str, Any]:
    return {
        "legal_name": name,
        "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
        "identification": {"scheme": scheme, "number": number},
    }


@pytest.fixture
def registry(chain_app: ChainAppFactory) -> ChainApp:
    """Five certificates: various holders, tiers, validity and statuses."""
    mn = chain_app("MN")
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, "MN-1", holder=holder("Tavan Bogd Trade LLC", "5012345"), tiers=2)
    issue(mn, officer, "MN-2", holder=holder("Gobi Cashmere JSC", "7000001"), tiers=1)
    issue(
        mn,
        officer,
        "MN-3",
        holder=holder("Tavan Bogd Foods LLC", "5012346", "EORI"),
        tiers=3,
        valid_from="2020-01-01",
        valid_until="2022-12-31",
    )
    issue(
        mn,
        officer,
        "MN-4",
        holder=holder("Erdenet Mining Corporation", "2000002"),
        tiers=16,
        valid_until=None,
    )
    issue(mn, officer, "MN-5", holder=holder("Khan Logistics LLC", "3000003"), tiers=2)
    post(mn.client, "/v1/certificates/MN-5/suspend", {"reason_code": 2}, officer)
    mn.settle()
    return mn


def numbers(mn: ChainApp, **query: Any) -> list[str]:
    response = mn.client.get("/v1/certificates", params=query, headers=mn.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] >= len(body["data"])
    return [item["number"] for item in body["data"]]


def test_search_by_number_and_holder_identification(registry: ChainApp) -> None:
    assert numbers(registry, number="MN-2") == ["MN-2"]
    assert numbers(registry, holder_id="5012345") == ["MN-1"]
    assert numbers(registry, holder_id="EORI:5012346") == ["MN-3"]
    assert numbers(registry, holder_id="TIN:5012346") == []


def test_search_by_a_part_of_the_holder_name_ignores_case(registry: ChainApp) -> None:
    assert numbers(registry, holder_name="tavan bogd") == ["MN-1", "MN-3"]
    assert numbers(registry, holder_name="100%") == []


def test_search_by_status_reads_expiry_from_the_dates(registry: ChainApp) -> None:
    assert numbers(registry, status="suspended") == ["MN-5"]
    assert numbers(registry, status="expired") == ["MN-3"]
    assert numbers(registry, status="active") == ["MN-1", "MN-2", "MN-4"]


def test_search_by_tier_matches_any_bit(registry: ChainApp) -> None:
    assert numbers(registry, tier=1) == ["MN-2", "MN-3"]
    assert numbers(registry, tier=16) == ["MN-4"]


def test_search_by_validity_window_counts_renewals(registry: ChainApp) -> None:
    assert numbers(registry, valid_from="2029-01-01") == ["MN-4"]
    assert numbers(registry, valid_to="2021-06-01") == ["MN-3"]
    officer = registry.headers(Role.ISSUING_OFFICER)
    post(registry.client, "/v1/certificates/MN-1/renew", {"valid_until": "2031-01-14"}, officer)
    registry.settle()
    assert numbers(registry, valid_from="2029-01-01") == ["MN-1", "MN-4"]


def test_search_pages_carry_the_total(registry: ChainApp) -> None:
    headers = registry.headers(Role.AUDITOR)
    first = registry.client.get("/v1/certificates?limit=3", headers=headers).json()
    second = registry.client.get("/v1/certificates?limit=3&offset=3", headers=headers).json()
    assert first["count"] == second["count"] == 5
    assert [c["number"] for c in first["data"] + second["data"]] == [
        "MN-1",
        "MN-2",
        "MN-3",
        "MN-4",
        "MN-5",
    ]
    summary = first["data"][0]
    assert summary["holder_identification"] == "TIN:5012345"
    assert summary["effective_status"] == "active"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "query.status"),
        ("tier=64", "query.tier"),
        ("valid_from=2030-01-01&valid_to=2029-01-01", "query.valid_to"),
        ("limit=0", "query.limit"),
        ("valid_from=not-a-date", "query.valid_from"),
    ],
)
def test_bad_search_parameters_name_the_parameter(
    chain_app: ChainAppFactory, query: str, field: str
) -> None:
    mn = chain_app("MN")
    response = mn.client.get(f"/v1/certificates?{query}", headers=mn.headers(Role.AUDITOR))
    assert assert_problem(response, 422, "invalid")["errors"][0]["field"] == field
