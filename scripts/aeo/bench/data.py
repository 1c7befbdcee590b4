"""Synthetic but well-formed data for the benchmarks: registry databases filled straight
through the tables (no chain), and a verifier world (a signing key, certificates, their QR
texts and the offline cache that knows them).

Registry rows are what the service itself would hold after issuing and indexing: the
certificate row with its record and the hashes derived from it (the canonical record
built here is the service's own canonical form: a test compares them), an ``issued``
certificate event as the indexer writes it (``data.state`` included), and the indexer
cursor past the last block. Rows go in with Core ``executemany`` in chunks: a million rows
take about a minute instead of the ORM's ten.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from contracts.domain import days, events as ev, ids
from contracts.domain.claims import Claims
from contracts.domain.enums import KeyAlgorithm, Tier
from contracts.domain.record import RECORD_SCHEMA
from registry_api.db import (
    Certificate,
    CertificateEvent,
    IndexerCursor,
    LocalStatus,
    Role,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from registry_api.db.certificates import CertificateAlias
from registry_api.db.chain_index import CURSOR_NAME
from registry_api.services.api_keys import create_api_key
from verifier import keys
from verifier.offline import OfflineCache, SyncPoint
from verifier.payload import encode

ISSUER = "MN"
VERIFIER_AS = "KR"
#: certificates per issue_batch transaction in the synthetic chain history
PER_BLOCK = 100
OPERATOR = "0x" + "11" * 20
_HOLDER_NAMES = (
    "Tavan Bogd Trade LLC",
    "Gobi Trans Logistics LLC",
    "Altan Tevsh Freight JSC",
    "Khan Bank Customs Brokerage LLC",
    "Erdenet Mining Corporation",
    "Nomin Holding Import Export LLC",
    "Монгол Экспресс Тээвэр ХХК",
    "Ulaanbaatar Rail Terminal LLC",
)
_CITIES = ("Ulaanbaatar", "Darkhan", "Erdenet", "Zamyn-Uud", "Sainshand", "Choir")
_CHUNK = 5000


def number_of(index: int, issuer: str = ISSUER) -> str:
    return f"{issuer}-AEO-{index:07d}"


def canonical_record(
    index: int, issuer: str, valid_from: date, valid_until: date
) -> dict[str, Any]:
    """Certificate ``index``'s record in the service's canonical form (sorted lists,
    absent members omitted, ISO dates, the schema tag)."""
    return {
        "business_roles": ["EX", "IM"] if index % 3 else ["EX", "IM", "WH"],
        "holder": {
            "address": {
                "city": _CITIES[index % len(_CITIES)],
                "country": "MN",
                "postal_code": f"{14000 + index % 900}",
                "street": f"Peace Avenue {index % 250 + 1}",
            },
            "identification": {"number": f"{5000000 + index}", "scheme": "TIN"},
            "legal_name": f"{_HOLDER_NAMES[index % len(_HOLDER_NAMES)]} {index}",
        },
        "issuer": issuer,
        "issuing_office": "Ulaanbaatar Customs House",
        "number": number_of(index, issuer),
        "officer": "B. Bat-Erdene",
        "schema": RECORD_SCHEMA,
        "sites": [],
        "tiers": 1 + index % 3,
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(),
        "validated_criteria": ["C1", "C2", "C3", "C6"],
    }


def canonical_bytes(record: dict[str, Any]) -> bytes:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class SeedRows:
    certificates: list[dict[str, Any]]
    events: list[dict[str, Any]]


def _synthetic_hash(label: str, number: str) -> bytes:
    return hashlib.blake2b(number.encode("ascii"), digest_size=32, person=label.encode()).digest()


def seed_rows(
    start: int, count: int, *, issuer: str = ISSUER, today: date, real_hashes: bool = True
) -> SeedRows:
    """Rows ``start .. start+count-1``: certificates (active), and one ``issued`` event each,
    ``PER_BLOCK`` per transaction and block as a batch issue would put them.

    ``real_hashes=False`` fills the hash columns (id, holder reference, commitment, digest)
    with distinct stand-in bytes of the right sizes, five times faster: for databases whose
    reads never recompute them (a million rows for the scale benchmark)."""
    now = datetime.now(UTC)
    valid_from = today - timedelta(days=30)
    valid_until = today + timedelta(days=3 * 365)
    certificates, events = [], []
    shared: dict[str, list[str]] = {}
    for index in range(start, start + count):
        record = canonical_record(index, issuer, valid_from, valid_until)
        holder = record["holder"]
        number = record["number"]
        if real_hashes:
            commitment = ids.keccak(canonical_bytes(record))
            holder_ref = ids.holder_ref("TIN", holder["identification"]["number"])
            certificate_id = ids.certificate_id(issuer, number)
            digest = ids.record_digest(holder_ref, commitment)
        else:
            commitment = _synthetic_hash("commitment", number)
            holder_ref = _synthetic_hash("holder", number)
            certificate_id = _synthetic_hash("id", number)
            digest = commitment[:20]
        certificates.append(
            {
                "certificate_id": certificate_id,
                "issuer": issuer,
                "number": record["number"],
                "holder_legal_name": holder["legal_name"],
                "holder_name_folded": holder["legal_name"].casefold(),
                "holder_address": holder["address"],
                "holder_id_scheme": "TIN",
                "holder_id_number": holder["identification"]["number"],
                "business_roles": shared.setdefault(
                    ",".join(record["business_roles"]), record["business_roles"]
                ),
                "sites": shared.setdefault("", []),
                "tiers": record["tiers"],
                "validated_criteria": shared.setdefault("criteria", record["validated_criteria"]),
                "issuing_office": record["issuing_office"],
                "officer": record["officer"],
                "valid_from": valid_from,
                "valid_until": valid_until,
                "status": LocalStatus.ACTIVE,
                "status_reason": None,
                "remedy_deadline": None,
                "version": 1,
                "holder_ref": holder_ref,
                "commitment": commitment,
                "digest": digest,
                "created_at": now,
                "updated_at": now,
            }
        )
        block = 100 + index // PER_BLOCK
        state = {
            "status": "active",
            "version": 1,
            "tiers": record["tiers"],
            "valid_from": days.to_day(valid_from),
            "valid_until": days.to_day(valid_until),
            "holder_ref": "0x" + holder_ref.hex(),
            "commitment": "0x" + commitment.hex(),
        }
        events.append(
            {
                "certificate_id": certificate_id,
                "issuer": issuer,
                "number": record["number"],
                "kind": "issued",
                "status": "active",
                "reason_code": None,
                "operator": OPERATOR,
                "version": 1,
                "commitment": commitment,
                "data": {"event": "CertificateIssued", "state": state},
                "tx_hash": block.to_bytes(32, "big"),
                "block_number": block,
                "block_hash": (block + 2**200).to_bytes(32, "big"),
                "log_index": index % PER_BLOCK,
                "block_time": now,
                "indexed_at": now,
            }
        )
    return SeedRows(certificates, events)


def last_block(count: int) -> int:
    return 100 + max(count - 1, 0) // PER_BLOCK


Progress = Callable[[int], None]


class _RawInsert:
    """An INSERT run by the driver's ``executemany``, each value passed through the column
    type's own SQLAlchemy bind processor (so JSON, dates and enums are stored exactly as
    the ORM stores them) without SQLAlchemy's per-row statement machinery."""

    def __init__(self, table: sa.Table, dialect: sa.Dialect, columns: list[str]) -> None:
        self.columns = columns
        # psycopg's placeholders are named (%(name)s): its executemany wants mappings.
        self.named = dialect.paramstyle in ("named", "pyformat")
        self.processors = [
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
        ]
        self.sql = str(
            sa.insert(table)
            .values({name: sa.bindparam(name) for name in columns})
            .compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        )

    def rows(self, dicts: list[dict[str, Any]]) -> list[tuple[Any, ...]] | list[dict[str, Any]]:
        values = self._values(dicts)
        if self.named:
            return [dict(zip(self.columns, row, strict=True)) for row in values]
        return values

    def _values(self, dicts: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        pairs = list(zip(self.columns, self.processors, strict=True))
        # Rows share their constant values (the same list or datetime object): each is
        # processed once per chunk, keyed by identity while the chunk keeps it alive.
        done: dict[tuple[int, int], Any] = {}

        def value(position: int, proc: Any, raw: Any) -> Any:
            key = (position, id(raw))
            if key not in done:
                done[key] = proc(raw)
            return done[key]

        return [
            tuple(
                row[name]
                if proc is None
                else value(i, proc, row[name])
                if isinstance(row[name], list | datetime | StrEnum)
                else proc(row[name])
                for i, (name, proc) in enumerate(pairs)
            )
            for row in dicts
        ]


def fill_registry(
    db_url: str,
    count: int,
    *,
    today: date | None = None,
    on_progress: Progress | None = None,
    start: int = 0,
    real_hashes: bool = True,
) -> None:
    """Migrate the database at ``db_url`` and insert ``count`` issued, indexed certificates
    (numbers from ``start``), with the indexer cursor after them (see :func:`seed_rows`)."""
    today = today or datetime.now(UTC).date()
    engine = make_engine(db_url)
    try:
        upgrade_database(engine)
        done = 0
        with engine.begin() as connection:
            dialect = connection.dialect
            certificates: _RawInsert | None = None
            events: _RawInsert | None = None
            raw = connection.connection.driver_connection
            assert raw is not None
            cursor = raw.cursor()
            for offset in range(start, start + count, _CHUNK):
                size = min(_CHUNK, start + count - offset)
                rows = seed_rows(offset, size, today=today, real_hashes=real_hashes)
                if certificates is None or events is None:
                    certificates = _RawInsert(
                        cast(sa.Table, Certificate.__table__), dialect, list(rows.certificates[0])
                    )
                    events = _RawInsert(
                        cast(sa.Table, CertificateEvent.__table__), dialect, list(rows.events[0])
                    )
                cursor.executemany(certificates.sql, certificates.rows(rows.certificates))
                cursor.executemany(events.sql, events.rows(rows.events))
                done += size
                if on_progress is not None:
                    on_progress(done)
            cursor.close()
            block = last_block(start + count)
            connection.execute(sa.delete(IndexerCursor).where(IndexerCursor.name == CURSOR_NAME))
            connection.execute(
                sa.insert(IndexerCursor),
                [
                    {
                        "name": CURSOR_NAME,
                        "block_number": block,
                        "block_hash": (block + 2**200).to_bytes(32, "big"),
                        "updated_at": datetime.now(UTC),
                    }
                ],
            )
    finally:
        engine.dispose()


def reader_token(db_url: str, authority: str = ISSUER) -> str:
    """A new auditor API key (may read certificates) in the database; its bearer token."""
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            _key, token = create_api_key(
                session, user="benchmark reader", role=Role.AUDITOR, own_authority=authority
            )
        return token
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the verifier's world


@dataclass(frozen=True)
class VerifierWorld:
    """An offline cache file that knows MN, KR, MN's signing key, an MRA under which KR
    recognizes MN's tiers, and ``texts``: one signed QR text per certificate."""

    cache_path: Path
    texts: tuple[str, ...]
    as_authority: str
    now: datetime


def _longest_name() -> str:
    # A realistic long legal name: the encoder abbreviates and cuts it to fit (the QR's
    # worst case is the longest name that still fits, with the longest number).
    return "Mongolian International Freight Forwarding and Logistics Limited Liability Company"


def claims_for(index: int, issued_at: int, today: int, *, longest: bool = False) -> Claims:
    number = f"{ISSUER}-AEO-{index:07d}"
    if longest:
        # 32 characters: the longest number the format allows.
        number = f"{ISSUER}-AEO-2025/UB-CUSTOMS-{index:07d}"[:32]
    return Claims.from_record(
        issuer=ISSUER,
        number=number,
        holder_name=_longest_name() if longest else _HOLDER_NAMES[index % len(_HOLDER_NAMES)],
        holder_id_scheme="EORI" if longest else "TIN",
        holder_id=f"MN{9000000000000 + index}" if longest else f"{5000000 + index}",
        tiers=7 if longest else 2,
        valid_from=days.from_day(today - 30),
        valid_until=days.from_day(today + 3 * 365),
        issued_at=issued_at,
        version=1,
        commitment=ids.keccak(f"record {number}".encode()),
    )


def build_verifier_world(
    folder: Path, certificates: int, *, now: datetime | None = None
) -> VerifierWorld:
    """Write an offline cache under ``folder`` with ``certificates`` MN certificates (all
    active and recognized by KR) and return their QR texts."""
    now = now or datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"verifier-cache-{secrets.token_hex(4)}.sqlite"
    key = keys.generate_private_key(KeyAlgorithm.ES256)
    public = keys.public_key_bytes(key)
    t0 = int(now.timestamp()) - 86400
    today = days.day_of(int(now.timestamp()))

    issuer, verifier = ev.AuthorityCode(ISSUER), ev.AuthorityCode(VERIFIER_AS)
    operator = ev.Address(OPERATOR)

    def at(block: int, index: int = 0) -> dict[str, Any]:
        return {
            "block_number": block,
            "log_index": index,
            "block_timestamp": t0 + block,
            "block_hash": block.to_bytes(32, "big"),
            "tx_hash": block.to_bytes(32, "big"),
            "address": operator,
        }

    events: list[ev.ChainEvent] = [
        ev.AuthorityAdmitted(
            code=issuer, name="Mongolia Customs General Administration", admin=operator, **at(1)
        ),
        ev.AuthorityAdmitted(
            code=verifier, name="Korea Customs Service", admin=operator, **at(1, 1)
        ),
        ev.SigningKeyRegistered(
            kid=ids.key_id(public),
            authority=issuer,
            algorithm=KeyAlgorithm.ES256,
            public_key=public,
            valid_from=t0,
            **at(2),
        ),
        ev.MraProposed(
            mra_id=1,
            parties=(issuer, verifier),
            recognized_tiers=(Tier(7), Tier(7)),
            effective_from=days.Day(today - 60),
            ends_on=days.Day(0),
            text_hash=ids.keccak(b"MN-KR arrangement"),
            party=issuer,
            operator=operator,
            **at(3),
        ),
        ev.MraSigned(mra_id=1, party=verifier, operator=operator, **at(4)),
        ev.MraInForce(
            mra_id=1,
            party=verifier,
            effective_from=days.Day(today - 60),
            operator=operator,
            **at(4, 1),
        ),
    ]
    texts = []
    issued_at = t0 + 10
    for index in range(certificates):
        claims = claims_for(index, issued_at, today)
        texts.append(encode(claims, key))
        events.append(
            ev.CertificateIssued(
                certificate_id=claims.certificate_id,
                issuer=issuer,
                number=ev.CertificateNumber(claims.number),
                tiers=Tier(claims.tiers),
                valid_from=days.Day(claims.valid_from),
                valid_until=days.Day(claims.valid_until),
                holder_ref=claims.holder_ref,
                commitment=ids.keccak(f"record {claims.number}".encode()),
                operator=operator,
                **at(5 + index // PER_BLOCK, index % PER_BLOCK),
            )
        )
    block = 5 + max(certificates - 1, 0) // PER_BLOCK
    with OfflineCache(path) as cache:
        cache.apply_events(
            events,
            SyncPoint(
                block_number=block,
                block_hash=block.to_bytes(32, "big"),
                block_time=datetime.fromtimestamp(t0 + block, UTC),
                synced_at=now,
            ),
        )
    return VerifierWorld(path, tuple(texts), VERIFIER_AS, now)


def longest_text() -> str:
    """The QR text of the longest realistic record: longest number, long EORI, every tier,
    a long legal name (cut by the encoder to fit)."""
    key = keys.generate_private_key(KeyAlgorithm.ES256)
    now = int(datetime.now(UTC).timestamp())
    return encode(claims_for(1, now, days.day_of(now), longest=True), key)


def iter_chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, total, size):
        yield start, min(size, total - start)


# ---------------------------------------------------------------- the shared bench registry
#
# ``aeo bench console``, ``recognition`` and ``kpis`` read one kind of registry: a million
# certificates with three years of history, their identifier aliases, the members MN and KR
# and an MRA in force between them. Filling it is the slow part of each (minutes at a
# million rows), so it is filled once per (size, schema head) into a cache directory outside
# the repository and each run works on a copy of it: a run may write (a sign-in, an API
# key) without spoiling the next.

#: days of history: issue times spread over the last three years, validity ends over the next
HISTORY_DAYS = 3 * 365
#: the TIN certificate ``index`` carries (see canonical_record)
TIN_BASE = 5_000_000
# Each event beyond a certificate's ``issued`` one is a later transition, with a reason it
# takes (ReasonCodes.sol), chosen in turn.
EXTRA_KINDS = (
    ("amended", "active", 32),
    ("renewed", "active", 48),
    ("suspended", "suspended", 1),
    ("reinstated", "active", 16),
    ("amended", "active", 33),
    ("suspended", "suspended", 8),
    ("reinstated", "active", 17),
    ("renewed", "active", 48),
)
_FILL_CHUNK = 20_000
_TABLES_FILLED = ("certificates", "certificate_events", "certificate_aliases")


def eori_of(index: int) -> str:
    return f"MN{index:012d}"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/aeo-bench`` (``~/.cache/aeo-bench``): never the repository."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aeo-bench"


def schema_head() -> str:
    from alembic.script import ScriptDirectory

    from registry_api.db.session import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class BenchRegistry:
    """A working copy of the shared bench registry, for one run."""

    url: str
    certificates: int
    events: int
    #: seconds spent filling (0 when the cached database was reused)
    seed_seconds: float
    reused: bool
    #: the day the history was written relative to (validity ends, event times)
    filled_on: date
    cache_file: Path


def _cache_name(certificates: int, events: int, head: str) -> str:
    return f"registry-{certificates}-{events}-{head}.sqlite"


def bench_registry(
    workdir: Path,
    certificates: int,
    events: int,
    *,
    cache_dir: Path | None = None,
    fresh: bool = False,
    on_progress: Progress | None = None,
) -> BenchRegistry:
    """A copy under ``workdir`` of the cached registry of ``certificates`` certificates and
    ``events`` events (filled first if missing or ``fresh``; see :func:`fill_history`).

    A cached file for an older schema head of the same size is copied and upgraded by the
    migrations instead of filled again (a new index takes seconds; a fill, minutes)."""
    if certificates < 1 or events < certificates:
        raise ValueError("certificates must be >= 1 and events >= certificates")
    folder = cache_dir or default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    head = schema_head()
    cached = folder / _cache_name(certificates, events, head)
    started = time.perf_counter()
    reused = cached.exists() and not fresh
    if not reused:
        building = folder / f".{cached.name}.{secrets.token_hex(4)}.part"
        older = sorted(folder.glob(_cache_name(certificates, events, "*")))
        try:
            if older and not fresh:
                shutil.copyfile(older[-1], building)
                building.chmod(0o600)
                engine = make_engine(f"sqlite:///{building}")
                try:
                    upgrade_database(engine)
                    with engine.begin() as connection:
                        connection.execute(sa.text("ANALYZE"))
                finally:
                    engine.dispose()
            else:
                fill_history(building, certificates, events, on_progress=on_progress)
            # The WAL the engine's pragmas asked for is folded back before the file moves.
            with closing(sqlite3.connect(building)) as raw:
                raw.execute("PRAGMA journal_mode=DELETE")
            building.replace(cached)
        finally:
            building.unlink(missing_ok=True)
    seed_seconds = 0.0 if reused else time.perf_counter() - started
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / "registry.db"
    shutil.copyfile(cached, copy)
    copy.chmod(0o600)
    filled_on = datetime.fromtimestamp(cached.stat().st_mtime, UTC).date()
    with closing(sqlite3.connect(copy)) as raw:
        row = raw.execute("SELECT value FROM bench_meta WHERE name = 'filled_on'").fetchone()
        if row is not None:
            filled_on = date.fromisoformat(row[0])
    return BenchRegistry(
        url=f"sqlite:///{copy}",
        certificates=certificates,
        events=events,
        seed_seconds=seed_seconds,
        reused=reused,
        filled_on=filled_on,
        cache_file=cached,
    )


class _Memo:
    """A column's bind processor, run once per distinct value where values repeat."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        try:
            return self.seen[value]
        except KeyError:
            done = self.seen[value] = self.proc(value)
            return done


def fill_history(
    path: Path,
    certificates: int,
    events: int,
    *,
    today: date | None = None,
    on_progress: Progress | None = None,
) -> None:
    """Migrate a new SQLite file at ``path`` and fill it in one pass, in one transaction,
    journal and syncs off (a crash mid-fill leaves a ``.part`` file that is thrown away),
    secondary indexes dropped during the load and built after it:

    - ``certificates`` certificates (stand-in hashes: the reads never recompute them),
      validity ends spread over the next three years, one in 40 suspended (half of them
      past their remedy deadline), one in 97 revoked, tiers C, S and C+S in turn;
    - for each, its ``issued`` event (issue times spread over three years), and in turn
      the later transitions of :data:`EXTRA_KINDS` up to ``events`` events in all, one
      in a hundred a partner's (KR, for the propagation percentiles);
    - two lookup aliases each (its TIN and an EORI, :func:`eori_of`);
    - the members MN and KR, an MRA in force between them over the security tier, and the
      indexer cursor after the last block.
    """
    today = today or datetime.now(UTC).date()
    now = datetime.now(UTC).replace(microsecond=0)
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_database(engine)
        dialect = engine.dialect
    finally:
        engine.dispose()
    cert_columns = [
        "certificate_id", "issuer", "number", "holder_legal_name", "holder_name_folded",
        "holder_address", "holder_id_scheme", "holder_id_number", "business_roles", "sites",
        "tiers", "validated_criteria", "issuing_office", "officer", "valid_from",
        "valid_until", "status", "status_reason", "remedy_deadline", "version", "holder_ref",
        "commitment", "digest", "created_at", "updated_at",
    ]  # fmt: skip
    event_columns = [
        "certificate_id", "issuer", "number", "kind", "status", "reason_code", "operator",
        "version", "commitment", "data", "tx_hash", "block_number", "block_hash",
        "log_index", "block_time", "indexed_at",
    ]  # fmt: skip
    cert_insert = _RawInsert(cast(sa.Table, Certificate.__table__), dialect, cert_columns)
    event_insert = _RawInsert(cast(sa.Table, CertificateEvent.__table__), dialect, event_columns)
    alias_insert = _RawInsert(
        cast(sa.Table, CertificateAlias.__table__), dialect, ["certificate_id", "scheme", "value"]
    )

    def memo(insert: _RawInsert, name: str) -> Callable[[Any], Any]:
        proc = insert.processors[insert.columns.index(name)]
        return (lambda value: value) if proc is None else _Memo(proc)

    as_date = memo(cert_insert, "valid_until")
    as_time = memo(event_insert, "block_time")
    as_status = memo(cert_insert, "status")
    # The JSON columns' bind processor is json.dumps after replacing U+0000 (none here):
    # json.dumps itself stores the same text, without a walk of every value.
    as_json = json.dumps
    created = as_time(now)
    valid_from = as_date(today - timedelta(days=30))
    day_from = days.to_day(today - timedelta(days=30))
    roles = {key: as_json(value) for key, value in (("3", ["EX", "IM", "WH"]), ("", ["EX", "IM"]))}
    no_sites = as_json([])
    criteria = as_json(["C1", "C2", "C3", "C6"])
    extra_per_cert, extra_rest = divmod(events - certificates, certificates)

    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode=OFF")
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-262144")  # 256 MiB, for building the indexes
        raw.execute("PRAGMA temp_store=MEMORY")
        indexes = [
            (name, sql)
            for name, sql in raw.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN (?, ?, ?)",
                _TABLES_FILLED,
            )
        ]
        raw.execute("BEGIN")
        for name, _sql in indexes:
            raw.execute(f'DROP INDEX "{name}"')
        event_number = 0
        for start in range(0, certificates, _FILL_CHUNK):
            stop = min(start + _FILL_CHUNK, certificates)
            cert_rows: list[tuple[Any, ...]] = []
            event_rows: list[tuple[Any, ...]] = []
            alias_rows: list[tuple[Any, ...]] = []
            for index in range(start, stop):
                row_id = index + 1
                number = number_of(index)
                certificate_id = _synthetic_hash("id", number)
                commitment = _synthetic_hash("commitment", number)
                holder_ref = _synthetic_hash("holder", number)
                name = f"{_HOLDER_NAMES[index % len(_HOLDER_NAMES)]} {index}"
                tin = str(TIN_BASE + index)
                tiers = 1 + index % 3
                valid_until = today + timedelta(days=row_id % HISTORY_DAYS)
                revoked = row_id % 97 == 0
                suspended = not revoked and row_id % 40 == 0
                status = (
                    LocalStatus.REVOKED
                    if revoked
                    else LocalStatus.SUSPENDED
                    if suspended
                    else LocalStatus.ACTIVE
                )
                deadline = as_date(today + timedelta(days=row_id % 120 - 60)) if suspended else None
                cert_rows.append(
                    (
                        certificate_id, ISSUER, number, name, name.casefold(),
                        as_json({
                            "city": _CITIES[index % len(_CITIES)],
                            "country": "MN",
                            "postal_code": f"{14000 + index % 900}",
                            "street": f"Peace Avenue {index % 250 + 1}",
                        }),
                        "TIN", tin, roles["" if index % 3 else "3"], no_sites, tiers, criteria,
                        "Ulaanbaatar Customs House", "B. Bat-Erdene", valid_from,
                        as_date(valid_until), as_status(status), None, deadline, 1, holder_ref,
                        commitment, commitment[:20], created, created,
                    )
                )  # fmt: skip
                alias_rows.append((certificate_id, "TIN", tin))
                alias_rows.append((certificate_id, "EORI", eori_of(index)))
                block = 100 + index // PER_BLOCK
                issued_at = now - timedelta(days=row_id % HISTORY_DAYS)
                # What the indexer writes (data.state: read by the partner KPIs).
                state = as_json(
                    {
                        "event": "CertificateIssued",
                        "state": {
                            "status": "active",
                            "version": 1,
                            "tiers": tiers,
                            "valid_from": day_from,
                            "valid_until": days.to_day(valid_until),
                            "holder_ref": "0x" + holder_ref.hex(),
                            "commitment": "0x" + commitment.hex(),
                        },
                    }
                )
                event_rows.append(
                    (
                        certificate_id, ISSUER, number, "issued", "active", None, OPERATOR, 1,
                        commitment, state, block.to_bytes(32, "big"), block,
                        (block + 2**200).to_bytes(32, "big"), index % PER_BLOCK,
                        as_time(issued_at), as_time(issued_at + timedelta(seconds=2)),
                    )
                )  # fmt: skip
                for extra in range(extra_per_cert + (index < extra_rest)):
                    turn = row_id + extra * certificates
                    kind, after, reason = EXTRA_KINDS[turn % len(EXTRA_KINDS)]
                    at = min(issued_at + timedelta(days=1 + turn % 365), now)
                    event_number += 1
                    event_rows.append(
                        (
                            certificate_id, "KR" if turn % 100 == 0 else ISSUER, number, kind,
                            after, reason, OPERATOR, 1, commitment, state,
                            (2**128 + event_number).to_bytes(32, "big"),
                            100_000 + block + extra * certificates // PER_BLOCK,
                            (block + 2**200).to_bytes(32, "big"), 0, as_time(at),
                            as_time(at + timedelta(seconds=1 + turn % 7)),
                        )
                    )  # fmt: skip
            raw.executemany(cert_insert.sql, cert_rows)
            raw.executemany(event_insert.sql, event_rows)
            raw.executemany(alias_insert.sql, alias_rows)
            if on_progress is not None:
                on_progress(stop)
        for _name, sql in indexes:
            raw.execute(sql)
        _add_members(raw, today, now, as_date, as_time)
        last = last_block(certificates) + 100_000 + (extra_per_cert + 1) * certificates
        raw.execute(
            "INSERT INTO indexer_cursors (name, block_number, block_hash, updated_at) "
            "VALUES (?, ?, ?, ?)",
            (CURSOR_NAME, last, (last + 2**200).to_bytes(32, "big"), created),
        )
        raw.execute("CREATE TABLE bench_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        raw.execute("INSERT INTO bench_meta VALUES ('filled_on', ?)", (today.isoformat(),))
        raw.execute("COMMIT")
        raw.execute("ANALYZE")


def _add_members(
    raw: sqlite3.Connection,
    today: date,
    now: datetime,
    as_date: Callable[[Any], Any],
    as_time: Callable[[Any], Any],
) -> None:
    from contracts.domain.enums import Tier
    from registry_api.db.chain_index import mra_key

    raw.executemany(
        "INSERT INTO authorities (code, name, status, updated_block) VALUES (?, ?, 'active', 1)",
        [(ISSUER, "Mongolia Customs"), (VERIFIER_AS, "Korea Customs")],
    )
    raw.execute(
        "INSERT INTO mras (mra_id, status, proposer, effective_from, ends_on, text_hash, "
        "updated_block) VALUES (?, 'in_force', ?, ?, NULL, ?, 1)",
        (mra_key(1), ISSUER, as_date(today - timedelta(days=365)), b"\x01" * 32),
    )
    raw.executemany(
        "INSERT INTO mra_parties (mra_id, authority, recognized_tiers, signed_at) "
        "VALUES (?, ?, ?, ?)",
        [
            (mra_key(1), code, int(Tier.SECURITY_SAFETY), as_time(now))
            for code in (ISSUER, VERIFIER_AS)
        ],
    )
