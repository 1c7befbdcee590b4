"""Forged QR codes against a deployed consortium on the memory chain, one test per forgery
class, each verified online (``ChainStatusSource``), offline (an ``OfflineCache`` synced
from the same chain), and offline from a snapshot a registry publishes of that chain
(``tests.verifier.snapshot_filling``).

The registry is the verifier tests' ``chain_world``: MN has a registered ES256 signing key,
MN and KR have an MRA covering tier S, MN issued ``MN-AEO-0001`` and its genuine QR text.
KR verifies unless a test says otherwise. Each test asserts the outcome, the deciding reason
code and the stage that refused (docs/qr-format.md, section 7).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import cbor2
import pytest

from contracts.chain import latest_timestamp
from contracts.domain import ids
from contracts.domain.claims import Claims
from contracts.domain.enums import SIGNING_ALGORITHMS, KeyAlgorithm, MembershipAction, ReasonCode
from contracts.domain.events import MembershipProposed
from contracts.errors import ContractRevertError
from contracts.logs import first_event, receipt_events
from tests.security.forge import (
    claims_payload,
    cose_array,
    recompressed,
    with_claims_changed,
    with_compressed,
    with_cose,
    with_signature,
    wrap_cose,
)
from tests.verifier.conftest import NUMBER, TIER_C, TIER_S, ChainWorld, claims_for, issue
from tests.verifier.snapshot_filling import RegistrySnapshots
from verifier import keys
from verifier.offline import OfflineCache
from verifier.payload import (
    ED25519_ORDER,
    P256_ORDER,
    compress,
    decode,
    decode_base45,
    encode,
    strip_prefix,
)
from verifier.sync import sync
from verifier.verdict import Outcome, StageState, Verdict, outcome_of_reason

# Slow, so not in `make test-fast` (`make test` runs it): each forgery builds a signed world on
# the memory chain (~2 s a test).
pytestmark = pytest.mark.slow

Scan = Callable[..., Verdict]
SOURCES = ("online", "offline", "snapshot")
OTHER_NUMBER = "MN-AEO-0002"
QR_FORMAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "qr-format.md"


@pytest.fixture(params=SOURCES)
def scan(
    request: pytest.FixtureRequest,
    chain_world: ChainWorld,
    offline_cache: OfflineCache,
    tmp_path: Path,
) -> Iterator[Scan]:
    """Verifies a text against the chain as it is now: live, through a fresh sync, or
    through a snapshot a registry publishes of it (docs/snapshot.md)."""
    snapshots: RegistrySnapshots | None = None

    def run(text: str, as_authority: str = "KR") -> Verdict:
        nonlocal snapshots
        at = chain_world.now()
        if request.param == "online":
            verdict = chain_world.verify(text, chain_world.online(), as_authority, clock=at)
            assert verdict.source is not None
            assert verdict.source.kind == "chain"
            return verdict
        if request.param == "snapshot":
            if snapshots is None:
                snapshots = RegistrySnapshots(
                    chain_world.chain, chain_world.consortium.deployment, tmp_path / "registry"
                )
            verdict = chain_world.verify(text, snapshots.fill(at), as_authority, clock=at)
            assert verdict.source is not None
            assert verdict.source.kind == "snapshot"
            return verdict
        sync(chain_world.chain, chain_world.consortium.deployment, offline_cache, clock=lambda: at)
        verdict = chain_world.verify(text, offline_cache, as_authority, clock=at)
        assert verdict.offline
        return verdict

    yield run
    if snapshots is not None:
        snapshots.close()


def assert_refused(verdict: Verdict, outcome: Outcome, stage: str, code: str) -> None:
    """``outcome`` decided by ``code``, recorded as the failure of ``stage``."""
    assert verdict.outcome is outcome, verdict.reasons
    assert verdict.reasons[0].code == code, verdict.reasons
    refused = verdict.stage(stage)
    assert (refused.state, refused.code) == (StageState.FAILED, code), refused
    assert outcome_of_reason(code) is outcome


def assert_nothing_checked_against_the_registry(verdict: Verdict) -> None:
    """A signature that fails vouches for nothing: no claim is compared with the chain."""
    for stage in ("key_validity", "binding", "status", "validity_dates", "recognition"):
        assert verdict.stage(stage).state is StageState.SKIPPED, verdict.stage(stage)


def now_claims(world: ChainWorld, number: str = NUMBER, version: int = 1) -> Claims:
    """The claims of ``number`` as MN's system would sign them at the chain's current time."""
    return claims_for(
        world.chain, number, TIER_S, world.claims.valid_from, world.claims.valid_until, version
    )


def test_the_genuine_qr_is_recognized_by_both_sources(chain_world: ChainWorld, scan: Scan) -> None:
    """The baseline every forgery below departs from."""
    verdict = scan(chain_world.text)

    assert verdict.outcome is Outcome.RECOGNIZED, verdict.reasons
    assert all(stage.state is StageState.OK for stage in verdict.stages)


# ---------------------------------------------------------------- untrusted keys


@pytest.mark.parametrize("algorithm", list(SIGNING_ALGORITHMS), ids=lambda a: a.name)
def test_qr_signed_with_an_unregistered_key_is_untrusted(
    chain_world: ChainWorld, scan: Scan, algorithm: KeyAlgorithm
) -> None:
    attacker = keys.generate_private_key(algorithm)

    verdict = scan(encode(chain_world.claims, attacker))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "signature", "unknown_key")
    assert verdict.signing_key is None
    assert_nothing_checked_against_the_registry(verdict)


def test_qr_signed_with_a_key_after_its_revocation_is_untrusted(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    world.consortium.admin("MN").revoke_signing_key(world.kid)  # effective at this block
    key = world.online().signing_key(world.kid)
    assert key is not None
    claims = now_claims(world)
    assert claims.issued_at >= key.revoked_at > 0

    verdict = scan(world.sign(claims))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "key_validity", "key_revoked")
    assert verdict.stage("signature").state is StageState.OK  # the key did sign it
    assert verdict.signing_key is not None
    assert verdict.signing_key.revoked_at == key.revoked_at


def test_qr_backdated_by_a_stolen_key_revoked_from_its_valid_from_is_untrusted(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """A thief can write any issued-at; revoking a compromised key from the moment it became
    valid leaves no signing time that passes (docs/qr-format.md, section 3)."""
    world = chain_world
    world.consortium.admin("MN").revoke_signing_key(world.kid, world.key_valid_from)
    backdated = replace(now_claims(world), issued_at=world.key_valid_from)

    verdict = scan(world.sign(backdated))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "key_validity", "key_revoked")


def test_qr_post_dated_beyond_the_verifiers_clock_is_untrusted(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """Post-dating would let a stolen key sign "after" a revocation planned for later."""
    world = chain_world
    future = replace(now_claims(world), issued_at=int(world.now().timestamp()) + 3600)

    verdict = scan(world.sign(future))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "key_validity", "signed_in_future")


def test_qr_signed_with_another_administrations_key_is_untrusted(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """KZ's properly registered key signs a QR for MN's real certificate: the signature
    verifies, but only the issuing administration's keys vouch for its certificates."""
    world = chain_world
    kz_key = keys.generate_private_key(KeyAlgorithm.ES256)
    world.consortium.admin("KZ").register_signing_key(
        keys.public_key_bytes(kz_key), KeyAlgorithm.ES256
    )

    verdict = scan(encode(now_claims(world), kz_key))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "key_validity", "key_wrong_authority")
    assert verdict.stage("signature").state is StageState.OK
    assert verdict.signing_key is not None
    assert verdict.signing_key.authority == "KZ"
    # Everything else matches the registry: the key alone makes it untrusted.
    assert verdict.stage("binding").state is StageState.OK
    assert [r.code for r in verdict.reasons] == ["key_wrong_authority"]


def test_the_format_document_gives_the_same_verdict_for_another_administrations_key() -> None:
    doc = QR_FORMAT_DOC.read_text(encoding="utf-8")
    key_validity_row = next(
        line for line in doc.splitlines() if line.startswith("| `key_validity` |")
    )

    assert "`key_wrong_authority`" in key_validity_row
    assert "registered on chain by the **issuing** authority" in doc
    # The precedence line puts untrusted_key between the signature and the registry checks.
    assert re.search(r"bad_signature > untrusted_key > commitment_mismatch", doc)
    assert outcome_of_reason("key_wrong_authority") is Outcome.UNTRUSTED_KEY


# ---------------------------------------------------------------- tampered content


# Each claim a holder or a smuggler would want to change, and the change.
CHANGES_AFTER_SIGNING: dict[str, Callable[[Claims], object]] = {
    "holder_name": lambda claims: "Forged Freight LLC",
    "tiers": lambda claims: TIER_S | TIER_C,
    "valid_until": lambda claims: claims.valid_until + 5 * 365,
    "version": lambda claims: claims.version + 1,
    "holder_id": lambda claims: "MN6099999",
    "issued_at": lambda claims: claims.issued_at - 3600,
}


@pytest.mark.parametrize("field", list(CHANGES_AFTER_SIGNING))
def test_claims_changed_after_signing_are_a_bad_signature(
    chain_world: ChainWorld, scan: Scan, field: str
) -> None:
    changed = CHANGES_AFTER_SIGNING[field](chain_world.claims)
    forged = with_claims_changed(chain_world.text, **{field: changed})
    assert getattr(decode(forged).claims, field) == changed

    verdict = scan(forged)

    assert_refused(verdict, Outcome.BAD_SIGNATURE, "signature", "bad_signature")
    assert_nothing_checked_against_the_registry(verdict)


def test_certificate_number_swapped_and_re_signed_by_an_attacker_key_is_untrusted(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    issue(world.consortium, OTHER_NUMBER)
    attacker = keys.generate_private_key(KeyAlgorithm.ES256)
    swapped = replace(world.claims, number=OTHER_NUMBER)

    verdict = scan(encode(swapped, attacker))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "signature", "unknown_key")
    assert verdict.claims is not None
    assert verdict.claims.certificate_id == ids.certificate_id("MN", OTHER_NUMBER)


def test_certificate_number_swapped_under_the_original_signature_is_a_bad_signature(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    issue(world.consortium, OTHER_NUMBER)

    verdict = scan(with_claims_changed(world.text, number=OTHER_NUMBER))

    assert_refused(verdict, Outcome.BAD_SIGNATURE, "signature", "bad_signature")
    assert_nothing_checked_against_the_registry(verdict)


def test_protected_header_algorithm_swapped_under_the_original_signature_is_a_bad_signature(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """Algorithm confusion: the header says EdDSA, the registered key is ES256."""
    world = chain_world
    cose = decode(world.text).cose
    protected = bytes(cbor2.dumps({1: KeyAlgorithm.EDDSA.cose, 4: world.kid}, canonical=True))

    verdict = scan(wrap_cose(cose_array(protected, cose.payload, cose.signature)))

    assert_refused(verdict, Outcome.BAD_SIGNATURE, "signature", "algorithm_mismatch")
    assert_nothing_checked_against_the_registry(verdict)


def test_key_id_swapped_to_another_registered_key_is_a_bad_signature(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """The signature stays MN's, the header names a key of KZ's: it does not verify."""
    world = chain_world
    kz_key = keys.generate_private_key(KeyAlgorithm.ES256)
    world.consortium.admin("KZ").register_signing_key(
        keys.public_key_bytes(kz_key), KeyAlgorithm.ES256
    )
    cose = decode(world.text).cose
    protected = bytes(
        cbor2.dumps({1: KeyAlgorithm.ES256.cose, 4: keys.key_id_of(kz_key)}, canonical=True)
    )

    verdict = scan(wrap_cose(cose_array(protected, cose.payload, cose.signature)))

    assert_refused(verdict, Outcome.BAD_SIGNATURE, "signature", "bad_signature")


# ---------------------------------------------------------------- genuine but not current


def test_valid_signature_on_an_outdated_version_is_superseded(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    outdated = world.text
    world.amend()

    verdict = scan(outdated)

    assert_refused(verdict, Outcome.SUPERSEDED, "binding", "superseded")
    assert verdict.certificate is not None
    assert verdict.certificate.version == 2
    assert verdict.stage("signature").state is StageState.OK
    assert verdict.stage("key_validity").state is StageState.OK


def test_replayed_qr_of_a_revoked_certificate_is_revoked(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    world.consortium.operator("MN").revoke(world.certificate_id, ReasonCode.FRAUD)

    verdict = scan(world.text)

    assert_refused(verdict, Outcome.REVOKED, "status", "revoked")
    assert "FRAUD" in verdict.reasons[0].message
    assert verdict.stage("binding").state is StageState.OK


def test_legitimately_signed_qr_whose_digest_differs_from_the_chain_is_a_commitment_mismatch(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """The issuer's system signed a changed record (another commitment) as version 1
    without amending the certificate on chain."""
    world = chain_world
    changed_record = ids.record_digest(world.claims.holder_ref, os.urandom(32))
    signed = world.sign(replace(now_claims(world), digest=changed_record))

    verdict = scan(signed)

    assert_refused(verdict, Outcome.COMMITMENT_MISMATCH, "binding", "commitment_mismatch")
    assert "digest differs" in verdict.reasons[0].message
    assert verdict.stage("signature").state is StageState.OK


def test_qr_signed_before_its_amendment_reached_the_chain_is_a_commitment_mismatch(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """Version 2 signed while the chain still holds version 1; once the amendment lands,
    the same text verifies."""
    world = chain_world
    early = world.sign(now_claims(world, version=2))

    verdict = scan(early)

    assert_refused(verdict, Outcome.COMMITMENT_MISMATCH, "binding", "commitment_mismatch")
    assert "version 2" in verdict.reasons[0].message
    world.amend()
    assert scan(early).outcome is Outcome.RECOGNIZED


def test_legitimately_signed_qr_pairing_the_real_digest_with_another_holder_is_a_mismatch(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """The digest is the chain's, the holder identification another company's: the holder
    reference of the certificate's issue event exposes it."""
    world = chain_world
    other_holder = replace(now_claims(world), holder_id="MN6099999")
    assert other_holder.digest == world.claims.digest

    verdict = scan(world.sign(other_holder))

    assert_refused(verdict, Outcome.COMMITMENT_MISMATCH, "binding", "commitment_mismatch")
    assert verdict.source is not None
    if verdict.source.kind == "snapshot":
        # A snapshot keeps one fingerprint of the bound fields, not each field: the same
        # refusal, without the field's name (docs/snapshot.md).
        assert verdict.reasons[0].message == "the record digest differs from the registry's"
    else:
        assert "holder identification" in verdict.reasons[0].message


def test_claims_payload_helper_reproduces_the_issuers_encoding(chain_world: ChainWorld) -> None:
    """The forgeries above keep everything but what they change: the helper re-encodes an
    unchanged payload byte for byte."""
    decoded = decode(chain_world.text)
    assert claims_payload(decoded.claims) == decoded.cose.payload
    assert with_claims_changed(chain_world.text) == chain_world.text


# ================================================================ one text per certificate
# version (issue #10, part "verifier")
#
# The signature covers the claims, not the layers around them. Each text below carries the
# genuine claims under their genuine signature in another encoding, so only the rule "exactly
# the encoding the issuer writes" refuses it (docs/qr-format.md, "One text per certificate
# version"); each refusal names its own reason code.


def refused_before_the_registry(world: ChainWorld, text: str) -> Verdict:
    """The verdict on ``text``, which decoding refuses: no status source is read, so one
    source stands for both."""
    verdict = world.verify(text, world.online())
    assert verdict.source is None, "a malformed code was checked against the registry"
    return verdict


def test_the_genuine_text_is_the_one_the_issuer_writes(chain_world: ChainWorld) -> None:
    """The baseline: re-encoding the decoded claims gives the scanned text byte for byte."""
    decoded = decode(chain_world.text)
    assert decoded.compressed == compress(decoded.cose_bytes)
    assert chain_world.sign(decoded.claims) == chain_world.text


def test_a_scanners_trailing_newline_is_not_part_of_the_code(
    chain_world: ChainWorld, scan: Scan
) -> None:
    assert scan(chain_world.text + "\r\n").outcome is Outcome.RECOGNIZED


@pytest.mark.parametrize("suffix", ["0", "00", "ABC", "$%*", "\u00a0"])
def test_characters_after_the_base45_text_are_malformed(
    chain_world: ChainWorld, suffix: str
) -> None:
    """Base45 characters change or extend the compressed bytes (refused by the base45 or the
    zlib layer); a non-breaking space is not a scanner's newline and is no base45 either."""
    verdict = refused_before_the_registry(chain_world, chain_world.text + suffix)

    assert verdict.outcome is Outcome.MALFORMED
    failed = [(s.stage, s.code) for s in verdict.stages if s.state is StageState.FAILED]
    assert failed in (
        [("base45", "bad_base45")],
        [("decompress", "trailing_bytes")],
        [("decompress", "bad_compression")],
    ), failed
    assert verdict.claims is None


TRAILING: dict[str, tuple[Callable[[str], str], str]] = {
    "after the zlib stream": (lambda t: with_compressed(t, lambda z: z + b"\x00"), "decompress"),
    "after the COSE structure": (lambda t: with_cose(t, lambda c: c + b"\xa0"), "cose"),
    "after the CBOR claims": (
        lambda t: with_cose(
            t,
            lambda c: cose_array(
                decode(t).cose.protected, decode(t).cose.payload + b"\x00", decode(t).cose.signature
            ),
        ),
        "cbor",
    ),
}


@pytest.mark.parametrize("where", list(TRAILING))
def test_trailing_bytes_inside_a_layer_are_malformed(chain_world: ChainWorld, where: str) -> None:
    forge, stage = TRAILING[where]

    verdict = refused_before_the_registry(chain_world, forge(chain_world.text))

    assert_refused(verdict, Outcome.MALFORMED, stage, "trailing_bytes")
    assert verdict.claims is None


# The same COSE bytes as other zlib configurations write them. All inflate to exactly the
# genuine COSE_Sign1; the issuer writes zlib.compress(cose, 9).
RECOMPRESSIONS: dict[str, dict[str, int]] = {
    "stored, level 0": {"level": 0},
    "level 1": {"level": 1},
    "level 6 (zlib's default)": {"level": 6},
    "fixed Huffman codes": {"strategy": zlib.Z_FIXED},
    "Huffman only": {"strategy": zlib.Z_HUFFMAN_ONLY},
    "a 512-byte window in the header": {"wbits": 9},
}


@pytest.mark.parametrize("variant", list(RECOMPRESSIONS))
def test_the_same_cose_recompressed_another_way_is_malformed(
    chain_world: ChainWorld, variant: str
) -> None:
    forged = recompressed(chain_world.text, **RECOMPRESSIONS[variant])
    assert forged != chain_world.text
    assert inflated(forged) == decode(chain_world.text).cose_bytes

    verdict = refused_before_the_registry(chain_world, forged)

    assert_refused(verdict, Outcome.MALFORMED, "decompress", "non_canonical_compression")


def test_the_same_cose_as_raw_deflate_without_the_zlib_header_is_malformed(
    chain_world: ChainWorld,
) -> None:
    verdict = refused_before_the_registry(chain_world, recompressed(chain_world.text, wbits=-15))

    assert_refused(verdict, Outcome.MALFORMED, "decompress", "bad_compression")
    assert "not zlib data" in verdict.reasons[0].message


def test_the_same_cose_behind_cose_tag_18_is_malformed(chain_world: ChainWorld) -> None:
    """RFC 9052 allows the tag; AEO1 never writes it, so the tagged twin is refused."""
    verdict = refused_before_the_registry(
        chain_world, with_cose(chain_world.text, lambda cose: b"\xd2" + cose)
    )

    assert_refused(verdict, Outcome.MALFORMED, "cose", "non_canonical_cose")


def test_the_cose_array_with_a_longer_length_head_is_malformed(chain_world: ChainWorld) -> None:
    """The signature's byte-string head written in three bytes instead of two: same values,
    not the deterministic encoding."""
    head = bytes((0x58, 64))
    verdict = refused_before_the_registry(
        chain_world, with_cose(chain_world.text, lambda c: c.replace(head, b"\x59\x00\x40", 1))
    )

    assert_refused(verdict, Outcome.MALFORMED, "cose", "bad_cose")
    assert "not deterministically encoded" in verdict.reasons[0].message


def test_claims_in_a_non_deterministic_cbor_encoding_are_malformed(chain_world: ChainWorld) -> None:
    """The genuine claims map with its keys in descending order, under the genuine header and
    signature."""
    cose = decode(chain_world.text).cose
    claims = cbor2.loads(cose.payload)
    reordered = b"\xab" + b"".join(
        cbor2.dumps(key) + cbor2.dumps(claims[key]) for key in sorted(claims, reverse=True)
    )

    verdict = refused_before_the_registry(
        chain_world, wrap_cose(cose_array(cose.protected, reordered, cose.signature))
    )

    assert_refused(verdict, Outcome.MALFORMED, "cbor", "bad_cbor")


def test_the_high_s_twin_of_an_es256_signature_is_a_bad_signature(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    cose = decode(world.text).cose
    s = int.from_bytes(cose.signature[32:], "big")
    twin = cose.signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
    # The twin is a valid ECDSA signature: only the low-S rule refuses it.
    assert keys.verify_signature(world.key.public_key(), cose.to_be_signed(), twin)  # type: ignore[arg-type]

    verdict = scan(with_signature(world.text, twin))

    assert_refused(verdict, Outcome.BAD_SIGNATURE, "signature", "non_canonical_signature")
    assert "high-S" in verdict.reasons[0].message
    assert_nothing_checked_against_the_registry(verdict)


def test_an_ed25519_signature_with_an_unreduced_s_is_a_bad_signature(
    chain_world: ChainWorld, scan: Scan
) -> None:
    world = chain_world
    ed_key = keys.generate_private_key(KeyAlgorithm.EDDSA)
    world.consortium.admin("MN").register_signing_key(
        keys.public_key_bytes(ed_key), KeyAlgorithm.EDDSA
    )
    genuine = encode(now_claims(world), ed_key)
    assert scan(genuine).outcome is Outcome.RECOGNIZED
    signature = decode(genuine).cose.signature
    s = int.from_bytes(signature[32:], "little")

    verdict = scan(
        with_signature(genuine, signature[:32] + (s + ED25519_ORDER).to_bytes(32, "little"))
    )

    assert_refused(verdict, Outcome.BAD_SIGNATURE, "signature", "non_canonical_signature")


def test_the_new_reason_codes_are_listed_in_the_format_and_reason_code_documents() -> None:
    new_codes = (
        "trailing_bytes",
        "non_canonical_compression",
        "non_canonical_cose",
        "non_canonical_signature",
    )
    documents = (QR_FORMAT_DOC, QR_FORMAT_DOC.with_name("reason-codes.md"))
    for document in documents:
        text = document.read_text(encoding="utf-8")
        assert [code for code in new_codes if f"`{code}`" not in text] == [], document.name
    assert {outcome_of_reason(code) for code in new_codes} == {
        Outcome.MALFORMED,
        Outcome.BAD_SIGNATURE,
    }


def inflated(text: str) -> bytes:
    """What zlib itself inflates from ``text``'s compressed layer."""
    return zlib.decompress(decode_base45(strip_prefix(text)))


# ---------------------------------------------------------------- issue #10: issuers and numbers
#
# What a verifier answers when the issuer itself is no longer trusted by the consortium, when a
# signing key was registered back-dated, and when an administration reuses another's number;
# and what the contract now refuses. Each test scans online and offline, as above.

#: 2001-01-01T00:00:00Z, the date a back-dated key once made pass
IN_2001 = 978_307_200


def vote_on(world: ChainWorld, action: MembershipAction, target: str) -> None:
    """KZ proposes ``action`` on ``target`` and KR votes it through (two of three)."""
    consortium = world.consortium
    receipt = consortium.admin("KZ").propose_membership(action, target)
    events = receipt_events(world.chain, consortium.deployment, receipt)
    consortium.admin("KR").vote(first_event(events, MembershipProposed).proposal_id)


def refusal(write: Callable[[], object]) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as refused:
        write()
    return refused.value


@pytest.mark.parametrize(
    "action", [MembershipAction.SUSPEND, MembershipAction.REMOVE], ids=lambda a: a.name.lower()
)
def test_qr_of_an_issuer_the_consortium_suspended_or_removed_is_not_recognized(
    chain_world: ChainWorld, scan: Scan, action: MembershipAction
) -> None:
    """Its own signature and certificate are genuine; the recognition stage refuses."""
    world = chain_world
    vote_on(world, action, "MN")

    verdict = scan(world.text)

    assert_refused(verdict, Outcome.NOT_RECOGNIZED, "recognition", "issuer_not_active")
    for stage in ("signature", "key_validity", "binding", "status"):
        assert verdict.stage(stage).state is StageState.OK, verdict.stage(stage)
    # Nor can it issue anything more, and its code stays its own.
    operator = world.consortium.operator("MN")
    args = ("MN-AEO-0003", TIER_S, 20_000, 21_000, b"\x01" * 32, b"\x02" * 32)
    assert refusal(lambda: operator.issue(*args)).name == "AuthorityNotActive"
    kz_refused = refusal(lambda: world.consortium.operator("KZ").issue(*args))
    assert kz_refused.name == "CertificateNumberOfAnotherMember"


def test_qr_dated_2001_under_a_key_registered_with_valid_from_1970_is_untrusted(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """validFrom = 1 once made such a QR pass; the chain now starts the key's validity at its
    registration block (docs/contracts.md, "Signing keys")."""
    world = chain_world
    backdated = keys.generate_private_key(KeyAlgorithm.ES256)
    receipt = world.consortium.admin("MN").register_signing_key(
        keys.public_key_bytes(backdated), KeyAlgorithm.ES256, 1
    )
    registered_at = int(world.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    key = world.online().signing_key(keys.key_id_of(backdated))
    assert key is not None
    assert key.valid_from == registered_at

    verdict = scan(encode(replace(now_claims(world), issued_at=IN_2001), backdated))

    assert_refused(verdict, Outcome.UNTRUSTED_KEY, "key_validity", "key_not_yet_valid")
    assert verdict.stage("signature").state is StageState.OK
    # Signed now, the same key is trusted: only the back-dating is refused.
    assert scan(encode(now_claims(world), backdated)).outcome is Outcome.RECOGNIZED


def test_another_members_number_is_refused_on_chain_and_a_qr_claiming_it_is_unknown(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """KZ once issued MN-AEO-0001 and the verdict said valid and recognized under KZ."""
    world = chain_world
    kz = world.consortium.operator("KZ")
    refused = refusal(lambda: kz.issue(NUMBER, TIER_S, 20_000, 21_000, b"\x01" * 32, b"\x02" * 32))
    assert (refused.name, refused.args["member"], refused.args["issuer"]) == (
        "CertificateNumberOfAnotherMember",
        ids.authority_code("MN"),
        ids.authority_code("KZ"),
    )
    kz_key = keys.generate_private_key(KeyAlgorithm.ES256)
    world.consortium.admin("KZ").register_signing_key(
        keys.public_key_bytes(kz_key), KeyAlgorithm.ES256
    )

    verdict = scan(encode(replace(now_claims(world), issuer="KZ"), kz_key))

    assert_refused(verdict, Outcome.UNKNOWN_CERTIFICATE, "binding", "unknown_certificate")
    assert verdict.claims is not None
    assert verdict.claims.certificate_id == ids.certificate_id("KZ", NUMBER)


def test_a_number_without_a_member_code_issued_by_two_members_verifies_as_each_ones(
    chain_world: ChainWorld, scan: Scan
) -> None:
    """Numbers that name no member may repeat across issuers: the id binds the issuer, so each
    QR verifies as its own issuer's certificate, with that issuer's recognition."""
    world = chain_world
    shared = "AEO-0001"
    mn_claims = issue(world.consortium, shared)
    kz_key = keys.generate_private_key(KeyAlgorithm.ES256)
    world.consortium.admin("KZ").register_signing_key(
        keys.public_key_bytes(kz_key), KeyAlgorithm.ES256
    )
    commitment = os.urandom(32)
    world.consortium.operator("KZ").issue(
        shared,
        TIER_S,
        mn_claims.valid_from,
        mn_claims.valid_until,
        mn_claims.holder_ref,
        commitment,
    )
    kz_claims = replace(
        mn_claims,
        issuer="KZ",
        issued_at=latest_timestamp(world.chain),
        digest=ids.record_digest(mn_claims.holder_ref, commitment),
    )

    mn_verdict = scan(world.sign(mn_claims))
    kz_verdict = scan(encode(kz_claims, kz_key))

    assert mn_verdict.outcome is Outcome.RECOGNIZED, mn_verdict.reasons
    assert kz_verdict.outcome is Outcome.NOT_RECOGNIZED, kz_verdict.reasons
    assert kz_verdict.reasons[0].code == "no_mra"  # KR has an MRA with MN, none with KZ
    for verdict, issuer in ((mn_verdict, "MN"), (kz_verdict, "KZ")):
        assert verdict.certificate is not None
        assert verdict.certificate.issuer == issuer
        assert verdict.certificate.certificate_id == ids.certificate_id(issuer, shared)
