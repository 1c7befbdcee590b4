"""Certificate request bodies and assertions the certificate, outbox and indexer tests share."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from contracts.domain.events import CertificateIssued
from contracts.logs import fetch_events
from contracts.reader import RegistryReader
from registry_api.db import Certificate, CertificateEvent

from .conftest import ChainApp


def record_body(number: str = "MN-AEO-2025-0001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": number,
        "holder": {
            "legal_name": "Tavan Bogd Trade LLC",
            "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
            "identification": {"scheme": "TIN", "number": "5012345"},
        },
        "business_roles": ["IM", "EX"],
        "sites": [],
        "tiers": 2,
        "validated_criteria": ["C1", "C6.2"],
        "issuing_office": "Ulaanbaatar Customs House",
        "officer": "B. Bat-Erdene",
        "valid_from": "2025-01-15",
        "valid_until": "2028-01-14",
    }
    body.update(overrides)
    return body


def amend_body(**overrides: Any) -> dict[str, Any]:
    body = record_body(**overrides)
    body.pop("number")
    body.setdefault("reason_code", 32)
    return body


def idem() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def post(
    client: TestClient,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    key: str | None = None,
) -> Any:
    extra = {"Idempotency-Key": key} if key is not None else idem()
    return client.post(path, json=body, headers={**headers, **extra})


def issue(service: ChainApp, headers: dict[str, str], number: str, **overrides: Any) -> Any:
    response = post(service.client, "/v1/certificates", record_body(number, **overrides), headers)
    assert response.status_code == 202, response.text
    return response.json()


def operation(service: ChainApp, headers: dict[str, str], operation_id: str) -> dict[str, Any]:
    response = service.client.get(f"/v1/operations/{operation_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_index_equals_chain(service: ChainApp) -> None:
    """The index holds exactly the chain's certificate events, and every stored certificate
    has the chain's status, version and record digest."""
    consortium = service.consortium
    chain_events = [
        (bytes(e.tx_hash), e.log_index)
        for e in fetch_events(consortium.chain, consortium.deployment)
        if type(e).__name__.startswith("Certificate")
    ]
    reader = RegistryReader(consortium.chain, consortium.deployment)
    with service.session() as session:
        indexed = [
            (bytes(tx), index)
            for tx, index in session.execute(
                sa.select(CertificateEvent.tx_hash, CertificateEvent.log_index).order_by(
                    CertificateEvent.block_number, CertificateEvent.log_index
                )
            )
        ]
        assert indexed == chain_events
        for certificate in session.scalars(sa.select(Certificate)):
            on_chain = reader.get_certificate(certificate.certificate_id)
            if not on_chain.known:
                assert certificate.status.value in {"pending", "failed"}, certificate.number
                continue
            assert certificate.status.value == on_chain.status.name.lower(), certificate.number
            assert certificate.version == on_chain.version
            assert certificate.digest == on_chain.digest


def issued_count(service: ChainApp, number: str) -> int:
    """How many CertificateIssued events the chain holds for ``number``."""
    consortium = service.consortium
    return sum(
        1
        for e in fetch_events(consortium.chain, consortium.deployment)
        if isinstance(e, CertificateIssued) and e.number == number
    )
