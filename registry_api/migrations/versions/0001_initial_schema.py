"""Initial schema: every table of the registry service.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:48:51.642570
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authorities",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_authorities")),
    )
    op.create_table(
        "certificate_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=4), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("reason_code", sa.Integer(), nullable=True),
        sa.Column("operator", sa.String(length=42), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_events")),
        sa.UniqueConstraint(
            "tx_hash", "log_index", name=op.f("uq_certificate_events_tx_hash_log_index")
        ),
    )
    op.create_index(
        op.f("ix_certificate_events_block_number_log_index"),
        "certificate_events",
        ["block_number", "log_index"],
        unique=False,
    )
    op.create_index(
        op.f("ix_certificate_events_certificate_id"),
        "certificate_events",
        ["certificate_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_certificate_events_issuer"), "certificate_events", ["issuer"], unique=False
    )
    op.create_index(
        op.f("ix_certificate_events_number"), "certificate_events", ["number"], unique=False
    )

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=4), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("holder_legal_name", sa.String(length=512), nullable=False),
        sa.Column("holder_name_folded", sa.String(length=512), nullable=False),
        sa.Column(
            "holder_address",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("holder_id_scheme", sa.String(length=16), nullable=False),
        sa.Column("holder_id_number", sa.String(length=64), nullable=False),
        sa.Column(
            "business_roles",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sites", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("tiers", sa.Integer(), nullable=False),
        sa.Column(
            "validated_criteria",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("issuing_office", sa.String(length=256), nullable=False),
        sa.Column("officer", sa.String(length=256), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "suspended",
                "revoked",
                "failed",
                name="certificatestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Integer(), nullable=True),
        sa.Column("remedy_deadline", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("holder_ref", sa.LargeBinary(length=32), nullable=False),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("certificate_id", name=op.f("uq_certificates_certificate_id")),
        sa.UniqueConstraint("number", name=op.f("uq_certificates_number")),
    )
    op.create_index(
        op.f("ix_certificates_holder_id_scheme_holder_id_number"),
        "certificates",
        ["holder_id_scheme", "holder_id_number"],
        unique=False,
    )
    op.create_index(
        op.f("ix_certificates_holder_name_folded"),
        "certificates",
        ["holder_name_folded"],
        unique=False,
    )
    op.create_index(
        op.f("ix_certificates_holder_ref"), "certificates", ["holder_ref"], unique=False
    )
    op.create_index(op.f("ix_certificates_status"), "certificates", ["status"], unique=False)
    op.create_index(op.f("ix_certificates_tiers"), "certificates", ["tiers"], unique=False)
    op.create_index(
        op.f("ix_certificates_valid_from_valid_until"),
        "certificates",
        ["valid_from", "valid_until"],
        unique=False,
    )

    op.create_table(
        "indexer_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_indexer_cursors")),
    )
    op.create_table(
        "mras",
        sa.Column("mra_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposer", sa.String(length=4), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("text_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("mra_id", name=op.f("pk_mras")),
    )
    op.create_index(op.f("ix_mras_status"), "mras", ["status"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "issuing_officer",
                "mra_officer",
                "auditor",
                "partner",
                "border_officer",
                name="role",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("partner_authority", sa.String(length=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["api_keys.id"], name=op.f("fk_api_keys_created_by_id_api_keys")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)

    op.create_table(
        "authority_accounts",
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("authority", sa.String(length=4), nullable=False),
        sa.Column("roles", sa.Integer(), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority"],
            ["authorities.code"],
            name=op.f("fk_authority_accounts_authority_authorities"),
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_authority_accounts")),
    )
    op.create_index(
        op.f("ix_authority_accounts_authority"), "authority_accounts", ["authority"], unique=False
    )

    op.create_table(
        "feed_entries",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("certificate_id", sa.LargeBinary(length=32), nullable=True),
        sa.Column("number", sa.String(length=32), nullable=True),
        sa.Column("tiers", sa.Integer(), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["certificate_events.id"],
            name=op.f("fk_feed_entries_event_id_certificate_events"),
        ),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_feed_entries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_feed_entries_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_feed_entries_certificate_id"), "feed_entries", ["certificate_id"], unique=False
    )

    op.create_table(
        "mra_parties",
        sa.Column("mra_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("authority", sa.String(length=4), nullable=False),
        sa.Column("recognized_tiers", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["mra_id"], ["mras.mra_id"], name=op.f("fk_mra_parties_mra_id_mras"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("mra_id", "authority", name=op.f("pk_mra_parties")),
    )
    op.create_index(op.f("ix_mra_parties_authority"), "mra_parties", ["authority"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.LargeBinary(length=8), nullable=False),
        sa.Column("authority", sa.String(length=4), nullable=False),
        sa.Column("algorithm", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority"], ["authorities.code"], name=op.f("fk_signing_keys_authority_authorities")
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_index(op.f("ix_signing_keys_authority"), "signing_keys", ["authority"], unique=False)

    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "running",
                "completed",
                "failed",
                name="importstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), nullable=False),
        sa.Column("issued_rows", sa.Integer(), nullable=False),
        sa.Column("skipped_rows", sa.Integer(), nullable=False),
        sa.Column("failed_rows", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_import_jobs_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
        sa.UniqueConstraint(
            "api_key_id", "idempotency_key", name=op.f("uq_import_jobs_api_key_id_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_import_jobs_file_sha256"), "import_jobs", ["file_sha256"], unique=False
    )

    op.create_table(
        "operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("certificate_number", sa.String(length=32), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "signed",
                "submitted",
                "confirmed",
                "failed",
                name="operationstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("sender", sa.String(length=42), nullable=True),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("signed_raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("tx_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_operations_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint(
            "api_key_id", "idempotency_key", name=op.f("uq_operations_api_key_id_idempotency_key")
        ),
    )
    op.create_index(
        op.f("ix_operations_certificate_number"), "operations", ["certificate_number"], unique=False
    )
    op.create_index(
        op.f("ix_operations_state_created_at"), "operations", ["state", "created_at"], unique=False
    )
    op.create_index(op.f("ix_operations_tx_hash"), "operations", ["tx_hash"], unique=False)

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_webhooks_api_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_api_key_id"), "webhooks", ["api_key_id"], unique=False)

    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("certificate_number", sa.String(length=32), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "pending",
                "issued",
                "skipped",
                "failed",
                name="rowoutcome",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "errors", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_rows_job_id_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"], ["operations.id"], name=op.f("fk_import_rows_operation_id_operations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
        sa.UniqueConstraint("job_id", "row_number", name=op.f("uq_import_rows_job_id_row_number")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column(
            "feed_sequence", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending", "delivered", "failed", name="deliverystate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_sequence"],
            ["feed_entries.sequence"],
            name=op.f("fk_webhook_deliveries_feed_sequence_feed_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "webhook_id",
            "feed_sequence",
            name=op.f("uq_webhook_deliveries_webhook_id_feed_sequence"),
        ),
    )
    op.create_index(
        op.f("ix_webhook_deliveries_state_next_attempt_at"),
        "webhook_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_webhook_deliveries_state_next_attempt_at"), table_name="webhook_deliveries"
    )

    op.drop_table("webhook_deliveries")
    op.drop_table("import_rows")
    op.drop_index(op.f("ix_webhooks_api_key_id"), table_name="webhooks")

    op.drop_table("webhooks")
    op.drop_index(op.f("ix_operations_tx_hash"), table_name="operations")
    op.drop_index(op.f("ix_operations_state_created_at"), table_name="operations")
    op.drop_index(op.f("ix_operations_certificate_number"), table_name="operations")

    op.drop_table("operations")
    op.drop_index(op.f("ix_import_jobs_file_sha256"), table_name="import_jobs")

    op.drop_table("import_jobs")
    op.drop_index(op.f("ix_signing_keys_authority"), table_name="signing_keys")

    op.drop_table("signing_keys")
    op.drop_index(op.f("ix_mra_parties_authority"), table_name="mra_parties")

    op.drop_table("mra_parties")
    op.drop_index(op.f("ix_feed_entries_certificate_id"), table_name="feed_entries")

    op.drop_table("feed_entries")
    op.drop_index(op.f("ix_authority_accounts_authority"), table_name="authority_accounts")

    op.drop_table("authority_accounts")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_index(op.f("ix_mras_status"), table_name="mras")

    op.drop_table("mras")
    op.drop_table("indexer_cursors")
    op.drop_index(op.f("ix_certificates_valid_from_valid_until"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_tiers"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_status"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_holder_ref"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_holder_name_folded"), table_name="certificates")
    op.drop_index(
        op.f("ix_certificates_holder_id_scheme_holder_id_number"), table_name="certificates"
    )

    op.drop_table("certificates")
    op.drop_index(op.f("ix_certificate_events_number"), table_name="certificate_events")
    op.drop_index(op.f("ix_certificate_events_issuer"), table_name="certificate_events")
    op.drop_index(op.f("ix_certificate_events_certificate_id"), table_name="certificate_events")
    op.drop_index(
        op.f("ix_certificate_events_block_number_log_index"), table_name="certificate_events"
    )

    op.drop_table("certificate_events")
    op.drop_table("authorities")
