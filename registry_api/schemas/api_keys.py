"""API keys: ``ApiKeyCreate`` in, ``ApiKeyPublic`` / ``ApiKeyCreated`` / ``ApiKeysPublic`` out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from contracts.domain.record import normalise_text

from ..db import ApiKey, Role

UserName = Annotated[
    str, StringConstraints(min_length=1, max_length=128), BeforeValidator(normalise_text)
]

_CREATED_AT = "2025-03-01T08:30:00Z"
_KEY_EXAMPLE: JsonDict = {
    "id": 7,
    "prefix": "3f9a1c0b7d2e",
    "user": "b.bat-erdene",
    "role": "issuing_officer",
    "partner_authority": None,
    "created_at": _CREATED_AT,
    "revoked_at": None,
    "last_used_at": "2025-03-02T09:12:44Z",
    "active": True,
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"user": "b.bat-erdene", "role": "issuing_officer"},
                {"user": "KZ risk management unit", "role": "partner", "partner_authority": "KZ"},
            ]
        },
    )

    user: UserName = Field(
        description="Who holds the key: a person, team or partner system (created if new)."
    )
    role: Role
    partner_authority: str | None = Field(
        default=None,
        description="For role partner (required) or border_officer (optional): the other "
        "administration the holder belongs to.",
    )


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    id: int
    prefix: str = Field(description="The public part of the token; safe to log and show.")
    user: str
    role: Role
    partner_authority: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            prefix=key.prefix,
            user=key.user.name,
            role=key.role,
            partner_authority=key.partner_authority,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
            active=key.active,
        )


class ApiKeyCreated(ApiKeyPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _KEY_EXAMPLE | {"last_used_at": None, "token": "aeo_3f9a1c0b7d2e_" + "x" * 43}
            ]
        }
    )

    token: str = Field(description="The bearer token. Shown once: only its hash is stored.")


class ApiKeysPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [_KEY_EXAMPLE], "count": 1}]}
    )

    data: list[ApiKeyPublic]
    count: int = Field(description="How many keys match, over all pages.")


class MePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key_id": 7,
                    "prefix": "3f9a1c0b7d2e",
                    "user": "b.bat-erdene",
                    "role": "issuing_officer",
                    "partner_authority": None,
                    "authority": "MN",
                    "acts_for": "MN",
                }
            ]
        }
    )

    key_id: int
    prefix: str
    user: str
    role: Role
    partner_authority: str | None
    authority: str = Field(description="The administration this registry belongs to.")
    acts_for: str = Field(description="The administration the caller is a user of.")
