"""The compact state: what it answers for each kind of certificate, what the builder refuses,
its canonical encoding, and diff/apply giving the later state exactly."""

from __future__ import annotations

import random
from dataclasses import replace

import cbor2
import pytest

from contracts.domain.enums import AuthorityStatus, CertificateStatus, RecognitionReason
from verifier.snapshot.delta import Changes, apply, diff
from verifier.snapshot.errors import FullSnapshotNeeded, SnapshotBuildError, SnapshotOrderError
from verifier.snapshot.model import Binding, CertificateState, Membership
from verifier.snapshot.source import record_for
from verifier.snapshot.state import CompactState, Params
from verifier.source import AuthorityRecord

from .world import REVOKED, SUSPENDED, TODAY, certificate, certificate_id, claims_of, consortium


def answer(state: CompactState, c: CertificateState, **claims: object):  # type: ignore[no-untyped-def]
    return state.status(c.certificate_id, **{**claims_of(c), **claims})  # type: ignore[arg-type]


def test_an_active_certificate_is_admitted_by_the_filter_with_its_binding() -> None:
    c = certificate(1)
    state = consortium().state([c, certificate(2)])
    got = answer(state, c)
    assert got.membership is Membership.FILTER
    assert got.binding is Binding.MATCHES
    assert got.status is CertificateStatus.ACTIVE
    assert (got.version, got.valid_until) == (1, c.valid_until)
    assert got.false_positive_rate == state.false_positive_rate > 0


def test_a_certificate_never_issued_is_unknown() -> None:
    state = consortium().state([certificate(1), certificate(2)])
    got = answer(state, certificate(3))
    assert got.membership is Membership.UNKNOWN
    assert got.binding is Binding.UNCHECKED
    assert got.status is CertificateStatus.NONE
    assert state.contains(certificate_id(3)) is Membership.UNKNOWN
    assert state.contains(certificate_id(1)) is Membership.FILTER


@pytest.mark.parametrize(("changes", "status"), [(SUSPENDED, "SUSPENDED"), (REVOKED, "REVOKED")])
def test_suspended_and_revoked_certificates_are_listed_with_reason_and_time(
    changes: dict[str, object], status: str
) -> None:
    c = certificate(1, **changes)
    state = consortium().state([c, certificate(2)])
    got = answer(state, c)
    assert got.membership is Membership.LISTED
    assert got.binding is Binding.MATCHES
    assert got.status is CertificateStatus[status]
    assert (got.reason, got.since) == (changes["reason"], changes["since"])
    assert got.false_positive_rate == 0.0
    assert state.contains(c.certificate_id) is Membership.LISTED


def test_an_amended_certificate_supersedes_older_qrs_and_knows_no_newer_one() -> None:
    c = certificate(1, version=3, digest=b"\x33" * 20, tiers=3)
    state = consortium().state([c])
    assert answer(state, c).binding is Binding.MATCHES
    assert answer(state, c).version == 3
    old = answer(state, c, version=2, digest=b"\x22" * 20, tiers=2)
    assert (old.binding, old.version) == (Binding.SUPERSEDED, 3)
    assert answer(state, c, version=4).binding is Binding.NEWER
    assert answer(state, c, digest=b"\x44" * 20).binding is Binding.DIFFERS


def test_an_unlisted_certificate_is_at_version_one() -> None:
    c = certificate(1)
    state = consortium().state([c])
    assert answer(state, c, version=2).binding is Binding.NEWER


def test_a_renewed_certificate_answers_its_new_validity_to_qrs_of_either_date() -> None:
    c = certificate(1, valid_until=TODAY + 2000, renewed=True)
    state = consortium().state([c])
    for qr_until in (TODAY + 1000, TODAY + 2000):
        got = answer(state, c, valid_until=qr_until)
        assert (got.membership, got.binding) == (Membership.LISTED, Binding.MATCHES)
        assert (got.valid_until, got.renewed) == (TODAY + 2000, True)


@pytest.mark.parametrize(
    "claims",
    [
        {"digest": b"\x11" * 20},
        {"holder_ref": b"\x22" * 32},
        {"tiers": 3},
        {"valid_from": TODAY - 99},
        {"valid_until": TODAY + 1001},
    ],
)
def test_a_qr_that_differs_from_the_chain_in_any_bound_field_is_told_apart(
    claims: dict[str, object],
) -> None:
    c = certificate(1)
    got = answer(consortium().state([c]), c, **claims)
    assert (got.membership, got.binding) == (Membership.FILTER, Binding.DIFFERS)


def test_record_for_gives_the_pipeline_a_record_it_compares_as_the_chain_would() -> None:
    c = certificate(1, **SUSPENDED)
    state = consortium().state([c])
    fields = {
        "certificate_id": c.certificate_id,
        "issuer": "MN",
        "number": "MN-1",
        "digest": c.digest,
        "holder_ref": c.holder_ref,
        "tiers": c.tiers,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
    }
    record = record_for(answer(state, c), **fields)  # type: ignore[arg-type]
    assert record is not None
    assert (record.digest, record.holder_ref, record.status) == (
        c.digest,
        c.holder_ref,
        CertificateStatus.SUSPENDED,
    )
    assert record.last_change is not None
    assert (record.last_change.reason, record.last_change.since) == (2, SUSPENDED["since"])
    differs = record_for(answer(state, c, digest=b"\x01" * 20), **fields)  # type: ignore[arg-type]
    assert differs is not None
    assert differs.digest != c.digest
    assert differs.holder_ref is None
    assert record_for(answer(state, certificate(9)), **fields) is None  # type: ignore[arg-type]


def test_recognition_follows_the_contract_rules_over_the_snapshot_mras() -> None:
    c = certificate(1)
    state = consortium().state([c])
    fields = {
        "certificate_id": c.certificate_id,
        "issuer": "MN",
        "number": None,
        "digest": c.digest,
        "holder_ref": c.holder_ref,
        "tiers": c.tiers,
        "valid_from": c.valid_from,
        "valid_until": c.valid_until,
    }
    record = record_for(answer(state, c), **fields)  # type: ignore[arg-type]
    assert record is not None
    assert state.recognition("KR", record, TODAY).reason is RecognitionReason.RECOGNIZED
    assert state.recognition("KZ", record, TODAY).reason is RecognitionReason.NO_MRA
    assert state.recognition("MN", record, TODAY).reason is RecognitionReason.OWN_CERTIFICATE
    suspended = consortium()
    suspended = replace(
        suspended,
        members=(
            AuthorityRecord("MN", "Mongolia", AuthorityStatus.SUSPENDED),
            *suspended.members[1:],
        ),
    )
    answer_ = suspended.state([c]).recognition("KR", record, TODAY)
    assert answer_.reason is RecognitionReason.ISSUER_NOT_ACTIVE


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"certificate_id": b"\x01" * 31}, "certificate_id"),
        ({"digest": b"\x01" * 19}, "digest"),
        ({"holder_ref": "not bytes"}, "holder_ref"),
        ({"version": 0}, "version"),
        ({"tiers": 256}, "tiers"),
        ({"valid_from": -1}, "valid_from"),
        ({"valid_until": TODAY - 200}, "valid_until"),
        ({"reason": 300}, "reason"),
        ({"since": 2**32}, "since"),
        ({"status": CertificateStatus.NONE}, "status"),
        ({"renewed": 1}, "renewed"),
    ],
)
def test_the_builder_names_the_bad_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(SnapshotBuildError) as refused:
        consortium().state([certificate(1), certificate(2, **changes)])
    assert refused.value.field == f"certificates[1].{field}"


def test_the_same_certificate_twice_is_refused() -> None:
    with pytest.raises(SnapshotBuildError, match="share the id prefix"):
        consortium().state([certificate(1), certificate(1)])


def test_a_member_key_or_mra_listed_twice_is_refused() -> None:
    world = consortium()
    with pytest.raises(SnapshotBuildError, match="appears twice"):
        replace(world, members=world.members * 2).state([])
    bad_key = replace(world.keys[0], kid=b"\x00" * 7)
    with pytest.raises(SnapshotBuildError, match="must be 8 bytes"):
        replace(world, keys=(bad_key,)).state([])


def test_listed_ids_sharing_a_48_bit_prefix_with_another_certificate_widen_to_56_bits() -> None:
    listed = certificate(1, **SUSPENDED)
    twin = replace(certificate(2), certificate_id=listed.certificate_id[:6] + b"\xee" * 26)
    state = consortium().state([listed, twin])
    assert state.params.exception_id_bits == 56
    assert answer(state, listed).status is CertificateStatus.SUSPENDED
    assert answer(state, twin).status is CertificateStatus.ACTIVE
    with pytest.raises(FullSnapshotNeeded):
        consortium().state([listed, twin], params=Params(state.params.quotient_bits, 48))


def test_a_bucket_of_more_than_255_entries_survives_the_round_trip() -> None:
    certificates = [certificate(n) for n in range(300)]
    state = consortium().state(certificates, params=Params(0))
    assert state.overflow == {0: 300}
    back = CompactState.from_cbor(cbor2.loads(state.encode()))
    assert back.content_hash() == state.content_hash()
    assert all(answer(back, c).binding is Binding.MATCHES for c in certificates)


def test_the_encoding_is_canonical_whatever_order_the_records_come_in() -> None:
    certificates = [certificate(n, **(SUSPENDED if n % 3 == 0 else {})) for n in range(50)]
    state = consortium().state(certificates)
    shuffled = certificates[:]
    random.Random(7).shuffle(shuffled)
    again = consortium().state(shuffled)
    assert again.encode() == state.encode()
    back = CompactState.from_cbor(cbor2.loads(state.encode()))
    assert back.encode() == state.encode()
    assert back.members == state.members
    assert back.keys == state.keys
    assert back.mras == state.mras


def test_diff_then_apply_gives_the_later_state_exactly() -> None:
    before = [certificate(n) for n in range(40)]
    after = before[:]
    after[3] = replace(after[3], **SUSPENDED)  # type: ignore[arg-type]
    after[4] = replace(after[4], version=2, digest=b"\x04" * 20)
    after[5] = replace(after[5], valid_until=TODAY + 3000, renewed=True)
    after.append(certificate(40))
    old = consortium().state(before)
    new = consortium().state(after, params=old.params)
    changes = diff(old, new)
    # The suspension keeps its entry; the amendment and the renewal rebind theirs; one issued.
    assert len(changes.added_entries) == 2 + 1
    assert len(changes.removed_entries) == 2
    assert [r.id for r in changes.exceptions] == sorted(r.id for r in changes.exceptions)
    assert apply(old, changes).encode() == new.encode()


def test_a_reinstated_certificate_leaves_the_list() -> None:
    old = consortium().state([certificate(1, **SUSPENDED)])
    new = consortium().state([certificate(1)], params=old.params)
    changes = diff(old, new)
    assert len(changes.removed_exceptions) == 1
    assert apply(old, changes).exception_count == 0


def test_no_delta_joins_states_of_other_parameters_or_a_vanished_member() -> None:
    old = consortium().state([certificate(1)])
    with pytest.raises(FullSnapshotNeeded, match="parameters"):
        diff(old, consortium().state([certificate(1)], params=Params(5)))
    fewer = replace(consortium(), members=consortium().members[:2])
    with pytest.raises(FullSnapshotNeeded, match="disappeared"):
        diff(old, fewer.state([certificate(1)], params=old.params))


def test_changes_that_do_not_fit_the_state_are_refused() -> None:
    state = consortium().state([certificate(1)])
    with pytest.raises(SnapshotOrderError, match="does not hold"):
        apply(state, Changes(removed_entries=(0x1234,)))
    with pytest.raises(SnapshotOrderError, match="does not list"):
        apply(state, Changes(removed_exceptions=(7,)))
    with pytest.raises(SnapshotOrderError, match="does not fit"):
        apply(state, Changes(added_entries=(1 << 40,)))


def test_a_lookup_without_claims_answers_membership_status_and_version() -> None:
    amended = certificate(1, version=3, valid_until=TODAY + 2000, renewed=True, **SUSPENDED)
    plain = certificate(2)
    state = consortium().state([amended, plain])
    got = state.lookup(amended.certificate_id, version=2)
    assert (got.membership, got.binding, got.status) == (
        Membership.LISTED,
        Binding.SUPERSEDED,
        CertificateStatus.SUSPENDED,
    )
    assert (got.version, got.valid_until, got.renewed) == (3, TODAY + 2000, True)
    assert state.lookup(amended.certificate_id).binding is Binding.UNCHECKED
    assert state.lookup(amended.certificate_id, version=3).binding is Binding.UNCHECKED
    plain_answer = state.lookup(plain.certificate_id, version=2)
    assert (plain_answer.membership, plain_answer.binding) == (Membership.FILTER, Binding.NEWER)
    assert plain_answer.false_positive_rate == state.membership_false_positive_rate
    assert state.lookup(plain.certificate_id, version=1).binding is Binding.UNCHECKED
    unknown = state.lookup(certificate_id(9), version=1)
    assert (unknown.membership, unknown.binding) == (Membership.UNKNOWN, Binding.UNCHECKED)
