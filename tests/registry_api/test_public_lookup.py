"""The public lookup, unauthenticated: valid / not valid with the holder's name, tiers and
dates only where the holder consented, ``unknown`` alike for no consent and no certificate;
limited per client address; cacheable; the page. One chain, the real indexer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts.bootstrap import Consortium
from registry_api.db import Role
from registry_api.limits import PUBLIC_QR_BODY_BYTES
from registry_api.rendering.pdf import DEFAULT_VERIFICATION_URL, verification_url

from .certificate_data import issue, post
from .conftest import ChainApp
from .feed_support import S
from .registry_support import open_registry, register_key_on_chain
from .support import assert_problem
from .test_documents_rendering import pdf_text

# Slow, so not in `make test-fast`: a service with issued certificates per test.
pytestmark = pytest.mark.slow

EORI = {"scheme": "EORI", "value": "DE123456789012345"}


@pytest.fixture
def mn(tmp_path: Path, consortium: Consortium) -> Iterator[ChainApp]:
    with ExitStack() as stack:
        service = open_registry(
            stack, tmp_path, consortium, "MN", public_lookup_burst=3, public_lookup_per_minute=1
        )
        yield populated(service)


def populated(service: ChainApp) -> ChainApp:
    """MN-P (consented, an EORI alias), MN-N (no consent), MN-R (consented, revoked); the
    signing key on chain, so that QR codes can be printed."""
    register_key_on_chain(service)
    officer = service.headers(Role.ISSUING_OFFICER)
    issue(service, officer, "MN-P", tiers=S, aliases=[EORI], public_consent={"date": "2025-01-10"})
    issue(service, officer, "MN-N", tiers=S)
    issue(service, officer, "MN-R", tiers=S, public_consent={"date": "2025-01-10"})
    revoked = post(
        service.client,
        "/v1/certificates/MN-R/revoke",
        {"reason_code": 5},
        service.headers(Role.ISSUING_OFFICER),
    )
    assert revoked.status_code == 202, revoked.text
    service.settle()
    return service


def lookup(service: ChainApp, *queries: str) -> Any:
    return service.client.get("/public/lookup.json", params={"q": list(queries)})


def test_a_consenting_holder_is_shown_and_the_others_answer_alike(mn: ChainApp) -> None:
    response = lookup(mn, "MN-P", "eori:de 1234 5678 9012 345", "MN-N", "MN-NONE", "MN-R")
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "public, max-age=60"
    body = response.json()
    assert body["issuer"] == "MN"
    by_number, by_alias, no_consent, unknown, revoked = body["data"]
    shown = {
        "result": "valid",
        "holder_name": "Tavan Bogd Trade LLC",
        "tiers": ["S"],
        "valid_from": "2025-01-15",
        "valid_until": "2028-01-14",
    }
    assert by_number == {"query": "MN-P", **shown}
    assert by_alias == {"query": "eori:de 1234 5678 9012 345", **shown}
    assert {k: v for k, v in no_consent.items() if k != "query"} == {
        k: v for k, v in unknown.items() if k != "query"
    }
    assert no_consent["result"] == "unknown"
    assert no_consent["holder_name"] is None
    assert (revoked["result"], revoked["holder_name"]) == ("not_valid", "Tavan Bogd Trade LLC")
    # Never the address nor other identifiers of the record.
    assert "Peace Avenue" not in response.text
    assert "5012345" not in response.text


def test_over_the_limit_a_client_gets_a_429_problem(mn: ChainApp) -> None:
    for _ in range(3):
        assert lookup(mn, "MN-P").status_code == 200
    problem = assert_problem(lookup(mn, "MN-P"), 429)
    assert problem["detail"].startswith("too many lookups from this address")
    assert int(problem["retry_after"]) >= 1


@pytest.mark.parametrize(
    ("queries", "field"),
    [
        ((), "query.q"),
        (tuple(f"MN-{i}" for i in range(11)), "query.q"),
        (("VAT:123",), "query.q[0]"),
        (("MN-P", "MN P?"), "query.q[1]"),
        (("X" * 97,), "query.q[0]"),
    ],
)
def test_bad_input_is_refused_naming_the_query(
    mn: ChainApp, queries: tuple[str, ...], field: str
) -> None:
    problem = assert_problem(lookup(mn, *queries), 422)
    assert [error["field"] for error in problem["errors"]] == [field]


def test_the_page_answers_without_javascript_and_names_bad_input(mn: ChainApp) -> None:
    empty = mn.client.get("/public/lookup")
    assert empty.status_code == 200
    assert '<textarea id="q" name="q"' in empty.text
    answered = mn.client.get("/public/lookup", params={"q": "MN-P\nMN-N"})
    assert answered.status_code == 200
    assert answered.headers["Cache-Control"] == "public, max-age=60"
    assert "Tavan Bogd Trade LLC" in answered.text
    assert answered.text.count('data-result="unknown"') == 1
    refused = mn.client.get("/public/lookup", params={"q": "VAT:1"})
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    # the message is next to the field too, and the field points to it
    assert '<p class="error-message" id="q-error">' in refused.text
    assert 'aria-describedby="q-error"' in refused.text


def document(service: ChainApp, number: str, name: str) -> Any:
    response = service.client.get(
        f"/v1/certificates/{number}/{name}", headers=service.headers(Role.AUDITOR)
    )
    assert response.status_code == 200, response.text
    return response


def test_a_pasted_qr_text_answers_as_its_certificate_number(mn: ChainApp) -> None:
    text = document(mn, "MN-P", "payload").text
    answered = mn.client.post("/public/lookup", data={"payload": text})
    assert answered.status_code == 200, answered.text
    assert "Tavan Bogd Trade LLC" in answered.text
    assert '<td>MN-P</td><td class="valid" data-result="valid">' in answered.text
    # The certificate without consent answers unknown through its QR code as by its number.
    hidden = mn.client.post(
        "/public/lookup", data={"payload": document(mn, "MN-N", "payload").text}
    )
    assert hidden.status_code == 200
    assert 'data-result="unknown"' in hidden.text
    assert "Tavan Bogd Trade LLC" not in hidden.text


def test_a_photo_of_the_qr_code_answers_as_its_certificate_number(mn: ChainApp) -> None:
    png = document(mn, "MN-P", "qr.png").content
    answered = mn.client.post("/public/lookup", files={"photo": ("qr.png", png, "image/png")})
    assert answered.status_code == 200, answered.text
    assert '<td>MN-P</td><td class="valid" data-result="valid">' in answered.text


@pytest.mark.parametrize(
    ("form", "files", "field", "message"),
    [
        ({}, {}, "payload", "Paste the QR code&#x27;s text or choose a photo of it"),
        ({"payload": "AEO1:NOT BASE45%%"}, {}, "payload", "is not an AEO certificate"),
        ({"payload": "AEO1:" + "A" * 5000}, {}, "payload", "is longer than any QR code holds"),
        ({}, {"photo": ("a.png", b"not a picture", "image/png")}, "photo", "not a PNG, JPEG"),
    ],
)
def test_an_unreadable_qr_code_is_named_next_to_its_field(
    mn: ChainApp, form: dict[str, str], files: dict[str, Any], field: str, message: str
) -> None:
    refused = mn.client.post("/public/lookup", data=form, files=files or None)
    assert refused.status_code == 422, refused.text
    assert f'<p class="error-message" id="{field}-error">' in refused.text
    assert message in refused.text
    assert f'<a href="#{field}">' in refused.text


def test_the_page_over_the_limit_shows_a_429_page(mn: ChainApp) -> None:
    for _ in range(3):
        assert mn.client.get("/public/lookup", params={"q": "MN-P"}).status_code == 200
    refused = mn.client.get("/public/lookup", params={"q": "MN-P"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many lookups from your address" in refused.text
    # the QR form shares the same budget
    assert mn.client.post("/public/lookup", data={"payload": "x"}).status_code == 429


def test_the_pdf_points_to_the_public_lookup_when_its_address_is_set() -> None:
    assert verification_url(None, "MN-AEO-1") == DEFAULT_VERIFICATION_URL
    assert (
        verification_url("https://aeo.customs.example/", "MN/AEO 1")
        == "https://aeo.customs.example/public/lookup?q=MN%2FAEO%201"
    )


def test_the_printed_certificate_links_to_its_public_lookup(
    tmp_path: Path, consortium: Consortium
) -> None:
    with ExitStack() as stack:
        service = open_registry(
            stack, tmp_path, consortium, "MN", public_lookup_url="https://aeo.customs.example/"
        )
        register_key_on_chain(service)
        issue(service, service.headers(Role.ISSUING_OFFICER), "MN-P", tiers=S)
        service.settle()
        pdf = document(service, "MN-P", "certificate.pdf").content
    text = pdf_text(pdf, tmp_path)
    assert "https://aeo.customs.example/public/lookup?q=MN-P" in text


def test_a_photo_larger_than_a_json_body_reaches_the_page_and_a_huge_one_is_refused(
    client: TestClient,
) -> None:
    # 2 MiB: over the 1 MiB of a JSON body, within the photo's 5 MiB; not an image, said so.
    blob = b"\x00" * (2 * 2**20)
    refused = client.post("/public/lookup", files={"photo": ("big.jpg", blob, "image/jpeg")})
    assert refused.status_code == 422, refused.text
    assert '<p class="error-message" id="photo-error">' in refused.text
    huge = b"\x00" * (PUBLIC_QR_BODY_BYTES + 1)
    too_large = client.post("/public/lookup", files={"photo": ("huge.jpg", huge, "image/jpeg")})
    assert_problem(too_large, 413, "too-large")
