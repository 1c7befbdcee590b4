"""The full certificate record, its canonical serialization and its on-chain commitment.

The chain stores ``commitment = keccak256(canonical_bytes(record))``; anyone holding the
record can recompute it and compare. The canonical form (also in docs/api.md):

1. The record as a JSON object with the members below plus ``"schema"``: ``"aeo-record/1"``
   for a record with no identifier aliases and no publication consent (so every record issued
   before version 2 existed keeps its commitment byte for byte), ``"aeo-record/2"`` otherwise.
   Version 2 adds ``aliases`` (always present in it, possibly empty) and ``public_consent``
   (present only when the holder consented).
2. Object members sorted by key (Unicode code point order); no insignificant whitespace
   (``,`` and ``:`` separators); UTF-8, non-ASCII characters written as themselves (no
   ``\\u`` escapes); only ``"`` and ``\\`` are escaped (control characters are refused).
3. Every string is NFC-normalised with leading and trailing white space removed; empty
   strings are refused, so "empty" and "absent" cannot both mean nothing.
4. Dates as ISO 8601 calendar dates (``2025-01-31``); numbers as JSON integers.
5. Optional members that are absent are omitted (never ``null``); lists are always present.
6. Lists with set meaning are de-duplicated and sorted: ``business_roles`` and
   ``validated_criteria`` by code, ``sites`` by each site's own canonical JSON bytes,
   ``aliases`` by (scheme, value) after normalisation (see :func:`normalise_alias_value`).

Identifier aliases name the holder as other administrations know it. Their scheme comes from
one registry-wide code list, :data:`ALIAS_SCHEMES` (extend it here, nowhere else), or is a
national code ``NAT:<CC>-<NAME>`` (ISO 3166-1 alpha-2 country, then 1 to 16 of A-Z 0-9).

Status, version and timestamps are not part of the record: they live on-chain.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from contracts.domain import days, ids
from contracts.domain.enums import DEFINED_TIERS
from contracts.domain.ids import keccak

RECORD_SCHEMA = "aeo-record/1"
#: the version of a record with aliases or a publication consent (module documentation)
RECORD_SCHEMA_V2 = "aeo-record/2"
#: aliases one record may carry: a holder known under a few schemes, not a directory
MAX_ALIASES = 32
#: the tier bit set (a uint8 on-chain): bits 0..4 are defined, 5..7 reserved and refused by
#: the contracts (contracts/src/Tiers.sol)
MAX_TIERS = int(DEFINED_TIERS)


def normalise_text(value: object) -> object:
    """NFC, trimmed; refuses control characters and lone surrogates (not valid UTF-8)."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value).strip()
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
        if category == "Cs":
            raise ValueError("must be valid Unicode text (found a lone surrogate)")
    return text


# The BeforeValidator comes last so that it runs first: the length and pattern
# constraints apply to the normalised text.
Text32 = Annotated[
    str, StringConstraints(min_length=1, max_length=32), BeforeValidator(normalise_text)
]
Text64 = Annotated[
    str, StringConstraints(min_length=1, max_length=64), BeforeValidator(normalise_text)
]
Text256 = Annotated[
    str, StringConstraints(min_length=1, max_length=256), BeforeValidator(normalise_text)
]
Text512 = Annotated[
    str, StringConstraints(min_length=1, max_length=512), BeforeValidator(normalise_text)
]

#: an upper-case code such as a business role (``EX``), a criterion (``C6.2``) or a scheme
Code = Annotated[
    str, StringConstraints(pattern=r"^[A-Z][A-Z0-9._-]{0,15}$"), BeforeValidator(normalise_text)
]
#: ISO 3166-1 alpha-2
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}$"), BeforeValidator(normalise_text)
]


def _check_authority(value: str) -> str:
    ids.authority_code(value)
    return value


def _check_number(value: str) -> str:
    ids.certificate_number(value)
    return value


AuthorityCode = Annotated[str, AfterValidator(_check_authority)]
CertificateNumber = Annotated[str, AfterValidator(_check_number)]


# ---------------------------------------------------------------- identifier aliases

#: the registry-wide schemes of identifier aliases, and what each names
ALIAS_SCHEMES: Final[dict[str, str]] = {
    "EORI": "EU Economic Operators Registration and Identification number",
    "TIN": "taxpayer identification number",
    "BIN": "business identification number",
    "MID": "US CBP manufacturer identification code",
    "AEO": "AEO number (the certificate number as declared under an MRA, e.g. ASEAN AMRA)",
}
_NATIONAL_SCHEME_RE: Final = re.compile(r"^NAT:[A-Z]{2}-[A-Z0-9]{1,16}$")
#: what an alias value may hold once normalised
_ALIAS_VALUE_RE: Final = re.compile(r"^[A-Z0-9]{1,64}$")
#: separators people write inside identifiers (``DE 1234-5678/9``), dropped by normalisation
_ALIAS_SEPARATORS: Final = re.compile(r"[\s\-./_:,;]+")


def normalise_alias_scheme(value: object) -> object:
    """``" eori "`` -> ``"EORI"``, ``"nat:kz-bin"`` -> ``"NAT:KZ-BIN"``; refuses a scheme
    outside :data:`ALIAS_SCHEMES` that is not a national code."""
    if not isinstance(value, str):
        return value
    scheme = "".join(unicodedata.normalize("NFKC", value).split()).upper()
    if scheme in ALIAS_SCHEMES or _NATIONAL_SCHEME_RE.match(scheme):
        return scheme
    listed = ", ".join(ALIAS_SCHEMES)
    raise ValueError(
        f"scheme {value!r} is not one of {listed} nor a national code NAT:<CC>-<NAME> "
        "(e.g. NAT:KZ-BIN)"
    )


def normalise_alias_value(value: object) -> object:
    """The search form of an identifier: NFKC, upper-case, white space and the separators
    ``- . / _ : , ;`` removed; what remains must be 1 to 64 of A-Z 0-9. So ``de 1234-5678``,
    ``DE12345678`` and ``DE.1234.5678`` are one identifier."""
    if not isinstance(value, str):
        return value
    text = _ALIAS_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    if not _ALIAS_VALUE_RE.match(text):
        raise ValueError(
            "must be 1 to 64 letters A-Z and digits once spaces and the separators - . / _ : , ; "
            f"are removed; got {value!r}"
        )
    return text


AliasScheme = Annotated[str, BeforeValidator(normalise_alias_scheme)]
AliasValue = Annotated[str, BeforeValidator(normalise_alias_value)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Frozen):
    street: Text256
    city: Text256
    postal_code: Text32 | None = None
    region: Text256 | None = None
    #: ISO 3166-1 alpha-2
    country: CountryCode


class Identification(_Frozen):
    """The holder's trader identification: a scheme (``EORI``, ``TIN``...) and a number."""

    scheme: Code
    number: Text64


class Holder(_Frozen):
    legal_name: Text512
    address: Address
    identification: Identification


class Site(_Frozen):
    """A site the certificate covers (warehouse, terminal, plant...)."""

    name: Text256 | None = None
    address: Address


class Alias(_Frozen):
    """One identifier the holder is known under: ``{"scheme": "EORI", "value": "DE1234"}``."""

    scheme: AliasScheme
    value: AliasValue


class PublicConsent(_Frozen):
    """The holder agreed to publication of its name, tiers and validity dates on this day."""

    date: dt.date


class CertificateRecord(_Frozen):
    """Everything the issuing administration certifies about a holder: the off-chain record."""

    issuer: AuthorityCode
    number: CertificateNumber
    holder: Holder
    business_roles: list[Code] = Field(min_length=1)
    sites: list[Site] = Field(default_factory=list)
    #: program tier bit set (the meaning of each bit is the program's, see docs/contracts.md)
    tiers: int = Field(ge=1, le=MAX_TIERS)
    validated_criteria: list[Code] = Field(default_factory=list)
    issuing_office: Text256
    officer: Text256
    valid_from: date
    #: inclusive; absent for an open-ended certificate
    valid_until: date | None = None
    #: identifiers the holder is known under (record version 2)
    aliases: list[Alias] = Field(default_factory=list, max_length=MAX_ALIASES)
    #: absent: no consent to publication (record version 2 when present)
    public_consent: PublicConsent | None = None

    @field_validator("business_roles", "validated_criteria")
    @classmethod
    def _as_sorted_set(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("sites")
    @classmethod
    def _sites_in_canonical_order(cls, value: list[Site]) -> list[Site]:
        unique = {_dumps(site.model_dump(mode="json", exclude_none=True)): site for site in value}
        return [unique[key] for key in sorted(unique)]

    @field_validator("aliases")
    @classmethod
    def _aliases_as_sorted_set(cls, value: list[Alias]) -> list[Alias]:
        unique = {(alias.scheme, alias.value): alias for alias in value}
        return [unique[key] for key in sorted(unique)]

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.public_consent is not None:
            days.to_day(self.public_consent.date)
        days.to_day(self.valid_from)
        if self.valid_until is not None:
            days.to_day(self.valid_until)
            if self.valid_until < self.valid_from:
                raise ValueError("valid_until must not be before valid_from")
        return self

    # ------------------------------------------------------------ canonical form

    @property
    def schema_version(self) -> str:
        """``aeo-record/1`` unless the record uses a member of version 2."""
        if self.aliases or self.public_consent is not None:
            return RECORD_SCHEMA_V2
        return RECORD_SCHEMA

    def canonical_dict(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        version = self.schema_version
        if version == RECORD_SCHEMA:
            # Version 1 had no such member: omitting it keeps every v1 commitment.
            body.pop("aliases")
        body["schema"] = version
        return body

    def canonical_bytes(self) -> bytes:
        return _dumps(self.canonical_dict()).encode("utf-8")

    def commitment(self) -> bytes:
        return commitment(self)

    def holder_ref(self) -> bytes:
        ident = self.holder.identification
        return ids.holder_ref(ident.scheme, ident.number)

    def certificate_id(self) -> bytes:
        return ids.certificate_id(self.issuer, self.number)

    def hashes(self) -> RecordHashes:
        canonical = self.canonical_bytes()
        commit = keccak(canonical)
        holder = self.holder_ref()
        return RecordHashes(
            canonical=canonical,
            commitment=commit,
            holder_ref=holder,
            digest=ids.record_digest(holder, commit),
            certificate_id=self.certificate_id(),
        )


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_bytes(record: CertificateRecord) -> bytes:
    """The record's canonical serialization (see the module documentation)."""
    return record.canonical_bytes()


def commitment(record: CertificateRecord) -> bytes:
    """``keccak256(canonical_bytes(record))``: the 32 bytes the chain stores."""
    return keccak(record.canonical_bytes())


@dataclass(frozen=True, slots=True)
class RecordHashes:
    """Every value derived from a record that the chain or the database keeps."""

    canonical: bytes
    commitment: bytes
    holder_ref: bytes
    #: first 20 bytes of keccak256(holder_ref ++ commitment), see contracts.domain.ids.record_digest
    digest: bytes
    certificate_id: bytes
