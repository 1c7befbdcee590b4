"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from registry_api.app import create_app
from registry_api.db import Base, make_engine, upgrade_database
from registry_api.db.session import alembic_config, current_revision
from registry_api.settings import Settings


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def test_migrations_produce_the_schema_of_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        assert schema_differences(engine) == []
        tables = set(sa.inspect(engine).get_table_names())
        assert tables == set(Base.metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        upgrade_database(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_downgrading_to_base_removes_every_table_and_upgrading_restores_them(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        command.downgrade(alembic_config(engine), "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_database(engine)
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def test_the_app_migrates_its_database_at_start_up(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app):
        assert current_revision(app.state.engine) == head_revision()


def _rows(engine: sa.Engine, table: str, *columns: str) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        found = sa.table(table, *(sa.column(name) for name in columns))
        return [tuple(row) for row in connection.execute(sa.select(found).order_by(sa.text("1")))]


def test_revision_0003_fills_the_tiers_before_each_entry_and_keeps_only_error_classes(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_database(engine, "0002")
        now = datetime.now(UTC)
        cert_a, cert_b = b"\xaa" * 32, b"\xbb" * 32

        def entry(sequence: int, kind: str, certificate: bytes | None, tiers: int | None,
                  payload: dict[str, object] | None = None) -> dict[str, object]:  # fmt: skip
            return {
                "sequence": sequence,
                "kind": kind,
                "certificate_id": certificate,
                "tiers": tiers,
                "payload": payload or {},
                "block_number": sequence,
                "created_at": now,
            }

        feed = [
            entry(1, "certificate.issued", cert_a, 2),
            entry(2, "certificate.suspended", cert_a, 2),
            entry(3, "certificate.amended", cert_a, 1),  # out of S
            entry(4, "authority.admitted", None, None),
            entry(5, "certificate.issued", cert_b, 3),
            entry(6, "certificate.amended", cert_b, 2, {"retracted_by": 7}),
            entry(7, "chain.rewound", None, None, {"from_block": 6, "retracted": [6]}),
            entry(8, "certificate.amended", cert_b, 1),  # re-indexed: before it, 3 again
            entry(9, "certificate.reinstated", cert_a, 1),
        ]
        errors = [
            "ConnectError: [Errno 111] Connection refused",
            "timed out after 10 s",
            "answered HTTP 503",
            "ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            "ConnectError: [Errno -2] Name or service not known",
            "RemoteProtocolError: Server disconnected without sending a response.",
        ]
        metadata = sa.MetaData()
        metadata.reflect(engine)
        tables = metadata.tables
        with engine.begin() as connection:
            connection.execute(sa.insert(tables["feed_entries"]), feed)
            connection.execute(
                sa.insert(tables["users"]), [{"id": 1, "name": "KR", "created_at": now}]
            )
            connection.execute(
                sa.insert(tables["api_keys"]),
                [{"id": 1, "user_id": 1, "prefix": "p" * 12, "secret_hash": b"\x00" * 32,
                  "role": "partner", "partner_authority": "KR", "created_at": now}],
            )  # fmt: skip
            connection.execute(
                sa.insert(tables["webhooks"]),
                [{"id": 1, "api_key_id": 1, "url": "https://kr.example/hook",
                  "secret": "whsec_x", "active": True, "created_at": now}],
            )  # fmt: skip
            connection.execute(
                sa.insert(tables["webhook_deliveries"]),
                [
                    {"id": n, "webhook_id": 1, "feed_sequence": n, "state": "pending",
                     "attempts": 1, "last_error": text, "created_at": now}
                    for n, text in enumerate(errors, start=1)
                ],
            )  # fmt: skip
            connection.execute(
                sa.insert(tables["webhook_delivery_attempts"]),
                [
                    {"delivery_id": n, "attempted_at": now, "outcome": "network_error",
                     "error": text, "latency_ms": 1.0}
                    for n, text in enumerate(errors, start=1)
                ],
            )  # fmt: skip

        upgrade_database(engine)

        assert _rows(engine, "feed_entries", "sequence", "previous_tiers") == [
            (1, None),
            (2, 2),
            (3, 2),
            (4, None),
            (5, None),
            (6, 3),
            (7, None),
            (8, 3),
            (9, 1),
        ]
        classes = [
            "connection_refused",
            "timeout",
            "http_status",
            "tls_error",
            "dns_error",
            "other",
        ]
        assert [
            row[1] for row in _rows(engine, "webhook_deliveries", "id", "last_error")
        ] == classes
        assert [row[1] for row in _rows(engine, "webhook_delivery_attempts", "id", "error")] == (
            classes
        )
        assert schema_differences(engine) == []
    finally:
        engine.dispose()
