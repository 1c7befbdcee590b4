"""Consortium administration: signing keys, operator accounts, membership proposals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self

from eth_utils.address import is_address, to_checksum_address
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
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
