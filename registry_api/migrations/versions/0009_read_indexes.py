"""Indexes for the reads that grew with a million certificates (issues 12 and 13).

- ``certificates (valid_until)``: the expiry windows (KPIs, the console's "expiring soon")
  read a range of end dates; the (valid_from, valid_until) index made that a skip scan
  over every start date.
- ``certificate_events (certificate_id, block_number, log_index)``: a certificate's events
  in chain order, so "the next status change after this suspension" is one index probe.
- ``certificate_events (issuer, certificate_id, block_number, log_index)``: an issuer's
  latest event per certificate (what a partner's certificates are, MRA coverage) reads
  that issuer's rows in order, not every event of every issuer sorted.

New indexes only: nothing else changes, and a downgrade drops them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 14:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_certificates_valid_until", "certificates", ["valid_until"])
    op.create_index(
        "ix_certificate_events_certificate_order",
        "certificate_events",
        ["certificate_id", "block_number", "log_index"],
    )
    op.create_index(
        "ix_certificate_events_issuer_certificate",
        "certificate_events",
        ["issuer", "certificate_id", "block_number", "log_index"],
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_events_issuer_certificate", table_name="certificate_events")
    op.drop_index("ix_certificate_events_certificate_order", table_name="certificate_events")
    op.drop_index("ix_certificates_valid_until", table_name="certificates")
