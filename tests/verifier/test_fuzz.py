"""Hypothesis fuzzing of the pipeline: random and mutated text, bytes, inner layers and images
never make ``verify`` raise, never pass unchecked, and every refusal names its stage.

About 300 examples in all, so the suite stays quick; set AEO_FUZZ_EXAMPLES (examples per
test, default 40) to dig deeper locally.
"""

from __future__ import annotations

import io
import os
import zlib

import base45
import cbor2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from tests.verifier.world import NOW, build_world
from verifier import keys
from verifier.payload import PREFIX, build, sig_structure
from verifier.pipeline import STAGES, verify
from verifier.verdict import Outcome, StageState, Verdict, outcome_of_reason

# Slow, so not in `make test-fast` (`make test` runs it): fuzzing.
pytestmark = pytest.mark.slow

WORLD = build_world()
VALID = build(WORLD.claims, WORLD.es256)
DECODING_STAGES = STAGES[: STAGES.index("claims") + 1]
FUZZ = settings(
    max_examples=int(os.environ.get("AEO_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def check(data: object) -> Verdict:
    verdict = verify(data, as_authority="KR", clock=NOW, source=WORLD.source)  # type: ignore[arg-type]
    assert isinstance(verdict, Verdict)
    for reason in verdict.reasons:
        # An exception no stage anticipated is reported, but it means a parser bug.
        assert not reason.message.startswith("unexpected error"), reason
    not_ok = [s for s in verdict.stages if s.state in (StageState.FAILED, StageState.UNAVAILABLE)]
    if verdict.outcome in (Outcome.RECOGNIZED, Outcome.NOT_RECOGNIZED):
        assert all(s.state is StageState.OK for s in verdict.stages if s.stage != "recognition")
        return verdict
    assert not_ok, "a refusal must name the stage that refused"
    if verdict.outcome is Outcome.MALFORMED:
        assert len(not_ok) == 1
        assert not_ok[0].stage in DECODING_STAGES
        assert not_ok[0].code == verdict.reasons[0].code
    assert outcome_of_reason(verdict.reasons[0].code) is verdict.outcome
    return verdict


def wrap(compressed: bytes) -> str:
    return PREFIX + base45.b45encode(compressed).decode()


@FUZZ
@given(st.text(max_size=400))
def test_random_text_never_raises(text: str) -> None:
    check(text)


@FUZZ
@given(st.text(alphabet=base45.BASE45_CHARSET, max_size=400))
def test_random_base45_after_the_prefix_never_raises(text: str) -> None:
    assert check(PREFIX + text).outcome is Outcome.MALFORMED


@FUZZ
@given(st.data())
def test_mutated_valid_text_never_raises(data: st.DataObject) -> None:
    chars = list(VALID.text)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        char = data.draw(st.sampled_from(base45.BASE45_CHARSET))
        if action == "replace":
            chars[i] = char
        elif action == "delete" and len(chars) > 1:
            del chars[i]
        else:
            chars.insert(i, char)
    text = "".join(chars)
    verdict = check(text)
    # Base45's alphabet includes the space, and surrounding whitespace is not part of a
    # payload (scanners add it): a mutation that only pads the text is the same payload.
    if text.strip() != VALID.text:
        assert verdict.outcome is not Outcome.RECOGNIZED


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    check(data)


@FUZZ
@given(st.data())
def test_mutated_cose_bytes_never_raise_and_never_pass(data: st.DataObject) -> None:
    cose = bytearray(VALID.cose)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(cose) - 1))
        cose[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(cose)))
    mutated = bytes(cose[:cut])
    verdict = check(wrap(zlib.compress(mutated)))
    if mutated != VALID.cose:
        assert verdict.outcome is not Outcome.RECOGNIZED


cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.floats(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.integers(0, 20), children, max_size=4)
    ),
    max_leaves=10,
)


@FUZZ
@given(st.dictionaries(st.integers(-2, 14), cbor_values, max_size=12))
def test_signed_random_claims_never_raise(claims: dict[int, object]) -> None:
    """Properly signed payloads with arbitrary claim maps reach the claims stage and beyond."""
    payload = cbor2.dumps(claims, canonical=True)
    protected = VALID.protected
    signature = keys.sign(WORLD.es256, sig_structure(protected, payload))
    cose = cbor2.dumps([protected, {}, payload, signature], canonical=True)
    check(wrap(zlib.compress(cose)))


@FUZZ
@given(st.integers(1, 120), st.integers(1, 120), st.binary(min_size=1, max_size=256))
def test_random_images_never_raise(width: int, height: int, pattern: bytes) -> None:
    pixels = (pattern * (width * height // len(pattern) + 1))[: width * height]
    image = Image.frombytes("L", (width, height), pixels)
    verdict = check(image)
    assert verdict.outcome is Outcome.MALFORMED


@FUZZ
@given(st.binary(max_size=300))
def test_corrupt_image_files_never_raise(tail: bytes) -> None:
    png = io.BytesIO()
    Image.new("L", (8, 8)).save(png, "PNG")
    verdict = check(png.getvalue()[:30] + tail)
    assert verdict.stage("input").state is StageState.FAILED
