"""The AEO1 golden vectors in tests/vectors/aeo1: every layer consistent, the QR image decoding
to the text, and the verifier giving the recorded outcome, reasons and stage results.

The count is exact: a vector added without updating ``EXPECTED_VECTORS``, or a folder that
silently became empty, fails here rather than running fewer checks.
"""

from __future__ import annotations

import json
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from PIL import Image

from contracts.domain.claims import Claims
from contracts.domain.encoding import parse_iso
from tests.vectors.generate import VECTOR_DIR, qr_png, vector_json, write_all
from verifier.image import read_qr_texts
from verifier.payload import PREFIX
from verifier.pipeline import STAGES, verify
from verifier.source import MemorySource
from verifier.verdict import Outcome

EXPECTED_VECTORS = 36
VECTOR_FILES = sorted(VECTOR_DIR.glob("*.json"))
REQUIRED = {
    "format",
    "name",
    "description",
    "layers",
    "qr_png",
    "validation_clock",
    "as_authority",
    "max_age_seconds",
    "status_source",
    "expected",
}


def load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    missing = REQUIRED - set(vector)
    assert not missing, f"{path.name}: missing {sorted(missing)}"
    assert vector["format"] == "AEO1"
    assert vector["name"] == path.stem
    return vector


def check_layers(layers: dict[str, Any]) -> None:
    """Each layer present must be exactly the encoding of the next one present."""
    text, text45 = layers["text"], layers["base45"]
    compressed, cose, cbor = (
        bytes.fromhex(layers[k]) if layers[k] is not None else None
        for k in ("compressed_hex", "cose_hex", "cbor_hex")
    )
    if text45 is not None:
        assert text == PREFIX + text45, "text is not the prefix + base45 layer"
        if compressed is not None:
            assert base45.b45decode(text45) == compressed, (
                "base45 layer does not decode to compressed"
            )
    if compressed is not None and cose is not None:
        assert zlib.decompress(compressed) == cose, "compressed layer does not inflate to COSE"
    if cose is not None and cbor is not None:
        assert cbor2.loads(cose)[2] == cbor, "COSE payload is not the CBOR layer"
    if cbor is not None and layers["claims"] is not None:
        decoded = Claims.from_cbor_map(cbor2.loads(cbor))
        assert decoded.to_json_dict() == layers["claims"], "CBOR layer is not the claims"


def check_vector(path: Path) -> None:
    vector = load(path)
    check_layers(vector["layers"])
    text = vector["layers"]["text"]

    png = path.with_name(vector["qr_png"])
    assert read_qr_texts(Image.open(png)) == [text], "QR image does not hold the text"

    expected = vector["expected"]
    assert Outcome(expected["outcome"])
    assert list(expected["stages"]) == list(STAGES)
    source = MemorySource.from_json_dict(vector["status_source"])
    for data in (text, png):
        verdict = verify(
            data,
            as_authority=vector["as_authority"],
            clock=parse_iso(vector["validation_clock"]),
            source=source,
            max_age=timedelta(seconds=vector["max_age_seconds"]),
        )
        assert verdict.outcome.value == expected["outcome"], (
            f"{path.name} from {type(data).__name__}"
        )
        assert [r.code for r in verdict.reasons] == expected["reasons"]
        assert {s.stage: s.state.value for s in verdict.stages} == expected["stages"]
        assert verdict.stale == expected["stale"]


def test_exactly_the_expected_number_of_vectors_exist() -> None:
    assert len(VECTOR_FILES) == EXPECTED_VECTORS
    assert len(list(VECTOR_DIR.glob("*.png"))) == EXPECTED_VECTORS


def test_every_failure_outcome_has_a_vector() -> None:
    outcomes = {load(path)["expected"]["outcome"] for path in VECTOR_FILES}
    assert outcomes == {o.value for o in Outcome}


def test_every_malformed_stage_has_a_vector() -> None:
    failed = {
        stage
        for path in VECTOR_FILES
        for stage, state in load(path)["expected"]["stages"].items()
        if state == "failed" and load(path)["expected"]["outcome"] == "malformed"
    }
    assert failed == {"prefix", "base45", "decompress", "cose", "cbor", "claims"}


def test_every_vector_passes_and_exactly_all_of_them_ran() -> None:
    ran, failures = 0, []
    for path in VECTOR_FILES:
        try:
            check_vector(path)
        except (AssertionError, ValueError, KeyError) as exc:
            failures.append(f"{path.name}: {type(exc).__name__}: {exc}")
        ran += 1
    assert not failures, "\n".join(failures)
    assert ran == EXPECTED_VECTORS


def test_a_broken_layer_fails_the_loader(tmp_path: Path) -> None:
    vector = load(VECTOR_DIR / "recognized_es256.json")
    compressed = bytearray.fromhex(vector["layers"]["compressed_hex"])
    compressed[-1] ^= 1
    vector["layers"]["compressed_hex"] = compressed.hex()
    with pytest.raises(AssertionError, match="base45 layer does not decode"):
        check_layers(vector["layers"])


def test_a_wrong_expectation_fails_the_loader(tmp_path: Path) -> None:
    vector = load(VECTOR_DIR / "revoked.json")
    vector["expected"]["outcome"] = "recognized"
    broken = tmp_path / "revoked.json"
    broken.write_text(json.dumps(vector))
    (tmp_path / "revoked.png").write_bytes((VECTOR_DIR / "revoked.png").read_bytes())
    with pytest.raises(AssertionError, match=r"revoked\.json"):
        check_vector(broken)


def test_generator_reproduces_the_committed_vectors(tmp_path: Path) -> None:
    assert write_all(tmp_path) == EXPECTED_VECTORS
    for path in VECTOR_FILES:
        fresh = tmp_path / path.name
        assert fresh.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), path.name
        png = path.with_suffix(".png")
        assert (tmp_path / png.name).read_bytes() == png.read_bytes(), png.name


def test_vector_json_is_stable_text() -> None:
    vector = load(VECTOR_FILES[0])
    assert vector_json(vector) == VECTOR_FILES[0].read_text(encoding="utf-8")
    assert qr_png(vector["layers"]["text"]) == VECTOR_FILES[0].with_suffix(".png").read_bytes()
