"""Record version 2: identifier aliases and the holder's consent to publication.

- ``certificates.aliases`` (JSON, the record's aliases) and
  ``certificates.public_consent_date``: members of the canonical record ``aeo-record/2``.
  Existing rows hold version 1 records: they get no aliases (``[]``) and no consent, which
  is what their committed records say, so every stored commitment still matches.
- ``certificate_aliases``: the exact-lookup index of (scheme, normalised value) for each
  certificate: its aliases and the holder's identification. Filled here from the holder
  identification of the existing rows, normalised as ``records.normalise_alias_value``
  does (the rule is copied below, as a migration must keep doing what it did when written).

A downgrade drops the table and the columns (and with them every alias and consent: records
of version 2 then no longer match their commitments).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:30:00.000000
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEPARATORS = re.compile(r"[\s\-./_:,;]+")
_VALUE = re.compile(r"^[A-Z0-9]{1,64}$")
_BATCH = 1000


def _normalised(value: str) -> str | None:
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    return text if _VALUE.match(text) else None


def upgrade() -> None:
    op.add_column(
        "certificates",
        sa.Column(
            "aliases", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
    )
    op.add_column("certificates", sa.Column("public_consent_date", sa.Date(), nullable=True))
    op.create_table(
        "certificate_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("scheme", sa.String(length=24), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.certificate_id"],
            name=op.f("fk_certificate_aliases_certificate_id_certificates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_aliases")),
        sa.UniqueConstraint(
            "certificate_id",
            "scheme",
            "value",
            name=op.f("uq_certificate_aliases_certificate_id_scheme_value"),
        ),
    )
    op.create_index(
        op.f("ix_certificate_aliases_scheme_value"),
        "certificate_aliases",
        ["scheme", "value"],
        unique=False,
    )
    bind = op.get_bind()
    certificates = sa.table(
        "certificates",
        sa.column("certificate_id", sa.LargeBinary()),
        sa.column("holder_id_scheme", sa.String()),
        sa.column("holder_id_number", sa.String()),
        sa.column("aliases", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    )
    aliases = sa.table(
        "certificate_aliases",
        sa.column("certificate_id", sa.LargeBinary()),
        sa.column("scheme", sa.String()),
        sa.column("value", sa.String()),
    )
    bind.execute(sa.update(certificates).values(aliases=[]))
    rows = bind.execute(
        sa.select(
            certificates.c.certificate_id,
            certificates.c.holder_id_scheme,
            certificates.c.holder_id_number,
        )
    ).all()
    batch: list[dict[str, object]] = []
    for certificate_id, scheme, number in rows:
        value = _normalised(number)
        if value is None:
            continue
        batch.append({"certificate_id": certificate_id, "scheme": scheme.upper(), "value": value})
        if len(batch) >= _BATCH:
            bind.execute(sa.insert(aliases), batch)
            batch = []
    if batch:
        bind.execute(sa.insert(aliases), batch)


def downgrade() -> None:
    op.drop_index(op.f("ix_certificate_aliases_scheme_value"), table_name="certificate_aliases")
    op.drop_table("certificate_aliases")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("public_consent_date")
        batch.drop_column("aliases")
