"""The certificates search page and a certificate's page."""

from __future__ import annotations

import re

import pytest

from registry_api.db import Role

from .certificate_support import Officers, officers

__all__ = ["officers"]

LINK = 'href="/console/certificates/{}"'


def _holder(name: str, tin: str) -> dict[str, object]:
    return {
        "legal_name": name,
        "address": {"street": "Peace Avenue 1", "city": "Ulaanbaatar", "country": "MN"},
        "identification": {"scheme": "TIN", "number": tin},
    }


def test_search_finds_by_a_part_of_the_holder_name(officers: Officers) -> None:
    officers.issue("MN-AEO-2025-0001")
    officers.issue("MN-AEO-2025-0002", holder=_holder("Gobi Cashmere LLC", "777"))
    page = officers.client(Role.AUDITOR).get("/console/certificates?holder_name=gobi")
    assert page.status_code == 200
    assert LINK.format("MN-AEO-2025-0002") in page.text
    assert LINK.format("MN-AEO-2025-0001") not in page.text
    assert "1 certificate matches." in page.text


def test_search_finds_by_identifier_tier_and_status(officers: Officers) -> None:
    officers.issue("MN-AEO-2025-0001", tiers=1)
    officers.issue("MN-AEO-2025-0002", tiers=2, holder=_holder("Gobi Cashmere LLC", "777"))
    client = officers.client(Role.ISSUING_OFFICER)
    by_id = client.get("/console/certificates?holder_id=TIN:777").text
    assert LINK.format("MN-AEO-2025-0002") in by_id
    assert LINK.format("MN-AEO-2025-0001") not in by_id
    by_tier = client.get("/console/certificates?tier=1").text
    assert LINK.format("MN-AEO-2025-0001") in by_tier
    assert LINK.format("MN-AEO-2025-0002") not in by_tier
    suspended = client.get("/console/certificates?status=suspended").text
    assert "No certificate matches." in suspended


def test_search_pages_by_number_after_the_last_one_shown(
    officers: Officers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from registry_api.console import certificates

    monkeypatch.setattr(certificates, "PAGE_SIZE", 2)
    for i in range(1, 4):
        officers.issue(f"MN-AEO-2025-000{i}", holder=_holder(f"Trader {i}", f"10{i}"))
    client = officers.client(Role.AUDITOR)
    first = client.get("/console/certificates").text
    assert LINK.format("MN-AEO-2025-0002") in first
    assert LINK.format("MN-AEO-2025-0003") not in first
    next_link = re.search(r'href="(/console/certificates\?[^"]*after=[^"]+)" rel="next"', first)
    assert next_link is not None
    second = client.get(next_link.group(1).replace("&amp;", "&")).text
    assert LINK.format("MN-AEO-2025-0003") in second
    assert LINK.format("MN-AEO-2025-0001") not in second
    assert 'rel="next"' not in second


def test_an_htmx_search_answers_the_results_and_the_field_messages_only(
    officers: Officers,
) -> None:
    officers.issue()
    client = officers.client(Role.AUDITOR)
    headers = {"HX-Request": "true", "HX-Target": "results"}
    answer = client.get("/console/certificates?number=MN-AEO-2025-0001", headers=headers)
    assert answer.status_code == 200
    assert "<html" not in answer.text
    assert 'id="results"' in answer.text
    assert 'id="number-slot" class="field__slot" hx-swap-oob="true"' in answer.text
    assert LINK.format("MN-AEO-2025-0001") in answer.text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("valid_from=2026-02-30", "valid_from", "Enter a real date, like 2027-03-31"),
        ("valid_from=2026-05-01&valid_to=2026-04-01", "valid_to", "must not be before its start"),
        ("status=sleeping", "status", "Choose a status from the list"),
        ("tier=64", "tier", "Choose a tier from the list"),
        ("number=" + "X" * 40, "number", "at most 32 characters"),
    ],
)
def test_bad_search_input_shows_the_message_next_to_the_field_and_keeps_it(
    officers: Officers, query: str, field: str, message: str
) -> None:
    answer = officers.client(Role.AUDITOR).get(f"/console/certificates?{query}")
    assert answer.status_code == 400
    slot = re.search(rf'<div id="{field}-slot" class="field__slot">(.*?)</div>', answer.text, re.S)
    assert slot is not None
    assert message in slot.group(1)
    typed = query.split("&")[-1].split("=", 1)[1]
    if field not in {"status", "tier"}:
        assert f'value="{typed}"' in answer.text
    assert "Correct the search to see certificates." in answer.text


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BORDER_OFFICER])
def test_partners_and_border_officers_cannot_search_this_administrations_certificates(
    officers: Officers, role: Role
) -> None:
    officers.issue()
    client = officers.client(role)
    for path in ("/console/certificates", "/console/certificates/MN-AEO-2025-0001"):
        answer = client.get(path)
        assert answer.status_code == 403
        assert "MN-AEO-2025-0001" not in answer.text.replace(path, "")
    assert 'href="/console/certificates"' not in client.get("/console/").text


def test_a_certificates_page_shows_its_record_timeline_and_documents(
    officers: Officers,
) -> None:
    officers.issue()
    page = officers.client(Role.AUDITOR).get("/console/certificates/MN-AEO-2025-0001")
    assert page.status_code == 200
    text = page.text
    assert "Tavan Bogd Trade LLC" in text
    assert "TIN:5012345" in text
    assert "Ulaanbaatar Customs House" in text
    # the timeline: the issue, who asked (the API key's user), its transaction and block
    assert re.search(r"<td>Issued</td>\s*<td>issuing_officer of MN</td>", text)
    assert re.search(r'<code class="hash" title="0x[0-9a-f]{64}">', text)
    assert '<span class="tag tag--confirmed">Confirmed</span>' in text
    assert 'src="/console/certificates/MN-AEO-2025-0001/qr.png"' in text
    # an auditor reads; it is offered no change
    assert "/MN-AEO-2025-0001/suspend" not in text


def test_the_documents_download_as_png_pdf_and_signed_text(officers: Officers) -> None:
    officers.register_signing_key()
    officers.issue()
    client = officers.client(Role.AUDITOR)
    base = "/console/certificates/MN-AEO-2025-0001"
    png = client.get(f"{base}/qr.png")
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    pdf = client.get(f"{base}/certificate.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    payload = client.get(f"{base}/payload")
    assert payload.text.startswith("AEO1:")
    api = officers.mn.client.get(
        "/v1/certificates/MN-AEO-2025-0001/payload", headers=officers.mn.headers(Role.AUDITOR)
    )
    assert payload.text == api.text


def test_a_pending_certificate_has_no_documents_yet(officers: Officers) -> None:
    from ..certificate_data import idem, record_body

    officers.mn.client.post(
        "/v1/certificates", json=record_body(), headers=officers.mn.headers(**idem())
    )
    client = officers.client(Role.AUDITOR)
    page = client.get("/console/certificates/MN-AEO-2025-0001").text
    assert "The documents are available once the chain has confirmed the issue." in page
    assert '<span class="tag tag--pending">Pending</span>' in page
    answer = client.get("/console/certificates/MN-AEO-2025-0001/qr.png")
    assert answer.status_code == 409
    assert "<html" in answer.text


@pytest.mark.parametrize("number", ["MN-AEO-2099-9999", "not a number", "a" * 40])
def test_an_unknown_or_malformed_number_is_the_404_page(officers: Officers, number: str) -> None:
    answer = officers.client(Role.AUDITOR).get(f"/console/certificates/{number}")
    assert answer.status_code == 404
    assert "Page not found" in answer.text
