"""The online status source: the verifier's questions answered by the contracts on a real
chain, every verdict of the scenario table, and a node that does not answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from contracts.chain import latest_timestamp
from contracts.domain import days, ids
from contracts.domain.enums import (
    AuthorityStatus,
    CertificateStatus,
    KeyAlgorithm,
    ReasonCode,
    RecognitionReason,
)
from contracts.domain.state import CertificateSlot, StatusChange
from contracts.reader import RegistryReader
from tests.verifier.conftest import (
    NUMBER,
    SCENARIOS,
    TIER_S,
    ChainWorld,
    Scenario,
    dead_chain,
)
from verifier import keys
from verifier.chain_source import ChainStatusSource
from verifier.errors import SourceUnavailable
from verifier.source import StatusSource
from verifier.verdict import Outcome, StageState


def test_the_chain_source_is_a_status_source(chain_world: ChainWorld) -> None:
    assert isinstance(chain_world.online(), StatusSource)


@pytest.mark.slow
def test_info_is_the_latest_block(chain_world: ChainWorld) -> None:
    info = chain_world.online().info()

    block = chain_world.chain.w3.eth.get_block("latest")
    assert info.kind == "chain"
    assert info.block_number == block["number"]
    assert info.block_hash == bytes(block["hash"])
    assert info.as_of == info.block_time == datetime.fromtimestamp(block["timestamp"], UTC)


def test_a_published_key_reads_back_as_registered(chain_world: ChainWorld) -> None:
    key = chain_world.online().signing_key(chain_world.kid)

    assert key is not None
    assert key.authority == "MN"
    assert key.algorithm is KeyAlgorithm.ES256
    assert key.public_key == keys.public_key_bytes(chain_world.key)
    assert key.valid_from == chain_world.key_valid_from
    assert key.revoked_at == 0


@pytest.mark.slow
def test_an_unpublished_key_is_none_not_an_error(chain_world: ChainWorld) -> None:
    source = chain_world.online()
    assert source.signing_key(b"\x01" * 8) is None
    assert source.signing_key(b"\x01" * 5) is None


@pytest.mark.slow
def test_a_certificate_carries_its_slot_and_what_its_issue_event_adds(
    chain_world: ChainWorld,
) -> None:
    record = chain_world.online().certificate(chain_world.certificate_id)

    assert record is not None
    claims = chain_world.claims
    assert (record.issuer, record.number, record.version) == ("MN", NUMBER, 1)
    assert record.tiers == TIER_S
    assert (record.valid_from, record.valid_until) == (claims.valid_from, claims.valid_until)
    assert record.digest == claims.digest
    assert record.holder_ref == claims.holder_ref
    assert record.status is CertificateStatus.ACTIVE
    assert [(h.status, h.reason) for h in record.history] == [(CertificateStatus.ACTIVE, 0)]


@pytest.mark.slow
def test_the_history_lists_every_status_change_with_reason_and_block_time(
    chain_world: ChainWorld,
) -> None:
    operator = chain_world.consortium.operator("MN")
    suspended = operator.suspend(chain_world.certificate_id, ReasonCode.FAILED_AUDIT)
    reinstated = operator.reinstate(chain_world.certificate_id, ReasonCode.REMEDIED)
    revoked = operator.revoke(chain_world.certificate_id, ReasonCode.FRAUD)

    record = chain_world.online().certificate(chain_world.certificate_id)

    def time_of(receipt: object) -> int:
        block = chain_world.chain.w3.eth.get_block(receipt["blockNumber"])  # type: ignore[index]
        return int(block["timestamp"])

    assert record is not None
    assert record.status is CertificateStatus.REVOKED
    assert record.history[1:] == (
        StatusChange(CertificateStatus.SUSPENDED, ReasonCode.FAILED_AUDIT, time_of(suspended)),
        StatusChange(CertificateStatus.ACTIVE, ReasonCode.REMEDIED, time_of(reinstated)),
        StatusChange(CertificateStatus.REVOKED, ReasonCode.FRAUD, time_of(revoked)),
    )


@pytest.mark.slow
def test_an_amendment_replaces_the_holder_reference_and_bumps_the_version(
    chain_world: ChainWorld,
) -> None:
    operator = chain_world.consortium.operator("MN")
    new_holder = ids.holder_ref("TIN", "MN6099999")
    operator.amend(
        chain_world.certificate_id, TIER_S, new_holder, b"\x07" * 32, ReasonCode.DATA_CHANGE
    )

    record = chain_world.online().certificate(chain_world.certificate_id)

    assert record is not None
    assert record.version == 2
    assert record.holder_ref == new_holder
    assert record.digest == ids.record_digest(new_holder, b"\x07" * 32)


@pytest.mark.slow
def test_paged_event_reads_give_the_same_record_as_one_query(chain_world: ChainWorld) -> None:
    operator = chain_world.consortium.operator("MN")
    operator.suspend(chain_world.certificate_id, ReasonCode.FAILED_AUDIT)
    operator.reinstate(chain_world.certificate_id, ReasonCode.REMEDIED)

    whole = chain_world.online().certificate(chain_world.certificate_id)
    paged = chain_world.online(log_range=1).certificate(chain_world.certificate_id)

    assert paged == whole
    assert paged is not None
    assert len(paged.history) == 3


@pytest.mark.slow
def test_a_log_range_below_one_is_refused(chain_world: ChainWorld) -> None:
    with pytest.raises(ValueError, match="log_range must be at least 1"):
        chain_world.online(log_range=0)


@pytest.mark.slow
def test_a_never_issued_certificate_is_none(chain_world: ChainWorld) -> None:
    source = chain_world.online()
    assert source.certificate(ids.certificate_id("MN", "MN-NEVER-1")) is None
    assert source.certificate(b"\x00" * 31) is None


@pytest.mark.slow
def test_authorities_read_back_with_name_and_status(chain_world: ChainWorld) -> None:
    source = chain_world.online()
    kr = source.authority("KR")

    assert kr is not None
    assert kr.name == chain_world.consortium.member("KR").name
    assert kr.status is AuthorityStatus.ACTIVE
    assert source.authority("US") is None


@pytest.mark.slow
def test_recognition_is_the_contracts_answer_with_no_mra_id_when_none_applies(
    chain_world: ChainWorld,
) -> None:
    source = chain_world.online()
    record = source.certificate(chain_world.certificate_id)
    assert record is not None
    day = days.day_of(latest_timestamp(chain_world.chain))

    kr = source.recognition("KR", record, day)
    kz = source.recognition("KZ", record, day)

    assert (kr.recognized, kr.reason, kr.mra_id) == (
        True,
        RecognitionReason.RECOGNIZED,
        chain_world.mra_id,
    )
    assert (kz.recognized, kz.reason, kz.mra_id) == (False, RecognitionReason.NO_MRA, None)


# ---------------------------------------------------------------- verdicts online


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_online_verdict_of_each_scenario(chain_world: ChainWorld, scenario: Scenario) -> None:
    text = scenario.act(chain_world)

    verdict = chain_world.verify(text, chain_world.online(), scenario.as_authority)

    assert verdict.outcome is scenario.outcome, verdict.reasons
    assert verdict.reasons[0].code == scenario.code
    assert verdict.source is not None
    assert verdict.source.kind == "chain"
    assert verdict.as_of == datetime.fromtimestamp(latest_timestamp(chain_world.chain), UTC)
    assert not verdict.stale


@pytest.mark.slow
def test_a_partner_without_an_mra_is_told_why(chain_world: ChainWorld) -> None:
    verdict = chain_world.verify(chain_world.text, chain_world.online(), "KZ")

    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert verdict.reasons[0].message == "no MRA between KZ and MN"


@pytest.mark.slow
def test_a_suspension_reads_with_its_reason_and_since_when(chain_world: ChainWorld) -> None:
    receipt = chain_world.consortium.operator("MN").suspend(
        chain_world.certificate_id, ReasonCode.FAILED_AUDIT
    )
    since = int(chain_world.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])

    verdict = chain_world.verify(chain_world.text, chain_world.online())

    assert verdict.outcome is Outcome.SUSPENDED
    assert verdict.certificate is not None
    assert verdict.certificate.last_change == StatusChange(
        CertificateStatus.SUSPENDED, ReasonCode.FAILED_AUDIT, since
    )
    stamp = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert verdict.reasons[0].message == f"suspended since {stamp} (reason 1 FAILED_AUDIT)"


@pytest.mark.slow
def test_a_revocation_reads_with_its_reason(chain_world: ChainWorld) -> None:
    chain_world.consortium.operator("MN").revoke(chain_world.certificate_id, ReasonCode.FRAUD)

    verdict = chain_world.verify(chain_world.text, chain_world.online())

    assert verdict.outcome is Outcome.REVOKED
    assert verdict.reasons[0].message.endswith("(reason 5 FRAUD)")


# ---------------------------------------------------------------- a node that does not answer


QUESTIONS: dict[str, Callable[[ChainStatusSource, ChainWorld, CertificateSlot], object]] = {
    "info": lambda source, world, record: source.info(),
    "signing_key": lambda source, world, record: source.signing_key(world.kid),
    "certificate": lambda source, world, record: source.certificate(world.certificate_id),
    "authority": lambda source, world, record: source.authority("MN"),
    "recognition": lambda source, world, record: source.recognition("KR", record, 0),
}


@pytest.mark.slow
@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_every_question_to_a_dead_node_raises_source_unavailable(
    chain_world: ChainWorld, question: str
) -> None:
    record = chain_world.online().certificate(chain_world.certificate_id)
    assert record is not None
    source = ChainStatusSource(RegistryReader(dead_chain(), chain_world.consortium.deployment))

    with pytest.raises(SourceUnavailable, match="did not answer"):
        QUESTIONS[question](source, chain_world, record)


def test_a_dead_node_gives_check_unavailable_never_valid(chain_world: ChainWorld) -> None:
    source = ChainStatusSource(RegistryReader(dead_chain(), chain_world.consortium.deployment))

    verdict = chain_world.verify(chain_world.text, source)

    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert verdict.reasons[0].code == "signature_unavailable"
    assert "did not answer" in verdict.reasons[0].message
    assert not any(
        s.state is StageState.OK
        for s in verdict.stages
        if s.stage in ("signature", "binding", "status", "recognition")
    )
