"""Generate the AEO1 golden test vectors in tests/vectors/aeo1/ (python -m tests.vectors.generate).

Every vector is a JSON file with every layer of one QR payload (claims, CBOR, COSE,
compressed, base45, prefixed text), a QR PNG beside it, the fixed validation clock, the
registry state it is verified against, and the expected outcome, reason codes and stage
results. tests/verifier/test_vectors.py loads them; a test regenerates them and fails when
the committed files differ, so change this script and regenerate together.

The keys below are PUBLIC TEST VECTOR KEYS, derived from published labels like the EU DCC
test data's keys: anyone can sign with them. They exist only for these vectors; no
registry may ever publish them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
import segno
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from contracts.domain import ids
from contracts.domain.claims import NAME_MAX_BYTES, Claims, shorten_name
from contracts.domain.encoding import iso
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.state import AuthorityRecord, StatusChange
from tests.verifier.world import (
    ISSUED_AT,
    LONG_NAME,
    NOW,
    World,
    base_claims,
    build_world,
    day,
    key_record,
    record_for,
    standard_mra,
)
from verifier import keys
from verifier.payload import P256_ORDER, PREFIX, build, compress, low_s, sig_structure
from verifier.pipeline import verify
from verifier.verdict import Outcome

HERE = Path(__file__).parent
VECTOR_DIR = HERE / "aeo1"
TEST_KEY_NOTICE = "PUBLIC TEST VECTOR KEY: derived from a published label; never trust it"


def _test_scalar(label: str) -> bytes:
    return hashlib.sha256(f"aeo-registry {label} -- {TEST_KEY_NOTICE}".encode()).digest()


def public_vector_es256_key(label: str = "ES256 vector key") -> keys.PrivateKey:
    scalar = int.from_bytes(_test_scalar(label), "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def public_vector_eddsa_key(label: str = "EdDSA vector key") -> keys.PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(_test_scalar(label))


@dataclass
class Layers:
    claims: dict[str, object] | None = None
    cbor: bytes | None = None
    cose: bytes | None = None
    compressed: bytes | None = None
    base45: str | None = None
    text: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "claims": self.claims,
            "cbor_hex": self.cbor.hex() if self.cbor is not None else None,
            "cose_hex": self.cose.hex() if self.cose is not None else None,
            "compressed_hex": self.compressed.hex() if self.compressed is not None else None,
            "base45": self.base45,
            "text": self.text,
        }


def layers_of(claims: Claims, key: keys.PrivateKey) -> Layers:
    built = build(claims, key)
    return Layers(
        claims=built.claims.to_json_dict(),
        cbor=built.cbor,
        cose=built.cose,
        compressed=built.compressed,
        base45=built.base45,
        text=built.text,
    )


def wrap_cose(cose: bytes, cbor: bytes | None = None) -> Layers:
    compressed = compress(cose)
    text45 = base45.b45encode(compressed).decode()
    return Layers(cbor=cbor, cose=cose, compressed=compressed, base45=text45, text=PREFIX + text45)


def signed_payload(payload: bytes, key: keys.PrivateKey) -> bytes:
    """A COSE_Sign1 over arbitrary payload bytes (for vectors whose claims are broken)."""
    algorithm = keys.algorithm_of(key)
    protected = cbor2.dumps({1: algorithm.cose, 4: keys.key_id_of(key)}, canonical=True)
    signature = low_s(algorithm, keys.sign(key, sig_structure(protected, payload)))
    return bytes(cbor2.dumps([protected, {}, payload, signature], canonical=True))


@dataclass
class Scenario:
    name: str
    description: str
    outcome: Outcome
    reasons: list[str]
    layers: Callable[[World], Layers] = lambda w: layers_of(w.claims, w.es256)
    prepare: Callable[[World], None] = lambda w: None
    as_authority: str = "KR"
    clock: datetime = NOW
    max_age: timedelta = timedelta(hours=24)
    extra: dict[str, Any] = field(default_factory=dict)


def _status(world: World, status: CertificateStatus, reason: int, when: datetime) -> None:
    record = world.record()
    change = StatusChange(status, reason, int(when.timestamp()))
    world.set_record(replace(record, status=status, history=(*record.history, change)))


def _use_claims(world: World, claims: Claims) -> None:
    world.claims = claims
    world.set_record(record_for(claims))


def _tampered(world: World) -> Layers:
    built = build(world.claims, world.es256)
    forged = replace(built.claims, holder_name="Someone Else LLC")
    payload = cbor2.dumps(forged.to_cbor_map(), canonical=True)
    cose = cbor2.loads(built.cose)
    layers = wrap_cose(bytes(cbor2.dumps([cose[0], {}, payload, cose[3]], canonical=True)), payload)
    layers.claims = forged.to_json_dict()
    return layers


def _with_text(text: str) -> Callable[[World], Layers]:
    return lambda w: Layers(text=text)


def _not_zlib(world: World) -> Layers:
    compressed = b"\x1f\x8b" + build(world.claims, world.es256).cose[:40]  # gzip magic, no zlib
    text45 = base45.b45encode(compressed).decode()
    return Layers(compressed=compressed, base45=text45, text=PREFIX + text45)


def _cose_with_unprotected_kid(world: World) -> Layers:
    built = build(world.claims, world.es256)
    protected, _, payload, signature = cbor2.loads(built.cose)
    cose = cbor2.dumps([protected, {4: keys.key_id_of(world.es256)}, payload, signature])
    return wrap_cose(bytes(cose))


def _non_canonical_cbor(world: World) -> Layers:
    claims = world.claims.to_cbor_map()
    # The same map with its keys in descending order: valid CBOR, not deterministic CBOR.
    payload = b"\xab" + b"".join(
        cbor2.dumps(k) + cbor2.dumps(claims[k]) for k in sorted(claims, reverse=True)
    )
    return wrap_cose(signed_payload(payload, world.es256), payload)


def _missing_digest(world: World) -> Layers:
    claims = world.claims.to_cbor_map()
    del claims[11]
    payload = cbor2.dumps(claims, canonical=True)
    return wrap_cose(signed_payload(payload, world.es256), payload)


SCENARIOS: list[Scenario] = [
    Scenario(
        "recognized_es256",
        "Active MN certificate, ES256 key, KR recognizes MN's S tier under MRA 1.",
        Outcome.RECOGNIZED,
        ["recognized"],
    ),
    Scenario(
        "recognized_eddsa",
        "The same certificate signed with MN's EdDSA (Ed25519) key.",
        Outcome.RECOGNIZED,
        ["recognized"],
        layers=lambda w: layers_of(w.claims, w.eddsa),
    ),
    Scenario(
        "recognized_own_certificate",
        "MN verifies its own certificate: recognized without an MRA.",
        Outcome.RECOGNIZED,
        ["own_certificate"],
        as_authority="MN",
    ),
    Scenario(
        "recognized_long_name_truncated",
        "A long legal name: legal form abbreviated, cut with an ellipsis to fit QR version 10-M.",
        Outcome.RECOGNIZED,
        ["recognized"],
        prepare=lambda w: _use_claims(
            w, base_claims(holder_name=shorten_name(LONG_NAME, NAME_MAX_BYTES))
        ),
    ),
    Scenario(
        "recognized_renewed",
        "Renewed on chain until 2033; checked in 2031, after the QR's own valid-until.",
        Outcome.RECOGNIZED,
        ["recognized", "renewed"],
        prepare=lambda w: w.set_record(replace(w.record(), valid_until=day(date(2033, 2, 28)))),
        clock=datetime(2031, 1, 1, tzinfo=UTC),
        max_age=timedelta(days=3650),
    ),
    Scenario(
        "recognized_stale_cache",
        "Status data 3 days old with a 24-hour limit: still recognized, flagged stale.",
        Outcome.RECOGNIZED,
        ["recognized", "status_stale"],
        clock=NOW + timedelta(days=3),
    ),
    Scenario(
        "not_recognized_no_mra",
        "KZ has no MRA with MN.",
        Outcome.NOT_RECOGNIZED,
        ["no_mra"],
        as_authority="KZ",
    ),
    Scenario(
        "not_recognized_tier_not_covered",
        "A C-only certificate; the MRA recognizes MN's S tier only.",
        Outcome.NOT_RECOGNIZED,
        ["tier_not_covered"],
        prepare=lambda w: _use_claims(w, base_claims(tiers=1)),
    ),
    Scenario(
        "not_recognized_mra_suspended",
        "MRA 1 suspended.",
        Outcome.NOT_RECOGNIZED,
        ["mra_suspended"],
        prepare=lambda w: w.source.mras.__setitem__(0, standard_mra(status=MraState.SUSPENDED)),
    ),
    Scenario(
        "not_recognized_mra_not_yet_in_force",
        "MRA 1 in force only from 2025-07-01.",
        Outcome.NOT_RECOGNIZED,
        ["mra_not_yet_in_force"],
        prepare=lambda w: w.source.mras.__setitem__(
            0, standard_mra(effective_from=day(date(2025, 7, 1)))
        ),
    ),
    Scenario(
        "not_recognized_mra_terminated",
        "MRA 1 terminated.",
        Outcome.NOT_RECOGNIZED,
        ["mra_terminated"],
        prepare=lambda w: w.source.mras.__setitem__(0, standard_mra(status=MraState.TERMINATED)),
    ),
    Scenario(
        "not_recognized_issuer_suspended",
        "MN's consortium membership is suspended.",
        Outcome.NOT_RECOGNIZED,
        ["issuer_not_active"],
        prepare=lambda w: w.source.authorities.__setitem__(
            "MN", AuthorityRecord("MN", "Mongolian Customs", AuthorityStatus.SUSPENDED)
        ),
    ),
    Scenario(
        "suspended",
        "Suspended on 2025-05-10 for non-compliance.",
        Outcome.SUSPENDED,
        ["suspended"],
        prepare=lambda w: _status(
            w, CertificateStatus.SUSPENDED, 2, datetime(2025, 5, 10, 8, tzinfo=UTC)
        ),
    ),
    Scenario(
        "revoked",
        "Revoked on 2025-05-20 for fraud.",
        Outcome.REVOKED,
        ["revoked"],
        prepare=lambda w: _status(
            w, CertificateStatus.REVOKED, 5, datetime(2025, 5, 20, tzinfo=UTC)
        ),
    ),
    Scenario(
        "expired",
        "Checked on 2030-03-01, the day after valid-until.",
        Outcome.EXPIRED,
        ["expired"],
        clock=datetime(2030, 3, 1, tzinfo=UTC),
        max_age=timedelta(days=3650),
    ),
    Scenario(
        "not_yet_valid",
        "Valid from 2025-07-01, checked on 2025-06-01.",
        Outcome.NOT_YET_VALID,
        ["not_yet_valid"],
        prepare=lambda w: _use_claims(w, base_claims(valid_from=day(date(2025, 7, 1)))),
    ),
    Scenario(
        "superseded",
        "The certificate was amended to version 2; this QR shows version 1.",
        Outcome.SUPERSEDED,
        ["superseded"],
        prepare=lambda w: w.set_record(replace(w.record(), version=2, digest=bytes(20))),
    ),
    Scenario(
        "unknown_certificate",
        "The registry has no certificate with this id.",
        Outcome.UNKNOWN_CERTIFICATE,
        ["unknown_certificate"],
        prepare=lambda w: w.source.certificates.clear(),
    ),
    Scenario(
        "untrusted_key_unknown",
        "Signed by a key no authority published.",
        Outcome.UNTRUSTED_KEY,
        ["unknown_key"],
        layers=lambda w: layers_of(w.claims, public_vector_es256_key("unpublished key")),
    ),
    Scenario(
        "untrusted_key_revoked",
        "MN revoked its ES256 key one minute before the signing time.",
        Outcome.UNTRUSTED_KEY,
        ["key_revoked"],
        prepare=lambda w: w.add_key(
            key_record(w.es256, revoked_at=int(ISSUED_AT.timestamp()) - 60)
        ),
    ),
    Scenario(
        "untrusted_key_not_yet_valid",
        "The key became valid one second after the signing time.",
        Outcome.UNTRUSTED_KEY,
        ["key_not_yet_valid"],
        prepare=lambda w: w.add_key(key_record(w.es256, valid_from=int(ISSUED_AT.timestamp()) + 1)),
    ),
    Scenario(
        "untrusted_key_other_authority",
        "The signing key belongs to KZ, the certificate to MN.",
        Outcome.UNTRUSTED_KEY,
        ["key_wrong_authority"],
        prepare=lambda w: w.add_key(key_record(w.es256, authority="KZ")),
    ),
    Scenario(
        "bad_signature_tampered_name",
        "The holder name was changed after signing.",
        Outcome.BAD_SIGNATURE,
        ["bad_signature"],
        layers=_tampered,
    ),
    Scenario(
        "bad_signature_algorithm_mismatch",
        "Header says EdDSA; the registry publishes that key id as ES256.",
        Outcome.BAD_SIGNATURE,
        ["algorithm_mismatch"],
        layers=lambda w: layers_of(w.claims, w.eddsa),
        prepare=lambda w: w.add_key(key_record(w.eddsa, algorithm=KeyAlgorithm.ES256)),
    ),
    Scenario(
        "commitment_mismatch_digest",
        "Same version, but the registry's record digest differs from the QR's.",
        Outcome.COMMITMENT_MISMATCH,
        ["commitment_mismatch"],
        prepare=lambda w: w.set_record(replace(w.record(), digest=b"\x11" * 20)),
    ),
    Scenario(
        "commitment_mismatch_holder",
        "The registry's holder reference is not the QR's holder identification.",
        Outcome.COMMITMENT_MISMATCH,
        ["commitment_mismatch"],
        prepare=lambda w: w.set_record(
            replace(w.record(), holder_ref=ids.holder_ref("TIN", "MN0000000000"))
        ),
    ),
    Scenario(
        "malformed_prefix",
        "A QR code of another scheme (EU DCC prefix).",
        Outcome.MALFORMED,
        ["bad_prefix"],
        layers=_with_text(
            "HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4"
        ),
    ),
    Scenario(
        "malformed_unsupported_version",
        "A future format version this verifier does not read.",
        Outcome.MALFORMED,
        ["unsupported_version"],
        layers=lambda w: Layers(text="AEO2:" + layers_of(w.claims, w.es256).text[5:]),
    ),
    Scenario(
        "malformed_base45",
        "Lower-case letters are not base45 (a scanner that lower-cased the text).",
        Outcome.MALFORMED,
        ["bad_base45"],
        layers=lambda w: Layers(text=PREFIX + layers_of(w.claims, w.es256).text[5:].lower()),
    ),
    Scenario(
        "malformed_not_zlib",
        "The compressed layer is not zlib.",
        Outcome.MALFORMED,
        ["bad_compression"],
        layers=_not_zlib,
    ),
    Scenario(
        "malformed_cose_unprotected_kid",
        "kid in the unprotected header: AEO1 requires alg and kid protected.",
        Outcome.MALFORMED,
        ["bad_cose"],
        layers=_cose_with_unprotected_kid,
    ),
    Scenario(
        "malformed_cbor_not_deterministic",
        "Signed claims whose map keys are not in deterministic order.",
        Outcome.MALFORMED,
        ["bad_cbor"],
        layers=_non_canonical_cbor,
    ),
    Scenario(
        "malformed_claims_missing_digest",
        "Signed claims without the record digest (key 11).",
        Outcome.MALFORMED,
        ["bad_claims"],
        layers=_missing_digest,
    ),
    Scenario(
        "check_unavailable_source_down",
        "The status source cannot answer at all.",
        Outcome.CHECK_UNAVAILABLE,
        ["signature_unavailable"],
        prepare=lambda w: setattr(w.source, "unavailable", frozenset({"info"})),
    ),
    Scenario(
        "check_unavailable_recognition",
        "Everything checks out but the recognition question cannot be answered.",
        Outcome.CHECK_UNAVAILABLE,
        ["recognition_unavailable"],
        prepare=lambda w: setattr(w.source, "unavailable", frozenset({"recognition"})),
    ),
    Scenario(
        "check_unavailable_cache_predates_certificate",
        "The offline cache was synced before this certificate was signed and does not hold it.",
        Outcome.CHECK_UNAVAILABLE,
        ["binding_unavailable"],
        prepare=lambda w: (
            w.source.certificates.clear(),
            setattr(
                w.source,
                "source_info",
                replace(w.source.source_info, as_of=ISSUED_AT - timedelta(days=1)),
            ),
        ),
        max_age=timedelta(days=3650),
    ),
]


def generate_vector(scenario: Scenario) -> tuple[dict[str, object], bytes]:
    world = build_world(public_vector_es256_key(), public_vector_eddsa_key())
    scenario.prepare(world)
    layers = scenario.layers(world)
    verdict = verify(
        layers.text,
        as_authority=scenario.as_authority,
        clock=scenario.clock,
        source=world.source,
        max_age=scenario.max_age,
    )
    found = [r.code for r in verdict.reasons]
    if verdict.outcome is not scenario.outcome or found != scenario.reasons:
        raise SystemExit(
            f"{scenario.name}: expected {scenario.outcome.value} {scenario.reasons}, "
            f"the verifier says {verdict.outcome.value} {found}"
        )
    vector = {
        "format": "AEO1",
        "name": scenario.name,
        "description": scenario.description,
        "keys": TEST_KEY_NOTICE,
        "layers": layers.to_json(),
        "qr_png": f"{scenario.name}.png",
        "validation_clock": iso(scenario.clock),
        "as_authority": scenario.as_authority,
        "max_age_seconds": int(scenario.max_age.total_seconds()),
        "status_source": world.source.to_json_dict(),
        "expected": {
            "outcome": verdict.outcome.value,
            "reasons": found,
            "stale": verdict.stale,
            "stages": {s.stage: s.state.value for s in verdict.stages},
        },
    }
    return vector, qr_png(layers.text)


def qr_png(text: str) -> bytes:
    from io import BytesIO

    out = BytesIO()
    alphanumeric = set(text) <= set(base45.BASE45_CHARSET)
    segno.make(text, error="m", mode="alphanumeric" if alphanumeric else None, micro=False).save(
        out, kind="png", scale=4, border=4
    )
    return out.getvalue()


def vector_json(vector: dict[str, object]) -> str:
    return json.dumps(vector, indent=2, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        stale.unlink()
    for stale in directory.glob("*.png"):
        stale.unlink()
    for scenario in SCENARIOS:
        vector, png = generate_vector(scenario)
        (directory / f"{scenario.name}.json").write_text(vector_json(vector), encoding="utf-8")
        (directory / f"{scenario.name}.png").write_bytes(png)
    return len(SCENARIOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=VECTOR_DIR, help=f"directory to write (default: {VECTOR_DIR})"
    )
    args = parser.parse_args()
    count = write_all(args.out)
    print(f"wrote {count} vectors to {args.out}")


if __name__ == "__main__":
    main()
