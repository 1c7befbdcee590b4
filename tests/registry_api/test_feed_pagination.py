"""The event feed: cursor pages that are stable and complete, and each caller sees only its
share (staff everything; a partner its certificates under an MRA in force, its MRAs)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.domain import days, ids
from contracts.domain.enums import ReasonCode
from registry_api.db import Role

from .conftest import ChainApp, ChainAppFactory
from .feed_support import C, S, issue, propose_mra, record
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): builds a long feed on the chain.
pytestmark = pytest.mark.slow


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def amend(service: ChainApp, number: str, tiers: int) -> None:
    full = record("MN", number, tiers, days.from_day(days.today() - 30))
    hashes = full.hashes()
    service.consortium.operator("MN").amend(
        ids.certificate_id("MN", number),
        tiers,
        hashes.holder_ref,
        hashes.commitment,
        ReasonCode.TIER_CHANGE,
    )


def read_all(service: ChainApp, headers: dict[str, str], limit: int, after: int = 0) -> Any:
    """Every page from ``after`` on; returns (entries, final cursor, pages read)."""
    entries: list[dict[str, Any]] = []
    pages = 0
    while True:
        answer = service.client.get(
            "/v1/feed", params={"after": after, "limit": limit}, headers=headers
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += 1
        assert len(page["data"]) <= limit
        entries += page["data"]
        assert page["next_cursor"] >= after
        after = page["next_cursor"]
        if not page["has_more"]:
            return entries, after, pages


@pytest.fixture
def world(mn: ChainApp) -> dict[str, int]:
    """MN's certificates and MRAs: KR recognizes MN's S tier, KZ MN's C tier."""
    c = mn.consortium
    mras = {
        "KR": propose_mra(c, "MN", {"MN": S, "KR": S}),
        "KZ": propose_mra(c, "KZ", {"KZ": S, "MN": C}),
    }
    issue(c, "MN-1", S)  # KR
    issue(c, "MN-2", C)  # KZ
    issue(c, "MN-3", S | C)  # both
    issue(c, "MN-4", C)  # KZ, then KR too once amended to S
    amend(mn, "MN-4", S)
    issue(c, "MN-5", S)  # KR, and KZ too once amended to C
    amend(mn, "MN-5", C)
    c.operator("MN").suspend(ids.certificate_id("MN", "MN-1"), ReasonCode.FAILED_AUDIT)
    mn.settle()
    return mras


def test_pages_of_any_size_give_every_entry_once_in_order(
    mn: ChainApp, world: dict[str, int]
) -> None:
    headers = mn.headers(Role.AUDITOR)
    everything, cursor, _ = read_all(mn, headers, limit=500)
    sequences = [entry["sequence"] for entry in everything]
    assert sequences == sorted(set(sequences))
    assert cursor == sequences[-1]
    kinds = {entry["kind"] for entry in everything}
    assert {"certificate.issued", "certificate.amended", "certificate.suspended"} <= kinds
    assert {"mra.proposed", "mra.signed", "mra.in_force", "authority.admitted"} <= kinds
    for limit in (1, 3, 7):
        paged, paged_cursor, pages = read_all(mn, headers, limit=limit)
        assert paged == everything
        assert paged_cursor == cursor
        assert pages >= len(everything) // limit


def test_a_cursor_keeps_its_place_while_new_entries_arrive(
    mn: ChainApp, world: dict[str, int]
) -> None:
    headers = mn.headers(Role.ADMIN)
    first = mn.client.get("/v1/feed", params={"limit": 4}, headers=headers).json()
    issue(mn.consortium, "MN-6", S)
    issue(mn.consortium, "MN-7", C)
    mn.settle()
    rest, _, _ = read_all(mn, headers, limit=4, after=first["next_cursor"])
    everything, _, _ = read_all(mn, headers, limit=500)
    assert first["data"] + rest == everything
    assert [e["number"] for e in everything if e["kind"] == "certificate.issued"][-2:] == [
        "MN-6",
        "MN-7",
    ]


def shares(mn: ChainApp, partner: str) -> list[dict[str, Any]]:
    token = mn.token(Role.PARTNER, user=f"{partner} risk unit", partner_authority=partner)
    entries, _, _ = read_all(mn, {"Authorization": f"Bearer {token}"}, limit=2)
    return entries


def test_a_partner_sees_its_certificates_and_its_mras_only(
    mn: ChainApp, world: dict[str, int]
) -> None:
    kr = shares(mn, "KR")
    assert {e["number"] for e in kr if e["kind"].startswith("certificate.")} == {
        "MN-1",
        "MN-3",
        "MN-4",
        "MN-5",
    }
    # The amendment that took MN-5 out of KR's cover is part of what KR must see.
    assert [e["tiers"] for e in kr if e["number"] == "MN-5"] == [S, C]
    assert {e["payload"]["mra"]["mra_id"] for e in kr if e["kind"].startswith("mra.")} == {
        world["KR"]
    }
    assert {e["kind"].split(".")[0] for e in kr} == {"certificate", "mra"}

    kz = shares(mn, "KZ")
    assert {e["number"] for e in kz if e["kind"].startswith("certificate.")} == {
        "MN-2",
        "MN-3",
        "MN-4",
        "MN-5",
    }
    assert {e["payload"]["mra"]["mra_id"] for e in kz if e["kind"].startswith("mra.")} == {
        world["KZ"]
    }


def test_a_partner_without_an_mra_in_force_sees_no_certificate(mn: ChainApp) -> None:
    c = mn.consortium
    mra_id = propose_mra(c, "MN", {"MN": S, "KR": S})
    issue(c, "MN-1", S)
    c.operator("KR").suspend_mra(mra_id)
    mn.settle()
    kr = shares(mn, "KR")
    assert kr
    assert all(entry["kind"].startswith("mra.") for entry in kr)
    assert shares(mn, "KZ") == []


def test_an_empty_page_still_moves_the_cursor_to_the_head(
    mn: ChainApp, world: dict[str, int]
) -> None:
    issue(mn.consortium, "MN-9", C)  # not KR's to see: the feed ends with what KR skips
    mn.settle()
    staff, head, _ = read_all(mn, mn.headers(Role.AUDITOR), limit=500)
    token = mn.token(Role.PARTNER, partner_authority="KR")
    headers = {"Authorization": f"Bearer {token}"}
    last_shared = shares(mn, "KR")[-1]["sequence"]
    assert last_shared < head
    page = mn.client.get("/v1/feed", params={"after": last_shared}, headers=headers).json()
    assert page == {"data": [], "next_cursor": head, "has_more": False}
    beyond = mn.client.get("/v1/feed", params={"after": head + 100}, headers=headers).json()
    assert beyond == {"data": [], "next_cursor": head + 100, "has_more": False}
    assert staff[-1]["sequence"] == head


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": -1}, "query.after"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
    ],
)
def test_a_bad_cursor_or_limit_names_the_parameter(
    mn: ChainApp, params: dict[str, int], field: str
) -> None:
    answer = mn.client.get("/v1/feed", params=params, headers=mn.headers(Role.AUDITOR))
    assert [e["field"] for e in assert_problem(answer, 422)["errors"]] == [field]


def test_border_officers_do_not_read_the_feed(mn: ChainApp) -> None:
    assert_problem(mn.client.get("/v1/feed", headers=mn.headers(Role.BORDER_OFFICER)), 403)
    assert_problem(mn.client.get("/v1/feed"), 401)


def out_of_cover_and_back(service: ChainApp, number: str = "MN-20") -> list[tuple[str, int]]:
    """A certificate KR's MRA covers (tier S), amended out of cover (C) and back in (S|C),
    with status changes in each phase. Returns (kind, tiers) of the entries KR may see:
    everything while covered, the amendment that takes it out, nothing while out, and
    everything again from the amendment that brings it back."""
    c = service.consortium
    certificate_id = ids.certificate_id("MN", number)
    operator = c.operator("MN")
    issue(c, number, S)
    operator.suspend(certificate_id, ReasonCode.FAILED_AUDIT)
    operator.reinstate(certificate_id, ReasonCode.REMEDIED)
    amend(service, number, C)
    operator.suspend(certificate_id, ReasonCode.NON_COMPLIANCE)  # not KR's to see
    operator.reinstate(certificate_id, ReasonCode.REMEDIED)  # nor this
    amend(service, number, S | C)
    operator.suspend(certificate_id, ReasonCode.FAILED_AUDIT)
    service.settle()
    return [
        ("certificate.issued", S),
        ("certificate.suspended", S),
        ("certificate.reinstated", S),
        ("certificate.amended", C),
        ("certificate.amended", S | C),
        ("certificate.suspended", S | C),
    ]


def test_a_partner_sees_a_certificate_only_while_its_tiers_are_covered(mn: ChainApp) -> None:
    propose_mra(mn.consortium, "MN", {"MN": S, "KR": S})
    expected = out_of_cover_and_back(mn)

    staff, _, _ = read_all(mn, mn.headers(Role.AUDITOR), limit=500)
    assert len([e for e in staff if e["number"] == "MN-20"]) == 8
    for limit in (1, 2, 500):  # whatever the page size
        token = mn.token(Role.PARTNER, partner_authority="KR")
        kr, _, _ = read_all(mn, {"Authorization": f"Bearer {token}"}, limit=limit)
        seen = [(e["kind"], e["tiers"]) for e in kr if e["kind"].startswith("certificate.")]
        assert seen == expected
    # KZ recognizes no tier of MN's: none of it, even while the certificate was C.
    assert [e for e in shares(mn, "KZ") if e["kind"].startswith("certificate.")] == []
