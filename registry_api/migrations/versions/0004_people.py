"""People who sign in to the officers' console, their sessions, and the access log.

- ``people``: local accounts (argon2id password hash, optional TOTP secret sealed under a
  key derived from the service's passphrase, lockout counters) and people known through
  the OpenID Connect provider (issuer and subject). Each is linked to a ``users`` row, the
  name the API already records actions under.
- ``console_sessions``: server-side sessions, found by the SHA-256 of the cookie's token.
- ``access_events``: every sign-in, failure, lockout, sign-out and account change.

New tables only: nothing existing changes, and a downgrade drops them (the people, their
sessions and the access log with them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 08:24:15.926863
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLES = ("admin", "issuing_officer", "mra_officer", "auditor", "partner", "border_officer")


def _role() -> sa.Enum:
    return sa.Enum(*_ROLES, name="role", native_enum=False, length=24)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("local", "oidc", name="signinsource", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("role", _role(), nullable=False),
        sa.Column("partner_authority", sa.String(length=4), nullable=True),
        sa.Column("oidc_issuer", sa.String(length=512), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("password_change_required", sa.Boolean(), nullable=False),
        sa.Column("totp_required", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.String(length=256), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_people_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sa.UniqueConstraint("name", name=op.f("uq_people_name")),
        sa.UniqueConstraint(
            "oidc_issuer", "oidc_subject", name=op.f("uq_people_oidc_issuer_oidc_subject")
        ),
        sa.UniqueConstraint("user_id", name=op.f("uq_people_user_id")),
    )
    op.create_table(
        "access_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "signed_in",
                "sign_in_failed",
                "locked_out",
                "locked",
                "disabled",
                "signed_out",
                "session_expired",
                "totp_enrolled",
                "password_changed",
                "sso_refused",
                "sso_failed",
                "csrf_refused",
                "account_added",
                "account_disabled",
                "account_reset",
                name="accesseventkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("role", sa.String(length=24), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_access_events_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
    )
    op.create_index(op.f("ix_access_events_at"), "access_events", ["at"], unique=False)
    op.create_index(
        op.f("ix_access_events_person_id"), "access_events", ["person_id"], unique=False
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "totp",
                "totp_enrolment",
                "password_change",
                "signed_in",
                name="sessionstage",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "method",
            sa.Enum(
                "password",
                "password_totp",
                "oidc",
                name="signinmethod",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("role", _role(), nullable=False),
        sa.Column("partner_authority", sa.String(length=4), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_console_sessions_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_console_sessions_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_sessions_token_hash")),
    )
    op.create_index(
        op.f("ix_console_sessions_person_id"), "console_sessions", ["person_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_console_sessions_person_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_access_events_person_id"), table_name="access_events")
    op.drop_index(op.f("ix_access_events_at"), table_name="access_events")
    op.drop_table("access_events")
    op.drop_table("people")
