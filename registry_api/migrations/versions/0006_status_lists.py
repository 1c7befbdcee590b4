"""W3C Bitstring Status Lists: each certificate's place in them, and the lists' bits.

- ``status_list_entries``: certificate (by its on-chain id) -> list number and index, the
  same place in the revocation list and in the suspension list; a place is given once.
- ``status_lists``: the two encoded bitstrings of each list, rewritten by the indexer.

New tables only: existing certificates get their place at the first credential asked of
them (registry_api.status_lists), so nothing is filled here. A downgrade drops both: the
places handed out are forgotten, and credentials issued before then point at lists this
registry no longer serves.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_list_entries",
        sa.Column("certificate_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("list_number", sa.Integer(), nullable=False),
        sa.Column("list_index", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_status_list_entries")),
        sa.UniqueConstraint(
            "list_number",
            "list_index",
            name=op.f("uq_status_list_entries_list_number_list_index"),
        ),
    )
    op.create_table(
        "status_lists",
        sa.Column("list_number", sa.Integer(), nullable=False),
        sa.Column("revocation", sa.Text(), nullable=False),
        sa.Column("suspension", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("list_number", name=op.f("pk_status_lists")),
    )


def downgrade() -> None:
    op.drop_table("status_lists")
    op.drop_table("status_list_entries")
