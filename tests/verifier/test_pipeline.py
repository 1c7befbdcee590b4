"""The verification pipeline against an in-memory registry state: one test per verdict, the
precedence between them, the stage records, and the never-raise / never-pass-unchecked rules."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import base45
import cbor2
import pytest
import segno
from PIL import Image

from contracts.domain import ids
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.state import AuthorityRecord, StatusChange
from tests.verifier.world import (
    ISSUED_AT,
    NOW,
    SYNCED_AT,
    World,
    base_claims,
    build_world,
    day,
    key_record,
    record_for,
    standard_mra,
)
from verifier import keys
from verifier.payload import PREFIX, decode
from verifier.pipeline import STAGES, verify
from verifier.source import SourceInfo
from verifier.verdict import Outcome, StageState, Verdict


@pytest.fixture
def world() -> World:
    return build_world()


def check(
    world: World, data: object = None, *, as_authority: str = "KR", **kwargs: object
) -> Verdict:
    return verify(
        world.text() if data is None else data,  # type: ignore[arg-type]
        as_authority=as_authority,
        clock=kwargs.pop("clock", NOW),  # type: ignore[arg-type]
        source=world.source,
        **kwargs,  # type: ignore[arg-type]
    )


def codes(verdict: Verdict) -> list[str]:
    return [r.code for r in verdict.reasons]


def states(verdict: Verdict) -> dict[str, str]:
    return {s.stage: s.state.value for s in verdict.stages}


# ---------------------------------------------------------------- positive verdicts


def test_valid_certificate_under_mra_in_force_is_recognized(world: World) -> None:
    verdict = check(world)
    assert verdict.outcome is Outcome.RECOGNIZED
    assert codes(verdict) == ["recognized"]
    assert all(s.state is StageState.OK for s in verdict.stages)
    assert [s.stage for s in verdict.stages] == list(STAGES)
    assert verdict.recognition is not None
    assert verdict.recognition.mra_id == 1
    assert verdict.claims == world.claims
    assert verdict.exit_code == 0


def test_eddsa_signed_certificate_is_recognized(world: World) -> None:
    verdict = check(world, world.text(key=world.eddsa))
    assert verdict.outcome is Outcome.RECOGNIZED
    assert verdict.signing_key is not None
    assert verdict.signing_key.algorithm is KeyAlgorithm.EDDSA


def test_issuers_own_certificate_is_recognized_without_mra(world: World) -> None:
    world.source.mras.clear()
    verdict = check(world, as_authority="MN")
    assert verdict.outcome is Outcome.RECOGNIZED
    assert codes(verdict) == ["own_certificate"]


def test_verdict_states_the_time_of_the_status_data(world: World) -> None:
    verdict = check(world)
    assert verdict.as_of == SYNCED_AT
    assert verdict.stale is False
    assert verdict.status_as_of() == "status as of 2025-06-01 06:00 UTC (offline cache, block 1234)"
    assert "status as of 2025-06-01 06:00 UTC" in verdict.summary()


# ---------------------------------------------------------------- not recognized


def test_no_mra_with_the_issuer_is_not_recognized(world: World) -> None:
    verdict = check(world, as_authority="KZ")
    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert codes(verdict) == ["no_mra"]
    assert verdict.stage("recognition").state is StageState.FAILED
    assert verdict.exit_code == 1


def test_tier_not_covered_by_the_mra_is_not_recognized(world: World) -> None:
    claims = base_claims(tiers=1)  # C only; the MRA recognizes MN's S tier
    world.claims = claims
    world.set_record(record_for(claims))
    verdict = check(world)
    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert codes(verdict) == ["tier_not_covered"]
    assert "tier C" in verdict.reasons[0].message


@pytest.mark.parametrize(
    ("mra_changes", "code"),
    [
        ({"status": MraState.SUSPENDED}, "mra_suspended"),
        ({"status": MraState.TERMINATED}, "mra_terminated"),
        ({"status": MraState.PROPOSED}, "mra_not_signed"),
        ({"effective_from": day(date(2025, 7, 1))}, "mra_not_yet_in_force"),
        ({"ends_on": day(date(2025, 5, 31))}, "mra_ended"),
    ],
)
def test_mra_not_in_force_is_not_recognized_with_its_reason(
    world: World, mra_changes: dict[str, object], code: str
) -> None:
    world.source.mras[:] = [standard_mra(**mra_changes)]
    verdict = check(world)
    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert codes(verdict) == [code]


def test_suspended_issuer_authority_makes_its_certificates_not_recognized(world: World) -> None:
    world.source.authorities["MN"] = AuthorityRecord("MN", "MN", AuthorityStatus.SUSPENDED)
    verdict = check(world)
    assert verdict.outcome is Outcome.NOT_RECOGNIZED
    assert codes(verdict) == ["issuer_not_active"]


# ---------------------------------------------------------------- certificate status and dates


def test_suspended_certificate_reports_reason_and_since(world: World) -> None:
    since = int(datetime(2025, 5, 10, 8, 0, tzinfo=UTC).timestamp())
    world.set_record(
        replace(
            world.record(),
            status=CertificateStatus.SUSPENDED,
            history=(*world.record().history, StatusChange(CertificateStatus.SUSPENDED, 2, since)),
        )
    )
    verdict = check(world)
    assert verdict.outcome is Outcome.SUSPENDED
    assert codes(verdict) == ["suspended"]
    assert verdict.reasons[0].message == (
        "suspended since 2025-05-10 08:00:00 UTC (reason 2 NON_COMPLIANCE)"
    )
    assert verdict.stage("recognition").state is StageState.SKIPPED
    assert verdict.to_dict()["registry"]["status_reason"] == "NON_COMPLIANCE"  # type: ignore[index]
    assert verdict.exit_code == 3


def test_revoked_certificate_reports_reason_and_since(world: World) -> None:
    since = int(datetime(2025, 5, 20, tzinfo=UTC).timestamp())
    world.set_record(
        replace(
            world.record(),
            status=CertificateStatus.REVOKED,
            history=(*world.record().history, StatusChange(CertificateStatus.REVOKED, 5, since)),
        )
    )
    verdict = check(world)
    assert verdict.outcome is Outcome.REVOKED
    assert "reason 5 FRAUD" in verdict.reasons[0].message


def test_expired_certificate_is_expired(world: World) -> None:
    verdict = check(world, clock=datetime(2030, 3, 1, tzinfo=UTC), max_age=timedelta(days=10_000))
    assert verdict.outcome is Outcome.EXPIRED
    assert codes(verdict) == ["expired"]
    assert verdict.reasons[0].message == "expired: valid until 2030-02-28"


def test_last_day_of_validity_is_still_valid(world: World) -> None:
    last_day = datetime(2030, 2, 28, 23, 59, tzinfo=UTC)
    verdict = check(world, clock=last_day, max_age=timedelta(days=10_000))
    assert verdict.outcome is Outcome.RECOGNIZED


def test_certificate_before_its_valid_from_is_not_yet_valid(world: World) -> None:
    claims = base_claims(valid_from=day(date(2025, 7, 1)))
    world.claims = claims
    world.set_record(record_for(claims))
    verdict = check(world)
    assert verdict.outcome is Outcome.NOT_YET_VALID
    assert codes(verdict) == ["not_yet_valid"]


def test_renewal_on_chain_extends_validity_beyond_the_qr(world: World) -> None:
    world.set_record(replace(world.record(), valid_until=day(date(2033, 2, 28))))
    verdict = check(world, clock=datetime(2031, 1, 1, tzinfo=UTC), max_age=timedelta(days=10_000))
    assert verdict.outcome is Outcome.RECOGNIZED
    assert "renewed" in codes(verdict)


def test_revoked_outranks_expired_and_superseded(world: World) -> None:
    world.set_record(
        replace(world.record(), status=CertificateStatus.REVOKED, version=2, digest=bytes(20))
    )
    verdict = check(world, clock=datetime(2031, 1, 1, tzinfo=UTC), max_age=timedelta(days=10_000))
    assert verdict.outcome is Outcome.REVOKED
    assert set(codes(verdict)) >= {"revoked", "expired", "superseded"}
    assert codes(verdict)[0] == "revoked"


# ---------------------------------------------------------------- binding to the chain


def test_amended_certificate_makes_the_old_qr_superseded(world: World) -> None:
    world.set_record(replace(world.record(), version=2, digest=bytes(20)))
    verdict = check(world)
    assert verdict.outcome is Outcome.SUPERSEDED
    assert codes(verdict) == ["superseded"]
    assert verdict.stage("binding").state is StageState.FAILED


def test_certificate_not_on_chain_is_unknown(world: World) -> None:
    world.source.certificates.clear()
    verdict = check(world)
    assert verdict.outcome is Outcome.UNKNOWN_CERTIFICATE
    assert codes(verdict) == ["unknown_certificate"]
    assert states(verdict)["status"] == "skipped"


def test_certificate_signed_after_the_status_data_is_check_unavailable_not_unknown(
    world: World,
) -> None:
    world.source.certificates.clear()
    world.source.source_info = replace(
        world.source.source_info, as_of=ISSUED_AT - timedelta(days=1)
    )
    verdict = check(world, max_age=timedelta(days=1000))
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert codes(verdict) == ["binding_unavailable"]
    assert "predates" in verdict.reasons[0].message


@pytest.mark.parametrize(
    ("record_changes", "fragment"),
    [
        ({"digest": bytes(20)}, "record digest"),
        ({"tiers": 1}, "tiers"),
        ({"valid_from": day(date(2025, 2, 1))}, "valid-from"),
        ({"valid_until": day(date(2029, 1, 1))}, "valid-until"),
        ({"holder_ref": ids.holder_ref("TIN", "OTHER")}, "holder identification"),
        ({"version": 0}, "version"),
    ],
)
def test_claims_differing_from_the_chain_record_are_a_commitment_mismatch(
    world: World, record_changes: dict[str, object], fragment: str
) -> None:
    world.set_record(replace(world.record(), **record_changes))
    verdict = check(world)
    assert verdict.outcome is Outcome.COMMITMENT_MISMATCH
    assert fragment in verdict.reasons[0].message


# ---------------------------------------------------------------- keys and signatures


def test_key_not_published_on_chain_is_untrusted(world: World) -> None:
    stranger = keys.generate_private_key()
    verdict = check(world, world.text(key=stranger))
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert codes(verdict) == ["unknown_key"]
    assert states(verdict)["binding"] == "skipped"


def test_key_revoked_before_signing_is_untrusted(world: World) -> None:
    revoked_at = int(ISSUED_AT.timestamp()) - 60
    world.add_key(key_record(world.es256, revoked_at=revoked_at))
    verdict = check(world)
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert codes(verdict)[0] == "key_revoked"


def test_key_revoked_after_signing_still_trusts_earlier_signatures(world: World) -> None:
    world.add_key(key_record(world.es256, revoked_at=int(ISSUED_AT.timestamp()) + 60))
    assert check(world).outcome is Outcome.RECOGNIZED


def test_key_not_yet_valid_at_signing_time_is_untrusted(world: World) -> None:
    world.add_key(key_record(world.es256, valid_from=int(ISSUED_AT.timestamp()) + 1))
    verdict = check(world)
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert codes(verdict)[0] == "key_not_yet_valid"


def test_key_of_another_authority_is_untrusted_for_this_issuer(world: World) -> None:
    world.add_key(key_record(world.es256, authority="KZ"))
    verdict = check(world)
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert codes(verdict)[0] == "key_wrong_authority"


def test_signing_time_in_the_future_is_untrusted(world: World) -> None:
    claims = replace(world.claims, issued_at=int((NOW + timedelta(hours=1)).timestamp()))
    world.source.source_info = replace(world.source.source_info, as_of=NOW)
    verdict = check(world, world.text(claims))
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert "signed_in_future" in codes(verdict)


def test_tampered_claims_fail_the_signature(world: World) -> None:
    forged = _resign_payload_unsigned(world, holder_name="Someone Else LLC")
    verdict = check(world, forged)
    assert verdict.outcome is Outcome.BAD_SIGNATURE
    assert codes(verdict) == ["bad_signature"]
    assert states(verdict)["key_validity"] == "skipped"


def test_header_algorithm_differing_from_the_key_record_is_a_bad_signature(world: World) -> None:
    # Publish the EdDSA key's bytes under ES256's algorithm number: the header says EdDSA.
    world.add_key(key_record(world.eddsa, algorithm=KeyAlgorithm.ES256))
    verdict = check(world, world.text(key=world.eddsa))
    assert verdict.outcome is Outcome.BAD_SIGNATURE
    assert codes(verdict) == ["algorithm_mismatch"]


def test_key_record_not_matching_its_id_is_refused(world: World) -> None:
    other = keys.public_key_bytes(keys.generate_private_key())
    world.add_key(key_record(world.es256, public_key=other))
    verdict = check(world)
    assert verdict.outcome is Outcome.UNTRUSTED_KEY
    assert codes(verdict) == ["bad_key_record"]


def _resign_payload_unsigned(world: World, **changes: object) -> str:
    """The QR with claims changed after signing (the signature of the original kept)."""
    decoded = decode(world.text())
    claims = replace(decoded.claims, **changes)  # type: ignore[arg-type]
    payload = cbor2.dumps(claims.to_cbor_map(), canonical=True)
    cose = cbor2.dumps(
        [decoded.cose.protected, {}, payload, decoded.cose.signature], canonical=True
    )
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode()


# ---------------------------------------------------------------- unavailable checks


@pytest.mark.parametrize(
    ("method", "stage"),
    [
        ("info", "signature"),
        ("signing_key", "signature"),
        ("certificate", "binding"),
        ("recognition", "recognition"),
    ],
)
def test_a_question_the_source_cannot_answer_gives_check_unavailable_naming_it(
    world: World, method: str, stage: str
) -> None:
    world.source.unavailable = frozenset({method})
    verdict = check(world)
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert f"{stage}_unavailable" in codes(verdict)
    assert verdict.stage(stage).state is StageState.UNAVAILABLE
    assert verdict.exit_code == 3


def test_unavailable_issuer_name_does_not_block_a_verdict(world: World) -> None:
    world.source.unavailable = frozenset({"authority"})
    verdict = check(world)
    assert verdict.outcome is Outcome.RECOGNIZED
    assert verdict.issuer_name is None


def test_definite_negative_outranks_an_unavailable_recognition(world: World) -> None:
    world.set_record(replace(world.record(), status=CertificateStatus.REVOKED))
    world.source.unavailable = frozenset({"recognition"})
    assert check(world).outcome is Outcome.REVOKED


def test_source_that_raises_an_unexpected_error_is_an_unavailable_check(world: World) -> None:
    class Broken:
        def info(self) -> SourceInfo:
            return world.source.source_info

        def signing_key(self, kid: bytes) -> None:
            raise RuntimeError("node returned garbage")

    verdict = verify(world.text(), as_authority="KR", clock=NOW, source=Broken())  # type: ignore[arg-type]
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert "node returned garbage" in verdict.reasons[0].message


def test_stale_status_data_is_flagged_but_still_answers(world: World) -> None:
    verdict = check(world, clock=SYNCED_AT + timedelta(hours=30))
    assert verdict.outcome is Outcome.RECOGNIZED
    assert verdict.stale is True
    assert "status_stale" in codes(verdict)
    assert verdict.status_as_of() is not None
    assert "STALE" in verdict.status_as_of()


def test_max_age_is_configurable(world: World) -> None:
    verdict = check(world, clock=SYNCED_AT + timedelta(hours=2), max_age=timedelta(hours=1))
    assert verdict.stale is True


def test_malformed_verifying_authority_is_check_unavailable(world: World) -> None:
    verdict = check(world, as_authority="korea")
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert codes(verdict) == ["recognition_unavailable"]


# ---------------------------------------------------------------- clock and input forms


def test_clock_may_be_a_callable(world: World) -> None:
    assert check(world, clock=lambda: NOW).outcome is Outcome.RECOGNIZED


def test_naive_clock_is_taken_as_utc(world: World) -> None:
    verdict = check(world, clock=NOW.replace(tzinfo=None))
    assert verdict.checked_at == NOW


def test_clock_that_fails_gives_check_unavailable(world: World) -> None:
    def broken() -> datetime:
        raise OSError("no time source")

    verdict = check(world, clock=broken)
    assert verdict.outcome is Outcome.CHECK_UNAVAILABLE
    assert codes(verdict) == ["clock_unavailable"]


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=5, border=4)
    return out.getvalue()


def test_qr_image_as_pil_bytes_and_path_all_verify(world: World, tmp_path: Path) -> None:
    png = _qr_png(world.text())
    path = tmp_path / "certificate.png"
    path.write_bytes(png)
    for data in (Image.open(io.BytesIO(png)), png, path):
        assert check(world, data).outcome is Outcome.RECOGNIZED, data


def test_a_string_naming_a_file_is_text_not_a_path(world: World, tmp_path: Path) -> None:
    # Text arrives from the network (the web page, the API); it must never open local files.
    secret = tmp_path / "secret.txt"
    secret.write_text("AEO1:do-not-read")
    verdict = check(world, str(secret))
    assert verdict.outcome is Outcome.MALFORMED
    assert "do-not-read" not in verdict.to_json()


def test_text_with_surrounding_whitespace_verifies(world: World) -> None:
    assert check(world, f"  {world.text()}\n").outcome is Outcome.RECOGNIZED


def test_image_with_several_qr_codes_picks_the_certificate(world: World) -> None:
    page = Image.new("L", (900, 450), 255)
    page.paste(Image.open(io.BytesIO(_qr_png("https://customs.example/mn"))), (10, 10))
    page.paste(Image.open(io.BytesIO(_qr_png(world.text()))), (420, 10))
    assert check(world, page).outcome is Outcome.RECOGNIZED


def test_image_without_qr_code_is_malformed_at_the_input_stage(world: World) -> None:
    verdict = check(world, Image.new("RGB", (200, 200), "white"))
    assert verdict.outcome is Outcome.MALFORMED
    assert codes(verdict) == ["no_qr_code"]
    assert verdict.stage("input").state is StageState.FAILED


def test_missing_file_path_is_read_as_text_and_refused_at_the_prefix(world: World) -> None:
    verdict = check(world, "/nonexistent/photo.jpg")
    assert verdict.outcome is Outcome.MALFORMED
    assert verdict.stage("prefix").state is StageState.FAILED


def test_missing_path_object_is_refused_at_the_input_stage(world: World) -> None:
    verdict = check(world, Path("/nonexistent/photo.jpg"))
    assert verdict.stage("input").state is StageState.FAILED
    assert "cannot read" in verdict.reasons[0].message


def test_unsupported_input_type_is_refused_at_the_input_stage(world: World) -> None:
    verdict = check(world, 42)
    assert verdict.outcome is Outcome.MALFORMED
    assert "int" in verdict.reasons[0].message


def test_text_longer_than_any_qr_code_is_refused(world: World) -> None:
    verdict = check(world, "AEO1:" + "0" * 5000)
    assert codes(verdict) == ["too_large"]


# ---------------------------------------------------------------- malformed payloads


@pytest.mark.parametrize(
    ("mutate", "stage", "code"),
    [
        (lambda t: "HC1:" + t[5:], "prefix", "bad_prefix"),
        (lambda t: "AEO2:" + t[5:], "prefix", "unsupported_version"),
        (lambda t: t + "a", "base45", "bad_base45"),
        (lambda t: _rewrap(t, lambda z: z[:-2]), "decompress", "bad_compression"),
        (lambda t: _rewrap(t, lambda z: z + b"\x00"), "decompress", "trailing_bytes"),
        (lambda t: t[:5] + "000", "decompress", "bad_compression"),
    ],
)
def test_malformed_text_is_refused_at_its_stage(
    world: World, mutate, stage: str, code: str
) -> None:  # type: ignore[no-untyped-def]
    verdict = check(world, mutate(world.text()))
    assert verdict.outcome is Outcome.MALFORMED
    assert verdict.stage(stage).state is StageState.FAILED
    assert verdict.stage(stage).code == code
    failed = [s.stage for s in verdict.stages if s.state is StageState.FAILED]
    assert failed == [stage]
    later = STAGES[STAGES.index(stage) + 1 :]
    assert all(verdict.stage(s).state is StageState.SKIPPED for s in later)


def _rewrap(text: str, change) -> str:  # type: ignore[no-untyped-def]
    """The text with its compressed bytes changed and encoded again."""
    compressed = base45.b45decode(text[5:])
    return text[:5] + base45.b45encode(change(compressed)).decode()


# ---------------------------------------------------------------- the JSON form


def test_json_form_carries_outcome_reasons_as_of_stages_and_claims(world: World) -> None:
    data = json.loads(check(world).to_json())
    assert data["outcome"] == "recognized"
    assert data["reasons"] == [
        {"code": "recognized", "message": "active, valid, recognized by KR under MRA 1 (tier C+S)"}
    ]
    assert data["as_of"] == "2025-06-01T06:00:00Z"
    assert data["stale"] is False
    assert [s["stage"] for s in data["stages"]] == list(STAGES)
    assert data["claims"]["number"] == "MN-AEO-2025-000731"
    assert data["claims"]["certificate_id"] == "0x" + world.claims.certificate_id.hex()
    assert data["source"]["block_number"] == 1234
    assert data["issuer_name"] == "Mongolian Customs General Administration"


def test_malformed_verdict_json_has_no_claims_and_no_as_of(world: World) -> None:
    data = json.loads(check(world, "nonsense").to_json())
    assert data["outcome"] == "malformed"
    assert data["claims"] is None
    assert data["as_of"] is None
