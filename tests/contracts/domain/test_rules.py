"""The Python mirror of the contracts' status and recognition rules."""

from __future__ import annotations

import pytest

from contracts.domain.enums import (
    AuthorityStatus,
    CertificateStatus,
    EffectiveStatus,
    MraState,
    MraStatus,
    RecognitionReason,
)
from contracts.domain.rules import effective_status, mra_status, recognize
from contracts.domain.state import MraParty, MraRecord

FROM, UNTIL = 100, 200


@pytest.mark.parametrize(
    ("stored", "day", "expected"),
    [
        (CertificateStatus.NONE, 150, EffectiveStatus.UNKNOWN),
        (CertificateStatus.ACTIVE, 150, EffectiveStatus.ACTIVE),
        (CertificateStatus.ACTIVE, 200, EffectiveStatus.ACTIVE),
        (CertificateStatus.ACTIVE, 201, EffectiveStatus.EXPIRED),
        (CertificateStatus.ACTIVE, 99, EffectiveStatus.NOT_YET_VALID),
        (CertificateStatus.SUSPENDED, 150, EffectiveStatus.SUSPENDED),
        (CertificateStatus.SUSPENDED, 201, EffectiveStatus.EXPIRED),
        (CertificateStatus.SUSPENDED, 99, EffectiveStatus.SUSPENDED),
        (CertificateStatus.REVOKED, 201, EffectiveStatus.REVOKED),
        (CertificateStatus.REVOKED, 99, EffectiveStatus.REVOKED),
    ],
)
def test_effective_status_follows_the_contract_precedence(
    stored: CertificateStatus, day: int, expected: EffectiveStatus
) -> None:
    assert effective_status(stored, FROM, UNTIL, day) is expected


def mra(
    mra_id: int = 1,
    state: MraState = MraState.SIGNED,
    effective_from: int = 50,
    ends_on: int = 0,
    mn_tiers: int = 2,
) -> MraRecord:
    return MraRecord(
        mra_id=mra_id,
        parties=(MraParty("MN", mn_tiers, True), MraParty("KR", 31, True)),
        status=state,
        effective_from=effective_from,
        ends_on=ends_on,
    )


@pytest.mark.parametrize(
    ("record", "day", "expected"),
    [
        (mra(), 100, MraStatus.IN_FORCE),
        (mra(effective_from=120), 100, MraStatus.NOT_YET_IN_FORCE),
        (mra(ends_on=90), 100, MraStatus.ENDED),
        (mra(ends_on=100), 100, MraStatus.IN_FORCE),
        (mra(state=MraState.SUSPENDED), 100, MraStatus.SUSPENDED),
        (mra(state=MraState.SUSPENDED, ends_on=90), 100, MraStatus.ENDED),
        (mra(state=MraState.PROPOSED), 100, MraStatus.PROPOSED),
        (mra(state=MraState.PROPOSED, ends_on=90), 100, MraStatus.ENDED),
        (mra(state=MraState.TERMINATED, ends_on=90), 100, MraStatus.TERMINATED),
        (mra(state=MraState.NONE), 100, MraStatus.UNKNOWN),
    ],
)
def test_mra_status_follows_the_contract_precedence(
    record: MraRecord, day: int, expected: MraStatus
) -> None:
    assert mra_status(record, day) is expected


def answer(
    *mras: MraRecord,
    authority: str = "KR",
    tiers: int = 2,
    status: EffectiveStatus = EffectiveStatus.ACTIVE,
    issuer_status: AuthorityStatus = AuthorityStatus.ACTIVE,
) -> tuple[bool, RecognitionReason, int | None]:
    result = recognize(
        authority,
        issuer="MN",
        tiers=tiers,
        status=status,
        issuer_status=issuer_status,
        mras=mras,
        day=100,
    )
    return result.recognized, result.reason, result.mra_id


def test_certificate_checks_come_before_the_issuer_and_the_mras() -> None:
    assert answer(status=EffectiveStatus.UNKNOWN) == (
        False,
        RecognitionReason.UNKNOWN_CERTIFICATE,
        None,
    )
    assert answer(status=EffectiveStatus.EXPIRED) == (
        False,
        RecognitionReason.CERTIFICATE_NOT_ACTIVE,
        None,
    )


def test_own_certificate_is_recognized_even_when_the_issuer_is_suspended() -> None:
    # The contract checks "own certificate" before the issuer's membership.
    assert answer(authority="MN", issuer_status=AuthorityStatus.SUSPENDED) == (
        True,
        RecognitionReason.OWN_CERTIFICATE,
        None,
    )


def test_inactive_issuer_is_not_recognized_whatever_the_mra() -> None:
    assert (
        answer(mra(), issuer_status=AuthorityStatus.REMOVED)[1]
        is RecognitionReason.ISSUER_NOT_ACTIVE
    )


def test_no_shared_mra_is_no_mra() -> None:
    other = MraRecord(2, (MraParty("MN", 2, True), MraParty("KZ", 2, True)), MraState.SIGNED, 0, 0)
    assert answer(other) == (False, RecognitionReason.NO_MRA, None)


def test_mra_in_force_covering_a_tier_recognizes() -> None:
    assert answer(mra(), tiers=3) == (True, RecognitionReason.RECOGNIZED, 1)


def test_any_recognizing_mra_wins_over_a_closer_refusal() -> None:
    assert answer(mra(1, mn_tiers=1), mra(2)) == (True, RecognitionReason.RECOGNIZED, 2)


def test_closest_refusal_is_reported_when_none_recognizes() -> None:
    result = answer(
        mra(1, state=MraState.TERMINATED),
        mra(2, state=MraState.SUSPENDED),
        mra(3, effective_from=150),
        mra(4, state=MraState.PROPOSED),
    )
    assert result == (False, RecognitionReason.MRA_NOT_YET_IN_FORCE, 3)
    assert answer(mra(1, mn_tiers=1), mra(2, effective_from=150))[1:] == (
        RecognitionReason.TIER_NOT_COVERED,
        1,
    )


def test_newest_mra_is_reported_on_a_tie() -> None:
    assert answer(mra(1, state=MraState.SUSPENDED), mra(5, state=MraState.SUSPENDED))[2] == 5
