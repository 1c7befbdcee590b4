"""Feed entries keep the tiers in force before them; delivery logs keep error classes only.

- ``feed_entries.previous_tiers``: a certificate entry's tier set before its event (None for
  an issuance). A partner sees an entry when its tiers before or after hold a tier its MRAs
  cover, so an amendment that takes a certificate out of cover hides what follows it. Filled
  for the existing entries by replaying each certificate's entries in feed order, as the
  indexer wrote them (entries a ``chain.rewound`` entry retracted no longer count as the
  state before a later one, as they did not for the indexer).
- ``webhook_deliveries.last_error`` and ``webhook_delivery_attempts.error`` held exception
  texts (addresses, ports, TLS details of what a partner's URL reached); they become one of
  the classes of ``registry_api.db.DeliveryError``.

Webhook secrets are sealed by the service at its next start, not here: the key derives from
the service's passphrase, which migrations do not have. A database downgraded below this
revision after that start keeps sealed secrets, which the older code cannot use: register
those webhooks again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_feed = sa.table(
    "feed_entries",
    sa.column("sequence", sa.BigInteger()),
    sa.column("kind", sa.String()),
    sa.column("certificate_id", sa.LargeBinary()),
    sa.column("tiers", sa.Integer()),
    sa.column("previous_tiers", sa.Integer()),
    sa.column("payload", sa.JSON()),
)

#: (column owner, column) of each stored delivery error
_ERROR_COLUMNS = (("webhook_deliveries", "last_error"), ("webhook_delivery_attempts", "error"))


def error_class(text: str) -> str:
    """The DeliveryError value an error text of revision 0002 stands for."""
    lowered = text.lower()
    if lowered.startswith("answered http"):
        return "http_status"
    if lowered.startswith("timed out") or "timeout" in lowered:
        return "timeout"
    if "refused" in lowered:
        return "connection_refused"
    if any(mark in lowered for mark in ("ssl", "tls", "certificate")):
        return "tls_error"
    if any(
        mark in lowered
        for mark in ("name or service not known", "name resolution", "nodename", "getaddrinfo")
    ):
        return "dns_error"
    return "other"


def _fill_previous_tiers(connection: sa.Connection) -> None:
    history: dict[bytes, list[tuple[int, int | None]]] = {}
    updates: list[dict[str, Any]] = []
    rows = connection.execute(
        sa.select(
            _feed.c.sequence, _feed.c.kind, _feed.c.certificate_id, _feed.c.tiers, _feed.c.payload
        ).order_by(_feed.c.sequence)
    )
    for sequence, kind, certificate_id, tiers, payload in rows:
        if kind == "chain.rewound":
            retracted = set((payload or {}).get("retracted", []))
            for entries in history.values():
                entries[:] = [entry for entry in entries if entry[0] not in retracted]
            continue
        if certificate_id is None or not kind.startswith("certificate."):
            continue
        entries = history.setdefault(bytes(certificate_id), [])
        if kind != "certificate.issued" and entries and entries[-1][1] is not None:
            updates.append({"at": sequence, "before": entries[-1][1]})
        entries.append((sequence, tiers))
    if updates:
        connection.execute(
            _feed.update()
            .where(_feed.c.sequence == sa.bindparam("at"))
            .values(previous_tiers=sa.bindparam("before")),
            updates,
        )


def _classify_errors(connection: sa.Connection) -> None:
    for table_name, column_name in _ERROR_COLUMNS:
        table = sa.table(table_name, sa.column(column_name, sa.Text()))
        column = table.c[column_name]
        texts = connection.scalars(sa.select(column).where(column.is_not(None)).distinct()).all()
        for text in texts:
            connection.execute(
                table.update().where(column == text).values({column_name: error_class(text)})
            )


def upgrade() -> None:
    op.add_column("feed_entries", sa.Column("previous_tiers", sa.Integer(), nullable=True))
    connection = op.get_bind()
    _fill_previous_tiers(connection)
    _classify_errors(connection)


def downgrade() -> None:
    # The error texts are gone; the classes stay (revision 0002 shows any text).
    op.drop_column("feed_entries", "previous_tiers")
