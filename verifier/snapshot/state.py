"""The compact consortium state a snapshot carries: its queries, and its canonical encoding
(whose SHA-256 is the snapshot's content hash). :mod:`verifier.snapshot.build` makes one,
:mod:`verifier.snapshot.delta` diffs two and applies a diff.

A :class:`CompactState` holds the members, their signing keys and the MRAs as they are (a few
hundred small records), the certificate table of :mod:`verifier.snapshot.fingerprints` (one
16-bit entry per issued certificate), and the *exceptions*: the certificates a signed QR cannot
speak for by itself, each under the top ``exception_id_bits`` of its id with its status,
reason and time (suspended, revoked), its current version (amended) and its current validity
(renewed). docs/snapshot.md specifies every field.

"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import cbor2

from contracts.domain.days import Day
from contracts.domain.enums import AuthorityStatus, CertificateStatus
from contracts.domain.rules import RecognitionAnswer, effective_status, recognize
from contracts.domain.state import (
    AuthorityRecord,
    CertificateSlot,
    MraRecord,
    SigningKeyRecord,
)
from verifier.snapshot import fingerprints as fp
from verifier.snapshot.errors import SnapshotFormatError
from verifier.snapshot.model import Binding, CertificateAnswer, Membership
from verifier.snapshot.records import (
    key_cbor,
    key_from,
    member_cbor,
    member_from,
    mra_cbor,
    mra_from,
    section_list,
    unique_by,
)

# Exception ids are this many top bits of the certificate id; the builder takes the wider one
# only when two issued certificates share the narrower prefix (docs/snapshot.md).
EXCEPTION_ID_BITS: Final = (48, 56)
_MAX_U16: Final = 0xFFFF
_RECOGNITION_MEMO: Final = 4096

# Exception flags: bits 0-1 the stored status, then what else the row carries.
STATUS_MASK: Final = 0b0011
AMENDED: Final = 0b0100
RENEWED: Final = 0b1000
_FLAG_BITS: Final = STATUS_MASK | AMENDED | RENEWED
_STATUS_OF_VALUE: Final = {int(s): s for s in CertificateStatus}

# Section keys of the canonical state map (docs/snapshot.md, "The state").
_MEMBERS, _KEYS, _MRAS, _TABLE, _EXCEPTIONS = 1, 2, 3, 4, 5
_E_BITS, _E_IDS, _E_FLAGS, _E_REASONS, _E_SINCE, _E_VERSIONS, _E_VALID_UNTIL = range(7)


@dataclass(frozen=True, slots=True)
class Params:
    """What a state and every delta to it must share: bucket bits and exception id bits."""

    quotient_bits: int
    exception_id_bits: int = EXCEPTION_ID_BITS[0]

    @property
    def entry_bits(self) -> int:
        return self.quotient_bits + fp.REMAINDER_BITS


@dataclass(frozen=True, slots=True)
class ExceptionRow:
    """One listed certificate: flags (status, amended, renewed) and what they announce."""

    id: int
    flags: int
    reason: int = 0
    since: int = 0
    version: int = 0
    valid_until: int = 0

    @property
    def status(self) -> CertificateStatus:
        return _STATUS_OF_VALUE[self.flags & STATUS_MASK]


@dataclass(eq=False)
class CompactState:
    """The consortium at one block, compactly (see the module docstring).

    ``counts`` (one byte per bucket, 255 meaning "see ``overflow``"), ``offsets`` (bucket
    ``b``'s entries are ``remainders[offsets[b]:offsets[b + 1]]``) and ``remainders`` are the
    certificate table; the ``exception_*`` sequences are parallel columns sorted by id. The
    sequences may be arrays or read-only views of a cache file (:mod:`verifier.snapshot.cache`).
    """

    params: Params
    members: dict[str, AuthorityRecord]
    keys: dict[bytes, SigningKeyRecord]
    mras: dict[int, MraRecord]
    counts: bytes
    overflow: dict[int, int]
    offsets: Sequence[int]
    remainders: Sequence[int]
    exception_ids: Sequence[int]
    exception_flags: Sequence[int]
    exception_reasons: Sequence[int]
    exception_since: Sequence[int]
    exception_versions: Sequence[int]
    exception_valid_until: Sequence[int]
    _mras_by_member: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _recognitions: dict[tuple[object, ...], RecognitionAnswer] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        by_member: dict[str, list[int]] = {}
        for mra_id in sorted(self.mras):
            for party in self.mras[mra_id].parties:
                by_member.setdefault(party.authority, []).append(mra_id)
        self._mras_by_member = {code: tuple(m) for code, m in by_member.items()}

    # ------------------------------------------------------------ sizes

    @property
    def certificate_count(self) -> int:
        return len(self.remainders)

    @property
    def exception_count(self) -> int:
        return len(self.exception_ids)

    @property
    def load(self) -> float:
        """Entries per bucket: the false-positive rates grow with it."""
        return self.certificate_count / (1 << self.params.quotient_bits)

    @property
    def membership_false_positive_rate(self) -> float:
        """Chance that a never-issued certificate id hits an entry's id bits (it then reads as
        issued with a differing binding, a refusal all the same)."""
        return _hit_rate(self.load, fp.ID_BITS)

    @property
    def false_positive_rate(self) -> float:
        """Chance that a never-issued certificate is admitted with a matching binding: it
        must match the id bits and the binding bits of an entry of its bucket."""
        return _hit_rate(self.load, fp.REMAINDER_BITS)

    # ------------------------------------------------------------ queries

    def signing_key(self, kid: bytes) -> SigningKeyRecord | None:
        return self.keys.get(kid)

    def authority(self, code: str) -> AuthorityRecord | None:
        return self.members.get(code)

    def mras_between(self, first: str, second: str) -> list[MraRecord]:
        """Every MRA having both authorities as parties, by id."""
        theirs = set(self._mras_by_member.get(second, ()))
        return [self.mras[m] for m in self._mras_by_member.get(first, ()) if m in theirs]

    def recognition(
        self, authority: str, certificate: CertificateSlot, day: int
    ) -> RecognitionAnswer:
        """The contracts' ``recognizes`` over the snapshot's members and MRAs.

        Remembered: the answer depends on the certificate only through its issuer, tiers and
        effective status, and a state never changes (a delta makes a new one)."""
        status = effective_status(
            certificate.status, certificate.valid_from, certificate.valid_until, Day(day)
        )
        memo_key = (authority, certificate.issuer, certificate.tiers, status, day)
        answer = self._recognitions.get(memo_key)
        if answer is None:
            if len(self._recognitions) >= _RECOGNITION_MEMO:
                self._recognitions.clear()
            issuer = self.members.get(certificate.issuer)
            answer = self._recognitions[memo_key] = recognize(
                authority,
                issuer=certificate.issuer,
                tiers=certificate.tiers,
                status=status,
                issuer_status=issuer.status if issuer else AuthorityStatus.NONE,
                mras=self.mras_between(authority, certificate.issuer),
                day=Day(day),
            )
        return answer

    def exception(self, certificate_id: bytes) -> ExceptionRow | None:
        """The listed row of this certificate, if it is listed."""
        return self._row(fp.key_prefix(certificate_id))

    def _row(self, prefix: int) -> ExceptionRow | None:
        wanted = prefix >> (fp.KEY_PREFIX_BITS - self.params.exception_id_bits)
        ids_ = self.exception_ids
        at = bisect.bisect_left(ids_, wanted)
        if at == len(ids_) or ids_[at] != wanted:
            return None
        return ExceptionRow(
            wanted,
            self.exception_flags[at],
            self.exception_reasons[at],
            self.exception_since[at],
            self.exception_versions[at],
            self.exception_valid_until[at],
        )

    def status(
        self,
        certificate_id: bytes,
        *,
        version: int,
        digest: bytes,
        holder_ref: bytes,
        tiers: int,
        valid_from: int,
        valid_until: int,
    ) -> CertificateAnswer:
        """What the snapshot says about the certificate a QR describes with these claims."""
        prefix = int.from_bytes(certificate_id[:8], "big")
        row = self._row(prefix)
        renewed = row is not None and bool(row.flags & RENEWED)
        binding = fp.binding_hash(
            certificate_id,
            version=version,
            digest=digest,
            holder_ref=holder_ref,
            tiers=tiers,
            valid_from=valid_from,
            valid_until=0 if renewed else valid_until,
        )
        entry = fp.entry_value(prefix, binding, self.params.quotient_bits)
        bucket, remainder = entry >> fp.REMAINDER_BITS, entry & 0xFFFF
        id_part = remainder >> fp.BINDING_BITS
        id_seen = matched = False
        for candidate in self.remainders[self.offsets[bucket] : self.offsets[bucket + 1]]:
            if candidate == remainder:
                matched = True
                break
            id_seen = id_seen or candidate >> fp.BINDING_BITS == id_part
        id_seen = id_seen or matched
        if row is not None:
            current = row.version if row.flags & AMENDED else 1
            chain_until = row.valid_until if renewed else (valid_until if matched else None)
            return CertificateAnswer(
                membership=Membership.LISTED,
                binding=_binding(version, current, matched),
                status=row.status,
                version=current,
                valid_until=chain_until,
                renewed=renewed,
                reason=row.reason,
                since=row.since,
            )
        if not id_seen:
            return CertificateAnswer(
                membership=Membership.UNKNOWN,
                binding=Binding.UNCHECKED,
                status=CertificateStatus.NONE,
                version=0,
                valid_until=None,
            )
        return CertificateAnswer(
            membership=Membership.FILTER,
            binding=_binding(version, 1, matched),
            status=CertificateStatus.ACTIVE,
            version=1,
            valid_until=valid_until if matched else None,
            false_positive_rate=self.false_positive_rate,
        )

    def lookup(self, certificate_id: bytes, *, version: int | None = None) -> CertificateAnswer:
        """What the snapshot says about a certificate id without a QR's claims (a partner's
        question): membership, the listed status, version and validity, and, given a
        ``version``, whether it is superseded or newer; the binding stays unchecked."""
        row = self.exception(certificate_id)
        if row is None:
            membership = self.contains(certificate_id)
            known = membership is Membership.FILTER
            return CertificateAnswer(
                membership=membership,
                binding=(
                    _binding(version, 1, False)
                    if known and version is not None and version != 1
                    else Binding.UNCHECKED
                ),
                status=CertificateStatus.ACTIVE if known else CertificateStatus.NONE,
                version=1 if known else 0,
                valid_until=None,
                false_positive_rate=self.membership_false_positive_rate if known else 0.0,
            )
        current = row.version if row.flags & AMENDED else 1
        binding = Binding.UNCHECKED
        if version is not None and version != current:
            binding = _binding(version, current, False)
        return CertificateAnswer(
            membership=Membership.LISTED,
            binding=binding,
            status=row.status,
            version=current,
            valid_until=row.valid_until if row.flags & RENEWED else None,
            renewed=bool(row.flags & RENEWED),
            reason=row.reason,
            since=row.since,
        )

    def contains(self, certificate_id: bytes) -> Membership:
        """Membership alone: listed, admitted by the filter's id bits, or unknown."""
        if self.exception(certificate_id) is not None:
            return Membership.LISTED
        top = fp.key_prefix(certificate_id) >> (
            fp.KEY_PREFIX_BITS - self.params.quotient_bits - fp.ID_BITS
        )
        bucket, id_part = top >> fp.ID_BITS, top & 0xFF
        for candidate in self.remainders[self.offsets[bucket] : self.offsets[bucket + 1]]:
            if candidate >> fp.BINDING_BITS == id_part:
                return Membership.FILTER
        return Membership.UNKNOWN

    # ------------------------------------------------------------ canonical form

    def to_cbor(self) -> dict[int, Any]:
        """The canonical state map (docs/snapshot.md, "The state")."""
        return {
            _MEMBERS: [member_cbor(m) for _, m in sorted(self.members.items())],
            _KEYS: [key_cbor(k) for _, k in sorted(self.keys.items())],
            _MRAS: [mra_cbor(m) for _, m in sorted(self.mras.items())],
            _TABLE: [
                self.params.quotient_bits,
                bytes(self.counts),
                dict(self.overflow),
                fp.little_endian(as_array("H", self.remainders)),
            ],
            _EXCEPTIONS: self._exceptions_cbor(),
        }

    def _exceptions_cbor(self) -> dict[int, Any]:
        return {
            _E_BITS: self.params.exception_id_bits,
            **exceptions_cbor(
                self.params.exception_id_bits,
                self.exception_ids,
                self.exception_flags,
                self.exception_reasons,
                self.exception_since,
                self.exception_versions,
                self.exception_valid_until,
            ),
        }

    def encode(self) -> bytes:
        return bytes(cbor2.dumps(self.to_cbor(), canonical=True))

    def content_hash(self) -> bytes:
        """SHA-256 of the canonical encoding: equal states, equal hashes."""
        return hashlib.sha256(self.encode()).digest()

    @classmethod
    def from_cbor(cls, obj: object) -> CompactState:
        """The state map back, every field checked (:class:`SnapshotFormatError` names it)."""
        if not isinstance(obj, dict) or set(obj) != {_MEMBERS, _KEYS, _MRAS, _TABLE, _EXCEPTIONS}:
            raise SnapshotFormatError("state", "must be a map of keys 1 to 5")
        members = unique_by(
            (
                member_from(m, f"state.members[{i}]")
                for i, m in enumerate(section_list(obj, _MEMBERS))
            ),
            lambda m: m.code,
            "state.members",
        )
        keys = unique_by(
            (key_from(k, f"state.keys[{i}]") for i, k in enumerate(section_list(obj, _KEYS))),
            lambda k: k.kid,
            "state.keys",
        )
        mras = unique_by(
            (mra_from(m, f"state.mras[{i}]") for i, m in enumerate(section_list(obj, _MRAS))),
            lambda m: m.mra_id,
            "state.mras",
        )
        table = obj[_TABLE]
        if not isinstance(table, list) or not table or type(table[0]) is not int:
            raise SnapshotFormatError("state.table", "must start with its quotient bits")
        width = table[0] + fp.REMAINDER_BITS
        q, offsets, remainders = fp.decode_sorted(table, width, "state.table")
        exceptions = obj[_EXCEPTIONS]
        bits, columns = _exceptions_from(exceptions)
        return cls(
            params=Params(q, bits),
            members=members,
            keys=keys,
            mras=mras,
            counts=table[1],
            overflow=dict(table[2]),
            offsets=array("I", offsets),
            remainders=array("H", remainders),
            exception_ids=columns["exception_ids"],
            exception_flags=columns["exception_flags"],
            exception_reasons=columns["exception_reasons"],
            exception_since=columns["exception_since"],
            exception_versions=columns["exception_versions"],
            exception_valid_until=columns["exception_valid_until"],
        )


def exceptions_cbor(
    bits: int,
    ids_: Sequence[int],
    flags: Sequence[int],
    reasons: Sequence[int],
    since: Sequence[int],
    versions: Sequence[int],
    valid_until: Sequence[int],
) -> dict[int, Any]:
    """Exception rows in their wire form: the ids, a flags byte each, and the reason, time,
    version and validity only of the rows whose flags announce them."""
    status_rows = [i for i, f in enumerate(flags) if f & STATUS_MASK != 1]
    amended = [i for i, f in enumerate(flags) if f & AMENDED]
    renewed = [i for i, f in enumerate(flags) if f & RENEWED]
    return {
        _E_IDS: fp.encode_values(ids_, bits),
        _E_FLAGS: bytes(flags),
        _E_REASONS: bytes(reasons[i] for i in status_rows),
        _E_SINCE: fp.little_endian(array("I", (since[i] for i in status_rows))),
        _E_VERSIONS: fp.little_endian(array("H", (versions[i] for i in amended))),
        _E_VALID_UNTIL: fp.little_endian(array("H", (valid_until[i] for i in renewed))),
    }


def rows_cbor(rows: Sequence[ExceptionRow], bits: int) -> dict[int, Any]:
    """:func:`exceptions_cbor` of rows (a delta's)."""
    ordered = sorted(rows, key=lambda r: r.id)
    return exceptions_cbor(
        bits,
        [r.id for r in ordered],
        [r.flags for r in ordered],
        [r.reason for r in ordered],
        [r.since for r in ordered],
        [r.version for r in ordered],
        [r.valid_until for r in ordered],
    )


def rows_from(obj: object, bits: int, where: str) -> tuple[ExceptionRow, ...]:
    """The rows of :func:`rows_cbor`'s output, checked."""
    if not isinstance(obj, dict) or set(obj) != set(range(1, 7)):
        raise SnapshotFormatError(where, "must be a map of keys 1 to 6")
    columns = _columns_from(obj, bits, where)
    return tuple(
        ExceptionRow(i, f, r, s, v, u)
        for i, f, r, s, v, u in zip(
            columns["exception_ids"],
            columns["exception_flags"],
            columns["exception_reasons"],
            columns["exception_since"],
            columns["exception_versions"],
            columns["exception_valid_until"],
            strict=True,
        )
    )


def _hit_rate(load: float, bits: int) -> float:
    # The bucket of a random id holds Poisson(load) entries; each matches with 2**-bits.
    return load / (1 << bits)


def _binding(claimed: int, current: int, matched: bool) -> Binding:
    if claimed < current:
        return Binding.SUPERSEDED
    if claimed > current:
        return Binding.NEWER
    return Binding.MATCHES if matched else Binding.DIFFERS


def as_array(typecode: str, values: Sequence[int]) -> array:  # type: ignore[type-arg]
    """``values`` as an array (a cache file's views are copied at C speed)."""
    if isinstance(values, array) and values.typecode == typecode:
        return values
    out = array(typecode)
    if isinstance(values, memoryview) and values.itemsize == out.itemsize:
        out.frombytes(values.cast("B"))
    else:
        out.extend(values)
    return out


def _exceptions_from(obj: object) -> tuple[int, dict[str, array]]:  # type: ignore[type-arg]
    where = "state.exceptions"
    if not isinstance(obj, dict) or set(obj) != set(range(7)):
        raise SnapshotFormatError(where, "must be a map of keys 0 to 6")
    bits = obj[_E_BITS]
    if type(bits) is not int or bits not in EXCEPTION_ID_BITS:
        raise SnapshotFormatError(f"{where}.id_bits", f"must be one of {EXCEPTION_ID_BITS}")
    return bits, _columns_from(obj, bits, where)


def _columns_from(obj: Mapping[int, Any], bits: int, where: str) -> dict[str, array]:  # type: ignore[type-arg]
    ids_ = fp.decode_values(obj[_E_IDS], bits, f"{where}.ids")
    if any(b <= a for a, b in itertools.pairwise(ids_)):
        raise SnapshotFormatError(f"{where}.ids", "an id is listed twice")
    return exception_columns(
        ids_,
        obj[_E_FLAGS],
        obj[_E_REASONS],
        obj[_E_SINCE],
        obj[_E_VERSIONS],
        obj[_E_VALID_UNTIL],
        where,
    )


def exception_columns(
    ids_: Sequence[int],
    flags: object,
    reasons: object,
    since: object,
    versions: object,
    valid_until: object,
    where: str,
) -> dict[str, array]:  # type: ignore[type-arg]
    """The parallel exception columns from their wire form (values only where the flags
    announce them), checked."""
    count = len(ids_)
    for name, value in (
        ("flags", flags),
        ("reasons", reasons),
        ("since", since),
        ("versions", versions),
        ("valid_until", valid_until),
    ):
        if not isinstance(value, bytes):
            raise SnapshotFormatError(f"{where}.{name}", "must be bytes")
    assert isinstance(flags, bytes)  # for mypy, checked just above
    if len(flags) != count:
        raise SnapshotFormatError(f"{where}.flags", f"must be {count} bytes, one per id")
    status_rows = [i for i, f in enumerate(flags) if f & STATUS_MASK != 1]
    amended = [i for i, f in enumerate(flags) if f & AMENDED]
    renewed = [i for i, f in enumerate(flags) if f & RENEWED]
    for i, f in enumerate(flags):
        if f & ~_FLAG_BITS or f & STATUS_MASK == 0 or f == 1:
            raise SnapshotFormatError(f"{where}.flags[{i}]", f"{f:#x} is not a listed row")
    reason_col = _column("B", reasons, len(status_rows), f"{where}.reasons")
    since_col = _column("I", since, len(status_rows), f"{where}.since")
    version_col = _column("H", versions, len(amended), f"{where}.versions")
    until_col = _column("H", valid_until, len(renewed), f"{where}.valid_until")
    if any(v < 2 for v in version_col):
        raise SnapshotFormatError(f"{where}.versions", "an amended version is 2 or more")
    full = {name: array(code, bytes(count * array(code).itemsize)) for name, code in _FULL}
    for i, value in zip(status_rows, reason_col, strict=True):
        full["exception_reasons"][i] = value
    for i, value in zip(status_rows, since_col, strict=True):
        full["exception_since"][i] = value
    for i, value in zip(amended, version_col, strict=True):
        full["exception_versions"][i] = value
    for i, value in zip(renewed, until_col, strict=True):
        full["exception_valid_until"][i] = value
    full["exception_ids"] = array("Q", ids_)
    full["exception_flags"] = array("B", flags)
    return full


_FULL: Final = (
    ("exception_reasons", "B"),
    ("exception_since", "I"),
    ("exception_versions", "H"),
    ("exception_valid_until", "H"),
)


def _column(typecode: str, data: object, count: int, where: str) -> array:  # type: ignore[type-arg]
    size = array(typecode).itemsize
    if not isinstance(data, bytes) or len(data) != count * size:
        raise SnapshotFormatError(where, f"must be {count * size} bytes")
    return fp.array_from_le(typecode, data)
