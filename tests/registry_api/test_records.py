"""Golden vectors for the canonical record form and its commitment (docs/api.md).

A change to any expected value below changes every commitment already on a chain: it
needs a new ``schema`` version, not an edited vector.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak
from pydantic import ValidationError
from sqlalchemy.orm import Session

from contracts.domain import ids
from contracts.domain.record import CertificateRecord, canonical_bytes, commitment
from registry_api.db import Certificate, LocalStatus, make_engine, make_session_factory
from registry_api.db.certificates import CertificateAlias
from registry_api.db.session import upgrade_database


@dataclass(frozen=True)
class Vector:
    name: str
    record: dict[str, Any]
    canonical: str
    commitment: str
    holder_ref: str
    digest: str
    certificate_id: str


MINIMAL = {
    "issuer": "MN",
    "number": "MN-AEO-2025-0001",
    "holder": {
        "legal_name": "Tavan Bogd Trade LLC",
        "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
        "identification": {"scheme": "TIN", "number": "5012345"},
    },
    "business_roles": ["IM"],
    "tiers": 2,
    "issuing_office": "Ulaanbaatar Customs House",
    "officer": "B. Bat-Erdene",
    "valid_from": "2025-01-15",
}

FULL = {
    "issuer": "MN",
    "number": "MN/AEO/2025.0042",
    "holder": {
        "legal_name": "Монгол Тээвэр ХХК",
        "address": {
            "street": "Чингисийн өргөн чөлөө 24",
            "city": "Улаанбаатар",
            "postal_code": "14200",
            "region": "Хан-Уул",
            "country": "MN",
        },
        "identification": {"scheme": "EORI", "number": "MN 0042 7781"},
    },
    # Given out of order and with a duplicate: the canonical form sorts and de-duplicates.
    "business_roles": ["WH", "CA", "FF", "CA"],
    "sites": [
        {
            "name": "Zamyn-Üüd rail terminal",
            "address": {"street": "Station 1", "city": "Zamyn-Üüd", "country": "MN"},
        },
        {"address": {"street": "Khan-Uul district 3", "city": "Ulaanbaatar", "country": "MN"}},
    ],
    "tiers": 3,
    "validated_criteria": ["C7", "C1", "C6.2"],
    "issuing_office": "Zamyn-Üüd Customs Office",
    "officer": "D. Oyunchimeg",
    "valid_from": "2025-03-01",
    "valid_until": "2028-02-29",
}

#: version 2: aliases (unordered, written with separators, one duplicate) and a consent
WITH_ALIASES = MINIMAL | {
    "aliases": [
        {"scheme": "nat:kr-brn", "value": "105-87-12345"},
        {"scheme": "EORI", "value": "de 1234 5678 9012 345"},
        {"scheme": "EORI", "value": "DE-123456789012345"},
    ],
    "public_consent": {"date": "2025-01-10"},
}

VECTORS = [
    Vector(
        name="minimal",
        record=MINIMAL,
        canonical=(
            '{"business_roles":["IM"],"holder":{"address":{"city":"Ulaanbaatar","country":"MN",'
            '"street":"Peace Avenue 17"},"identification":{"number":"5012345","scheme":"TIN"},'
            '"legal_name":"Tavan Bogd Trade LLC"},"issuer":"MN","issuing_office":'
            '"Ulaanbaatar Customs House","number":"MN-AEO-2025-0001","officer":"B. Bat-Erdene",'
            '"schema":"aeo-record/1","sites":[],"tiers":2,"valid_from":"2025-01-15",'
            '"validated_criteria":[]}'
        ),
        commitment="88427e74b50beec5c50f3b4c1e336de2222ecc5ae489b77173e2c623614b819c",
        holder_ref="7a6a7ec1c2cce6d4a5515d88faa3db4b54ee70c2ef59c03851af5201b600c8cc",
        digest="7e242087f2f2c0c285a33f8b379403f458eb4def",
        certificate_id="6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d",
    ),
    Vector(
        name="full, non-ASCII, unordered lists",
        record=FULL,
        canonical=(
            '{"business_roles":["CA","FF","WH"],"holder":{"address":{"city":"Улаанбаатар",'
            '"country":"MN","postal_code":"14200","region":"Хан-Уул",'
            '"street":"Чингисийн өргөн чөлөө 24"},"identification":{"number":"MN 0042 7781",'
            '"scheme":"EORI"},"legal_name":"Монгол Тээвэр ХХК"},"issuer":"MN",'
            '"issuing_office":"Zamyn-Üüd Customs Office","number":"MN/AEO/2025.0042",'
            '"officer":"D. Oyunchimeg","schema":"aeo-record/1","sites":[{"address":'
            '{"city":"Ulaanbaatar","country":"MN","street":"Khan-Uul district 3"}},{"address":'
            '{"city":"Zamyn-Üüd","country":"MN","street":"Station 1"},'
            '"name":"Zamyn-Üüd rail terminal"}],"tiers":3,"valid_from":"2025-03-01",'
            '"valid_until":"2028-02-29","validated_criteria":["C1","C6.2","C7"]}'
        ),
        commitment="1c2e4ee1059f158b4c20dab746b7ac7bbda3faa963f825ff1dd5d032acd20fb5",
        holder_ref="dadfa32590e883d60b66593853d9cc10713905d5523fda7046a7d346693916bf",
        digest="0847ce6c825d0a921b6c003620ae8b0e5f21291e",
        certificate_id="09b3e6d0c5b6b0d3cfae7e80a6a9504c4e00b769506a91d7e3591a38c40ced0b",
    ),
    Vector(
        name="version 2, aliases and consent",
        record=WITH_ALIASES,
        canonical=(
            '{"aliases":[{"scheme":"EORI","value":"DE123456789012345"},{"scheme":"NAT:KR-BRN",'
            '"value":"1058712345"}],"business_roles":["IM"],"holder":{"address":{"city":'
            '"Ulaanbaatar","country":"MN","street":"Peace Avenue 17"},"identification":'
            '{"number":"5012345","scheme":"TIN"},"legal_name":"Tavan Bogd Trade LLC"},'
            '"issuer":"MN","issuing_office":"Ulaanbaatar Customs House","number":'
            '"MN-AEO-2025-0001","officer":"B. Bat-Erdene","public_consent":{"date":"2025-01-10"},'
            '"schema":"aeo-record/2","sites":[],"tiers":2,"valid_from":"2025-01-15",'
            '"validated_criteria":[]}'
        ),
        commitment="4d5dcb68946f70b52f2b73f98353392f5adcfa28a4ceb8d3702dda2919c1626d",
        holder_ref="7a6a7ec1c2cce6d4a5515d88faa3db4b54ee70c2ef59c03851af5201b600c8cc",
        digest="edb767c1ca17bd6fa7af2b4ea463e8426aad1996",
        certificate_id="6b50a03c95270ae002c4144bf4cdc3cc7c5ad6bfe5fcb662d8419440ae80279d",
    ),
]


def independent_keccak(data: bytes) -> bytes:
    return pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def test_every_golden_vector_ran() -> None:
    # A loader that silently runs zero vectors proves nothing: pin the count.
    assert len(VECTORS) == 3
    assert len({v.name for v in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_golden_vector_hashes_are_consistent_in_themselves(vector: Vector) -> None:
    """The expected values agree with an independent keccak implementation."""
    expected = vector.canonical.encode("utf-8")
    assert independent_keccak(expected).hex() == vector.commitment
    holder_ref = bytes.fromhex(vector.holder_ref)
    assert independent_keccak(holder_ref + bytes.fromhex(vector.commitment))[:20].hex() == (
        vector.digest
    )


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_golden_vector_canonical_bytes_and_hashes(vector: Vector) -> None:
    record = CertificateRecord.model_validate(vector.record)
    assert canonical_bytes(record) == vector.canonical.encode("utf-8")
    assert commitment(record).hex() == vector.commitment
    hashes = record.hashes()
    assert hashes.commitment.hex() == vector.commitment
    assert hashes.holder_ref.hex() == vector.holder_ref
    assert hashes.digest.hex() == vector.digest
    assert hashes.certificate_id.hex() == vector.certificate_id


def test_a_record_without_aliases_or_consent_keeps_its_version_1_commitment() -> None:
    # Certificates issued before version 2 existed must still match what the chain holds.
    explicit = MINIMAL | {"aliases": [], "public_consent": None}
    record = CertificateRecord.model_validate(explicit)
    assert record.schema_version == "aeo-record/1"
    assert record.commitment().hex() == VECTORS[0].commitment


def test_consent_alone_makes_a_version_2_record_with_an_empty_alias_list() -> None:
    record = CertificateRecord.model_validate(MINIMAL | {"public_consent": {"date": "2025-01-10"}})
    body = record.canonical_dict()
    assert (body["schema"], body["aliases"]) == ("aeo-record/2", [])
    assert record.commitment().hex() != VECTORS[0].commitment


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("de 1234-5678", "DE12345678"),
        ("DE.1234/5678", "DE12345678"),
        ("ｄｅ１２３４５６７８", "DE12345678"),  # full-width, as some keyboards type it
        (" 105_87:12345 ", "1058712345"),
    ],
)
def test_alias_values_are_normalised_for_search(written: str, normalised: str) -> None:
    record = CertificateRecord.model_validate(
        MINIMAL | {"aliases": [{"scheme": " eori ", "value": written}]}
    )
    assert [(a.scheme, a.value) for a in record.aliases] == [("EORI", normalised)]


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ({"scheme": "VAT", "value": "1"}, "is not one of EORI, TIN, BIN, MID, AEO"),
        ({"scheme": "NAT:KAZ-BIN", "value": "1"}, "nor a national code NAT:<CC>-<NAME>"),
        ({"scheme": "TIN", "value": "--"}, "must be 1 to 64 letters A-Z and digits"),
        ({"scheme": "TIN", "value": "ДЕ123"}, "must be 1 to 64 letters A-Z and digits"),
        ({"scheme": "TIN", "value": "1" * 65}, "must be 1 to 64 letters A-Z and digits"),
    ],
)
def test_a_bad_alias_is_refused_naming_its_field(alias: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CertificateRecord.model_validate(MINIMAL | {"aliases": [alias]})
    (error,) = caught.value.errors()
    assert error["loc"][:2] == ("aliases", 0)
    assert message in error["msg"]


def test_holder_ref_and_certificate_id_are_the_shared_definitions() -> None:
    record = CertificateRecord.model_validate(FULL)
    assert record.holder_ref() == ids.holder_ref("EORI", "MN00427781")
    assert record.certificate_id() == ids.certificate_id("MN", "MN/AEO/2025.0042")


def test_decomposed_unicode_serializes_like_composed_unicode() -> None:
    decomposed = unicodedata.normalize("NFD", "Zamyn-Üüd Customs Office")
    assert decomposed != "Zamyn-Üüd Customs Office"
    record = CertificateRecord.model_validate(FULL | {"issuing_office": decomposed})
    assert record.commitment().hex() == VECTORS[1].commitment


def test_surrounding_white_space_is_not_part_of_the_record() -> None:
    record = CertificateRecord.model_validate(MINIMAL | {"officer": "  B. Bat-Erdene\u00a0"})
    assert record.commitment().hex() == VECTORS[0].commitment


def test_list_order_does_not_change_the_commitment() -> None:
    reordered = FULL | {
        "business_roles": ["FF", "WH", "CA"],
        "sites": list(reversed(FULL["sites"])),  # type: ignore[call-overload]
        "validated_criteria": ["C6.2", "C7", "C1"],
    }
    assert CertificateRecord.model_validate(reordered).commitment().hex() == VECTORS[1].commitment


def test_absent_optional_fields_are_omitted_not_null() -> None:
    text = CertificateRecord.model_validate(MINIMAL).canonical_bytes().decode()
    assert "null" not in text
    assert "valid_until" not in text
    assert "postal_code" not in text


def test_amending_any_field_changes_the_commitment() -> None:
    base = CertificateRecord.model_validate(FULL).commitment()
    amended = FULL | {"holder": FULL["holder"] | {"legal_name": "Монгол Тээвэр Групп ХХК"}}  # type: ignore[operator]
    assert CertificateRecord.model_validate(amended).commitment() != base
    renewed = FULL | {"valid_until": "2031-02-28"}
    assert CertificateRecord.model_validate(renewed).commitment() != base


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"officer": ""}, "officer", "at least 1 character"),
        ({"officer": "B.\tBat"}, "officer", "control characters"),
        ({"officer": "\ud800"}, "officer", "lone surrogate"),
        ({"tiers": 0}, "tiers", "greater than or equal to 1"),
        ({"tiers": 32}, "tiers", "less than or equal to 31"),
        ({"number": "mn-1"}, "number", "certificate number must be"),
        ({"issuer": "Mongolia"}, "issuer", "authority code must be"),
        ({"business_roles": []}, "business_roles", "at least 1 item"),
        ({"business_roles": ["exporter"]}, "business_roles.0", "should match pattern"),
        ({"valid_until": "2024-12-31"}, "", "valid_until must not be before valid_from"),
        ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_invalid_records_are_refused_naming_the_field(
    change: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        CertificateRecord.model_validate(MINIMAL | change)
    errors = [(".".join(map(str, e["loc"])), e["msg"]) for e in exc.value.errors()]
    assert any(loc == field and message in msg for loc, msg in errors), errors


def test_country_must_be_an_iso_code() -> None:
    holder = MINIMAL["holder"] | {"address": {"street": "x", "city": "y", "country": "Mongolia"}}  # type: ignore[operator]
    with pytest.raises(ValidationError) as exc:
        CertificateRecord.model_validate(MINIMAL | {"holder": holder})
    assert exc.value.errors()[0]["loc"] == ("holder", "address", "country")


def test_a_stored_certificate_rebuilds_the_record_it_was_made_from(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_database(engine)
    try:
        record = CertificateRecord.model_validate(FULL)
        with make_session_factory(engine)() as session:
            session.add(Certificate.from_record(record))
            session.commit()
        with Session(engine) as session:
            stored = session.query(Certificate).one()
            assert stored.status is LocalStatus.PENDING
            assert stored.valid_until == date(2028, 2, 29)
            assert stored.holder_name_folded == "монгол тээвэр ххк"
            assert stored.to_record() == record
            assert stored.to_record().commitment() == stored.commitment
            assert stored.commitment.hex() == VECTORS[1].commitment
            assert stored.digest.hex() == VECTORS[1].digest
    finally:
        engine.dispose()


def test_a_stored_version_2_record_keeps_its_aliases_and_their_lookup_rows(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade_database(engine)
    try:
        record = CertificateRecord.model_validate(WITH_ALIASES)
        with make_session_factory(engine)() as session:
            session.add(Certificate.from_record(record))
            session.commit()
        with Session(engine) as session:
            stored = session.query(Certificate).one()
            assert stored.to_record() == record
            assert stored.commitment.hex() == VECTORS[2].commitment
            assert stored.public_consent_date == date(2025, 1, 10)
            # The holder's own identification is found like an alias.
            assert sorted((row.scheme, row.value) for row in stored.alias_rows) == [
                ("EORI", "DE123456789012345"),
                ("NAT:KR-BRN", "1058712345"),
                ("TIN", "5012345"),
            ]
            amended = CertificateRecord.model_validate(
                WITH_ALIASES | {"aliases": [{"scheme": "EORI", "value": "DE123456789012345"}]}
            )
            stored.apply_record(amended)
            session.commit()
        with Session(engine) as session:
            rows = session.query(CertificateAlias).all()
            assert sorted((row.scheme, row.value) for row in rows) == [
                ("EORI", "DE123456789012345"),
                ("TIN", "5012345"),
            ]
    finally:
        engine.dispose()
