"""The offline cache itself: :class:`OfflineCache`, a status source over the SQLite file that
:meth:`OfflineCache.apply_events` fills (the handlers are in :mod:`verifier.offline.apply`)."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from contracts.domain import events as ev
from contracts.domain.days import Day
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.rules import RecognitionAnswer, effective_status, recognize
from contracts.domain.state import (
    AuthorityRecord,
    CertificateSlot,
    MraParty,
    MraRecord,
    SigningKeyRecord,
    StatusChange,
)
from verifier.errors import CacheError, SourceUnavailable
from verifier.offline.apply import NOT_CACHED, apply_event, as_event, position
from verifier.offline.schema import SCHEMA, SCHEMA_VERSION, SyncPoint
from verifier.source import SourceInfo

_MEMO_LIMIT: Final = 4096
_SYNC_POINT: Final = ("sync_point",)
_INFO: Final = ("info",)

# A border post's cache of up to this many certificates is held in memory (about 1 KB
# each): a scan then reads no file. A larger registry is read from the file per scan.
CERTIFICATES_IN_MEMORY: Final = 50_000
_CERTIFICATES: Final = ("certificates",)

_CERTIFICATE_QUERY: Final = (
    "SELECT c.issuer, c.number, c.tiers, c.status, c.valid_from, c.valid_until, c.version, "
    "c.digest, c.holder_ref, s.status, s.reason, s.since FROM certificates c "
    "LEFT JOIN status_changes s ON s.certificate_id = c.id WHERE c.id = ? "
    "ORDER BY s.block_number, s.log_index"
)
_ALL_CERTIFICATES_QUERY: Final = (
    "SELECT c.id, c.issuer, c.number, c.tiers, c.status, c.valid_from, c.valid_until, "
    "c.version, c.digest, c.holder_ref, s.status, s.reason, s.since FROM certificates c "
    "LEFT JOIN status_changes s ON s.certificate_id = c.id "
    "ORDER BY c.id, s.block_number, s.log_index"
)
# Enum lookups by value: calling the enum class costs more than the row it converts.
_STATUS_OF_VALUE: Final = {int(status): status for status in CertificateStatus}


def _stored_status(value: int) -> CertificateStatus:
    status = _STATUS_OF_VALUE.get(value)
    return CertificateStatus(value) if status is None else status  # raises on a bad value


def _certificate_slot(certificate_id: bytes, rows: Sequence[Sequence[Any]]) -> CertificateSlot:
    """A slot and its history from the rows of :data:`_CERTIFICATE_QUERY` (one per change)."""
    row = rows[0]
    return CertificateSlot(
        certificate_id=certificate_id,
        issuer=row[0],
        number=row[1],
        tiers=row[2],
        status=_stored_status(row[3]),
        valid_from=Day(row[4]),
        valid_until=Day(row[5]),
        version=row[6],
        digest=bytes(row[7]),
        holder_ref=bytes(row[8]),
        history=tuple(
            StatusChange(_stored_status(r[9]), r[10], r[11])
            for r in rows
            if r[9] is not None  # the LEFT JOIN's row for a slot without history
        ),
    )


def _first(row: Sequence[Any]) -> Any:
    return row[0]


class OfflineCache:
    """A :class:`~verifier.source.StatusSource` over a local SQLite file.

    Safe to share between threads (a web page verifying while a sync writes): every call
    holds the connection's lock for its one short transaction.

    The small, rarely changing answers (sync point, signing keys, authorities, MRAs between
    two parties) are kept in memory between calls and forgotten as soon as the file
    changes: SQLite's ``data_version`` moves when another connection (``aeo verifier sync``
    in another process) commits, and this connection's own writes clear them too.
    Certificates are kept the same way, all of them read in one transaction, while the
    cache holds at most ``certificates_in_memory`` (:data:`CERTIFICATES_IN_MEMORY`); a
    larger cache is read from the file certificate by certificate.

    :meth:`reading` holds one read transaction over several questions (the pipeline asks
    all of one verification's inside it): every answer then comes from the same sync, and
    the file's version is read once instead of once per question.
    """

    def __init__(
        self, path: str | Path, *, certificates_in_memory: int = CERTIFICATES_IN_MEMORY
    ) -> None:
        self.path = Path(path)
        self._certificates_in_memory = certificates_in_memory
        # Reentrant: the questions asked inside reading() take the lock again.
        self._lock = threading.RLock()
        self._memo: dict[tuple[object, ...], Any] = {}
        self._data_version: int | None = None
        # True while reading() holds a read transaction: the snapshot cannot change.
        self._snapshot = False
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            self._db.close()
            raise CacheError(
                f"{self.path} has cache schema {version}; this verifier reads {SCHEMA_VERSION}"
            )
        if version == 0:
            # executescript commits by itself; every statement is IF NOT EXISTS, so two
            # processes creating the same file at once both end with the same schema.
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> OfflineCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._memo.clear()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._memo.clear()
            self._db.execute("COMMIT")

    def _refresh(self) -> None:
        """Forgets the memo when the file changed since it was filled (lock held).

        A plain method, not a context manager: it runs before every question, and a
        generator-based ``with`` costs as much as the memo lookup it guards."""
        if self._snapshot:
            return
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version or len(self._memo) > _MEMO_LIMIT:
            self._memo.clear()
            self._data_version = version

    def reading(self) -> _ReadView:
        """One read transaction for several questions: the answers all reflect one sync,
        even when ``aeo verifier sync`` commits in between. Other threads wait until it
        ends; writing inside it is refused by SQLite."""
        return _ReadView(self)

    def _begin_view(self) -> bool:
        """Starts a read view (lock held); False when one is already open (nested)."""
        if self._snapshot:
            return False
        self._db.execute("BEGIN")
        try:
            # Its first read opens the snapshot, so this version is the snapshot's.
            self._refresh()
        except BaseException:
            self._db.execute("COMMIT")
            raise
        self._snapshot = True
        return True

    def _end_view(self) -> None:
        self._snapshot = False
        self._db.execute("COMMIT")

    # ------------------------------------------------------------ writes (the sync)

    def apply_events(
        self, events: Iterable[ev.ChainEvent | Mapping[str, Any]], sync: SyncPoint
    ) -> int:
        """Applies a batch of chain events and records ``sync`` as the state reached, in one
        transaction. Returns how many events were applied.

        An event is a :mod:`contracts.domain.events` dataclass, or a mapping for
        :func:`contracts.domain.events.event_from_mapping`. Events the verifier does not need
        (:data:`NOT_CACHED`: accounts, membership votes) are ignored; events of blocks at or
        below the last synced block are skipped, so replaying a batch is harmless. Raises
        :class:`CacheError` on an unknown event, an event that does not fit the cached state
        (a gap in the sync), or a sync point behind the current one.
        """
        batch = sorted(
            (e for e in map(as_event, events) if not isinstance(e, NOT_CACHED)),
            key=position,
        )
        with self._transaction() as db:
            current = db.execute("SELECT block_number FROM sync_state").fetchone()
            last = current[0] if current else -1
            if sync.block_number < last:
                raise CacheError(
                    f"sync point block {sync.block_number} is behind the cache (block {last})"
                )
            applied = 0
            for event in batch:
                block_number = position(event)[0]
                if block_number <= last:
                    continue
                if block_number > sync.block_number:
                    raise CacheError(
                        f"{event.event_name} in block {block_number} is beyond the "
                        f"sync point (block {sync.block_number})"
                    )
                try:
                    apply_event(db, event)
                except sqlite3.IntegrityError as exc:
                    raise CacheError(
                        f"{event.event_name} in block {block_number} conflicts with "
                        f"the cached state ({exc}): the cache and the chain disagree"
                    ) from exc
                applied += 1
            db.execute(
                "INSERT INTO sync_state (id, block_number, block_hash, block_time, synced_at) "
                "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "block_number = excluded.block_number, block_hash = excluded.block_hash, "
                "block_time = excluded.block_time, synced_at = excluded.synced_at",
                (
                    sync.block_number,
                    sync.block_hash,
                    _unix(sync.block_time),
                    _unix(sync.synced_at),
                ),
            )
        return applied

    def reset(self) -> None:
        """Forgets every row, the sync point included, in one transaction: after a chain
        rewind the cached state belongs to blocks that no longer exist, and the next sync
        must start again from the deploy block (see :func:`verifier.sync.sync`)."""
        tables = (
            "status_changes",
            "mra_parties",
            "certificates",
            "mras",
            "signing_keys",
            "authorities",
            "sync_state",
        )
        with self._transaction() as db:
            for table in tables:  # children before parents, for the foreign keys
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    # ------------------------------------------------------------ reads (StatusSource)

    def sync_point(self) -> SyncPoint | None:
        with self._lock:
            self._refresh()
            if _SYNC_POINT in self._memo:
                memo: SyncPoint | None = self._memo[_SYNC_POINT]
                return memo
            row = self._db.execute(
                "SELECT block_number, block_hash, block_time, synced_at FROM sync_state"
            ).fetchone()
            point = (
                None if row is None else SyncPoint(row[0], bytes(row[1]), _dt(row[2]), _dt(row[3]))
            )
            self._memo[_SYNC_POINT] = point
        return point

    def info(self) -> SourceInfo:
        with self._lock:
            self._refresh()
            if _INFO in self._memo:
                memo: SourceInfo = self._memo[_INFO]
                return memo
            point = self.sync_point()
            if point is None:
                raise SourceUnavailable(
                    f"the offline cache {self.path} has never been synced: run `aeo verifier sync`"
                )
            info = SourceInfo(
                kind="offline",
                as_of=point.synced_at,
                block_number=point.block_number,
                block_hash=point.block_hash,
                block_time=point.block_time,
            )
            self._memo[_INFO] = info
        return info

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        with self._lock:
            self._refresh()
            memo_key = ("signing_key", kid)
            if memo_key in self._memo:
                memo: SigningKeyRecord | None = self._memo[memo_key]
                return memo
            row = self._db.execute(
                "SELECT authority, algorithm, public_key, valid_from, revoked_at "
                "FROM signing_keys WHERE kid = ?",
                (kid,),
            ).fetchone()
            record = (
                None
                if row is None
                else SigningKeyRecord(
                    kid, row[0], KeyAlgorithm(row[1]), bytes(row[2]), row[3], row[4]
                )
            )
            self._memo[memo_key] = record
        return record

    def certificate(self, certificate_id: bytes) -> CertificateSlot | None:
        with self._lock:
            self._refresh()
            table = self._certificate_table()
            if table is not None and type(certificate_id) is bytes:
                return table.get(certificate_id)
            # One statement for the slot and its history: a certificate has a handful of
            # status changes, and a second query cost more than repeating the slot's columns.
            rows = self._db.execute(_CERTIFICATE_QUERY, (certificate_id,)).fetchall()
        return _certificate_slot(certificate_id, rows) if rows else None

    def _certificate_table(self) -> dict[bytes, CertificateSlot] | None:
        """Every certificate by id, read in one transaction and kept until the file changes;
        None when the cache holds more than ``certificates_in_memory`` (lock held)."""
        if _CERTIFICATES in self._memo:
            memo: dict[bytes, CertificateSlot] | None = self._memo[_CERTIFICATES]
            return memo
        table = None
        if self._certificates_in_memory > 0:
            own = not self._snapshot
            if own:
                self._db.execute("BEGIN")
            try:
                if own:
                    self._refresh()  # the version of this transaction's snapshot
                limit = self._certificates_in_memory
                count = self._db.execute(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM certificates LIMIT ?)", (limit + 1,)
                ).fetchone()[0]
                if count <= limit:
                    rows = self._db.execute(_ALL_CERTIFICATES_QUERY).fetchall()
                    table = {
                        certificate_id: _certificate_slot(certificate_id, [r[1:] for r in group])
                        for certificate_id, group in itertools.groupby(rows, key=_first)
                    }
            finally:
                if own:
                    self._db.execute("COMMIT")
        self._memo[_CERTIFICATES] = table
        return table

    def authority(self, code: str) -> AuthorityRecord | None:
        with self._lock:
            self._refresh()
            memo_key = ("authority", code)
            if memo_key in self._memo:
                memo: AuthorityRecord | None = self._memo[memo_key]
                return memo
            row = self._db.execute(
                "SELECT name, status FROM authorities WHERE code = ?", (code,)
            ).fetchone()
            record = AuthorityRecord(code, row[0], AuthorityStatus(row[1])) if row else None
            self._memo[memo_key] = record
        return record

    def mras_between(self, first: str, second: str) -> list[MraRecord]:
        """Every MRA having both authorities as parties."""
        return list(self._mras_between(first, second))

    def _mras_between(self, first: str, second: str) -> tuple[MraRecord, ...]:
        with self._lock:
            self._refresh()
            memo_key = ("mras_between", first, second)
            if memo_key in self._memo:
                memo: tuple[MraRecord, ...] = self._memo[memo_key]
                return memo
            db = self._db
            rows = db.execute(
                "SELECT m.id, m.status, m.effective_from, m.ends_on, m.text_hash FROM mras m "
                "WHERE EXISTS (SELECT 1 FROM mra_parties p WHERE p.mra_id = m.id AND "
                "p.authority = ?) AND EXISTS (SELECT 1 FROM mra_parties p WHERE "
                "p.mra_id = m.id AND p.authority = ?) ORDER BY m.id",
                (first, second),
            ).fetchall()
            result = []
            for mra_id, status, effective_from, ends_on, text_hash in rows:
                parties = db.execute(
                    "SELECT authority, recognized_tiers, signed FROM mra_parties "
                    "WHERE mra_id = ? ORDER BY position",
                    (mra_id,),
                ).fetchall()
                result.append(
                    MraRecord(
                        mra_id=mra_id,
                        parties=tuple(MraParty(a, t, bool(s)) for a, t, s in parties),
                        status=MraState(status),
                        effective_from=Day(effective_from),
                        ends_on=Day(ends_on),
                        text_hash=bytes(text_hash),
                    )
                )
            self._memo[memo_key] = tuple(result)
        return tuple(result)

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: Day
    ) -> RecognitionAnswer:
        status = effective_status(
            certificate.status, certificate.valid_from, certificate.valid_until, day
        )
        # The answer depends on the certificate only through its issuer, tiers and
        # effective status; the rest is memoized data, so the answer is memoized with it.
        memo_key = ("recognition", authority, certificate.issuer, certificate.tiers, status, day)
        with self._lock:
            self._refresh()
            if memo_key in self._memo:
                memo: RecognitionAnswer = self._memo[memo_key]
                return memo
            issuer = self.authority(certificate.issuer)
            answer = recognize(
                authority,
                issuer=certificate.issuer,
                tiers=certificate.tiers,
                status=status,
                issuer_status=issuer.status if issuer else AuthorityStatus.NONE,
                mras=self._mras_between(authority, certificate.issuer),
                day=day,
            )
            self._memo[memo_key] = answer
        return answer

    def find_certificates(
        self, numbers: Collection[str], holder_refs: Collection[bytes]
    ) -> list[tuple[bytes, str, bytes]]:
        """(id, number, holder reference) of every certificate, of any issuer, whose number
        is in ``numbers`` or whose holder reference is in ``holder_refs``: one pass over the
        table, keeping only the matches (``aeo recognize --offline``)."""
        wanted_numbers, wanted_refs = set(numbers), set(holder_refs)
        with self._lock:
            self._refresh()
            rows = self._db.execute("SELECT id, number, holder_ref FROM certificates")
            return [
                (bytes(certificate_id), number, bytes(holder_ref))
                for certificate_id, number, holder_ref in rows
                if number in wanted_numbers or bytes(holder_ref) in wanted_refs
            ]

    def counts(self) -> dict[str, int]:
        """Rows per table, for a sync command to report what it holds."""
        tables = ("authorities", "signing_keys", "certificates", "status_changes", "mras")
        with self._lock:
            return {t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 - fixed table names


class _ReadView:
    """:meth:`OfflineCache.reading`: a class rather than a generator, because the pipeline
    opens one per verification and a generator-based context manager costs several times
    more to enter and leave."""

    def __init__(self, cache: OfflineCache) -> None:
        self._cache = cache
        self._opened = False

    def __enter__(self) -> OfflineCache:
        cache = self._cache
        cache._lock.acquire()
        try:
            self._opened = cache._begin_view()
        except BaseException:
            cache._lock.release()
            raise
        return cache

    def __exit__(self, *_: object) -> None:
        try:
            if self._opened:
                self._cache._end_view()
        finally:
            self._cache._lock.release()


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def _dt(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
