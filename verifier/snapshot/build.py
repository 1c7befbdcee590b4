"""Building the compact state from the consortium as an index sees it at one block.

:func:`build_state` reads the certificates once, as a stream, keeping 9 bytes per certificate
and the exception rows, and checks every record, naming the field it refuses.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Sequence
from typing import Final

from contracts.domain.enums import CertificateStatus
from contracts.domain.state import AuthorityRecord, MraRecord, SigningKeyRecord
from verifier.snapshot import fingerprints as fp
from verifier.snapshot.errors import FullSnapshotNeeded, SnapshotBuildError
from verifier.snapshot.model import CertificateState
from verifier.snapshot.records import check_key, check_member, check_mra, unique_by
from verifier.snapshot.state import (
    AMENDED,
    EXCEPTION_ID_BITS,
    RENEWED,
    STATUS_MASK,
    CompactState,
    Params,
)

_MAX_U16: Final = 0xFFFF
_MAX_U32: Final = 0xFFFFFFFF
_LISTED_STATUSES: Final = frozenset(
    {CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED, CertificateStatus.REVOKED}
)


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
    member_map = unique_by(members, lambda m: m.code, "members")
    for code, member in member_map.items():
        check_member(member, f"members[{code}]")
    key_map = unique_by(keys, lambda k: k.kid, "keys")
    for kid, key in key_map.items():
        check_key(key, f"keys[{kid.hex()}]")
    mra_map = unique_by(mras, lambda m: m.mra_id, "mras")
    for mra_id, mra in mra_map.items():
        check_mra(mra, f"mras[{mra_id}]")

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
            listed_status = flags & STATUS_MASK != active
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
