"""The programme's KPIs: border-check counts, KPI targets, and an index for reading
certificate events by issuer and period (transitions per month, partner propagation).

New tables and one new index only; a downgrade drops them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 10:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "border_check_counts",
        sa.Column("authority", sa.String(length=4), nullable=False),
        sa.Column("post", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("verdict", sa.String(length=24), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by_key_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reported_by_key_id"],
            ["api_keys.id"],
            name=op.f("fk_border_check_counts_reported_by_key_id_api_keys"),
        ),
        sa.PrimaryKeyConstraint(
            "authority", "post", "day", "verdict", name=op.f("pk_border_check_counts")
        ),
    )
    op.create_table(
        "kpi_targets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kpi", sa.String(length=64), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by_key_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["set_by_key_id"], ["api_keys.id"], name=op.f("fk_kpi_targets_set_by_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_targets")),
    )
    op.create_index(op.f("ix_kpi_targets_kpi_id"), "kpi_targets", ["kpi", "id"], unique=False)
    op.create_index(
        "ix_certificate_events_kpis",
        "certificate_events",
        ["issuer", "block_time", "kind", "reason_code", "indexed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_events_kpis", table_name="certificate_events")
    op.drop_index(op.f("ix_kpi_targets_kpi_id"), table_name="kpi_targets")
    op.drop_table("kpi_targets")
    op.drop_table("border_check_counts")
