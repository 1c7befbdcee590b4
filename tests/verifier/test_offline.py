"""The offline cache: a real SQLite file filled from chain events, answering the verifier."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.domain import events as ev, ids
from contracts.domain.enums import AccountRole, CertificateStatus, KeyAlgorithm, MraState
from tests.verifier.world import (
    COMMITMENT,
    ISSUED_AT,
    KEY_VALID_FROM,
    NOW,
    OPERATOR,
    SYNCED_AT,
    World,
    build_world,
    day,
    position,
)
from verifier import keys
from verifier.errors import CacheError
from verifier.offline import NOT_CACHED, OfflineCache, SyncPoint, apply as offline_apply
from verifier.pipeline import verify
from verifier.source import StatusSource
from verifier.verdict import Outcome, StageState

T0 = int(datetime(2024, 12, 1, tzinfo=UTC).timestamp())


def at(block: int, index: int = 0) -> dict[str, Any]:
    return position(block, index, T0 + block * 60)


def sync_point(block: int, synced_at: datetime = SYNCED_AT) -> SyncPoint:
    return SyncPoint(
        block_number=block,
        block_hash=block.to_bytes(32, "big"),
        block_time=datetime.fromtimestamp(T0 + block * 60, UTC),
        synced_at=synced_at,
    )


def genesis_events(world: World) -> list[ev.ChainEvent]:
    """What the chain would have emitted to reach the world's standard state."""
    claims = world.claims
    key = keys.public_key_bytes(world.es256)
    return [
        ev.AuthorityAdmitted(admin=OPERATOR, code="MN", name="Mongolian Customs", **at(1, 0)),
        ev.AuthorityAdmitted(admin=OPERATOR, code="KR", name="Korea Customs Service", **at(1, 1)),
        ev.AuthorityAdmitted(admin=OPERATOR, code="KZ", name="Kazakhstan SRC", **at(1, 2)),
        ev.SigningKeyRegistered(
            kid=ids.key_id(key),
            authority="MN",
            algorithm=KeyAlgorithm.ES256,
            public_key=key,
            valid_from=int(KEY_VALID_FROM.timestamp()),
            **at(2),
        ),
        ev.CertificateIssued(
            operator=OPERATOR,
            certificate_id=claims.certificate_id,
            issuer="MN",
            number=claims.number,
            tiers=claims.tiers,
            valid_from=claims.valid_from,
            valid_until=claims.valid_until,
            holder_ref=claims.holder_ref,
            commitment=COMMITMENT,
            **at(3),
        ),
        ev.MraProposed(
            operator=OPERATOR,
            mra_id=1,
            parties=("MN", "KR"),
            recognized_tiers=(2, 24),
            effective_from=day(date(2024, 1, 1)),
            ends_on=0,
            text_hash=bytes(32),
            party="MN",
            **at(4),
        ),
        ev.MraSigned(operator=OPERATOR, mra_id=1, party="KR", **at(5, 0)),
        ev.MraInForce(
            mra_id=1,
            party="KR",
            effective_from=day(date(2024, 1, 1)),
            operator=OPERATOR,
            **at(5, 1),
        ),
    ]


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def cache(tmp_path: Path, world: World) -> OfflineCache:
    cache = OfflineCache(tmp_path / "cache.sqlite")
    assert cache.apply_events(genesis_events(world), sync_point(5)) == 8
    yield cache  # type: ignore[misc]
    cache.close()


def offline_verify(world: World, cache: OfflineCache, **kwargs: object):  # type: ignore[no-untyped-def]
    return verify(
        kwargs.pop("text", None) or world.text(),  # type: ignore[arg-type]
        as_authority=kwargs.pop("as_authority", "KR"),  # type: ignore[arg-type]
        clock=kwargs.pop("clock", NOW),  # type: ignore[arg-type]
        source=cache,
        **kwargs,  # type: ignore[arg-type]
    )


def test_cache_is_a_status_source() -> None:
    assert issubclass(OfflineCache, StatusSource)


def test_synced_cache_recognizes_a_certificate_offline(world: World, cache: OfflineCache) -> None:
    verdict = offline_verify(world, cache)
    assert verdict.outcome is Outcome.RECOGNIZED
    assert verdict.offline is True
    assert verdict.as_of == SYNCED_AT
    assert verdict.source is not None
    assert verdict.source.block_number == 5
    assert verdict.status_as_of() == "status as of 2025-06-01 06:00 UTC (offline cache, block 5)"


def test_cache_keeps_its_state_across_reopening(world: World, cache: OfflineCache) -> None:
    cache.close()
    reopened = OfflineCache(cache.path)
    try:
        assert offline_verify(world, reopened).outcome is Outcome.RECOGNIZED
    finally:
        reopened.close()


def test_never_synced_cache_cannot_verify(world: World, tmp_path: Path) -> None:
    with OfflineCache(tmp_path / "empty.sqlite") as empty:
        verdict = offline_verify(world, empty)
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert "never been synced" in verdict.reasons[0].message
    assert verdict.stage("signature").state is StageState.UNAVAILABLE


def test_suspension_event_gives_suspended_with_reason_and_since(
    world: World, cache: OfflineCache
) -> None:
    suspend = ev.CertificateStatusChanged(
        issuer="MN",
        operator=OPERATOR,
        certificate_id=world.claims.certificate_id,
        status=CertificateStatus.SUSPENDED,
        reason=1,
        **at(7),
    )
    cache.apply_events([suspend], sync_point(8))
    verdict = offline_verify(world, cache)
    assert verdict.outcome is Outcome.SUSPENDED
    since = datetime.fromtimestamp(T0 + 7 * 60, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert verdict.reasons[0].message == f"suspended since {since} (reason 1 FAILED_AUDIT)"
    record = cache.certificate(world.claims.certificate_id)
    assert record is not None
    assert [h.status for h in record.history] == [
        CertificateStatus.ACTIVE,
        CertificateStatus.SUSPENDED,
    ]


def test_amendment_event_supersedes_the_old_qr(world: World, cache: OfflineCache) -> None:
    amend = ev.CertificateAmended(
        issuer="MN",
        operator=OPERATOR,
        certificate_id=world.claims.certificate_id,
        version=2,
        tiers=3,
        holder_ref=world.claims.holder_ref,
        commitment=bytes(32),
        reason=32,
        **at(7),
    )
    cache.apply_events([amend], sync_point(7))
    assert offline_verify(world, cache).outcome is Outcome.SUPERSEDED


def test_renewal_event_extends_validity(world: World, cache: OfflineCache) -> None:
    renew = ev.CertificateRenewed(
        issuer="MN",
        operator=OPERATOR,
        certificate_id=world.claims.certificate_id,
        valid_until=day(date(2034, 1, 1)),
        reason=48,
        **at(7),
    )
    cache.apply_events([renew], sync_point(7, synced_at=datetime(2031, 1, 1, tzinfo=UTC)))
    verdict = offline_verify(world, cache, clock=datetime(2031, 1, 1, 1, tzinfo=UTC))
    assert verdict.outcome is Outcome.RECOGNIZED
    assert "renewed" in [r.code for r in verdict.reasons]


def test_key_revocation_event_untrusts_later_signatures(world: World, cache: OfflineCache) -> None:
    kid = keys.key_id_of(world.es256)
    revoke = ev.SigningKeyRevoked(
        kid=kid, authority="MN", revoked_at=int(ISSUED_AT.timestamp()) - 1, **at(7)
    )
    cache.apply_events([revoke], sync_point(7))
    verdict = offline_verify(world, cache)
    assert verdict.outcome is Outcome.UNTRUSTED_KEY


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (ev.MraSuspended(operator=OPERATOR, mra_id=1, party="KR", **at(7)), "mra_suspended"),
        (ev.MraTerminated(operator=OPERATOR, mra_id=1, party="MN", **at(7)), "mra_terminated"),
        (ev.AuthoritySuspended(code="MN", **at(7)), "issuer_not_active"),
    ],
)
def test_mra_and_membership_events_change_recognition(
    world: World, cache: OfflineCache, event: ev.ChainEvent, code: str
) -> None:
    cache.apply_events([event], sync_point(7))
    verdict = offline_verify(world, cache)
    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert [r.code for r in verdict.reasons] == [code]


def test_resumed_mra_recognizes_again(world: World, cache: OfflineCache) -> None:
    cache.apply_events(
        [
            ev.MraSuspended(operator=OPERATOR, mra_id=1, party="KR", **at(7)),
            ev.MraResumed(operator=OPERATOR, mra_id=1, party="KR", **at(8)),
        ],
        sync_point(8),
    )
    assert offline_verify(world, cache).outcome is Outcome.RECOGNIZED


def test_mra_proposed_but_not_signed_by_all_is_not_in_force(world: World, tmp_path: Path) -> None:
    with OfflineCache(tmp_path / "c.sqlite") as cache:
        cache.apply_events(genesis_events(world)[:6], sync_point(5))
        mras = cache.mras_between("KR", "MN")
        assert [m.status for m in mras] == [MraState.PROPOSED]
        assert [p.signed for p in mras[0].parties] == [True, False]
        assert offline_verify(world, cache).reasons[0].code == "mra_not_signed"


def test_certificate_issued_after_the_sync_is_check_unavailable(
    world: World, tmp_path: Path
) -> None:
    with OfflineCache(tmp_path / "c.sqlite") as cache:
        cache.apply_events(
            genesis_events(world)[:4],
            sync_point(2, synced_at=ISSUED_AT - timedelta(hours=1)),
        )
        verdict = offline_verify(world, cache, max_age=timedelta(days=365))
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert [r.code for r in verdict.reasons] == ["binding_unavailable"]


def test_stale_cache_is_flagged(world: World, cache: OfflineCache) -> None:
    verdict = offline_verify(world, cache, clock=SYNCED_AT + timedelta(days=3))
    assert verdict.stale is True
    assert "STALE" in (verdict.status_as_of() or "")


# ---------------------------------------------------------------- sync bookkeeping


def test_replaying_a_synced_batch_applies_nothing(world: World, cache: OfflineCache) -> None:
    assert cache.apply_events(genesis_events(world), sync_point(5)) == 0
    assert cache.counts()["status_changes"] == 1


def test_sync_point_records_block_and_times(cache: OfflineCache) -> None:
    point = cache.sync_point()
    assert point == sync_point(5)


def test_sync_point_behind_the_cache_is_refused(cache: OfflineCache) -> None:
    with pytest.raises(CacheError, match="behind the cache"):
        cache.apply_events([], sync_point(4))


def test_event_beyond_the_sync_point_is_refused(cache: OfflineCache) -> None:
    with pytest.raises(CacheError, match="beyond the sync point"):
        cache.apply_events([ev.AuthorityRemoved(code="KZ", **at(9))], sync_point(8))


def test_event_about_something_the_cache_never_saw_rolls_the_batch_back(
    world: World, cache: OfflineCache
) -> None:
    batch = [
        ev.AuthorityRemoved(code="KZ", **at(7)),
        ev.CertificateRenewed(
            issuer="MN",
            operator=OPERATOR,
            certificate_id=bytes(32),
            valid_until=30000,
            reason=48,
            **at(8),
        ),
    ]
    with pytest.raises(CacheError, match="sync missed earlier events"):
        cache.apply_events(batch, sync_point(8))
    kz = cache.authority("KZ")
    assert kz is not None
    assert kz.status.name == "ACTIVE"
    assert cache.sync_point() == sync_point(5)


def test_conflicting_event_is_refused(world: World, cache: OfflineCache) -> None:
    with pytest.raises(CacheError, match="conflicts with the cached state"):
        cache.apply_events(
            [ev.AuthorityAdmitted(admin=OPERATOR, code="MN", name="again", **at(7))], sync_point(7)
        )


def test_key_event_whose_kid_is_not_the_keys_id_is_refused(
    world: World, cache: OfflineCache
) -> None:
    key = keys.public_key_bytes(world.eddsa)
    bad = ev.SigningKeyRegistered(
        kid=bytes(8),
        authority="MN",
        algorithm=KeyAlgorithm.EDDSA,
        public_key=key,
        valid_from=0,
        **at(7),
    )
    with pytest.raises(CacheError, match="not the key's id"):
        cache.apply_events([bad], sync_point(7))


def test_events_given_as_mappings_with_hex_are_applied(world: World, cache: OfflineCache) -> None:
    cache.apply_events(
        [
            {
                "event": "CertificateStatusChanged",
                "certificate_id": "0x" + world.claims.certificate_id.hex(),
                "status": "REVOKED",
                "reason": 5,
                "issuer": "MN",
                "operator": OPERATOR,
                **at(7),
            }
        ],
        sync_point(7),
    )
    assert offline_verify(world, cache).outcome is Outcome.REVOKED


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"event": "Nope"}, "unknown event 'Nope'"),
        ({"event": "AuthorityRemoved", **at(7)}, "field 'code' is missing"),
        ({"event": "AuthorityRemoved", "code": 7, **at(7)}, "field 'code': expected text"),
        ({"event": "MraSigned", "mra_id": "1", "party": "KR", **at(7)}, "expected an integer"),
    ],
)
def test_malformed_mapping_event_is_refused_naming_the_field(
    cache: OfflineCache, mapping: dict[str, object], message: str
) -> None:
    with pytest.raises(CacheError, match=message):
        cache.apply_events([mapping], sync_point(7))


def test_events_the_verifier_does_not_need_are_ignored(cache: OfflineCache) -> None:
    account = ev.AccountAdded(
        authority="MN", account=OPERATOR, roles=AccountRole.OPERATOR, by=OPERATOR, **at(7)
    )
    vote = ev.MembershipVoted(proposal_id=1, voter="KR", approvals=1, required=2, **at(7, 1))
    assert cache.apply_events([account, vote], sync_point(7)) == 0
    assert cache.sync_point() == sync_point(7)


def test_every_domain_event_class_is_applied_or_left_out_on_purpose() -> None:
    handled = set(offline_apply.HANDLERS)
    left_out = set(NOT_CACHED)
    assert handled.isdisjoint(left_out)
    assert handled | left_out == set(ev.EVENT_CLASSES.values())


def test_an_object_that_is_not_a_chain_event_is_refused(cache: OfflineCache) -> None:
    with pytest.raises(CacheError, match="str is not a chain event"):
        cache.apply_events(["AccountAdded"], sync_point(7))  # type: ignore[list-item]


def test_cache_written_by_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(CacheError, match="schema 99"):
        OfflineCache(path)


def test_offline_verifications_per_second(world: World, cache: OfflineCache) -> None:
    """Throughput of a border post's laptop-class verifier (printed, not asserted)."""
    text = world.text()
    count = 300
    start = time.perf_counter()
    for _ in range(count):
        verdict = verify(text, as_authority="KR", clock=NOW, source=cache)
    elapsed = time.perf_counter() - start
    assert verdict.outcome is Outcome.RECOGNIZED
    rate = count / elapsed
    print(f"\noffline verifications: {rate:.0f} per second ({1000 / rate:.2f} ms each)")


def test_cache_sees_a_sync_written_through_another_connection(
    world: World, cache: OfflineCache
) -> None:
    assert offline_verify(world, cache).outcome is Outcome.RECOGNIZED
    with OfflineCache(cache.path) as syncer:
        suspended = ev.CertificateStatusChanged(
            issuer="MN",
            operator=OPERATOR,
            certificate_id=world.claims.certificate_id,
            status=CertificateStatus.SUSPENDED,
            reason=1,
            **at(6),
        )
        mra_suspended = ev.MraSuspended(operator=OPERATOR, mra_id=1, party="KR", **at(6, 1))
        syncer.apply_events([suspended, mra_suspended], sync_point(6))
    verdict = offline_verify(world, cache)
    assert verdict.outcome is Outcome.SUSPENDED
    assert verdict.source is not None
    assert verdict.source.block_number == 6
    assert cache.mras_between("KR", "MN")[0].status is MraState.SUSPENDED


def test_reading_answers_from_one_sync_while_another_connection_commits(
    world: World, cache: OfflineCache
) -> None:
    certificate_id = world.claims.certificate_id
    suspended = ev.CertificateStatusChanged(
        issuer="MN",
        operator=OPERATOR,
        certificate_id=certificate_id,
        status=CertificateStatus.SUSPENDED,
        reason=1,
        **at(6),
    )
    with cache.reading():
        assert cache.info().block_number == 5
        with OfflineCache(cache.path) as syncer:
            syncer.apply_events([suspended], sync_point(6))
        record = cache.certificate(certificate_id)
        assert record is not None
        assert record.status is CertificateStatus.ACTIVE
        assert cache.info().block_number == 5
    record = cache.certificate(certificate_id)
    assert record is not None
    assert record.status is CertificateStatus.SUSPENDED
    assert [change.status for change in record.history] == [
        CertificateStatus.ACTIVE,
        CertificateStatus.SUSPENDED,
    ]
    assert cache.info().block_number == 6


def test_writing_inside_a_read_view_is_refused_and_the_view_still_answers(
    world: World, cache: OfflineCache
) -> None:
    renewed = ev.CertificateRenewed(
        issuer="MN",
        operator=OPERATOR,
        certificate_id=world.claims.certificate_id,
        valid_until=world.claims.valid_until + 1,
        reason=0,
        **at(6),
    )
    with cache.reading():
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
            cache.apply_events([renewed], sync_point(6))
        assert cache.info().block_number == 5
    assert offline_verify(world, cache).outcome is Outcome.RECOGNIZED


def test_certificate_the_cache_never_saw_is_none(cache: OfflineCache) -> None:
    assert cache.certificate(bytes(32)) is None


def test_remembered_recognition_is_forgotten_when_another_connection_syncs(
    world: World, cache: OfflineCache
) -> None:
    assert offline_verify(world, cache).outcome is Outcome.RECOGNIZED
    with OfflineCache(cache.path) as syncer:
        syncer.apply_events(
            [ev.MraSuspended(operator=OPERATOR, mra_id=1, party="KR", **at(6))], sync_point(6)
        )
    verdict = offline_verify(world, cache)
    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert verdict.reasons[0].code == "mra_suspended"


@pytest.mark.parametrize("in_memory", [0, 1, 50_000], ids=["none", "fewer", "all"])
def test_certificates_answer_the_same_from_memory_and_from_the_file(
    world: World, cache: OfflineCache, in_memory: int
) -> None:
    suspended = ev.CertificateStatusChanged(
        issuer="MN",
        operator=OPERATOR,
        certificate_id=world.claims.certificate_id,
        status=CertificateStatus.SUSPENDED,
        reason=1,
        **at(6),
    )
    other = replace(world.claims, number="MN-AEO-2025-000999")
    issued = ev.CertificateIssued(
        operator=OPERATOR,
        certificate_id=other.certificate_id,
        issuer="MN",
        number=other.number,
        tiers=other.tiers,
        valid_from=other.valid_from,
        valid_until=other.valid_until,
        holder_ref=other.holder_ref,
        commitment=COMMITMENT,
        **at(6, 1),
    )
    cache.apply_events([suspended, issued], sync_point(6))
    expected = {
        certificate_id: cache.certificate(certificate_id)
        for certificate_id in (world.claims.certificate_id, other.certificate_id, bytes(32))
    }
    with OfflineCache(cache.path, certificates_in_memory=in_memory) as reader:
        for certificate_id, record in expected.items():
            assert reader.certificate(certificate_id) == record
        assert offline_verify(world, reader).outcome is Outcome.SUSPENDED
        with OfflineCache(cache.path) as syncer:
            reinstated = ev.CertificateStatusChanged(
                issuer="MN",
                operator=OPERATOR,
                certificate_id=world.claims.certificate_id,
                status=CertificateStatus.ACTIVE,
                reason=16,
                **at(7),
            )
            syncer.apply_events([reinstated], sync_point(7))
        assert offline_verify(world, reader).outcome is Outcome.RECOGNIZED
    record = expected[world.claims.certificate_id]
    assert record is not None
    assert [change.status for change in record.history] == [
        CertificateStatus.ACTIVE,
        CertificateStatus.SUSPENDED,
    ]
    assert expected[bytes(32)] is None
