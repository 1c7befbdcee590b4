"""Consortium administration: signing keys, operator accounts, membership proposals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from eth_utils.address import is_address, to_checksum_address
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from contracts.domain.enums import SIGNING_ALGORITHMS, AccountRole, KeyAlgorithm
from contracts.domain.record import normalise_text

from .operations import OperationPublic

_KID = "3f9a1c0b7d2e4a55"
_OPERATION: JsonDict = {
    "id": "0f8c2a4e-6b1d-4c3e-9a57-2d8e1f0b6c3a",
    "kind": "register_signing_key",
    "subject": _KID,
    "state": "pending",
    "error": None,
    "tx_hash": None,
    "block_number": None,
    "gas_used": None,
    "nonce": None,
    "created_at": "2025-03-02T09:12:40Z",
    "submitted_at": None,
    "finished_at": None,
}


def _check_address(value: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError("must be a 20-byte hex address (0x followed by 40 hex digits)")
    return str(to_checksum_address(value))


# ---------------------------------------------------------------- signing keys


if TYPE_CHECKING:
    KeyAlgorithmName = KeyAlgorithm
else:

    class KeyAlgorithmName:
        """A :class:`KeyAlgorithm` on the wire: its label, ``"ES256"`` or ``"EdDSA"``.

        A class that only builds the schema, rather than ``Annotated[KeyAlgorithm, ...]``:
        FastAPI lists every enum it finds in an annotation as an OpenAPI component, which
        would add an unused integer ``KeyAlgorithm`` one. The document keeps the component it
        always had, ``SigningAlgorithm`` (the enum this type replaced), so clients generated
        from it do not change. To type checkers it is the enum itself."""

        @classmethod
        def __get_pydantic_core_schema__(
            cls, source: Any, handler: GetCoreSchemaHandler
        ) -> core_schema.CoreSchema:
            return core_schema.no_info_after_validator_function(
                KeyAlgorithm.from_label,
                core_schema.literal_schema([a.label for a in SIGNING_ALGORITHMS]),
                serialization=core_schema.plain_serializer_function_ser_schema(
                    lambda algorithm: algorithm.label
                ),
                ref="SigningAlgorithm",
            )

        @classmethod
        def __get_pydantic_json_schema__(
            cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
        ) -> JsonSchemaValue:
            reference = handler(schema)
            handler.resolve_ref_schema(reference).update(
                title="SigningAlgorithm",
                description="COSE algorithm names; the numbers are what the Authorities "
                "contract stores.",
            )
            return reference


class SigningKeyRegister(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"valid_from": "2025-04-01T00:00:00Z"}]},
    )

    kid: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{16}$",
        description="Which of this registry's key files to register (hex key id); "
        "default: the configured key file (AEO_SIGNING_KEY_FILE).",
    )
    valid_from: datetime | None = Field(
        default=None,
        description="When verifiers start trusting the key; default: now.",
    )


class SigningKeyRotate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"algorithm": "EdDSA"}]},
    )

    algorithm: KeyAlgorithmName | None = Field(
        default=None, description="Of the new key; default: the algorithm of the key it replaces."
    )


class SigningKeyRevoke(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"revoked_at": "2025-03-01T00:00:00Z"}]},
    )

    revoked_at: datetime | None = Field(
        default=None,
        description="Since when the key is not to be trusted; default: now. Back-date it for a "
        "compromised key: QR codes signed after that time then fail verification.",
    )


class SigningKeyStatus(StrEnum):
    #: a key file of this registry not registered on-chain (as far as the index knows)
    UNREGISTERED = "unregistered"
    NOT_YET_VALID = "not_yet_valid"
    ACTIVE = "active"
    REVOKED = "revoked"


_KEY_EXAMPLE: JsonDict = {
    "kid": _KID,
    "authority": "MN",
    "algorithm": "ES256",
    "public_key": "02" + "5c" * 32,
    "valid_from": "2025-03-02T09:12:44Z",
    "revoked_at": None,
    "status": "active",
    "held_here": True,
    "signs_documents": True,
}


class SigningKeyPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    kid: str = Field(description="The key id (hex): sha256(public key)[:8].")
    authority: str
    algorithm: str = Field(description="ES256 or EdDSA.")
    public_key: str = Field(description="As published on-chain (hex).")
    valid_from: datetime | None
    revoked_at: datetime | None
    status: SigningKeyStatus
    held_here: bool = Field(description="This registry holds the private key (a key file).")
    signs_documents: bool = Field(description="The key this registry signs QR payloads with now.")


class SigningKeysPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_KEY_EXAMPLE], "count": 1}]}
    )

    data: list[SigningKeyPublic]
    count: int


class SigningKeyRotation(BaseModel):
    """What a rotation started: the new key and the two operations (register, then revoke)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "new_kid": _KID,
                    "old_kid": "a2427cc0ed8d171e",
                    "registration": _OPERATION,
                    "revocation": _OPERATION
                    | {"kind": "revoke_signing_key", "subject": "a2427cc0ed8d171e"},
                }
            ]
        }
    )

    new_kid: str
    old_kid: str
    registration: OperationPublic = Field(description="Registers the new key (sent first).")
    revocation: OperationPublic = Field(description="Revokes the old key (sent after).")


# ---------------------------------------------------------------- accounts


# An account's on-chain role (contracts.domain.enums.AccountRole) as the API spells it (no
# docstring: it would become the OpenAPI component's description).
class AccountRoleName(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"

    @property
    def bit(self) -> int:
        return int(AccountRole[self.name])


# OpenAPI names a component after its class: the document keeps the name it always had.
AccountRoleName.__name__ = AccountRoleName.__qualname__ = "AccountRole"


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"address": "0x8ba1f109551bD432803012645Ac136ddd64DBA72", "roles": ["operator"]}
            ]
        },
    )

    address: str = Field(description="The account's address (0x + 40 hex digits).")
    roles: list[AccountRoleName] = Field(
        default_factory=lambda: [AccountRoleName.OPERATOR],
        min_length=1,
        description="operator (sends certificate and MRA transactions), admin (accounts, "
        "keys, votes), or both.",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _check_address(value)

    @property
    def role_bits(self) -> int:
        bits = 0
        for role in self.roles:
            bits |= role.bit
        return bits


_ACCOUNT_EXAMPLE: JsonDict = {
    "address": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
    "authority": "MN",
    "roles": ["operator"],
    "signs_for_this_registry": False,
}


class AccountPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ACCOUNT_EXAMPLE]})

    address: str
    authority: str
    roles: list[AccountRoleName]
    signs_for_this_registry: bool = Field(
        description="The account this registry's outbox sends transactions from."
    )


class AccountsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_ACCOUNT_EXAMPLE], "count": 1}]}
    )

    data: list[AccountPublic]
    count: int


# ---------------------------------------------------------------- membership


# ---------------------------------------------------------------- membership requests

#: the ``format`` of a membership request document (``aeo consortium join-request``)
MEMBERSHIP_REQUEST_FORMAT: Final = "aeo-membership-request/1"

_REQUEST_SIGNING_KEY_EXAMPLE: JsonDict = {
    "algorithm": "ES256",
    "kid": "5b0c7e2f9a4d1368",
    "public_key": "03" + "6b" * 32,
}
_REQUEST_EXAMPLE: JsonDict = {
    "format": MEMBERSHIP_REQUEST_FORMAT,
    "code": "UZ",
    "name": "Customs Committee of Uzbekistan",
    "number_prefix": "UZ",
    "admin": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
    "operator": "0x71C7656EC7ab88b098defB751B7401B5f6d8976F",
    "signing_key": _REQUEST_SIGNING_KEY_EXAMPLE,
    "created_at": "2025-03-01T08:00:00Z",
    "signature": "9d" * 64,
}


class MembershipRequestKey(BaseModel):
    """The newcomer's document-signing public key, as it will publish it once admitted."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [_REQUEST_SIGNING_KEY_EXAMPLE]}
    )

    algorithm: KeyAlgorithmName
    kid: str = Field(description="The key id: the first 8 bytes of SHA-256 of the public key.")
    public_key: str = Field(
        description="Hex: a compressed P-256 point (33 bytes) for ES256, 32 bytes for EdDSA."
    )

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str, info: ValidationInfo) -> str:
        algorithm = info.data.get("algorithm")
        raw = _hex(value)
        if algorithm is not None:
            # The verifier's loader: what it refuses here, verifiers would refuse later.
            from verifier.keys import load_public_key

            load_public_key(algorithm, raw)
        return raw.hex()

    @field_validator("kid")
    @classmethod
    def _kid(cls, value: str) -> str:
        raw = _hex(value)
        if len(raw) != 8:
            raise ValueError("must be 16 hex digits")
        return raw.hex()

    @model_validator(mode="after")
    def _kid_matches(self) -> Self:
        expected = hashlib.sha256(bytes.fromhex(self.public_key)).digest()[:8].hex()
        if self.kid != expected:
            raise ValueError(f"kid {self.kid} is not this public key's id ({expected})")
        return self


class MembershipRequestContent(BaseModel):
    """What a membership request says, before it is signed (see :class:`MembershipRequest`)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["aeo-membership-request/1"]
    code: str = Field(pattern=r"^[A-Z]{2,4}$", description="The newcomer's code.")
    name: str = Field(min_length=1, max_length=64, description="The newcomer's name.")
    number_prefix: str = Field(
        description="What its certificate numbers begin with: its code (the contract refuses "
        "numbers that begin with another member's code)."
    )
    admin: str = Field(description="Its first admin account, the one the members admit.")
    operator: str = Field(
        description="The account its registry service sends from (given the admin and "
        "operator roles by the newcomer once admitted)."
    )
    signing_key: MembershipRequestKey
    created_at: datetime

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> object:
        return normalise_text(value)

    @field_validator("admin", "operator")
    @classmethod
    def _address(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("created_at")
    @classmethod
    def _created_at(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (for example 2025-03-01T08:00:00Z)")
        return value.astimezone(UTC)

    @field_validator("number_prefix")
    @classmethod
    def _number_prefix(cls, value: str, info: ValidationInfo) -> str:
        code = info.data.get("code")
        if code is not None and value != code:
            raise ValueError(f"must be the member's code, {code}")
        return value

    @model_validator(mode="after")
    def _distinct_accounts(self) -> Self:
        if self.admin == self.operator:
            raise ValueError("admin and operator must be two different accounts")
        return self

    def signed_bytes(self) -> bytes:
        """What the signature covers: every field but ``signature``, as canonical JSON."""
        return _canonical(self.model_dump(mode="json", exclude={"signature"}))


class MembershipRequest(MembershipRequestContent):
    """A request to join the consortium, written on the newcomer's own machine by
    ``aeo consortium join-request``: public data only, signed by the signing key it names so
    that the members can check the file reached them unaltered. The signature covers
    :meth:`signed_bytes`: every field but ``signature``, as canonical JSON."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_REQUEST_EXAMPLE]})

    signature: str = Field(
        description="Hex, 64 bytes: the signing key's signature (ES256 r||s, or Ed25519) "
        "over every other field as canonical JSON."
    )

    @field_validator("signature")
    @classmethod
    def _signature(cls, value: str, info: ValidationInfo) -> str:
        raw = _hex(value)
        if len(raw) != 64:
            raise ValueError("must be 64 bytes of hex")
        missing = [n for n in cls.model_fields if n != "signature" and n not in info.data]
        if missing:
            return raw.hex()  # the fields it covers are refused already
        from verifier.keys import load_public_key, verify_signature

        key: MembershipRequestKey = info.data["signing_key"]
        public = load_public_key(key.algorithm, bytes.fromhex(key.public_key))
        if not verify_signature(public, _canonical(info.data), raw):
            raise ValueError(
                f"does not verify with signing key {key.kid}: the request was altered after "
                "it was signed, or signed by another key"
            )
        return raw.hex()


def _hex(value: str) -> bytes:
    text = value[2:] if value.startswith("0x") else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("must be hex digits") from None


def _canonical(data: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes a membership request's signature covers.
    ``data`` is the validated fields (models and datetimes are dumped as the JSON says them)."""
    plain = _JSON.dump_python(
        {name: value for name, value in data.items() if name != "signature"}, mode="json"
    )
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_JSON: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


class MembershipActionName(StrEnum):
    ADMIT = "admit"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REMOVE = "remove"


class MembershipProposalCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "admit",
                    "authority": "TJ",
                    "name": "Customs Service of Tajikistan",
                    "admin": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
                },
                {"action": "suspend", "authority": "KZ"},
            ]
        },
    )

    action: MembershipActionName
    authority: str = Field(
        pattern=r"^[A-Z]{2,4}$", description="The member the proposal is about (its code)."
    )
    name: str | None = Field(
        default=None, max_length=64, description="admit only: the new member's name."
    )
    admin: str | None = Field(
        default=None, description="admit only: the new member's first admin account."
    )
    request: MembershipRequest | None = Field(
        default=None,
        description="admit only: the newcomer's signed request file (aeo consortium "
        "join-request), instead of name and admin; its signature is checked and the name "
        "and admin account are taken from it.",
    )

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> object:
        return normalise_text(value)

    @field_validator("admin")
    @classmethod
    def _admin(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)

    @model_validator(mode="after")
    def _admit_needs_name_and_admin(self) -> Self:
        if self.request is not None:
            if self.action is not MembershipActionName.ADMIT:
                raise ValueError(f"a request is only given to admit, not to {self.action}")
            if self.request.code != self.authority:
                raise ValueError(f"the request is {self.request.code}'s, not {self.authority}'s")
            for field in ("name", "admin"):
                given, requested = getattr(self, field), getattr(self.request, field)
                if given is not None and given != requested:
                    raise ValueError(
                        f"{field} {given!r} differs from the request's {requested!r} "
                        "(leave it out: the request says it)"
                    )
            self.name, self.admin = self.request.name, self.request.admin
        if self.action is MembershipActionName.ADMIT:
            missing = [n for n in ("name", "admin") if not getattr(self, n)]
            if missing:
                raise ValueError(f"admitting a member needs {' and '.join(missing)}")
        elif self.name is not None or self.admin is not None:
            raise ValueError(f"name and admin are only given to admit, not to {self.action}")
        return self


# A membership proposal's status as the API shows it.
class ProposalStatusName(StrEnum):
    OPEN = "open"
    EXECUTED = "executed"
    EXPIRED = "expired"
    #: another membership change executed after it was proposed: it can never execute
    STALE = "stale"


# OpenAPI names a component after its class: the document keeps the name it always had.
ProposalStatusName.__name__ = ProposalStatusName.__qualname__ = "ProposalStatus"


_PROPOSAL_EXAMPLE: JsonDict = {
    "id": 1,
    "action": "admit",
    "authority": "TJ",
    "name": "Customs Service of Tajikistan",
    "admin": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
    "proposer": "MN",
    "approvals": 1,
    "required": 2,
    "votes": ["MN"],
    "status": "open",
    "proposed_at": "2025-03-02T09:12:44Z",
    "expires_at": "2025-03-09T09:12:44Z",
    "executed_at": None,
    "voted_by_us": True,
}


class MembershipProposalPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PROPOSAL_EXAMPLE]})

    id: int
    action: MembershipActionName
    authority: str
    name: str | None
    admin: str | None
    proposer: str
    approvals: int
    required: int | None = Field(
        description="Approvals needed: a strict majority of every member not removed, at "
        "least two, fixed when it was proposed."
    )
    votes: list[str] = Field(description="The members that approved, in order.")
    status: ProposalStatusName
    proposed_at: datetime
    expires_at: datetime
    executed_at: datetime | None
    voted_by_us: bool = Field(description="This administration has approved it.")


class MembershipProposalsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_PROPOSAL_EXAMPLE], "count": 1}]}
    )

    data: list[MembershipProposalPublic]
    count: int
