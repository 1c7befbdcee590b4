"""GET /v1/certificates/{number}/payload, qr.png, qr.svg, certificate.pdf over HTTP, on the
memory chain: what they carry, that the verifier accepts it against the chain, and when
they are refused."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from contracts.bootstrap import Consortium
from contracts.domain import days
from contracts.domain.enums import ReasonCode
from contracts.reader import RegistryReader
from contracts.writer import RegistryWriter
from registry_api.db import Certificate, Role
from verifier import Outcome, payload as aeo1, verify
from verifier.chain_source import ChainStatusSource

from .conftest import ChainApp
from .registry_support import issue, open_registry, record, register_key_on_chain
from .support import assert_problem
from .test_documents_rendering import load, pdf_text, qr_texts, rasterize

# Slow, so not in `make test-fast` (`make test` runs it): QR and PDF rendering of issued
# certificates.
pytestmark = pytest.mark.slow

DOCUMENTS = ("payload", "qr.png", "qr.svg", "certificate.pdf")
NUMBER = "MN-AEO-2025-0001"


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


def get(
    registry: ChainApp, number: str, document: str, role: Role = Role.ISSUING_OFFICER
) -> httpx.Response:
    return registry.client.get(
        f"/v1/certificates/{number}/{document}", headers=registry.headers(role)
    )


def verdict_of(registry: ChainApp, text: str, as_authority: str) -> Outcome:
    consortium = registry.consortium
    source = ChainStatusSource(RegistryReader(consortium.chain, consortium.deployment))
    return verify(text, as_authority=as_authority, clock=datetime.now(UTC), source=source).outcome


def test_every_document_carries_the_same_signed_payload_that_verifies_on_chain(
    registry: Callable[..., ChainApp], tmp_path: Path
) -> None:
    mn = registry("MN")
    kid = register_key_on_chain(mn)
    issue(mn, record(NUMBER))

    answers = {name: get(mn, NUMBER, name, Role.AUDITOR) for name in DOCUMENTS}
    for name, response in answers.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["AEO-Signing-Key-Id"] == kid.hex()
        assert response.headers["AEO-QR-Error-Correction"] == "M"
        assert 1 <= int(response.headers["AEO-QR-Version"]) <= 10
    payload = answers["payload"].text
    assert answers["payload"].headers["content-type"].startswith("text/plain")
    assert payload.startswith("AEO1:")
    assert {r.headers["AEO-QR-Version"] for r in answers.values()} == {
        answers["payload"].headers["AEO-QR-Version"]
    }

    assert answers["qr.png"].headers["content-type"] == "image/png"
    assert qr_texts(load(answers["qr.png"].content)) == [payload]
    assert answers["qr.svg"].headers["content-type"] == "image/svg+xml"
    assert f"<title>AEO certificate {NUMBER}</title>" in answers["qr.svg"].text

    pdf = answers["certificate.pdf"]
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'inline; filename="{NUMBER}.pdf"'
    [page] = rasterize(pdf.content, tmp_path)
    assert qr_texts(load(page)) == [payload]
    text = pdf_text(pdf.content, tmp_path)
    # The administration's name as the chain knows it, from the index.
    assert mn.consortium.member("MN").name in text
    assert NUMBER in text

    claims = aeo1.decode(payload).claims
    assert claims.number == NUMBER
    assert claims.holder_name == "Tavan Bogd Trade LLC"
    assert claims.version == 1
    assert verdict_of(mn, payload, "MN") is Outcome.RECOGNIZED
    # KZ has no MRA with MN: valid, but not recognized there.
    assert verdict_of(mn, payload, "KZ") is Outcome.NOT_RECOGNIZED


def test_documents_wait_for_the_signing_key_to_be_registered_on_chain(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    issue(mn, record(NUMBER))
    for name in DOCUMENTS:
        body = assert_problem(get(mn, NUMBER, name), 409, "conflict")
        assert body["reason"] == "signing_key_not_registered"
        assert "POST /v1/admin/signing-keys" in body["detail"]


def test_a_registry_without_a_signing_key_file_says_how_to_make_one(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN", signing_key=None)
    issue(mn, record(NUMBER))
    body = assert_problem(get(mn, NUMBER, "payload"), 409, "conflict")
    assert body["reason"] == "no_signing_key"
    assert "init-keys" in body["detail"]


def test_a_pending_certificate_has_no_documents_until_confirmed(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    with mn.session() as session:
        session.add(Certificate.from_record(record(NUMBER)))
        session.commit()
    body = assert_problem(get(mn, NUMBER, "qr.png"), 409, "conflict")
    assert body["reason"] == "not_confirmed"
    assert body["certificate_status"] == "pending"


def test_an_unknown_certificate_is_not_found(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    body = assert_problem(get(mn, "MN-AEO-0000", "certificate.pdf"), 404, "not-found")
    assert "MN-AEO-0000" in body["detail"]


def test_a_revoked_certificate_gets_no_document_and_a_suspended_one_does(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER), record("MN-AEO-2025-0002"))
    writer = RegistryWriter(
        mn.consortium.chain, mn.consortium.deployment, mn.workers.sender.account
    )
    writer.suspend(record(NUMBER).certificate_id(), ReasonCode.FAILED_AUDIT)
    writer.revoke(record("MN-AEO-2025-0002").certificate_id(), ReasonCode.FRAUD)
    mn.settle()

    suspended = get(mn, NUMBER, "payload")
    assert suspended.status_code == 200
    assert verdict_of(mn, suspended.text, "MN") is Outcome.SUSPENDED
    body = assert_problem(get(mn, "MN-AEO-2025-0002", "payload"), 409, "conflict")
    assert body["reason"] == "revoked"


def test_a_record_changed_behind_the_service_gets_no_document(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))
    with mn.session() as session:
        session.execute(
            sa.update(Certificate)
            .where(Certificate.number == NUMBER)
            .values(holder_legal_name="Someone Else LLC")
        )
        session.commit()
    body = assert_problem(get(mn, NUMBER, "certificate.pdf"), 409, "conflict")
    assert body["reason"] == "record_mismatch"


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BORDER_OFFICER, Role.MRA_OFFICER])
def test_documents_are_for_this_administrations_staff_only(
    registry: Callable[..., ChainApp], role: Role
) -> None:
    mn = registry("MN")
    headers = {
        "Authorization": "Bearer "
        + mn.token(role, partner_authority="KZ" if role is Role.PARTNER else None)
    }
    for name in DOCUMENTS:
        response = mn.client.get(f"/v1/certificates/{NUMBER}/{name}", headers=headers)
        assert_problem(response, 403, "forbidden")


def test_the_same_certificate_version_gets_the_same_qr_code_every_time(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))
    first = get(mn, NUMBER, "qr.png").content
    second = get(mn, NUMBER, "qr.png").content
    assert first == second
    image = Image.open(io.BytesIO(first))
    assert image.format == "PNG"
    image.close()


def test_a_renewed_certificate_states_its_new_validity(
    registry: Callable[..., ChainApp], tmp_path: Path
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))  # valid until 2030-01-14
    writer = RegistryWriter(
        mn.consortium.chain, mn.consortium.deployment, mn.workers.sender.account
    )
    writer.renew(record(NUMBER).certificate_id(), date(2033, 1, 14))
    mn.settle()

    claims = aeo1.decode(get(mn, NUMBER, "payload").text).claims
    assert claims.valid_until == days.to_day(date(2033, 1, 14))
    text = pdf_text(get(mn, NUMBER, "certificate.pdf").content, tmp_path)
    assert "14 January 2033 (2033-01-14)" in text
    assert "2030-01-14" not in text
