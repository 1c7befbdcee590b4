"""The console's home page figures."""

from __future__ import annotations

import re

import pytest

from registry_api.db import Role

from ..certificate_data import idem, record_body
from .certificate_support import Officers, officers

__all__ = ["officers"]


def figure(html: str, name: str) -> int:
    found = re.search(rf'id="{name}">([\d,]+)<', html)
    assert found is not None, name
    return int(found.group(1).replace(",", ""))


def test_the_home_page_counts_by_status_and_tier_pending_and_expiring(
    officers: Officers,
) -> None:
    officers.issue("MN-AEO-2025-0001", tiers=3)
    # valid until tomorrow: expires within 30 days
    officers.issue("MN-AEO-2025-0002", tiers=2, valid_from="2025-01-01", valid_until=_soon())
    officers.mn.client.post(
        "/v1/certificates/MN-AEO-2025-0002/suspend",
        json={"reason_code": 1},
        headers=officers.mn.headers(**idem()),
    )
    officers.mn.settle()
    # accepted, not yet sent: a pending operation and a pending certificate
    officers.mn.client.post(
        "/v1/certificates",
        json=record_body("MN-AEO-2025-0003"),
        headers=officers.mn.headers(**idem()),
    )
    home = officers.client(Role.AUDITOR).get("/console/dashboard").text
    assert figure(home, "status-active") == 1
    assert figure(home, "status-suspended") == 1
    assert figure(home, "status-pending") == 1
    assert figure(home, "status-revoked") == 0
    assert figure(home, "tier-C") == 1
    assert figure(home, "tier-S") == 2
    assert figure(home, "pending-operations") == 1
    # the suspended one expires soon but is not in force: only active ones count
    assert figure(home, "expiring") == 0
    assert 'href="/console/certificates?status=suspended"' in home


def test_an_active_certificate_ending_within_30_days_counts_as_expiring(
    officers: Officers,
) -> None:
    officers.issue("MN-AEO-2025-0001", valid_from="2025-01-01", valid_until=_soon())
    officers.issue("MN-AEO-2025-0002", valid_until="2099-01-01")
    home = officers.client(Role.ISSUING_OFFICER).get("/console/dashboard").text
    assert figure(home, "expiring") == 1


def test_the_latest_partner_changes_come_from_the_chain_index(officers: Officers) -> None:
    kr = officers.partner("KR")
    answer = kr.client.post(
        "/v1/certificates", json=record_body("KR-AEO-0001"), headers=kr.headers(**idem())
    )
    assert answer.status_code == 202
    kr.settle()
    officers.mn.settle()
    home = officers.client(Role.MRA_OFFICER).get("/console/dashboard").text
    assert re.search(r"<td>KR</td><td>KR-AEO-0001</td><td>issued</td>", home)


def test_the_home_page_loads_the_figures_after_itself(officers: Officers) -> None:
    client = officers.client(Role.AUDITOR)
    home = client.get("/console/").text
    assert 'hx-get="/console/dashboard" hx-trigger="load"' in home
    assert 'href="/console/dashboard"' in home  # without JavaScript, a link
    fragment = client.get("/console/dashboard", headers={"HX-Request": "true"}).text
    assert fragment.startswith('<div id="dashboard">')
    assert "<html" not in fragment
    assert "<html" in client.get("/console/dashboard").text


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BORDER_OFFICER])
def test_partners_and_border_officers_see_no_figures(officers: Officers, role: Role) -> None:
    officers.issue()
    client = officers.client(role)
    home = client.get("/console/")
    assert home.status_code == 200
    assert "/console/dashboard" not in home.text
    assert client.get("/console/dashboard").status_code == 403


def _soon() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
