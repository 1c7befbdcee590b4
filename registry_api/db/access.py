"""Who may call the API: users (named key holders) and their API keys.

A *user* is simply a named holder of API keys (a person, a team or a partner system).
Every key carries its own role; a key for a user of a partner administration (roles
``partner`` and ``border_officer``) also names that administration's authority code.
Only the SHA-256 hash of a key's secret is stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, NulSafeString, enum_column, utc_now


class Role(StrEnum):
    ADMIN = "admin"
    ISSUING_OFFICER = "issuing_officer"
    MRA_OFFICER = "mra_officer"
    AUDITOR = "auditor"
    PARTNER = "partner"
    BORDER_OFFICER = "border_officer"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(NulSafeString(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="user")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: the public part of the token (``aeo_<prefix>_<secret>``), used to find the key
    prefix: Mapped[str] = mapped_column(NulSafeString(16), unique=True)
    #: SHA-256 of the whole token
    secret_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    role: Mapped[Role] = mapped_column(enum_column(Role, 24))
    #: the partner administration this key's holder belongs to (None: this administration)
    partner_authority: Mapped[str | None] = mapped_column(NulSafeString(4))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_keys.id"))
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship(back_populates="api_keys", lazy="joined")

    @property
    def active(self) -> bool:
        return self.revoked_at is None
