"""Payload fuzzing: hostile QR input through :func:`verifier.verify`, with every verdict checked.

Run the long fuzz with::

    .venv/bin/python -m tests.security.fuzz_payloads --count 100000 [--seed N] [--json FILE]

Inputs come from two engines, both starting from genuine AEO1 payloads (ES256 and EdDSA,
short and shortened names) that the in-memory registry of ``tests/verifier/world.py`` knows:

- **mutation** (a seeded ``random.Random``): bit flips, truncations, insertions, deletions,
  duplications and case changes over real payload text; random base45; and hostile bytes
  placed *inside* valid outer layers so the deeper stages are reached: mutated or random
  zlib streams (and zip bombs), mutated or random COSE structures, hand-made CBOR headers
  with absurd lengths, random claim maps and mutated claim bytes signed with the registered
  keys, mutated protected headers, flipped signatures; damaged QR images (noise, crops,
  rotation, shrinking, JPEG, corrupted and truncated image files) and files on disk;
- **Hypothesis**: random text and bytes, base45 after the prefix, edit scripts over real
  text, random COSE arrays and signed random or near-valid claim maps.

Every verdict must satisfy :func:`problems_of`: ``verify`` returned (nothing escaped), no
stage hit an exception it did not anticipate, every refusal names the stage that refused
with a code, a malformed input fails exactly one decoding stage, a positive verdict has
every check completed, and nothing we did not sign is recognized. The run prints the number
of inputs, the rate, and the counts per outcome, per refusing stage and code, per deepest
stage reached and per input family; any problem is printed with its input and makes the
command exit 1.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Final

import base45
import cbor2
import segno
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from PIL import Image, ImageDraw, ImageFilter

from contracts.domain.claims import NAME_MAX_BYTES, Claims, shorten_name
from contracts.domain.enums import CertificateStatus, ReasonCode
from contracts.domain.state import StatusChange
from tests.security.forge import cose_array, wrap_compressed, wrap_cose
from tests.verifier.world import (
    ISSUED_AT,
    LONG_NAME,
    NOW,
    World,
    base_claims,
    build_world,
    day,
    record_for,
)
from verifier import keys
from verifier.image import looks_like_image
from verifier.payload import (
    MAX_DECOMPRESSED_BYTES,
    MAX_INPUT_CHARS,
    PREFIX,
    EncodedPayload,
    build,
    decode,
    sig_structure,
)
from verifier.pipeline import STAGES, InputData, verify
from verifier.verdict import Outcome, StageState, Verdict, outcome_of_reason

DECODING_STAGES: Final = STAGES[: STAGES.index("claims") + 1]
POSITIVE: Final = (Outcome.RECOGNIZED, Outcome.NOT_RECOGNIZED)
# Reason codes that mean the verifier caught its own failure rather than a refusal.
INTERNAL_FAILURES: Final = frozenset({"verifier_unavailable", "clock_unavailable"})
BASE45_ALPHABET: Final = base45.BASE45_CHARSET
CYRILLIC_NAME: Final = "Хязгаарлагдмал хариуцлагатай компани Говь Транс Логистик"
_IMAGE_MAGIC: Final = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
)


# ---------------------------------------------------------------- seeds


@dataclass(frozen=True)
class FuzzInput:
    family: str
    data: InputData
    signed: bool = False
    """Carries a signature this fuzzer made with a registered key: may rightly verify."""
    expected: Outcome | None = None
    """The outcome a genuine payload must get."""


@dataclass
class Seeds:
    """Genuine payloads the registry knows, the keys that signed them, and their QR images."""

    world: World
    payloads: tuple[EncodedPayload, ...]
    expected: tuple[Outcome, ...]
    """The outcome each genuine payload gets: the oracle's baseline."""
    images: tuple[Image.Image, ...]
    workdir: Path

    @property
    def signing_keys(self) -> tuple[keys.PrivateKey, ...]:
        return (self.world.es256, self.world.eddsa)

    @property
    def genuine(self) -> frozenset[tuple[bytes, bytes, bytes]]:
        return frozenset(_cose_parts(p) for p in self.payloads)


def _cose_parts(payload: EncodedPayload) -> tuple[bytes, bytes, bytes]:
    cose = cbor2.loads(payload.cose)
    return bytes(cose[0]), bytes(cose[2]), bytes(cose[3])


def make_seeds(workdir: Path) -> Seeds:
    """Genuine payloads for certificates in every registry state the checks tell apart, so
    mutations of them reach the status, dates and recognition stages too."""
    world = build_world()
    active, suspended = CertificateStatus.ACTIVE, CertificateStatus.SUSPENDED
    issued = int(ISSUED_AT.timestamp())
    history = (StatusChange(active, 0, issued),)
    later = issued + 86_400
    cases: list[tuple[Claims, dict[str, Any], Outcome]] = [
        (world.claims, {}, Outcome.RECOGNIZED),
        (_claims("000732", holder_name=LONG_NAME), {}, Outcome.RECOGNIZED),
        (_claims("000733", holder_name=CYRILLIC_NAME, tiers=1), {}, Outcome.NOT_RECOGNIZED),
        (
            _claims("000734"),
            {
                "status": suspended,
                "history": (*history, StatusChange(suspended, int(ReasonCode.FAILED_AUDIT), later)),
            },
            Outcome.SUSPENDED,
        ),
        (
            _claims("000735"),
            {
                "status": CertificateStatus.REVOKED,
                "history": (
                    *history,
                    StatusChange(CertificateStatus.REVOKED, int(ReasonCode.FRAUD), later),
                ),
            },
            Outcome.REVOKED,
        ),
        (
            _claims("000736", valid_from=day(date(2024, 1, 1)), valid_until=day(date(2025, 5, 1))),
            {},
            Outcome.EXPIRED,
        ),
        (_claims("000737", valid_from=day(date(2025, 7, 1))), {}, Outcome.NOT_YET_VALID),
        (_claims("000738"), {"version": 2}, Outcome.SUPERSEDED),
    ]
    payloads = []
    expected = []
    for index, (claims, record_changes, outcome) in enumerate(cases):
        for key in (world.es256, world.eddsa)[:: 1 if index % 2 == 0 else -1]:
            encoded = build(claims, key)
            world.set_record(record_for(encoded.claims, **record_changes))
            payloads.append(encoded)
            expected.append(outcome)
    images = tuple(qr_image(p.text) for p in payloads[:2])
    return Seeds(
        world=world,
        payloads=tuple(payloads),
        expected=tuple(expected),
        images=images,
        workdir=workdir,
    )


def _claims(serial: str, **changes: Any) -> Claims:
    name = changes.pop("holder_name", None)
    if name is not None:
        changes["holder_name"] = shorten_name(name, NAME_MAX_BYTES)
    return base_claims(number=f"MN-AEO-2025-{serial}", **changes)


def qr_image(text: str, scale: int = 4) -> Image.Image:
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("L")


# ---------------------------------------------------------------- the oracle


def check(seeds: Seeds, item: FuzzInput) -> tuple[Verdict | None, list[str]]:
    """Verifies one input; the verdict and everything wrong with it (empty: all good)."""
    try:
        verdict = verify(item.data, as_authority="KR", clock=NOW, source=seeds.world.source)
    except BaseException as exc:  # the one thing verify promises never to do
        return None, [f"verify raised {type(exc).__name__}: {exc}"]
    return verdict, problems_of(seeds, item, verdict)


def problems_of(seeds: Seeds, item: FuzzInput, verdict: Verdict) -> list[str]:
    if not isinstance(verdict, Verdict):
        return [f"verify returned a {type(verdict).__name__}"]
    found = []
    if item.expected is not None and verdict.outcome is not item.expected:
        found.append(f"a genuine payload got {verdict.outcome.value}, not {item.expected.value}")
    for reason in verdict.reasons:
        if reason.code in INTERNAL_FAILURES or reason.message.startswith("unexpected error"):
            found.append(f"an exception reached the pipeline: {reason.code}: {reason.message}")
    stopped = [s for s in verdict.stages if s.state in (StageState.FAILED, StageState.UNAVAILABLE)]
    if verdict.outcome in POSITIVE:
        incomplete = [
            s.stage
            for s in verdict.stages
            if s.state is not StageState.OK
            and not (verdict.outcome is Outcome.NOT_RECOGNIZED and s.stage == "recognition")
        ]
        if incomplete:
            found.append(f"{verdict.outcome.value} with unfinished stages {incomplete}")
        if verdict.outcome is Outcome.RECOGNIZED and not item.signed and not _genuine(seeds, item):
            found.append("recognized an input nobody signed")
        return found
    if deciding_stage(verdict) is None:
        found.append(f"{verdict.outcome.value}: no failed stage names the refusal")
    if outcome_of_reason(verdict.reasons[0].code) is not verdict.outcome:
        found.append(f"the first reason {verdict.reasons[0].code} is not the outcome's")
    if verdict.outcome is Outcome.MALFORMED:
        if len(stopped) != 1 or stopped[0].stage not in DECODING_STAGES:
            found.append(f"malformed, but the failed stages are {[s.stage for s in stopped]}")
        elif any(
            s.state is not StageState.SKIPPED
            for s in verdict.stages[STAGES.index(stopped[0].stage) + 1 :]
        ):
            found.append("stages after a failed decoding stage ran")
    return found


def deciding_stage(verdict: Verdict) -> tuple[str, str] | None:
    """The (stage, code) that decided a refusal: the first stopped stage whose code points to
    the outcome."""
    for stage in verdict.stages:
        if (
            stage.state in (StageState.FAILED, StageState.UNAVAILABLE)
            and stage.code is not None
            and outcome_of_reason(stage.code) is verdict.outcome
        ):
            return stage.stage, stage.code
    return None


def deepest_stage(verdict: Verdict) -> str:
    ran = [s.stage for s in verdict.stages if s.state is not StageState.SKIPPED]
    return ran[-1] if ran else "none"


def _genuine(seeds: Seeds, item: FuzzInput) -> bool:
    """A recognized text must carry one of the genuine signed triples (an image of a genuine
    QR, or a text whose outer layers were re-encoded without changing what was signed)."""
    if isinstance(item.data, Image.Image):
        return True  # every image is made from a genuine payload's QR
    data = item.data
    if isinstance(data, os.PathLike):
        data = Path(data).read_bytes()
    if isinstance(data, bytes | bytearray):
        if looks_like_image(bytes(data)):
            return True  # a file of a genuine QR's image, damaged but still readable
        data = bytes(data).decode("utf-8", "replace")
    try:
        cose = decode(str(data)).cose
    except ValueError:
        return False
    return (cose.protected, cose.payload, cose.signature) in seeds.genuine


# ---------------------------------------------------------------- tally


@dataclass
class Tally:
    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    deepest: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str, list[str]]] = field(default_factory=list)
    generator_errors: Counter[str] = field(default_factory=Counter)
    """The fuzzer's own failures to build an input (bugs here, not in the verifier)."""

    def record(self, seeds: Seeds, item: FuzzInput) -> None:
        verdict, problems = check(seeds, item)
        self.inputs += 1
        self.families[item.family] += 1
        if verdict is not None:
            self.outcomes[verdict.outcome.value] += 1
            self.deepest[deepest_stage(verdict)] += 1
            decided = deciding_stage(verdict)
            if decided is not None and verdict.outcome not in POSITIVE:
                self.refusals[f"{decided[0]}: {decided[1]}"] += 1
        if problems:
            self.problems.append((item.family, _shown(item.data), problems))

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "seconds": round(self.seconds, 1),
            "inputs_per_second": round(self.rate),
            "uncaught_exceptions_and_problems": len(self.problems),
            "fuzzer_generator_errors": sum(self.generator_errors.values()),
            "outcomes": dict(self.outcomes.most_common()),
            "refusals_by_stage_and_code": dict(self.refusals.most_common()),
            "deepest_stage_reached": {s: self.deepest[s] for s in STAGES if s in self.deepest},
            "families": dict(self.families.most_common()),
        }

    def report(self) -> str:
        lines = [
            f"inputs: {self.inputs}   seconds: {self.seconds:.1f}   "
            f"rate: {self.rate:.0f} inputs/s   problems: {len(self.problems)}",
        ]
        if self.generator_errors:
            lines.append("\nfuzzer's own errors (inputs it failed to build, retried):")
            lines.extend(f"  {n:>8}  {e}" for e, n in self.generator_errors.most_common(10))
        for title, counts in (
            ("outcome", self.outcomes.most_common()),
            ("refusing stage: code", self.refusals.most_common()),
            ("deepest stage reached", [(s, self.deepest[s]) for s in STAGES if s in self.deepest]),
            ("input family", self.families.most_common()),
        ):
            lines.append(f"\n{title}:")
            lines.extend(f"  {count:>8}  {name}" for name, count in counts)
        for family, shown, problems in self.problems[:20]:
            lines.append(f"\nPROBLEM ({family}) input {shown}:")
            lines.extend(f"  {p}" for p in problems)
        return "\n".join(lines)


def _shown(data: object) -> str:
    if isinstance(data, Image.Image):
        return f"<image {data.mode} {data.size}>"
    text = repr(data)
    return text if len(text) <= 400 else text[:400] + f"... ({len(text)} chars)"


# ---------------------------------------------------------------- mutation engine


def _flip_bits(data: bytes, rng: random.Random, most: int = 8) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, most)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One to six edits: bit flip, byte set, delete, insert, duplicate, truncate, append."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            out[min(at, len(out) - 1)] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif op == 2 and out:
            del out[at : at + rng.randint(1, 8)]
        elif op == 3:
            out[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 4 and out:
            start = rng.randrange(len(out))
            out[at:at] = out[start : start + rng.randint(1, 16)]
        elif op == 5:
            del out[at:]
        else:
            out += rng.randbytes(rng.randint(1, 16))
    return bytes(out)


_ODD_CHARS = "\x00\n\r\t \u00a0\u200b\u202e\ufeff\ud800é€𝔄aAz:$%*+-./AEO1"


def _mutate_text(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        at = rng.randrange(len(chars) + 1)
        pick = rng.choice(BASE45_ALPHABET) if rng.random() < 0.7 else rng.choice(_ODD_CHARS)
        if op == 0 and chars:
            chars[min(at, len(chars) - 1)] = pick
        elif op == 1 and chars:
            del chars[at : at + rng.randint(1, 4)]
        elif op == 2:
            chars[at:at] = [pick] * rng.randint(1, 3)
        elif op == 3:
            del chars[at:]
        elif op == 4 and chars:
            start = rng.randrange(len(chars))
            chars[at:at] = chars[start : start + rng.randint(1, 30)]
        else:
            end = min(len(chars), at + rng.randint(1, 20))
            chars[at:end] = "".join(chars[at:end]).lower()
    return "".join(chars)


def gen_text_mutation(seeds: Seeds, rng: random.Random) -> FuzzInput:
    return FuzzInput("text: edits", _mutate_text(rng.choice(seeds.payloads).text, rng))


def gen_text_bit_flips(seeds: Seeds, rng: random.Random) -> FuzzInput:
    raw = _flip_bits(rng.choice(seeds.payloads).text.encode(), rng)
    if rng.random() < 0.5:
        return FuzzInput("text: bit flips (bytes)", raw)
    return FuzzInput("text: bit flips", raw.decode("latin-1"))


def gen_text_truncation(seeds: Seeds, rng: random.Random) -> FuzzInput:
    text = rng.choice(seeds.payloads).text
    cut = rng.randrange(len(text) + 1)
    return FuzzInput("text: truncated", text[:cut] if rng.random() < 0.8 else text[cut:])


def gen_text_framing(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """Prefix and surrounding variations: other versions, case, whitespace, repetition."""
    text = rng.choice(seeds.payloads).text
    body = text[len(PREFIX) :]
    choice = rng.randrange(8)
    if choice == 0:
        text = f"AEO{rng.choice((0, 2, 10, 10**30))}:" + body
    elif choice == 1:
        text = rng.choice(("aeo1:", "AEO1", "AEO:", "AE01:", " AEO1 :", "AEO1::")) + body
    elif choice == 2:
        text = rng.choice(("", " ", "\n", "\t", "\ufeff")) + text + rng.choice(("\n", "\r\n", " "))
    elif choice == 3:
        text = text + text[len(PREFIX) :]
    elif choice == 4:
        text = text * rng.randint(2, 20)
    elif choice == 5:
        text = text + rng.choice(BASE45_ALPHABET) * rng.randint(1, 3)
    elif choice == 6:
        text = PREFIX + body[:MAX_INPUT_CHARS] + "0" * rng.randint(0, 5000)
    else:
        text = text.replace(" ", rng.choice(("", "  ", "+")))
    return FuzzInput("text: framing", text)


def gen_random_base45(seeds: Seeds, rng: random.Random) -> FuzzInput:
    length = rng.choice((0, 1, 2, 3, rng.randrange(600), rng.randrange(3, 600, 3)))
    return FuzzInput("base45: random", PREFIX + "".join(rng.choices(BASE45_ALPHABET, k=length)))


def gen_random_text(seeds: Seeds, rng: random.Random) -> FuzzInput:
    alphabet = rng.choice((BASE45_ALPHABET, _ODD_CHARS, "".join(map(chr, range(32, 0x2FF)))))
    return FuzzInput("text: random", "".join(rng.choices(alphabet, k=rng.randrange(500))))


def gen_random_bytes(seeds: Seeds, rng: random.Random) -> FuzzInput:
    data = rng.randbytes(rng.randrange(800))
    if rng.random() < 0.3:
        data = rng.choice(_IMAGE_MAGIC) + data
    return FuzzInput("bytes: random", data)


def gen_compressed_mutation(seeds: Seeds, rng: random.Random) -> FuzzInput:
    compressed = _mutate_bytes(rng.choice(seeds.payloads).compressed, rng)
    return FuzzInput("zlib: mutated", wrap_compressed(compressed))


def gen_random_zlib(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """Random and hostile zlib streams: random content, bombs, raw deflate, gzip, junk."""
    cose = rng.choice(seeds.payloads).cose
    choice = rng.randrange(6)
    if choice == 0:
        data = zlib.compress(rng.randbytes(rng.randrange(600)), rng.randint(0, 9))
    elif choice == 1:
        size = rng.choice((MAX_DECOMPRESSED_BYTES, MAX_DECOMPRESSED_BYTES + 1, 10**6, 10**7))
        data = zlib.compress(b"\x00" * size, 9)
    elif choice == 2:
        deflate = zlib.compressobj(9, zlib.DEFLATED, rng.choice((-15, 31, 9)))
        data = deflate.compress(cose) + deflate.flush()
    elif choice == 3:
        data = zlib.compress(cose, 9) + rng.randbytes(rng.randint(1, 8))
    elif choice == 4:
        data = zlib.compress(cose, 9)[: rng.randrange(1, 20)]
    else:
        data = rng.randbytes(rng.randrange(400))
    return FuzzInput("zlib: random", wrap_compressed(data))


def gen_cose_mutation(seeds: Seeds, rng: random.Random) -> FuzzInput:
    return FuzzInput(
        "cose: mutated", wrap_cose(_mutate_bytes(rng.choice(seeds.payloads).cose, rng))
    )


def random_cbor_value(rng: random.Random, depth: int = 0) -> Any:
    """A random CBOR data item, including the odd ones (tags, simple values, undefined)."""
    kinds = 11 if depth < 3 else 8
    kind = rng.randrange(kinds)
    if kind == 0:
        return rng.choice((0, 1, -1, 23, 24, 255, 256, 2**16 - 1, 2**16, 2**32, 2**40, 2**64))
    if kind == 1:
        return rng.randint(-(2**70), 2**70)
    if kind == 2:
        return "".join(rng.choices(BASE45_ALPHABET + _ODD_CHARS, k=rng.randrange(40)))
    if kind == 3:
        return rng.randbytes(rng.choice((0, 8, 19, 20, 21, 32, 33, 64, rng.randrange(80))))
    if kind == 4:
        return rng.choice((True, False, None, cbor2.undefined, cbor2.CBORSimpleValue(99)))
    if kind == 5:
        return rng.choice((0.0, -0.0, 1.5, float("inf"), float("nan"), 1e300))
    if kind == 6:
        return rng.choice((-7, -8, -35, 1, 4, 18))
    if kind == 7:
        return cbor2.CBORTag(rng.choice((0, 1, 2, 18, 24, 55799, 2**32)), rng.randbytes(4))
    if kind == 8:
        return [random_cbor_value(rng, depth + 1) for _ in range(rng.randrange(6))]
    if kind == 9:
        return {
            random_cbor_value(rng, 3): random_cbor_value(rng, depth + 1)
            for _ in range(rng.randrange(5))
        }
    return cbor2.CBORTag(rng.choice((18, 24, 1)), random_cbor_value(rng, depth + 1))


def deeply_nested_cbor(rng: random.Random) -> bytes:
    """Arrays, maps, tags and indefinite containers nested up to past cbor2's depth limit
    (400), within the 4,096 bytes the decompression stage lets through."""
    head = rng.choice((b"\x81", b"\xa1\x00", b"\xd2", b"\x9f", b"\xbf\x00", b"\xc6", b"\xd8\x18"))
    depth = rng.choice((rng.randint(1, 50), rng.randint(395, 405), 4000 // len(head)))
    return head * depth + rng.choice((b"\x00", b"\xff", b""))


def _dumps(value: Any, rng: random.Random) -> bytes:
    try:
        return bytes(cbor2.dumps(value, canonical=rng.random() < 0.7))
    except Exception:  # some random values cannot be encoded at all: any CBOR will do
        return bytes(cbor2.dumps([]))


def _cbor_header(rng: random.Random) -> bytes:
    """A raw CBOR head with an absurd or indefinite length, and a little content."""
    major = rng.randrange(8) << 5
    info = rng.choice((24, 25, 26, 27, 28, 31))
    width = {24: 1, 25: 2, 26: 4, 27: 8}.get(info, 0)
    return bytes([major | info]) + b"\xff" * width + rng.randbytes(rng.randrange(16))


def gen_random_cose(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """COSE-shaped and not: random arrays, tags, protected headers of the right shape with
    wrong contents, raw heads with huge lengths, all inside valid zlib and base45."""
    payload = rng.choice(seeds.payloads)
    protected, claims, signature = _cose_parts(payload)
    choice = rng.randrange(7)
    if choice == 0:
        cose = _dumps([random_cbor_value(rng) for _ in range(rng.randrange(7))], rng)
    elif choice == 1:
        header = {
            rng.choice((1, 4, 2, -1)): random_cbor_value(rng) for _ in range(rng.randrange(4))
        }
        cose = cose_array(_dumps(header, rng), claims, signature)
    elif choice == 2:
        parts: list[Any] = [protected, {}, claims, signature]
        parts[rng.randrange(4)] = random_cbor_value(rng)
        cose = _dumps(parts, rng)
    elif choice == 3:
        cose = _dumps(
            cbor2.CBORTag(rng.choice((18, 17, 98, 61)), [protected, {}, claims, signature]), rng
        )
    elif choice == 4:
        cose = _cbor_header(rng)
    elif choice == 5:
        cose = b"\x84" + _cbor_header(rng) + _cbor_header(rng)
    else:
        cose = deeply_nested_cbor(rng)
    return FuzzInput("cose: random", wrap_cose(cose))


def _signed(
    seeds: Seeds, rng: random.Random, claims_bytes: bytes, protected: bytes | None = None
) -> str:
    key = rng.choice(seeds.signing_keys)
    if protected is None:
        protected = bytes(
            cbor2.dumps({1: keys.algorithm_of(key).cose, 4: keys.key_id_of(key)}, canonical=True)
        )
    signature = keys.sign(key, sig_structure(protected, claims_bytes))
    return wrap_cose(cose_array(protected, claims_bytes, signature))


def gen_signed_random_claims(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """Random claim maps (and now and then deeply nested CBOR), properly signed: the claims
    stage and what follows get the input."""
    if rng.random() < 0.05:
        payload = deeply_nested_cbor(rng)
    else:
        claims = {rng.randint(-2, 14): random_cbor_value(rng) for _ in range(rng.randrange(14))}
        payload = _dumps(claims, rng)
    return FuzzInput("claims: random, signed", _signed(seeds, rng, payload), signed=True)


_BOUNDARY_NUMBERS: Final = (0, 1, -1, 2**16 - 1, 2**16, 2**40, 2**64, 1.0, True, False, None)
_BOUNDARY_TEXTS: Final = ("", "MN", "mn", "AAAAA", "MN-AEO-2025-000731", "X" * 33, "é" * 41)
_BOUNDARY_VALUES: Final = (*_BOUNDARY_NUMBERS, *_BOUNDARY_TEXTS, "\u202eevil", b"", b"\0" * 20)


def gen_signed_near_valid_claims(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """A genuine claim map with one to three values changed to boundary or random values,
    signed: reaches the claims checks and, when still valid, the registry checks."""
    base = dict(cbor2.loads(_cose_parts(rng.choice(seeds.payloads))[1]))
    for _ in range(rng.randint(1, 3)):
        key = rng.randint(0, 12)
        roll = rng.random()
        if roll < 0.15:
            base.pop(key, None)
        elif roll < 0.6:
            base[key] = rng.choice(_BOUNDARY_VALUES)
        elif roll < 0.8 and isinstance(base.get(key), int) and not isinstance(base[key], bool):
            base[key] = base[key] + rng.choice((-1, 1, -365, 365, 2**15))
        else:
            base[key] = random_cbor_value(rng)
    return FuzzInput(
        "claims: near-valid, signed", _signed(seeds, rng, _dumps(base, rng)), signed=True
    )


def gen_signed_mutated_claim_bytes(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """Byte edits of the claims CBOR, signed: non-deterministic encodings, duplicate keys,
    trailing bytes, broken heads reach the CBOR stage with a valid signature."""
    claims = _mutate_bytes(_cose_parts(rng.choice(seeds.payloads))[1], rng)
    return FuzzInput("cbor: mutated, signed", _signed(seeds, rng, claims), signed=True)


def gen_signed_mutated_protected(seeds: Seeds, rng: random.Random) -> FuzzInput:
    payload = rng.choice(seeds.payloads)
    protected, claims, _ = _cose_parts(payload)
    mutated = _mutate_bytes(protected, rng)
    return FuzzInput(
        "cose: protected header mutated, signed", _signed(seeds, rng, claims, mutated), signed=True
    )


def gen_signature_mutation(seeds: Seeds, rng: random.Random) -> FuzzInput:
    protected, claims, signature = _cose_parts(rng.choice(seeds.payloads))
    if rng.random() < 0.5:
        signature = _flip_bits(signature, rng, 3)
    else:  # a valid signature of other claims: swapped between payloads
        signature = _cose_parts(rng.choice(seeds.payloads))[2]
    return FuzzInput("signature: mutated", wrap_cose(cose_array(protected, claims, signature)))


def gen_signed_claims_variants(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """Valid claims that differ from the registry's: reaches binding, status, dates and
    recognition with a good signature."""
    claims = rng.choice(seeds.payloads).claims
    changes: dict[str, Any] = rng.choice(
        (
            {"version": claims.version + rng.randint(1, 3)},
            {"tiers": rng.randint(1, 255)},
            {"valid_until": claims.valid_until + rng.randint(-400, 400)},
            {"valid_from": max(0, claims.valid_from - rng.randint(0, 400))},
            {"issued_at": claims.issued_at + rng.choice((-(10**8), 10**6, 10**9))},
            {"number": f"MN-AEO-2025-{rng.randrange(10**6):06d}"},
            {"holder_id": f"MN{rng.randrange(10**10)}"},
            {"digest": rng.randbytes(20)},
            {"issuer": rng.choice(("KR", "KZ", "EAEU", "XX"))},
            {},
        )
    )
    try:
        changed = replace(claims, **changes)
    except ValueError:
        changed = claims
    key = rng.choice(seeds.signing_keys)
    return FuzzInput("claims: valid variants, signed", build(changed, key).text, signed=True)


def gen_tagged_and_reencoded(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """The genuine COSE with tag 18 or another zlib level: other encodings of the same signed
    claims, refused (docs/qr-format.md, "One text per certificate version") unless they are
    byte for byte the issuer's (level 9, untagged)."""
    payload = rng.choice(seeds.payloads)
    cose = payload.cose
    if rng.random() < 0.5:
        cose = b"\xd2" + cose
    return FuzzInput("genuine: re-encoded", wrap_compressed(zlib.compress(cose, rng.randint(0, 9))))


# --- images (slow: zxing-cpp runs up to four passes on an image without a QR code)


def _damaged(image: Image.Image, rng: random.Random) -> Image.Image:
    image = image.convert("L")
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(6)
        if choice == 0:
            draw = ImageDraw.Draw(image)
            for _ in range(rng.randint(1, 40)):
                x, y = rng.randrange(image.width), rng.randrange(image.height)
                size = rng.randint(1, max(2, image.width // 8))
                draw.rectangle((x, y, x + size, y + size), fill=rng.choice((0, 255)))
        elif choice == 1:
            left, top = rng.randrange(image.width // 2), rng.randrange(image.height // 2)
            right = rng.randint(left + 1, image.width)
            image = image.crop((left, top, right, rng.randint(top + 1, image.height)))
        elif choice == 2:
            image = image.rotate(rng.uniform(-180, 180), expand=True, fillcolor=255)
        elif choice == 3:
            size = rng.randint(8, 160)
            image = image.resize((size, size))
        elif choice == 4:
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 4)))
        else:
            image = Image.eval(image, lambda v: 255 - v)
    if rng.random() < 0.3:
        # Modes a photo library may hand over; the input stage must cope with each.
        image = image.convert(rng.choice(("1", "RGB", "RGBA", "P", "I", "F", "CMYK", "LA")))
    return image


def _file_bytes(image: Image.Image, rng: random.Random) -> bytes:
    out = io.BytesIO()
    fmt = rng.choice(("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"))
    rgb = image.convert("RGB") if fmt in ("JPEG", "WEBP") else image.convert("L")
    rgb.save(out, fmt, **({"quality": rng.randint(1, 60)} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


def gen_damaged_image(seeds: Seeds, rng: random.Random) -> FuzzInput:
    return FuzzInput("image: damaged", _damaged(rng.choice(seeds.images), rng))


def gen_corrupt_image_file(seeds: Seeds, rng: random.Random) -> FuzzInput:
    data = _file_bytes(_damaged(rng.choice(seeds.images), rng), rng)
    truncated = rng.random() < 0.5
    data = data[: rng.randrange(len(data) + 1)] if truncated else _mutate_bytes(data, rng)
    return FuzzInput("image: corrupt file", data)


def gen_qr_of_mutated_text(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """A clean QR code whose text is hostile: the image decodes, the payload stages refuse."""
    text = _mutate_text(rng.choice(seeds.payloads).text, rng) or "A"
    try:
        return FuzzInput("image: QR of mutated text", qr_image(text, scale=3))
    except Exception:  # segno refuses text no QR code holds; the text alone is still input
        return FuzzInput("image: QR of mutated text", text)


def gen_file_on_disk(seeds: Seeds, rng: random.Random) -> FuzzInput:
    """Paths: files with hostile content, a directory, a missing file, devices."""
    choice = rng.randrange(5)
    if choice == 0:
        return FuzzInput("path: odd", seeds.workdir / rng.choice(("", "missing.png", ".")))
    if choice == 4:
        return FuzzInput("path: device", Path(rng.choice(("/dev/null", "/dev/zero"))))
    path = seeds.workdir / f"input-{rng.randrange(16)}.bin"
    content = (
        _mutate_bytes(rng.choice(seeds.payloads).text.encode(), rng)
        if choice == 1
        else rng.randbytes(rng.randrange(600))
    )
    path.write_bytes(content)
    return FuzzInput("path: file", path)


Generator = Callable[[Seeds, random.Random], FuzzInput]

# Family -> (weight, generator). Images weigh little: one costs as much as a hundred texts.
GENERATORS: Final[dict[str, tuple[float, Generator]]] = {
    "text_mutation": (12, gen_text_mutation),
    "text_bit_flips": (8, gen_text_bit_flips),
    "text_truncation": (4, gen_text_truncation),
    "text_framing": (3, gen_text_framing),
    "random_base45": (6, gen_random_base45),
    "random_text": (3, gen_random_text),
    "random_bytes": (3, gen_random_bytes),
    "compressed_mutation": (8, gen_compressed_mutation),
    "random_zlib": (4, gen_random_zlib),
    "cose_mutation": (10, gen_cose_mutation),
    "random_cose": (8, gen_random_cose),
    "signed_random_claims": (8, gen_signed_random_claims),
    "signed_near_valid_claims": (10, gen_signed_near_valid_claims),
    "signed_mutated_claim_bytes": (6, gen_signed_mutated_claim_bytes),
    "signed_mutated_protected": (4, gen_signed_mutated_protected),
    "signature_mutation": (4, gen_signature_mutation),
    "signed_claims_variants": (6, gen_signed_claims_variants),
    "tagged_and_reencoded": (2, gen_tagged_and_reencoded),
    "damaged_image": (0.25, gen_damaged_image),
    "corrupt_image_file": (0.25, gen_corrupt_image_file),
    "qr_of_mutated_text": (0.2, gen_qr_of_mutated_text),
    "file_on_disk": (0.5, gen_file_on_disk),
}


def mutation_inputs(seeds: Seeds, tally: Tally, count: int, seed: int) -> Iterator[FuzzInput]:
    """``count`` inputs; a generator that fails is counted in ``tally`` and tried again, so
    a fuzzer bug neither ends a long run nor lowers its count."""
    rng = random.Random(seed)
    names = list(GENERATORS)
    weights = [GENERATORS[name][0] for name in names]
    produced = 0
    while produced < count:
        name = rng.choices(names, weights)[0]
        try:
            item = GENERATORS[name][1](seeds, rng)
        except Exception as exc:  # a bug of the fuzzer's: count it, keep the run going
            tally.generator_errors[f"{name}: {type(exc).__name__}: {exc}"] += 1
            continue
        produced += 1
        yield item


# ---------------------------------------------------------------- Hypothesis engine

_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.floats(allow_nan=True),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.integers(-2, 20), children, max_size=5)
    ),
    max_leaves=12,
)


def run_hypothesis(seeds: Seeds, tally: Tally, examples_per_strategy: int) -> None:
    """Hypothesis-generated inputs, ``examples_per_strategy`` for each of six strategies.
    Problems are recorded in ``tally`` (never raised), so one run reports them all."""
    run_settings = settings(
        max_examples=examples_per_strategy,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )

    def feed(family: str, data: InputData, signed: bool = False) -> None:
        tally.record(seeds, FuzzInput(f"hypothesis: {family}", data, signed))

    @run_settings
    @given(st.text(max_size=600))
    def random_text(text: str) -> None:
        feed("text", text)

    @run_settings
    @given(st.binary(max_size=800))
    def random_bytes(data: bytes) -> None:
        feed("bytes", data)

    @run_settings
    @given(st.text(alphabet=BASE45_ALPHABET, max_size=600))
    def base45_after_prefix(text: str) -> None:
        feed("base45", PREFIX + text)

    @run_settings
    @given(st.data())
    def edited_text(data: st.DataObject) -> None:
        chars = list(data.draw(st.sampled_from(seeds.payloads)).text)
        for _ in range(data.draw(st.integers(1, 5))):
            at = data.draw(st.integers(0, len(chars)))
            op = data.draw(st.sampled_from(("replace", "delete", "insert", "truncate")))
            char = data.draw(st.sampled_from(BASE45_ALPHABET) | st.characters())
            if op == "replace" and at < len(chars):
                chars[at] = char
            elif op == "delete":
                del chars[at : at + 1]
            elif op == "insert":
                chars.insert(at, char)
            else:
                del chars[at:]
        feed("edited text", "".join(chars))

    @run_settings
    @given(st.lists(_cbor_values, max_size=6), st.booleans())
    def cose_arrays(items: list[Any], tagged: bool) -> None:
        value = cbor2.CBORTag(18, items) if tagged else items
        feed("COSE arrays", wrap_cose(bytes(cbor2.dumps(value, canonical=True))))

    genuine_claims = dict(cbor2.loads(_cose_parts(seeds.payloads[0])[1]))

    @run_settings
    @given(
        st.dictionaries(st.integers(-2, 14), _cbor_values, max_size=12),
        st.booleans(),
        st.sampled_from(seeds.signing_keys),
    )
    def signed_claims(changes: dict[int, Any], start_genuine: bool, key: keys.PrivateKey) -> None:
        claims = {**genuine_claims, **changes} if start_genuine else changes
        payload = bytes(cbor2.dumps(claims, canonical=True))
        protected = bytes(
            cbor2.dumps({1: keys.algorithm_of(key).cose, 4: keys.key_id_of(key)}, canonical=True)
        )
        signature = keys.sign(key, sig_structure(protected, payload))
        feed("signed claim maps", wrap_cose(cose_array(protected, payload, signature)), True)

    for strategy in (
        random_text,
        random_bytes,
        base45_after_prefix,
        edited_text,
        cose_arrays,
        signed_claims,
    ):
        strategy()


# ---------------------------------------------------------------- the run


def fuzz(count: int, seed: int = 0, hypothesis_share: float = 0.2) -> Tally:
    """Runs ``count`` inputs (``hypothesis_share`` of them from Hypothesis) and tallies them."""
    with tempfile.TemporaryDirectory(prefix="aeo-fuzz-") as workdir:
        seeds = make_seeds(Path(workdir))
        tally = Tally()
        started = time.perf_counter()
        # The baseline: every genuine payload must be recognized, or the oracle is blind.
        for payload, outcome in list(zip(seeds.payloads, seeds.expected, strict=True))[:count]:
            tally.record(seeds, FuzzInput("genuine", payload.text, expected=outcome))
        per_strategy = min(round(count * hypothesis_share / 6), (count - tally.inputs) // 6)
        if per_strategy:
            run_hypothesis(seeds, tally, per_strategy)
        for item in mutation_inputs(seeds, tally, count - tally.inputs, seed):
            tally.record(seeds, item)
        tally.seconds = time.perf_counter() - started
        return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.security.fuzz_payloads",
        description="Fuzz the AEO1 decoder and verifier; exit 1 on any uncaught exception or "
        "a verdict that does not name its refusing stage.",
    )
    parser.add_argument("--count", type=int, default=100_000, help="inputs to run (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutation engine")
    parser.add_argument(
        "--hypothesis-share",
        type=float,
        default=0.2,
        help="share of the inputs generated by Hypothesis (default 0.2)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    if not 0 <= args.hypothesis_share <= 1:
        parser.error("--hypothesis-share must be between 0 and 1")
    # Pillow warns about each corrupt EXIF block it meets; thousands of damaged photos would
    # bury the figures. (The test suite turns warnings into errors, which the input stage
    # then reports as unreadable images: both are refusals.)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    tally = fuzz(args.count, args.seed, args.hypothesis_share)
    print(tally.report())
    if args.json:
        args.json.write_text(json.dumps(tally.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 1 if tally.problems or tally.generator_errors else 0


if __name__ == "__main__":
    sys.exit(main())
