"""What the indexer keeps of the consortium's state besides certificates: its cursor,
the member authorities with their accounts and signing keys, and the MRAs."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from contracts.domain.enums import MraState

from .base import Base, NulSafeString, utc_now

#: the indexer's cursor row (``indexer_cursors.name``) for the registry's contracts
CURSOR_NAME = "registry"

#: the contract's MRA states as ``mras.status`` stores them
MRA_STATE_NAMES = {
    MraState.PROPOSED: "proposed",
    MraState.SIGNED: "in_force",
    MraState.SUSPENDED: "suspended",
    MraState.TERMINATED: "terminated",
}


def mra_key(mra_id: int) -> bytes:
    """An MRA's on-chain uint256 id as the 32 bytes the ``mras`` table keys it by."""
    return mra_id.to_bytes(32, "big")


class IndexerCursor(Base):
    """The last block whose events are all in the database, per followed stream."""

    __tablename__ = "indexer_cursors"

    name: Mapped[str] = mapped_column(NulSafeString(32), primary_key=True)
    block_number: Mapped[int] = mapped_column(sa.BigInteger)
    #: to notice a reorganisation below the cursor on chains that have them
    block_hash: Mapped[bytes | None] = mapped_column(sa.LargeBinary(32))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class Authority(Base):
    __tablename__ = "authorities"

    code: Mapped[str] = mapped_column(NulSafeString(4), primary_key=True)
    name: Mapped[str] = mapped_column(NulSafeString(256))
    #: active, suspended, removed
    status: Mapped[str] = mapped_column(NulSafeString(16))
    admitted_at: Mapped[datetime | None] = mapped_column()
    status_changed_at: Mapped[datetime | None] = mapped_column()
    updated_block: Mapped[int] = mapped_column(sa.BigInteger)


class AuthorityAccount(Base):
    """An account (admin or operator) that may act for a member authority."""

    __tablename__ = "authority_accounts"

    address: Mapped[str] = mapped_column(NulSafeString(42), primary_key=True)
    authority: Mapped[str] = mapped_column(sa.ForeignKey("authorities.code"), index=True)
    #: bit set as on-chain: 1 = admin, 2 = operator
    roles: Mapped[int] = mapped_column()
    updated_block: Mapped[int] = mapped_column(sa.BigInteger)


class IndexedSigningKey(Base):
    """A document-signing public key as published on-chain (the verifiers' trust list)."""

    __tablename__ = "signing_keys"

    kid: Mapped[bytes] = mapped_column(sa.LargeBinary(8), primary_key=True)
    authority: Mapped[str] = mapped_column(sa.ForeignKey("authorities.code"), index=True)
    #: 1 = ES256, 2 = EdDSA (as the Authorities contract numbers them)
    algorithm: Mapped[int] = mapped_column()
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    valid_from: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    updated_block: Mapped[int] = mapped_column(sa.BigInteger)


class Mra(Base):
    __tablename__ = "mras"

    #: the on-chain id, as 32 bytes (a uint256 id is stored big-endian)
    mra_id: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    #: proposed, in_force, suspended, terminated
    status: Mapped[str] = mapped_column(NulSafeString(16), index=True)
    proposer: Mapped[str] = mapped_column(NulSafeString(4))
    effective_from: Mapped[date] = mapped_column()
    ends_on: Mapped[date | None] = mapped_column()
    text_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    updated_block: Mapped[int] = mapped_column(sa.BigInteger)

    parties: Mapped[list[MraParty]] = relationship(
        back_populates="mra", cascade="all, delete-orphan", lazy="selectin"
    )


class MraParty(Base):
    __tablename__ = "mra_parties"

    mra_id: Mapped[bytes] = mapped_column(
        sa.ForeignKey("mras.mra_id", ondelete="CASCADE"), primary_key=True
    )
    authority: Mapped[str] = mapped_column(NulSafeString(4), primary_key=True, index=True)
    #: which of this party's tiers the other parties recognize (tier bit set)
    recognized_tiers: Mapped[int] = mapped_column()
    signed_at: Mapped[datetime | None] = mapped_column()

    mra: Mapped[Mra] = relationship(back_populates="parties")
