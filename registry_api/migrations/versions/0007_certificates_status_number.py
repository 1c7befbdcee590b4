"""An index on certificates (status, number), for the console's search by status.

The console pages a search by number after the last one shown (keyset paging). With a
status filter, an index on the status alone gives the matching rows in no useful order: a
million active certificates were all read and sorted for each page. With (status, number)
the rows come in number order from where the previous page stopped.

One new index: nothing else changes, and a downgrade drops it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 10:58:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_certificates_status_number", "certificates", ["status", "number"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_certificates_status_number", table_name="certificates")
