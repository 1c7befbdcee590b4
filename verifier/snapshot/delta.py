"""Deltas between two compact states of one lineage: :func:`diff` and :func:`apply`.

Deltas are exact: ``apply(a, diff(a, b))`` has the same canonical encoding, so the same content
hash, as ``b``: a border post that follows deltas holds the very state a full snapshot at the
later block would give it.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts.domain.state import AuthorityRecord, MraRecord, SigningKeyRecord
from verifier.snapshot import fingerprints as fp
from verifier.snapshot.errors import FullSnapshotNeeded, SnapshotOrderError
from verifier.snapshot.state import CompactState, ExceptionRow, as_array


@dataclass(frozen=True)
class Changes:
    """What a delta carries: upserted records, removed and added table entries, removed
    and upserted exception rows (all sorted)."""

    members: tuple[AuthorityRecord, ...] = ()
    keys: tuple[SigningKeyRecord, ...] = ()
    mras: tuple[MraRecord, ...] = ()
    removed_entries: tuple[int, ...] = ()
    added_entries: tuple[int, ...] = ()
    removed_exceptions: tuple[int, ...] = ()
    exceptions: tuple[ExceptionRow, ...] = ()

    @property
    def count(self) -> int:
        """How many records change (an amended certificate counts its entry twice)."""
        return (
            len(self.members)
            + len(self.keys)
            + len(self.mras)
            + len(self.removed_entries)
            + len(self.added_entries)
            + len(self.removed_exceptions)
            + len(self.exceptions)
        )


def diff(old: CompactState, new: CompactState) -> Changes:
    """What turns ``old`` into ``new``. Raises :class:`FullSnapshotNeeded` when no delta can:
    other table parameters, or a member, key or MRA that disappeared."""
    if old.params != new.params:
        raise FullSnapshotNeeded(
            f"the table parameters changed ({old.params} -> {new.params}): send a full snapshot"
        )
    removed_entries, added_entries = _entry_changes(old, new)
    removed_ids, upserts = _exception_changes(old, new)
    return Changes(
        members=_upserts(old.members, new.members, "member"),
        keys=_upserts(old.keys, new.keys, "signing key"),
        mras=_upserts(old.mras, new.mras, "MRA"),
        removed_entries=tuple(removed_entries),
        added_entries=tuple(added_entries),
        removed_exceptions=tuple(removed_ids),
        exceptions=tuple(upserts),
    )


def _upserts(old: Mapping[Any, Any], new: Mapping[Any, Any], what: str) -> tuple[Any, ...]:
    gone = old.keys() - new.keys()
    if gone:
        raise FullSnapshotNeeded(f"a {what} disappeared ({sorted(gone)[0]!r}): send a full one")
    return tuple(value for key, value in sorted(new.items()) if old.get(key) != value)


# Buckets compared at once: their bytes are compared at C speed, and only the blocks that
# differ are walked bucket by bucket.
_BLOCK: Final = 64


def _entry_changes(old: CompactState, new: CompactState) -> tuple[list[int], list[int]]:
    removed: list[int] = []
    added: list[int] = []
    buckets = 1 << old.params.quotient_bits
    for start in range(0, buckets, _BLOCK):
        end = min(start + _BLOCK, buckets)
        a = old.remainders[old.offsets[start] : old.offsets[end]]
        b = new.remainders[new.offsets[start] : new.offsets[end]]
        if old.counts[start:end] == new.counts[start:end] and a == b:
            escaped = _escaped(old, start) | _escaped(new, start)
            if all(old.overflow.get(i) == new.overflow.get(i) for i in escaped):
                continue
        for bucket in range(start, end):
            before = old.remainders[old.offsets[bucket] : old.offsets[bucket + 1]]
            after = new.remainders[new.offsets[bucket] : new.offsets[bucket + 1]]
            if before == after:
                continue
            base = bucket << fp.REMAINDER_BITS
            gone, came = _multiset_difference(list(before), list(after))
            removed.extend(base | r for r in gone)
            added.extend(base | r for r in came)
    return removed, added


def _escaped(state: CompactState, start: int) -> set[int]:
    return {b for b in state.overflow if start <= b < start + _BLOCK}


def _multiset_difference(before: list[int], after: list[int]) -> tuple[list[int], list[int]]:
    gone, came = [], []
    i = j = 0
    while i < len(before) or j < len(after):
        if j == len(after) or (i < len(before) and before[i] < after[j]):
            gone.append(before[i])
            i += 1
        elif i == len(before) or after[j] < before[i]:
            came.append(after[j])
            j += 1
        else:
            i += 1
            j += 1
    return gone, came


def _rows(state: CompactState) -> dict[int, ExceptionRow]:
    return {
        row_id: ExceptionRow(row_id, f, r, s, v, u)
        for row_id, f, r, s, v, u in zip(
            state.exception_ids,
            state.exception_flags,
            state.exception_reasons,
            state.exception_since,
            state.exception_versions,
            state.exception_valid_until,
            strict=True,
        )
    }


def _exception_changes(
    old: CompactState, new: CompactState
) -> tuple[list[int], list[ExceptionRow]]:
    before, after = _rows(old), _rows(new)
    removed = sorted(before.keys() - after.keys())
    upserts = [row for key, row in sorted(after.items()) if before.get(key) != row]
    return removed, upserts


def apply(state: CompactState, changes: Changes) -> CompactState:
    """``state`` with ``changes`` applied, as a new state. Raises :class:`SnapshotOrderError`
    when the changes do not fit it (an entry or row to remove that it does not hold)."""
    members = {**state.members, **{m.code: m for m in changes.members}}
    keys = {**state.keys, **{k.kid: k for k in changes.keys}}
    mras = {**state.mras, **{m.mra_id: m for m in changes.mras}}
    counts, overflow, offsets, remainders = _apply_entries(state, changes)
    rows = _rows(state)
    for row_id in changes.removed_exceptions:
        if rows.pop(row_id, None) is None:
            raise SnapshotOrderError(
                f"the delta removes exception {row_id:x}, which the cache does not list",
                code="delta_does_not_fit",
            )
    rows.update((row.id, row) for row in changes.exceptions)
    ordered = [rows[k] for k in sorted(rows)]
    return CompactState(
        params=state.params,
        members=members,
        keys=keys,
        mras=mras,
        counts=counts,
        overflow=overflow,
        offsets=offsets,
        remainders=remainders,
        exception_ids=array("Q", (r.id for r in ordered)),
        exception_flags=array("B", (r.flags for r in ordered)),
        exception_reasons=array("B", (r.reason for r in ordered)),
        exception_since=array("I", (r.since for r in ordered)),
        exception_versions=array("H", (r.version for r in ordered)),
        exception_valid_until=array("H", (r.valid_until for r in ordered)),
    )


def _apply_entries(
    state: CompactState, changes: Changes
) -> tuple[bytes, dict[int, int], array, array]:  # type: ignore[type-arg]
    width = state.params.entry_bits
    touched: dict[int, tuple[list[int], list[int]]] = {}
    for values, side in ((changes.removed_entries, 0), (changes.added_entries, 1)):
        for value in values:
            if value >> width:
                raise SnapshotOrderError(
                    f"the delta's entry {value:x} does not fit a {width}-bit table",
                    code="delta_does_not_fit",
                )
            touched.setdefault(value >> fp.REMAINDER_BITS, ([], []))[side].append(value & 0xFFFF)
    counts = bytearray(state.counts)
    overflow = dict(state.overflow)
    remainders = array("H")
    copied = 0
    for bucket in sorted(touched):
        lo, hi = state.offsets[bucket], state.offsets[bucket + 1]
        remainders.extend(as_array("H", state.remainders[copied:lo]))
        current = list(state.remainders[lo:hi])
        gone, came = touched[bucket]
        for value in gone:
            try:
                current.remove(value)
            except ValueError:
                raise SnapshotOrderError(
                    f"the delta removes entry {(bucket << 16) | value:x}, which the cache "
                    "does not hold",
                    code="delta_does_not_fit",
                ) from None
        current.extend(came)
        current.sort()
        remainders.extend(current)
        copied = hi
        size = len(current)
        counts[bucket] = min(size, fp.COUNT_ESCAPE)
        if size >= fp.COUNT_ESCAPE:
            overflow[bucket] = size
        else:
            overflow.pop(bucket, None)
    remainders.extend(as_array("H", state.remainders[copied:]))
    return bytes(counts), overflow, fp.offsets_of(bytes(counts), overflow), remainders
