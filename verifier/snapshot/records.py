"""The members, signing keys and MRAs a snapshot carries: their shape checks and their CBOR
form (docs/snapshot.md, "The state"). They are the verifier's own record types; a snapshot
checks their shape only and carries them as the chain publishes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from contracts.domain import ids
from contracts.domain.enums import AuthorityStatus, KeyAlgorithm, MraState
from contracts.domain.state import AuthorityRecord, MraParty, MraRecord, SigningKeyRecord
from verifier.snapshot.errors import SnapshotBuildError, SnapshotFormatError

_MAX_U16: Final = 0xFFFF
# An uncompressed P-256 point is 65 bytes; nothing a chain publishes as a key is longer.
_MAX_PUBLIC_KEY: Final = 65


def check_member(m: AuthorityRecord, where: str) -> None:
    _code(m.code, f"{where}.code")
    if not isinstance(m.name, str) or not m.name:
        raise SnapshotBuildError(f"{where}.name", "must be a non-empty text")
    if not isinstance(m.status, AuthorityStatus) or m.status is AuthorityStatus.NONE:
        raise SnapshotBuildError(f"{where}.status", "must be ACTIVE, SUSPENDED or REMOVED")


def check_key(k: SigningKeyRecord, where: str) -> None:
    """Shape only: a key is carried as the chain publishes it, and the verifier judges it at
    use (its id, its algorithm and its length: ``bad_key_record``, ``algorithm_mismatch``)."""
    _code(k.authority, f"{where}.authority")
    if type(k.kid) is not bytes or len(k.kid) != 8:
        raise SnapshotBuildError(f"{where}.kid", "must be 8 bytes")
    if not isinstance(k.algorithm, KeyAlgorithm):
        raise SnapshotBuildError(f"{where}.algorithm", "must be ES256 or EDDSA")
    if type(k.public_key) is not bytes or not 0 < len(k.public_key) <= _MAX_PUBLIC_KEY:
        raise SnapshotBuildError(f"{where}.public_key", f"must be 1 to {_MAX_PUBLIC_KEY} bytes")
    for name in ("valid_from", "revoked_at"):
        value = getattr(k, name)
        if type(value) is not int or not 0 <= value < 2**40:
            raise SnapshotBuildError(f"{where}.{name}", "must be unix seconds")


def check_mra(m: MraRecord, where: str) -> None:
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


def unique_by(items: Iterable[Any], key: Any, where: str) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for item in items:
        k = key(item)
        if k in out:
            raise SnapshotBuildError(where, f"{k!r} appears twice")
        out[k] = item
    return out


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


def section_list(obj: Mapping[int, Any], key: int) -> list[Any]:
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
    return _build_checked(check_member, AuthorityRecord(obj[0], obj[1], status), where)  # type: ignore[no-any-return]


def key_from(obj: object, where: str) -> SigningKeyRecord:
    if not isinstance(obj, list) or len(obj) != 6 or type(obj[2]) is not int:
        raise SnapshotFormatError(
            where, "must be [kid, authority, algorithm, public key, valid from, revoked at]"
        )
    try:
        algorithm = KeyAlgorithm(obj[2])
    except ValueError:
        raise SnapshotFormatError(f"{where}.algorithm", f"{obj[2]} is not 1 or 2") from None
    kid = obj[0]
    if type(kid) is not bytes or len(kid) != 8:
        raise SnapshotFormatError(f"{where}.kid", "must be 8 bytes")
    record = SigningKeyRecord(kid, obj[1], algorithm, obj[3], obj[4], obj[5])
    return _build_checked(check_key, record, where)  # type: ignore[no-any-return]


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
    return _build_checked(check_mra, record, where)  # type: ignore[no-any-return]
