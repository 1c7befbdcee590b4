"""The compact consortium state a snapshot carries: build it, query it, diff two of them, apply
a diff, and encode it canonically (its SHA-256 is the snapshot's content hash).

A :class:`CompactState` holds the members, their signing keys and the MRAs as they are (a few
hundred small records), the certificate table of :mod:`verifier.snapshot.fingerprints` (one
16-bit entry per issued certificate), and the *exceptions*: the certificates a signed QR cannot
speak for by itself, each under the top ``exception_id_bits`` of its id with its status,
reason and time (suspended, revoked), its current version (amended) and its current validity
(renewed). docs/snapshot.md specifies every field.

Deltas are exact: ``apply(a, diff(a, b))`` has the same canonical encoding, so the same
content hash, as ``b``: a border post that follows deltas holds the very state a full snapshot
at the later block would give it.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import cbor2

from contracts import ids
from verifier.keys import Algorithm
from verifier.rules import (
    AuthorityStatus,
    CertificateStatus,
    MraParty,
    MraRecord,
    MraState,
    RecognitionAnswer,
    effective_status,
    recognize,
)
from verifier.snapshot import fingerprints as fp
from verifier.snapshot.errors import (
    FullSnapshotNeeded,
    SnapshotBuildError,
    SnapshotFormatError,
    SnapshotOrderError,
)
from verifier.snapshot.model import Binding, CertificateAnswer, CertificateState, Membership
from verifier.source import AuthorityRecord, CertificateRecord, SigningKeyRecord, StatusChange

# Exception ids are this many top bits of the certificate id; the builder takes the wider one
# only when two issued certificates share the narrower prefix (docs/snapshot.md).
EXCEPTION_ID_BITS: Final = (48, 56)
_MAX_U16: Final = 0xFFFF
_RECOGNITION_MEMO: Final = 4096
# An uncompressed P-256 point is 65 bytes; nothing a chain publishes as a key is longer.
_MAX_PUBLIC_KEY: Final = 65
_MAX_U32: Final = 0xFFFFFFFF

# Exception flags: bits 0-1 the stored status, then what else the row carries.
_STATUS_MASK: Final = 0b0011
AMENDED: Final = 0b0100
RENEWED: Final = 0b1000
_FLAG_BITS: Final = _STATUS_MASK | AMENDED | RENEWED
_STATUS_OF_VALUE: Final = {int(s): s for s in CertificateStatus}
_LISTED_STATUSES: Final = frozenset(
    {CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED, CertificateStatus.REVOKED}
)

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
        return _STATUS_OF_VALUE[self.flags & _STATUS_MASK]


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
        self, authority: str, certificate: CertificateRecord, day: int
    ) -> RecognitionAnswer:
        """The contracts' ``recognizes`` over the snapshot's members and MRAs.

        Remembered: the answer depends on the certificate only through its issuer, tiers and
        effective status, and a state never changes (a delta makes a new one)."""
        status = effective_status(
            certificate.status, certificate.valid_from, certificate.valid_until, day
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
                day=day,
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
                fp.little_endian(_as_array("H", self.remainders)),
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
        members = _unique(
            (member_from(m, f"state.members[{i}]") for i, m in enumerate(_list(obj, _MEMBERS))),
            lambda m: m.code,
            "state.members",
        )
        keys = _unique(
            (key_from(k, f"state.keys[{i}]") for i, k in enumerate(_list(obj, _KEYS))),
            lambda k: k.kid,
            "state.keys",
        )
        mras = _unique(
            (mra_from(m, f"state.mras[{i}]") for i, m in enumerate(_list(obj, _MRAS))),
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
    status_rows = [i for i, f in enumerate(flags) if f & _STATUS_MASK != 1]
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


def _as_array(typecode: str, values: Sequence[int]) -> array:  # type: ignore[type-arg]
    """``values`` as an array (a cache file's views are copied at C speed)."""
    if isinstance(values, array) and values.typecode == typecode:
        return values
    out = array(typecode)
    if isinstance(values, memoryview) and values.itemsize == out.itemsize:
        out.frombytes(values.cast("B"))
    else:
        out.extend(values)
    return out


# ---------------------------------------------------------------- building


def build_state(
    *,
    members: Iterable[AuthorityRecord],
    keys: Iterable[SigningKeyRecord],
    mras: Iterable[MraRecord],
    certificates: Iterable[CertificateState],
    params: Params | None = None,
) -> CompactState:
    """The compact state of a consortium. ``certificates`` is read once (stream it from the
    index: only 9 bytes per certificate and the exceptions are kept).

    ``params`` fixes the table's bucket bits and the exception id bits, as a delta to an
    earlier state needs; without it they are chosen for this state's size. Raises
    :class:`SnapshotBuildError` naming a bad field, and :class:`FullSnapshotNeeded` when the
    fixed exception id bits no longer tell two issued certificates apart.
    """
    member_map = _unique(members, lambda m: m.code, "members")
    for code, member in member_map.items():
        _check_member(member, f"members[{code}]")
    key_map = _unique(keys, lambda k: k.kid, "keys")
    for kid, key in key_map.items():
        _check_key(key, f"keys[{kid.hex()}]")
    mra_map = _unique(mras, lambda m: m.mra_id, "mras")
    for mra_id, mra in mra_map.items():
        _check_mra(mra, f"mras[{mra_id}]")

    prefixes = array("Q")
    bindings = array("B")
    rows: list[tuple[int, int, int, int, int, int]] = []
    # The loop runs once per certificate (a million for a large consortium): its names are
    # bound locally and its checks are one expression on the common path.
    add_prefix, add_binding, bind, active = prefixes.append, bindings.append, fp.binding_hash, 1
    for index, certificate in enumerate(certificates):
        flags = _check_certificate(certificate, index)
        cid = certificate.certificate_id
        prefix = int.from_bytes(cid[:8], "big")
        add_prefix(prefix)
        binding = bind(
            cid,
            version=certificate.version,
            digest=certificate.digest,
            holder_ref=certificate.holder_ref,
            tiers=certificate.tiers,
            valid_from=certificate.valid_from,
            valid_until=0 if certificate.renewed else certificate.valid_until,
        )
        add_binding(binding >> 56)
        if flags != active:
            listed_status = flags & _STATUS_MASK != active
            rows.append(
                (
                    prefix,
                    flags,
                    certificate.reason if listed_status else 0,
                    certificate.since if listed_status else 0,
                    certificate.version if flags & AMENDED else 0,
                    certificate.valid_until if flags & RENEWED else 0,
                )
            )
    count = len(prefixes)
    q = params.quotient_bits if params else fp.quotient_bits_for(count)
    if not 0 <= q <= fp.MAX_QUOTIENT_BITS:
        raise SnapshotBuildError("params.quotient_bits", f"must be 0..{fp.MAX_QUOTIENT_BITS}")
    shift = fp.KEY_PREFIX_BITS - q - fp.ID_BITS
    entries = sorted(
        ((p >> shift) << fp.BINDING_BITS) | b for p, b in zip(prefixes, bindings, strict=True)
    )
    encoded = fp.encode_sorted(entries, q + fp.REMAINDER_BITS, q)
    del entries
    ordered = array("Q", sorted(prefixes))
    del prefixes, bindings
    for at in range(1, len(ordered)):
        if ordered[at] == ordered[at - 1]:
            raise SnapshotBuildError(
                "certificates", f"two certificates share the id prefix {ordered[at]:016x}"
            )
    bits = _exception_bits(rows, ordered, params)
    rows.sort()
    shift_e = fp.KEY_PREFIX_BITS - bits
    _, counts, overflow, packed = encoded
    assert isinstance(counts, bytes)
    assert isinstance(overflow, dict)
    assert isinstance(packed, bytes)
    return CompactState(
        params=Params(q, bits),
        members=member_map,
        keys=key_map,
        mras=mra_map,
        counts=counts,
        overflow=overflow,
        offsets=fp.offsets_of(counts, overflow),
        remainders=fp.array_from_le("H", packed),
        exception_ids=array("Q", (r[0] >> shift_e for r in rows)),
        exception_flags=array("B", (r[1] for r in rows)),
        exception_reasons=array("B", (r[2] for r in rows)),
        exception_since=array("I", (r[3] for r in rows)),
        exception_versions=array("H", (r[4] for r in rows)),
        exception_valid_until=array("H", (r[5] for r in rows)),
    )


def _exception_bits(
    rows: Sequence[tuple[int, ...]], ordered: Sequence[int], params: Params | None
) -> int:
    """The narrowest exception id width under which each listed certificate's id prefix is
    shared by no other issued certificate (so a listed row never speaks for another)."""
    choices = (params.exception_id_bits,) if params else EXCEPTION_ID_BITS
    for bits in choices:
        if bits not in EXCEPTION_ID_BITS:
            raise SnapshotBuildError(
                "params.exception_id_bits", f"must be one of {EXCEPTION_ID_BITS}"
            )
        shift = fp.KEY_PREFIX_BITS - bits
        if all(
            bisect.bisect_left(ordered, ((p >> shift) + 1) << shift)
            - bisect.bisect_left(ordered, (p >> shift) << shift)
            == 1
            for p, *_ in rows
        ):
            return bits
    if params:
        raise FullSnapshotNeeded(
            f"two issued certificates share a {params.exception_id_bits}-bit id prefix with a "
            "listed one: a new full snapshot must widen the exception ids"
        )
    raise SnapshotBuildError("certificates", "listed certificates share a 56-bit id prefix")


def _check_certificate(c: CertificateState, index: int) -> int:
    """Raises on a bad field; returns the row's flags (1 = active and nothing to list)."""
    version, status = c.version, c.status
    if (
        type(c.certificate_id) is bytes
        and len(c.certificate_id) == 32
        and type(c.digest) is bytes
        and len(c.digest) == 20
        and type(c.holder_ref) is bytes
        and len(c.holder_ref) == 32
        and type(version) is int
        and 1 <= version <= _MAX_U16
        and type(c.tiers) is int
        and 1 <= c.tiers <= 255
        and type(c.valid_from) is int
        and type(c.valid_until) is int
        and 0 <= c.valid_from <= c.valid_until <= _MAX_U16
        and type(c.reason) is int
        and 0 <= c.reason <= 255
        and type(c.since) is int
        and 0 <= c.since <= _MAX_U32
        and status in _LISTED_STATUSES
        and type(c.renewed) is bool
    ):
        return int(status) | (AMENDED if version > 1 else 0) | (RENEWED if c.renewed else 0)
    _explain(c, index)
    raise AssertionError("unreachable: _explain raises")  # pragma: no cover


def _explain(c: CertificateState, index: int) -> None:
    """Names the first bad field of a certificate the fast check refused."""
    where = f"certificates[{index}]"
    if type(c.certificate_id) is not bytes or len(c.certificate_id) != 32:
        raise SnapshotBuildError(f"{where}.certificate_id", "must be 32 bytes")
    if type(c.digest) is not bytes or len(c.digest) != 20:
        raise SnapshotBuildError(f"{where}.digest", "must be 20 bytes")
    if type(c.holder_ref) is not bytes or len(c.holder_ref) != 32:
        raise SnapshotBuildError(f"{where}.holder_ref", "must be 32 bytes")
    for name, low, high in (
        ("version", 1, _MAX_U16),
        ("tiers", 1, 255),
        ("valid_from", 0, _MAX_U16),
        ("valid_until", 0, _MAX_U16),
        ("reason", 0, 255),
        ("since", 0, _MAX_U32),
    ):
        value = getattr(c, name)
        if type(value) is not int or not low <= value <= high:
            raise SnapshotBuildError(f"{where}.{name}", f"must be an integer {low}..{high}")
    if c.valid_until < c.valid_from:
        raise SnapshotBuildError(f"{where}.valid_until", "is before valid_from")
    if c.status not in _LISTED_STATUSES:
        raise SnapshotBuildError(f"{where}.status", "must be ACTIVE, SUSPENDED or REVOKED")
    if type(c.renewed) is not bool:
        raise SnapshotBuildError(f"{where}.renewed", "must be a bool")


def _check_member(m: AuthorityRecord, where: str) -> None:
    _code(m.code, f"{where}.code")
    if not isinstance(m.name, str) or not m.name:
        raise SnapshotBuildError(f"{where}.name", "must be a non-empty text")
    if not isinstance(m.status, AuthorityStatus) or m.status is AuthorityStatus.NONE:
        raise SnapshotBuildError(f"{where}.status", "must be ACTIVE, SUSPENDED or REMOVED")


def _check_key(k: SigningKeyRecord, where: str) -> None:
    """Shape only: a key is carried as the chain publishes it, and the verifier judges it at
    use (its id, its algorithm and its length: ``bad_key_record``, ``algorithm_mismatch``)."""
    _code(k.authority, f"{where}.authority")
    if type(k.kid) is not bytes or len(k.kid) != 8:
        raise SnapshotBuildError(f"{where}.kid", "must be 8 bytes")
    if not isinstance(k.algorithm, Algorithm):
        raise SnapshotBuildError(f"{where}.algorithm", "must be ES256 or EDDSA")
    if type(k.public_key) is not bytes or not 0 < len(k.public_key) <= _MAX_PUBLIC_KEY:
        raise SnapshotBuildError(f"{where}.public_key", f"must be 1 to {_MAX_PUBLIC_KEY} bytes")
    for name in ("valid_from", "revoked_at"):
        value = getattr(k, name)
        if type(value) is not int or not 0 <= value < 2**40:
            raise SnapshotBuildError(f"{where}.{name}", "must be unix seconds")


def _check_mra(m: MraRecord, where: str) -> None:
    if type(m.mra_id) is not int or m.mra_id < 1:
        raise SnapshotBuildError(f"{where}.mra_id", "must be a positive integer")
    if not isinstance(m.status, MraState) or m.status is MraState.NONE:
        raise SnapshotBuildError(f"{where}.status", "must be a proposed or later state")
    if len(m.parties) < 2 or len({p.authority for p in m.parties}) != len(m.parties):
        raise SnapshotBuildError(f"{where}.parties", "must be two or more different members")
    for party in m.parties:
        _code(party.authority, f"{where}.parties")
        if type(party.recognized_tiers) is not int or not 0 <= party.recognized_tiers <= 255:
            raise SnapshotBuildError(f"{where}.parties", "recognized tiers must be 0..255")
    for name in ("effective_from", "ends_on"):
        if type(getattr(m, name)) is not int or not 0 <= getattr(m, name) <= _MAX_U16:
            raise SnapshotBuildError(f"{where}.{name}", "must be a day number")
    if type(m.text_hash) is not bytes or len(m.text_hash) not in (0, 32):
        raise SnapshotBuildError(f"{where}.text_hash", "must be 32 bytes (or empty)")


def _code(code: object, where: str) -> None:
    try:
        ids.authority_code(code)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SnapshotBuildError(where, f"is not an authority code: {exc}") from exc


def _unique(items: Iterable[Any], key: Any, where: str) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for item in items:
        k = key(item)
        if k in out:
            raise SnapshotBuildError(where, f"{k!r} appears twice")
        out[k] = item
    return out


# ---------------------------------------------------------------- diff and apply


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
_BLOCK: Final = 4096


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
        remainders.extend(_as_array("H", state.remainders[copied:lo]))
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
    remainders.extend(_as_array("H", state.remainders[copied:]))
    return bytes(counts), overflow, fp.offsets_of(bytes(counts), overflow), remainders


# ---------------------------------------------------------------- record codecs


def member_cbor(m: AuthorityRecord) -> list[object]:
    return [m.code, m.name, int(m.status)]


def key_cbor(k: SigningKeyRecord) -> list[object]:
    return [k.kid, k.authority, int(k.algorithm), k.public_key, k.valid_from, k.revoked_at]


def mra_cbor(m: MraRecord) -> list[object]:
    return [
        m.mra_id,
        int(m.status),
        m.effective_from,
        m.ends_on,
        m.text_hash,
        [[p.authority, p.recognized_tiers, p.signed] for p in m.parties],
    ]


def _list(obj: Mapping[int, Any], key: int) -> list[Any]:
    value = obj[key]
    if not isinstance(value, list):
        raise SnapshotFormatError(f"state section {key}", "must be an array")
    return value


def _build_checked(check: Any, record: Any, where: str) -> Any:
    try:
        check(record, where)
    except SnapshotBuildError as exc:
        raise SnapshotFormatError(exc.field, exc.message.split(": ", 1)[-1]) from exc
    return record


def member_from(obj: object, where: str) -> AuthorityRecord:
    if not isinstance(obj, list) or len(obj) != 3 or type(obj[2]) is not int:
        raise SnapshotFormatError(where, "must be [code, name, status]")
    try:
        status = AuthorityStatus(obj[2])
    except ValueError:
        raise SnapshotFormatError(f"{where}.status", f"{obj[2]} is not a member status") from None
    return _build_checked(_check_member, AuthorityRecord(obj[0], obj[1], status), where)  # type: ignore[no-any-return]


def key_from(obj: object, where: str) -> SigningKeyRecord:
    if not isinstance(obj, list) or len(obj) != 6 or type(obj[2]) is not int:
        raise SnapshotFormatError(
            where, "must be [kid, authority, algorithm, public key, valid from, revoked at]"
        )
    try:
        algorithm = Algorithm(obj[2])
    except ValueError:
        raise SnapshotFormatError(f"{where}.algorithm", f"{obj[2]} is not 1 or 2") from None
    kid = obj[0]
    if type(kid) is not bytes or len(kid) != 8:
        raise SnapshotFormatError(f"{where}.kid", "must be 8 bytes")
    record = SigningKeyRecord(kid, obj[1], algorithm, obj[3], obj[4], obj[5])
    return _build_checked(_check_key, record, where)  # type: ignore[no-any-return]


def mra_from(obj: object, where: str) -> MraRecord:
    if not isinstance(obj, list) or len(obj) != 6 or not isinstance(obj[5], list):
        raise SnapshotFormatError(
            where, "must be [id, status, effective from, ends on, text hash, parties]"
        )
    parties = []
    for party in obj[5]:
        if not isinstance(party, list) or len(party) != 3 or type(party[2]) is not bool:
            raise SnapshotFormatError(f"{where}.parties", "each must be [code, tiers, signed]")
        parties.append(MraParty(party[0], party[1], party[2]))
    try:
        status = MraState(obj[1])
    except (ValueError, TypeError):
        raise SnapshotFormatError(f"{where}.status", f"{obj[1]!r} is not an MRA state") from None
    record = MraRecord(obj[0], tuple(parties), status, obj[2], obj[3], obj[4])
    return _build_checked(_check_mra, record, where)  # type: ignore[no-any-return]


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
    status_rows = [i for i, f in enumerate(flags) if f & _STATUS_MASK != 1]
    amended = [i for i, f in enumerate(flags) if f & AMENDED]
    renewed = [i for i, f in enumerate(flags) if f & RENEWED]
    for i, f in enumerate(flags):
        if f & ~_FLAG_BITS or f & _STATUS_MASK == 0 or f == 1:
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


def record_for(
    answer: CertificateAnswer,
    *,
    certificate_id: bytes,
    issuer: str,
    number: str | None,
    digest: bytes,
    holder_ref: bytes,
    tiers: int,
    valid_from: int,
    valid_until: int,
) -> CertificateRecord | None:
    """The :class:`CertificateRecord` the verifier's pipeline compares a QR with, as far as the
    snapshot knows it; ``None`` for an unknown certificate.

    The snapshot holds no digest, only whether the QR's binding matches the chain's: when it
    differs, the record carries the bitwise complement of the QR's digest, so the pipeline's
    binding check fails with ``commitment_mismatch`` as it does against the full record (and
    the holder reference is left out: the snapshot cannot tell which field differs).
    """
    if answer.membership is Membership.UNKNOWN:
        return None
    matches = answer.binding is not Binding.DIFFERS
    history = (
        (StatusChange(answer.status, answer.reason, answer.since),)
        if answer.status is not CertificateStatus.ACTIVE
        else ()
    )
    return CertificateRecord(
        certificate_id=certificate_id,
        issuer=issuer,
        tiers=tiers,
        status=answer.status,
        valid_from=valid_from,
        valid_until=answer.valid_until if answer.valid_until is not None else valid_until,
        version=answer.version,
        digest=digest if matches else bytes(b ^ 0xFF for b in digest),
        history=history,
        holder_ref=holder_ref if matches else None,
        number=number,
    )
