"""The signed status snapshot and its deltas, as this registry publishes them (issue 15).

A border post syncs its offline cache from its own administration's registry rather than from
a chain node (docs/snapshot.md, "Serving and syncing"). This module turns the index (the
indexer's tables: members, signing keys, MRAs and every certificate event) into the compact
state of :mod:`verifier.snapshot` at the block the index reflects, signs it with this
administration's document-signing key, and writes it to the snapshot directory with:

- a **delta** to it from each of the last ``snapshot_deltas_kept`` snapshot blocks of the same
  lineage (one file per starting block, straight to the latest: a border post fetches one
  file, never a chain of them), unless the delta rule says a full snapshot is cheaper;
- ``index.json``, the small document the routes and the border posts read first: the block,
  the files, their sizes and SHA-256.

Files are written to temporary names and renamed; ``index.json`` last, so a reader never sees
an index naming a file that is not whole. The API processes read the directory and hold no
state of their own (several may serve one directory). The publisher keeps the earlier states
in memory to diff against: after a restart its first snapshot offers no deltas, and border
posts fetch one full snapshot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import cbor2
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from contracts.domain import ids
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.state import AuthorityRecord, SigningKeyRecord
from verifier.snapshot import BlockRef, CertificateState, CompactState, Params, build_state
from verifier.snapshot.document import (
    DELTA_MAX_FRACTION,
    make_delta,
    make_snapshot,
    needs_new_lineage,
    prefer_full,
)
from verifier.snapshot.errors import FullSnapshotNeeded, SnapshotFormatError

from ..db import Authority, CertificateEvent, IndexedSigningKey, IndexerCursor, Mra
from ..db.chain_index import CURSOR_NAME
from ..errors import RegistryError
from ..settings import Settings
from .documents import current_signing_key
from .mras import as_record

logger = logging.getLogger("registry_api.snapshots")

INDEX_FILE: Final = "index.json"
#: the publisher's earlier states (not served: the routes serve only what the index lists)
HISTORY_DIR: Final = "history"
HISTORY_FORMAT: Final = 1
INDEX_FORMAT: Final = 1
#: RFC 9052's media type of a COSE_Sign1 message: what the snapshot and delta files are
SNAPSHOT_MEDIA_TYPE: Final = 'application/cose; cose-type="cose-sign1"'
_STATUS_OF_NAME: Final = {
    "active": CertificateStatus.ACTIVE,
    "suspended": CertificateStatus.SUSPENDED,
    "revoked": CertificateStatus.REVOKED,
}
#: certificate event kinds that change the status (their reason and time are the row's)
_STATUS_KINDS: Final = frozenset({"issued", "suspended", "reinstated", "revoked"})


# ---------------------------------------------------------------- the index as a state


def index_position(session: Session) -> tuple[int, bytes] | None:
    """The block the index reflects (number and hash), or None before its first page."""
    cursor = session.get(IndexerCursor, CURSOR_NAME)
    if cursor is None or cursor.block_hash is None:
        return None
    return cursor.block_number, cursor.block_hash


def _unix(moment: datetime | None) -> int:
    if moment is None:
        return 0
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(aware.timestamp())


def members(session: Session) -> list[AuthorityRecord]:
    return [
        AuthorityRecord(row.code, row.name, AuthorityStatus[row.status.upper()])
        for row in session.scalars(sa.select(Authority).order_by(Authority.code))
    ]


def signing_keys(session: Session) -> list[SigningKeyRecord]:
    return [
        SigningKeyRecord(
            kid=row.kid,
            authority=row.authority,
            algorithm=KeyAlgorithm(row.algorithm),
            public_key=row.public_key,
            valid_from=_unix(row.valid_from),
            revoked_at=_unix(row.revoked_at),
        )
        for row in session.scalars(sa.select(IndexedSigningKey).order_by(IndexedSigningKey.kid))
    ]


def certificates(session: Session) -> Iterator[CertificateState]:
    """Every certificate the chain issued, as of the index: its events folded in chain order
    (each row's ``data.state`` is the slot after the event, as the indexer wrote it)."""
    rows = session.execute(
        sa.select(
            CertificateEvent.certificate_id,
            CertificateEvent.kind,
            CertificateEvent.reason_code,
            CertificateEvent.block_time,
            CertificateEvent.data,
        )
        .order_by(
            CertificateEvent.certificate_id,
            CertificateEvent.block_number,
            CertificateEvent.log_index,
        )
        .execution_options(yield_per=2000)
    )
    current: bytes | None = None
    state: dict[str, Any] = {}
    reason = since = 0
    renewed = False
    for certificate_id, kind, reason_code, block_time, data in rows:
        if certificate_id != current:
            if current is not None:
                yield _certificate(current, state, reason, since, renewed)
            current, state, reason, since, renewed = certificate_id, {}, 0, 0, False
        state = data.get("state") or state
        if kind in _STATUS_KINDS:
            reason, since = reason_code or 0, _unix(block_time)
        renewed = renewed or kind == "renewed"
    if current is not None:
        yield _certificate(current, state, reason, since, renewed)


def _certificate(
    certificate_id: bytes, state: dict[str, Any], reason: int, since: int, renewed: bool
) -> CertificateState:
    holder_ref = bytes.fromhex(state["holder_ref"].removeprefix("0x"))
    commitment = bytes.fromhex(state["commitment"].removeprefix("0x"))
    return CertificateState(
        certificate_id=certificate_id,
        version=int(state["version"]),
        digest=ids.record_digest(holder_ref, commitment),
        holder_ref=holder_ref,
        tiers=int(state["tiers"]),
        valid_from=int(state["valid_from"]),
        valid_until=int(state["valid_until"]),
        status=_STATUS_OF_NAME[state["status"]],
        reason=reason,
        since=since,
        renewed=renewed,
    )


def consortium_state(session: Session, params: Params | None = None) -> CompactState:
    """The compact state of the whole consortium as the index holds it. ``params`` keeps an
    earlier snapshot's lineage (raises :class:`FullSnapshotNeeded` when it cannot)."""
    mras = [as_record(mra) for mra in session.scalars(sa.select(Mra).order_by(Mra.mra_id))]
    return build_state(
        members=members(session),
        keys=signing_keys(session),
        mras=[mra for mra in mras if mra.status is not MraState.NONE],
        certificates=certificates(session),
        params=params,
    )


# ---------------------------------------------------------------- the published files


@dataclass(frozen=True)
class PublishedFile:
    """One signed file of the snapshot directory, as ``index.json`` lists it."""

    name: str
    size: int
    sha256: str
    from_block: int | None = None
    """A delta's starting block (None for the full snapshot)."""

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.name, "bytes": self.size, "sha256": self.sha256}
        if self.from_block is not None:
            out["from_block"] = self.from_block
        return out


@dataclass(frozen=True)
class PublishedIndex:
    """What ``index.json`` says: the latest snapshot and the deltas that lead to it."""

    issuer: str
    signing_kid: str
    block_number: int
    block_hash: str
    block_time: int
    made_at: int
    content_hash: str
    certificates: int
    full: PublishedFile
    deltas: tuple[PublishedFile, ...]
    """Deltas to the latest block, by starting block, each at most the delta rule's share."""
    too_large: tuple[int, ...] = ()
    """Snapshot blocks whose delta the delta rule dropped (a full snapshot is cheaper)."""

    def delta_from(self, block: int) -> PublishedFile | None:
        return next((d for d in self.deltas if d.from_block == block), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT,
            "issuer": self.issuer,
            "signing_kid": self.signing_kid,
            "block": {
                "number": self.block_number,
                "hash": self.block_hash,
                "time": self.block_time,
            },
            "made_at": self.made_at,
            "content_hash": self.content_hash,
            "certificates": self.certificates,
            "delta_max_fraction": DELTA_MAX_FRACTION,
            "full": self.full.to_json(),
            "deltas": [d.to_json() for d in self.deltas],
            "full_cheaper_from": list(self.too_large),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublishedIndex:
        def file(obj: dict[str, Any]) -> PublishedFile:
            return PublishedFile(obj["file"], obj["bytes"], obj["sha256"], obj.get("from_block"))

        return cls(
            issuer=data["issuer"],
            signing_kid=data["signing_kid"],
            block_number=data["block"]["number"],
            block_hash=data["block"]["hash"],
            block_time=data["block"]["time"],
            made_at=data["made_at"],
            content_hash=data["content_hash"],
            certificates=data["certificates"],
            full=file(data["full"]),
            deltas=tuple(file(d) for d in data["deltas"]),
            too_large=tuple(data.get("full_cheaper_from", ())),
        )


def read_index(directory: Path) -> PublishedIndex | None:
    """The published index, or None when nothing was published yet."""
    try:
        text = (directory / INDEX_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return PublishedIndex.from_json(json.loads(text))


def read_file(directory: Path, entry: PublishedFile) -> bytes | None:
    """A listed file's bytes; None when a newer publication removed it meanwhile."""
    try:
        return (directory / entry.name).read_bytes()
    except FileNotFoundError:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _history_block(path: Path) -> int | None:
    """The block number in a history file's name (``state-<block>.cbor``)."""
    try:
        return int(path.stem.removeprefix("state-"))
    except ValueError:
        return None


def _file(name: str, data: bytes, from_block: int | None = None) -> PublishedFile:
    return PublishedFile(name, len(data), hashlib.sha256(data).hexdigest(), from_block)


# ---------------------------------------------------------------- the publisher


BlockReader = Callable[[int], tuple[bytes, int] | None]
"""The hash and unix time of a block, or None when the chain has no such block."""


class SnapshotPublisher:
    """Publishes a new snapshot when the index moved, at most once per ``poll``.

    ``block_reader`` gives a block's time (the index stores the cursor's hash, not its
    time); a block whose hash is no longer the cursor's means the chain moved under the
    index, and the publication waits for the indexer's next page.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        block_reader: BlockReader,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.block_reader = block_reader
        self.clock = clock
        self.directory = settings.snapshot_path
        self._lock = threading.Lock()
        # Earlier snapshot states by block number, oldest first, to diff the next one against,
        # with the unix time each was published (the history's age bound). Read back from
        # the history directory at the first pass (``_load_history``).
        self._states: OrderedDict[int, tuple[BlockRef, CompactState, int]] = OrderedDict()
        self._history_loaded = False
        self.last_error: str | None = None

    @property
    def history_directory(self) -> Path:
        return self.directory / HISTORY_DIR

    def poll(self) -> int:
        """The worker's pass: publish when the index moved. Returns 0 always, so the worker
        waits a whole interval before the next look (at most one snapshot per interval)."""
        try:
            self.run_once()
        except RegistryError as exc:
            # No usable signing key (yet): say why once per change of reason, and wait.
            if exc.detail != self.last_error:
                logger.warning("no snapshot published: %s", exc.detail)
            self.last_error = exc.detail
        return 0

    def run_once(self) -> PublishedIndex | None:
        """Publish a snapshot of the index's block unless the latest one already is of it.
        Returns the new index, or None when there was nothing to do."""
        with self._lock:
            return self._run_once()

    def _run_once(self) -> PublishedIndex | None:
        if not self._history_loaded:
            self._load_history()
        with self.session_factory() as session:
            position = index_position(session)
            if position is None:
                return None
            number, block_hash = position
            latest = next(reversed(self._states.values()), None) if self._states else None
            if latest is not None and latest[0].number == number and latest[0].hash == block_hash:
                return None  # the index did not move: nothing to publish (the cheap path)
            block = self.block_reader(number)
            if block is None or block[0] != block_hash:
                return None  # the chain moved under the index; its next page catches up
            ref = BlockRef(number, block_hash, block[1])
            state = self._state(session, latest[1].params if latest else None)
            now = datetime.fromtimestamp(self.clock(), UTC)
            key = current_signing_key(session, self.settings, now).key
        made_at = int(now.timestamp())
        private_key = key.private_key()
        issuer = self.settings.authority
        full = make_snapshot(
            state, private_key=private_key, issuer=issuer, block=ref, made_at=made_at
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        full_entry = _file(f"full-{number}.cose", full)
        writes: list[tuple[PublishedFile, bytes]] = [(full_entry, full)]
        deltas: list[PublishedFile] = []
        too_large: list[int] = []
        earlier = [kept for kept in self._states.values() if kept[0].number < number]
        # The newest ``snapshot_deltas_kept`` of them: a rewound chain's later blocks lead
        # nowhere a post can be.
        offered = earlier[max(len(earlier) - self.settings.snapshot_deltas_kept, 0) :]
        for old_ref, old_state, _ in reversed(offered):
            if old_state.params != state.params:
                continue  # another lineage
            try:
                data = make_delta(
                    old_state, old_ref, state, ref,
                    private_key=private_key, issuer=issuer, made_at=made_at,
                )  # fmt: skip
            except FullSnapshotNeeded:
                continue
            if prefer_full(len(full), [len(data)]):
                too_large.append(old_ref.number)
                continue
            entry = _file(f"delta-{old_ref.number}-{number}.cose", data, old_ref.number)
            deltas.append(entry)
            writes.append((entry, data))
        index = PublishedIndex(
            issuer=issuer,
            signing_kid=key.kid.hex(),
            block_number=number,
            block_hash=block_hash.hex(),
            block_time=ref.time,
            made_at=made_at,
            content_hash=state.content_hash().hex(),
            certificates=len(state.remainders),
            full=full_entry,
            deltas=tuple(deltas),
            too_large=tuple(too_large),
        )
        for entry, data in writes:
            _write_atomically(self.directory / entry.name, data)
        _write_atomically(
            self.directory / INDEX_FILE,
            json.dumps(index.to_json(), indent=2, sort_keys=True).encode("utf-8"),
        )
        self._forget_files({entry.name for entry, _ in writes})
        # After a rewind, the states of the abandoned blocks lead nowhere a post can be.
        for stale in [n for n in self._states if n >= number]:
            del self._states[stale]
        self._states[number] = (ref, state, made_at)
        self._remember(ref, state, made_at)
        self._bound_history(made_at)
        self.last_error = None
        logger.info(
            "snapshot of block %s published: %s bytes, %s deltas",
            number,
            full_entry.size,
            len(deltas),
        )
        return index

    # ------------------------------------------------------------ the history of states

    def _history_file(self, number: int) -> Path:
        return self.history_directory / f"state-{number}.cbor"

    def _remember(self, ref: BlockRef, state: CompactState, made_at: int) -> None:
        """Write the state just published, so that a restarted publisher diffs against it."""
        self.history_directory.mkdir(parents=True, exist_ok=True)
        document = {
            "format": HISTORY_FORMAT,
            "block": [ref.number, ref.hash, ref.time],
            "made_at": made_at,
            "state": state.encode(),
        }
        _write_atomically(self._history_file(ref.number), cbor2.dumps(document))

    def _bound_history(self, now: int) -> None:
        """Keep the newest ``snapshot_deltas_kept`` states (the latest among them: it is an
        earlier one for the next publication; and the latest even with none kept, to see
        that the index did not move) no older than ``snapshot_history_days``, in memory and
        on disk: a post holding an older one fetches a full snapshot, as it would from a
        delta the rule drops. (A latest state forgotten for its age, read back after a
        long stop, only makes the next pass publish its block again.)"""
        oldest = now - int(self.settings.snapshot_history_days * 86400)
        numbers = list(self._states)
        keep = set(numbers[-max(self.settings.snapshot_deltas_kept, 1) :])
        for number in numbers:
            if number not in keep or self._states[number][2] < oldest:
                del self._states[number]
        if self.history_directory.is_dir():
            for path in self.history_directory.glob("state-*.cbor"):
                if _history_block(path) not in self._states:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()

    def _load_history(self) -> None:
        """The states published before this process started, oldest first. A file that cannot
        be read (cut short, another format) is skipped with a warning: it only costs the
        posts at its block a full snapshot."""
        self._history_loaded = True
        if not self.history_directory.is_dir():
            return
        loaded: list[tuple[BlockRef, CompactState, int]] = []
        for path in self.history_directory.glob("state-*.cbor"):
            try:
                document = cbor2.loads(path.read_bytes())
                if not isinstance(document, dict) or document.get("format") != HISTORY_FORMAT:
                    raise SnapshotFormatError("history", f"{path.name} is not of format 1")
                number, block_hash, block_time = document["block"]
                ref = BlockRef(int(number), bytes(block_hash), int(block_time))
                state = CompactState.from_cbor(cbor2.loads(document["state"]))
                loaded.append((ref, state, int(document["made_at"])))
            except (OSError, ValueError, KeyError, TypeError, cbor2.CBORDecodeError) as exc:
                logger.warning("snapshot history %s skipped: %s", path.name, exc)
        for ref, state, made_at in sorted(loaded, key=lambda item: item[0].number):
            self._states[ref.number] = (ref, state, made_at)
        self._bound_history(int(self.clock()))
        if self._states:
            logger.info("snapshot history: %s earlier states read back", len(self._states))

    def _state(self, session: Session, params: Params | None) -> CompactState:
        """The index's state in the earlier snapshot's lineage when it can stay in it."""
        if params is not None:
            try:
                state = consortium_state(session, params)
            except FullSnapshotNeeded:
                state = None
            if state is not None and not needs_new_lineage(params, len(state.remainders)):
                return state
        return consortium_state(session)

    def _forget_files(self, keep: set[str]) -> None:
        """Remove the files the new index no longer lists. A download of one of them that is
        under way ends with the file's end (the open file stays readable on POSIX)."""
        for path in self.directory.glob("*.cose"):
            if path.name not in keep:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
