"""GET /v1/certificates/{number}/credential, /status-lists/..., /contexts/aeo/v1 and
/.well-known/did.json over HTTP on the memory chain. The JWS are verified with jwcrypto (not
the joserfc that signs) against the DID document's keys and the chain's; the bitstrings are
decoded by hand (tests/registry_api/test_credentials.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from jwcrypto import jwk, jws

from contracts.bootstrap import Consortium
from contracts.domain import days, ids
from contracts.domain.enums import KeyAlgorithm
from contracts.reader import RegistryReader
from registry_api.db import Role, StatusList, StatusListEntry
from verifier import payload as aeo1

from .certificate_data import post, record_body
from .conftest import ChainApp
from .registry_support import issue, open_registry, record, register_key_on_chain
from .support import assert_problem
from .test_credentials import bit, decode_list

NUMBER = "MN-AEO-2025-0001"
JWT = {"Accept": "application/vc+jwt"}
#: how long a status change may take to reach the status lists with the workers running
DEADLINE_SECONDS = 30.0


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


def credential(
    registry: ChainApp, number: str = NUMBER, accept: dict[str, str] | None = None
) -> httpx.Response:
    return registry.client.get(
        f"/v1/certificates/{number}/credential",
        headers={**registry.headers(Role.AUDITOR), **(accept or {})},
    )


def verified(registry: ChainApp, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of ``token`` once jwcrypto verified it with the key its
    ``kid`` names in the registry's DID document."""
    checked = jws.JWS()
    checked.deserialize(token)
    kid = checked.jose_header["kid"]
    document = registry.client.get("/.well-known/did.json").json()
    (method,) = (m for m in document["verificationMethod"] if m["id"] == kid)
    assert kid in document["assertionMethod"]
    checked.verify(jwk.JWK(**method["publicKeyJwk"]), alg=checked.jose_header["alg"])
    return checked.jose_header, json.loads(checked.payload)


def status_bits(registry: ChainApp, entry: dict[str, str]) -> int:
    """The bit of a credential's ``credentialStatus`` entry, read from the signed list."""
    path = httpx.URL(entry["statusListCredential"]).path
    response = registry.client.get(path, headers=JWT)  # no API key: the lists are public
    assert response.status_code == 200, response.text
    _header, status_list = verified(registry, response.text)
    subject = status_list["credentialSubject"]
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert subject["statusPurpose"] == entry["statusPurpose"]
    return bit(decode_list(subject["encodedList"]), int(entry["statusListIndex"]))


def wait_for_bits(
    registry: ChainApp, entries: list[dict[str, str]], expected: list[int]
) -> list[int]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        bits = [status_bits(registry, entry) for entry in entries]
        if bits == expected or time.monotonic() > deadline:
            return bits
        time.sleep(0.1)


# ---------------------------------------------------------------- the credential


def test_the_secured_credential_verifies_with_the_did_document_key_which_is_the_chain_key(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN", public_url="https://registry.customs.mn")
    kid = register_key_on_chain(mn)
    issue(mn, record(NUMBER))

    response = credential(mn, accept=JWT)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vc+jwt"
    assert response.headers["AEO-Signing-Key-Id"] == kid.hex()
    assert response.headers["cache-control"] == "private, no-store"
    header, payload = verified(mn, response.text)
    assert header == {
        "alg": "ES256",
        "kid": f"did:web:registry.customs.mn#{kid.hex()}",
        "typ": "vc+jwt",
        "cty": "vc",
    }
    # The DID document's key is the one the chain publishes for that kid.
    on_chain = RegistryReader(mn.consortium.chain, mn.consortium.deployment).get_signing_key(kid)
    assert on_chain.authority == "MN"
    document = mn.client.get("/.well-known/did.json").json()
    assert document["id"] == "did:web:registry.customs.mn"
    assert payload["issuer"]["id"] == document["id"]
    assert (
        payload["id"] == "https://registry.customs.mn/v1/certificates/MN-AEO-2025-0001/credential"
    )

    plain = credential(mn)
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/vc"
    assert plain.json() == payload
    assert credential(mn, accept={"Accept": "application/json"}).json() == payload


def test_an_ed25519_key_secures_the_credential_with_eddsa(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN", signing_key=KeyAlgorithm.EDDSA)
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))
    header, payload = verified(mn, credential(mn, accept=JWT).text)
    assert header["alg"] == "EdDSA"
    assert payload["issuer"]["id"] == "did:web:testserver"  # no AEO_PUBLIC_URL: the request's


def test_the_credential_claims_equal_the_qr_claims(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER, holder={**record(NUMBER).holder.model_dump(), "legal_name": "A" * 90}))

    text = mn.client.get(
        f"/v1/certificates/{NUMBER}/payload", headers=mn.headers(Role.AUDITOR)
    ).text
    qr = aeo1.decode(text).claims
    _header, vc = verified(mn, credential(mn, accept=JWT).text)
    subject = vc["credentialSubject"]
    from_credential = {
        "issuer": subject["issuingAuthority"],
        "number": subject["certificateNumber"],
        "holder_name": subject["legalName"],
        "holder_id_scheme": subject["identifierScheme"],
        "holder_id": subject["identifier"],
        "tiers": subject["tiers"],
        "valid_from": days.to_day(date.fromisoformat(subject["certificateValidFrom"])),
        "valid_until": days.to_day(date.fromisoformat(subject["certificateValidUntil"])),
        "version": subject["certificateVersion"],
        "digest": bytes.fromhex(subject["recordDigest"].removeprefix("0x")),
    }
    assert from_credential == {name: getattr(qr, name) for name in from_credential}
    # The QR shortened the long name; the credential carries the very same text.
    assert qr.name_truncated
    assert subject["certificateId"] == "0x" + qr.certificate_id.hex()
    assert vc["validFrom"] == f"{days.from_day(qr.valid_from).isoformat()}T00:00:00Z"


def test_an_unknown_certificate_is_a_404_problem(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    body = assert_problem(credential(mn, "MN-AEO-0000"), 404, "not-found")
    assert "MN-AEO-0000" in body["detail"]


def test_another_administrations_certificate_is_a_404_not_a_redirect(
    registry: Callable[..., ChainApp],
) -> None:
    kz = registry("KZ")
    register_key_on_chain(kz)
    issue(kz, record("KZ-AEO-2025-0001", authority="KZ"))
    mn = registry("MN")
    mn.settle()  # MN's index holds KZ's issuance event, but not its record
    assert credential(kz, "KZ-AEO-2025-0001").status_code == 200
    response = credential(mn, "KZ-AEO-2025-0001")
    body = assert_problem(response, 404, "not-found")
    assert "issued by MN" in body["detail"]


def test_a_revoked_certificate_gets_no_new_credential(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))
    officer = mn.headers(Role.ISSUING_OFFICER)
    post(mn.client, f"/v1/certificates/{NUMBER}/revoke", {"reason_code": 5}, officer)
    mn.settle()
    body = assert_problem(credential(mn, accept=JWT), 409, "conflict")
    assert body["reason"] == "revoked"


def test_credentials_are_for_this_administrations_staff_only(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    assert_problem(mn.client.get(f"/v1/certificates/{NUMBER}/credential"), 401, "unauthorized")
    partner = mn.client.get(
        f"/v1/certificates/{NUMBER}/credential", headers=mn.headers(Role.BORDER_OFFICER)
    )
    assert_problem(partner, 403, "forbidden")


def test_an_accept_header_with_no_credential_form_is_a_406_problem(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))
    body = assert_problem(credential(mn, accept={"Accept": "text/html"}), 406, "not-acceptable")
    assert "Accept" in body["detail"]


# ---------------------------------------------------------------- the status lists


def test_suspension_reinstatement_and_revocation_reach_the_status_lists_within_seconds(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN", run_workers=True)
    register_key_on_chain(mn)
    officer = mn.headers(Role.ISSUING_OFFICER)
    numbers = ("MN-AEO-2025-0001", "MN-AEO-2025-0002")
    for number in numbers:
        response = post(mn.client, "/v1/certificates", record_body(number), officer)
        assert response.status_code == 202, response.text
    entries = {}
    deadline = time.monotonic() + DEADLINE_SECONDS
    for number in numbers:
        while (answer := credential(mn, number)).status_code == 409:  # not confirmed yet
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.1)
        entries[number] = answer.json()["credentialStatus"]
    first, second = entries[numbers[0]], entries[numbers[1]]
    assert [e["statusPurpose"] for e in first] == ["revocation", "suspension"]
    assert first[0]["statusListIndex"] == first[1]["statusListIndex"]
    assert first[0]["statusListIndex"] != second[0]["statusListIndex"]
    all_entries = [*first, *second]
    assert wait_for_bits(mn, all_entries, [0, 0, 0, 0]) == [0, 0, 0, 0]

    post(mn.client, f"/v1/certificates/{numbers[0]}/suspend", {"reason_code": 1}, officer)
    assert wait_for_bits(mn, all_entries, [0, 1, 0, 0]) == [0, 1, 0, 0]

    post(mn.client, f"/v1/certificates/{numbers[0]}/reinstate", {"reason_code": 16}, officer)
    assert wait_for_bits(mn, all_entries, [0, 0, 0, 0]) == [0, 0, 0, 0]

    post(mn.client, f"/v1/certificates/{numbers[1]}/revoke", {"reason_code": 5}, officer)
    assert wait_for_bits(mn, all_entries, [0, 0, 1, 0]) == [0, 0, 1, 0]


def test_a_status_list_is_public_json_by_default_and_never_cached_stale(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN", public_url="https://registry.customs.mn/aeo")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))
    entry = credential(mn).json()["credentialStatus"][1]
    assert entry["statusListCredential"].startswith("https://registry.customs.mn/aeo/status-")
    path = "/status-lists/suspension/" + entry["statusListCredential"].rsplit("/", 1)[1]

    response = mn.client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vc"
    assert response.headers["cache-control"] == "no-cache"
    body = response.json()
    assert body["issuer"] == "did:web:registry.customs.mn:aeo"
    assert body["id"] == entry["statusListCredential"]
    assert len(decode_list(body["credentialSubject"]["encodedList"])) * 8 == 131_072


def test_a_list_no_certificate_is_in_is_a_404_and_a_bad_purpose_names_the_field(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    assert_problem(mn.client.get("/status-lists/revocation/7"), 404, "not-found")
    body = assert_problem(mn.client.get("/status-lists/expiry/1"), 422, "invalid")
    assert body["errors"][0]["field"] == "path.purpose"
    body = assert_problem(mn.client.get("/status-lists/revocation/0"), 422, "invalid")
    assert body["errors"][0]["field"] == "path.list_number"


def test_an_imported_certificate_gets_its_place_at_its_first_credential_showing_its_status(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    register_key_on_chain(mn)
    issue(mn, record(NUMBER))  # straight through the outbox, as an import does: no place yet
    officer = mn.headers(Role.ISSUING_OFFICER)
    post(mn.client, f"/v1/certificates/{NUMBER}/suspend", {"reason_code": 1}, officer)
    mn.settle()
    with mn.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(StatusListEntry)) == 0

    entries = credential(mn).json()["credentialStatus"]
    assert [status_bits(mn, entry) for entry in entries] == [0, 1]
    again = credential(mn).json()["credentialStatus"]
    assert again == entries
    with mn.session() as session:
        (place,) = session.scalars(sa.select(StatusListEntry)).all()
        assert place.certificate_id == ids.certificate_id("MN", NUMBER)
        assert session.get(StatusList, place.list_number) is not None


def test_issuing_through_the_api_gives_the_certificate_its_place_at_once(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    officer = mn.headers(Role.ISSUING_OFFICER)
    response = post(mn.client, "/v1/certificates", record_body(NUMBER), officer)
    assert response.status_code == 202, response.text
    with mn.session() as session:
        place = session.get(StatusListEntry, ids.certificate_id("MN", NUMBER))
        assert place is not None
        assert place.list_number == 1
        assert 0 <= place.list_index < 131_072


# ---------------------------------------------------------------- context and DID document


def test_the_context_is_served_as_json_ld_without_a_key(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    response = mn.client.get("/contexts/aeo/v1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    terms = response.json()["@context"]
    assert terms["AEOCertificateCredential"].startswith("urn:aeo-registry:")


def test_a_revoked_signing_key_leaves_the_did_document(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    kid = register_key_on_chain(mn)
    assert [
        m["id"] for m in mn.client.get("/.well-known/did.json").json()["verificationMethod"]
    ] == [f"did:web:testserver#{kid.hex()}"]
    mn.consortium.admin("MN").revoke_signing_key(kid)
    mn.settle()
    assert mn.client.get("/.well-known/did.json").json()["verificationMethod"] == []
