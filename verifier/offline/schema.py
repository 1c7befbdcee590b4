"""The offline cache's SQLite schema, and the sync point a sync records in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

SCHEMA_VERSION: Final = 1

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sync_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    block_number INTEGER NOT NULL,
    block_hash BLOB NOT NULL,
    block_time INTEGER NOT NULL,
    synced_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS authorities (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status INTEGER NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid BLOB PRIMARY KEY,
    authority TEXT NOT NULL,
    algorithm INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    valid_from INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS certificates (
    id BLOB PRIMARY KEY,
    issuer TEXT NOT NULL,
    number TEXT NOT NULL,
    tiers INTEGER NOT NULL,
    status INTEGER NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    version INTEGER NOT NULL,
    digest BLOB NOT NULL,
    holder_ref BLOB NOT NULL,
    commitment BLOB NOT NULL,
    status_reason INTEGER NOT NULL,
    status_since INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS status_changes (
    certificate_id BLOB NOT NULL REFERENCES certificates (id),
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    status INTEGER NOT NULL,
    reason INTEGER NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (certificate_id, block_number, log_index)
);
CREATE TABLE IF NOT EXISTS mras (
    id INTEGER PRIMARY KEY,
    status INTEGER NOT NULL,
    effective_from INTEGER NOT NULL,
    ends_on INTEGER NOT NULL,
    text_hash BLOB NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mra_parties (
    mra_id INTEGER NOT NULL REFERENCES mras (id),
    position INTEGER NOT NULL,
    authority TEXT NOT NULL,
    recognized_tiers INTEGER NOT NULL,
    signed INTEGER NOT NULL,
    PRIMARY KEY (mra_id, position),
    UNIQUE (mra_id, authority)
);
CREATE INDEX IF NOT EXISTS mra_parties_by_authority ON mra_parties (authority);
"""


@dataclass(frozen=True)
class SyncPoint:
    """The chain position a sync reached, and when the sync ran."""

    block_number: int
    block_hash: bytes
    block_time: datetime
    synced_at: datetime
