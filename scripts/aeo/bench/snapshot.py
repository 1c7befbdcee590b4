"""``aeo bench snapshot``: the compact signed status snapshot of issue 15 on a simulated
consortium (docs/snapshot.md reports the figures).

The consortium: ``administrations`` members with one ES256 signing key each, 500 MRAs among
them (MN-KR in force), and ``certificates`` certificates spread over the issuers, of which
``changed`` (10 %) differ from a plain issuance: 4 % amended, 3 % renewed, 2 % suspended,
1 % revoked. A thousand of MN's certificates are real: signed AEO1 QR payloads whose claims
the snapshot binds, the ones the offline verification cycles through.

Figures (issue 15's goals in brackets):

- ``snapshot_bytes`` [<= 4 MB]: the signed full snapshot; ``build_s`` and
  ``build_peak_rss_mb`` building it from a stream of records (the stream's own cost,
  ``simulate_s``, included), ``sign_s`` encoding, compressing and signing it;
- ``delta_1000_bytes`` [<= 64 KB]: the signed delta after 1,000 certificate changes (250
  issued, 250 suspended, 250 amended, 125 renewed, 125 revoked);
- ``sync_1mbit_s`` [<= 40 s]: the full snapshot fetched over HTTP from a local server whose
  link is paced to ``link_bits_per_s`` (a token bucket, 1 Mbit/s by default), verified,
  decoded and written to the cache; ``delta_sync_1mbit_s`` the same for the delta;
- ``offline_verify_per_s`` [>= 5,000, one core]: the lookup path a border post runs per QR,
  against the cache file: decode the QR, check its signature with the key the snapshot
  lists (the verifier's own stage), the key's validity, the snapshot's status answer and the
  recognition; per CPU-second of the thread. ``signature_verify_per_s`` is the bare ES256
  check measured in the same run, the ceiling of any verifier that checks signatures here;
  ``offline_pipeline_verify_per_s`` is the verifier's whole pipeline (every stage and the
  verdict) over the same cache;
- ``cache_bytes`` [<= 32 MB]: the cache file; ``cache_load_ms`` opening it.
"""

from __future__ import annotations

import hashlib
import http.server
import itertools
import random
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final

import httpx
from rich.console import Console

from aeo.bench.common import BenchError, Report, stepper, time_loop
from aeo.bench.data import ISSUER, VERIFIER_AS, claims_for
from contracts.domain import days
from contracts.domain.days import Day
from contracts.domain.enums import AuthorityStatus, CertificateStatus, KeyAlgorithm, MraState
from contracts.domain.state import AuthorityRecord, MraParty, MraRecord, SigningKeyRecord
from verifier import keys
from verifier.payload import decode, encode
from verifier.snapshot import cache
from verifier.snapshot.build import build_state
from verifier.snapshot.delta import diff
from verifier.snapshot.document import (
    TrustAnchor,
    make_delta,
    make_snapshot,
    needs_new_lineage,
    prefer_full,
)
from verifier.snapshot.model import Binding, BlockRef, CertificateState, Membership
from verifier.snapshot.source import answer_for, record_for, verify_offline
from verifier.snapshot.state import CompactState
from verifier.stages import check_key_validity, check_signature
from verifier.verdict import Outcome

REAL_CERTIFICATES: Final = 1000
MRAS: Final = 500
DELTA_CHANGES: Final = 1000
ONE_MBIT: Final = 1_000_000
_DAY: Final = 86_400


def run(
    *,
    administrations: int = 100,
    certificates: int = 1_000_000,
    changed: float = 0.10,
    link_bits_per_s: int = ONE_MBIT,
    seconds: float = 3.0,
    seed: int = 15,
    console: Console | None = None,
) -> Report:
    if administrations < 2 or certificates < REAL_CERTIFICATES + DELTA_CHANGES:
        raise BenchError(
            f"a consortium needs 2 administrations and {REAL_CERTIFICATES + DELTA_CHANGES} "
            "certificates at least"
        )
    if not 0 <= changed <= 1 or link_bits_per_s < 1000 or seconds <= 0:
        raise BenchError("changed must be 0..1, the link at least 1000 bit/s, seconds positive")
    world = _World.create(administrations, certificates, changed, seed)
    report: Report = {
        "administrations": administrations,
        "certificates": certificates,
        "changed_fraction": changed,
        "mras": len(world.mras),
    }
    rss_before = _max_rss_mb()
    with stepper(console, "simulating the records", None):
        started = time.perf_counter()
        for _ in world.certificates():
            pass
        report["simulate_s"] = round(time.perf_counter() - started, 2)
    with stepper(console, "building the snapshot", None):
        started = time.perf_counter()
        state = world.build()
        report["build_s"] = round(time.perf_counter() - started, 2)
    report["build_peak_rss_mb"] = _max_rss_mb()
    report["build_rss_increase_mb"] = round(_max_rss_mb() - rss_before, 1)
    report["exceptions"] = state.exception_count
    report["false_positive_rate"] = state.false_positive_rate
    report["membership_false_positive_rate"] = state.membership_false_positive_rate
    with stepper(console, "signing the snapshot", None):
        started = time.perf_counter()
        snapshot = make_snapshot(
            state, private_key=world.signer, issuer=ISSUER, block=world.block, made_at=world.now
        )
        report["sign_s"] = round(time.perf_counter() - started, 2)
    report["snapshot_bytes"] = len(snapshot)
    report["document_bytes"] = len(state.encode())

    with stepper(console, f"{DELTA_CHANGES} changes, the delta", None):
        later = world.build(changes=True, params=state.params)
        started = time.perf_counter()
        changes = diff(state, later)
        report["diff_s"] = round(time.perf_counter() - started, 2)
        delta = make_delta(
            state,
            world.block,
            later,
            world.later_block,
            private_key=world.signer,
            issuer=ISSUER,
            made_at=world.now + 60,
        )
    report["delta_1000_bytes"] = len(delta)
    report["delta_records"] = changes.count
    report["delta_rule_prefers_full"] = prefer_full(len(snapshot), [len(delta)])
    report["new_lineage_needed"] = needs_new_lineage(state.params, later.certificate_count)
    del later

    anchors = [TrustAnchor.of(ISSUER, world.signer)]
    with tempfile.TemporaryDirectory(prefix="aeo-bench-snapshot-") as tmp:
        path = Path(tmp) / "snapshot-cache.bin"
        with paced_server({"/snapshot": snapshot, "/delta": delta}, link_bits_per_s) as url:
            with stepper(console, f"sync at {link_bits_per_s:,} bit/s", None):
                report["sync_1mbit_s"] = sync_seconds(url + "/snapshot", path, anchors, world.now)
            report["cache_bytes"] = path.stat().st_size
            report["link_bits_per_s"] = link_bits_per_s
            with stepper(console, "verifying offline", None):
                started = time.perf_counter()
                cached = cache.load(path)
                report["cache_load_ms"] = round((time.perf_counter() - started) * 1000, 1)
                assert cached is not None  # just synced
                report.update(_verification(world, cached, seconds))
            with stepper(console, "the delta's sync", None):
                report["delta_sync_1mbit_s"] = sync_seconds(
                    url + "/delta", path, anchors, world.now + 60, delta=True
                )
        report["cache_bytes_after_delta"] = path.stat().st_size
    return report


# ---------------------------------------------------------------- the simulated consortium


class _World:
    """The consortium the benchmark measures: members, keys, MRAs, and the certificates as
    a stream (regenerated on demand, so a million need not be held as objects)."""

    def __init__(
        self,
        members: list[AuthorityRecord],
        key_records: list[SigningKeyRecord],
        mras: list[MraRecord],
        signer: keys.PrivateKey,
        real: list[CertificateState],
        texts: list[str],
        count: int,
        changed: float,
        seed: int,
        now: int,
    ) -> None:
        self.members, self.keys, self.mras = members, key_records, mras
        self.signer, self.real, self.texts = signer, real, texts
        self.count, self.changed, self.seed, self.now = count, changed, seed, now
        self.block = BlockRef(1_000_000, hashlib.sha256(b"block A").digest(), now - 5)
        self.later_block = BlockRef(1_000_120, hashlib.sha256(b"block B").digest(), now + 55)

    @classmethod
    def create(cls, administrations: int, count: int, changed: float, seed: int) -> _World:
        rng = random.Random(seed)  # noqa: S311 - a simulation, seeded to repeat
        others = (
            a + b
            for a, b in itertools.product("ABCDEFGHIJKLOPQRSTUVWXYZ", repeat=2)
            if a + b not in (ISSUER, VERIFIER_AS)
        )
        codes = [ISSUER, VERIFIER_AS, *itertools.islice(others, administrations - 2)]
        now = int(datetime.now(UTC).timestamp())
        members = [
            AuthorityRecord(code, f"Customs of {code}", AuthorityStatus.ACTIVE) for code in codes
        ]
        signer = keys.generate_private_key(KeyAlgorithm.ES256)
        private = {ISSUER: signer}
        private.update({code: keys.generate_private_key(KeyAlgorithm.ES256) for code in codes[1:]})
        key_records = [
            SigningKeyRecord(
                keys.key_id_of(key),
                code,
                KeyAlgorithm.ES256,
                keys.public_key_bytes(key),
                now - 400 * _DAY,
            )
            for code, key in private.items()
        ]
        today = days.day_of(now)
        mras = [
            MraRecord(
                1,
                (MraParty(ISSUER, 7, True), MraParty(VERIFIER_AS, 7, True)),
                MraState.SIGNED,
                Day(today - 60),
                Day(0),
                hashlib.sha256(b"MN-KR").digest(),
            )
        ]
        pairs = {(ISSUER, VERIFIER_AS)}
        while len(mras) < min(MRAS, administrations * (administrations - 1) // 2):
            a, b = sorted(rng.sample(codes, 2))
            if (a, b) in pairs:
                continue
            pairs.add((a, b))
            state = rng.choices(
                (MraState.SIGNED, MraState.PROPOSED, MraState.SUSPENDED, MraState.TERMINATED),
                (85, 5, 5, 5),
            )[0]
            mras.append(
                MraRecord(
                    len(mras) + 1,
                    (
                        MraParty(a, rng.randrange(1, 32), True),
                        MraParty(b, rng.randrange(1, 32), state is not MraState.PROPOSED),
                    ),
                    state,
                    Day(today - rng.randrange(1, 2000)),
                    Day(0),
                    hashlib.sha256(f"MRA {a}-{b}".encode()).digest(),
                )
            )
        issued_at = now - _DAY
        real, texts = [], []
        for index in range(REAL_CERTIFICATES):
            claims = claims_for(index, issued_at, today)
            texts.append(encode(claims, signer))
            real.append(
                CertificateState(
                    claims.certificate_id,
                    claims.version,
                    claims.digest,
                    claims.holder_ref,
                    claims.tiers,
                    claims.valid_from,
                    claims.valid_until,
                    since=issued_at,
                )
            )
        return cls(members, key_records, mras, signer, real, texts, count, changed, seed, now)

    def certificates(self, *, changes: bool = False) -> Iterator[CertificateState]:
        """Every certificate at block A, or at block B (``changes``): 1,000 changed."""
        simulated = self.count - len(self.real)
        every = simulated // DELTA_CHANGES
        today = days.day_of(self.now)
        seed = self.seed.to_bytes(8, "big")
        for index in range(simulated):
            certificate = _simulated(seed, index, self.changed, today, self.now)
            if changes and index % every == 0 and index // every < DELTA_CHANGES - 250:
                certificate = _changed(certificate, index // every, self.now)
            yield certificate
        yield from self.real
        if changes:
            for index in range(250):
                yield _simulated(seed, simulated + index, 0.0, today, self.now)

    def build(self, *, changes: bool = False, params: Any = None) -> CompactState:
        return build_state(
            members=self.members,
            keys=self.keys,
            mras=self.mras,
            certificates=self.certificates(changes=changes),
            params=params,
        )


def _simulated(seed: bytes, index: int, changed: float, today: int, now: int) -> CertificateState:
    raw = hashlib.blake2b(seed + index.to_bytes(8, "big"), digest_size=64).digest()
    mix = int.from_bytes(raw[60:64], "big") % 10_000 / 10_000
    valid_from = today - raw[4] * 8
    certificate = CertificateState(
        certificate_id=raw[:32],
        version=1,
        digest=raw[32:52],
        holder_ref=raw[16:48],
        tiers=1 + raw[5] % 31,
        valid_from=valid_from,
        valid_until=valid_from + 3 * 365,
    )
    # The mix of changes, in tenths of the changed share: 4 amended, 3 renewed, 2 suspended,
    # 1 revoked.
    share = mix / changed if changed else 1.0
    if share < 0.4:
        return replace(certificate, version=2 + raw[6] % 3, digest=raw[40:60])
    if share < 0.7:
        return replace(certificate, valid_until=certificate.valid_until + 3 * 365, renewed=True)
    if share < 0.9:
        return replace(
            certificate,
            status=CertificateStatus.SUSPENDED,
            reason=(1, 2, 8)[raw[7] % 3],
            since=now - raw[8] * 3600 * 24,
        )
    if share < 1.0:
        return replace(
            certificate,
            status=CertificateStatus.REVOKED,
            reason=(3, 4, 5)[raw[7] % 3],
            since=now - raw[8] * 3600 * 24,
        )
    return certificate


def _changed(certificate: CertificateState, which: int, now: int) -> CertificateState:
    """The ``which``-th of the 750 changes to existing certificates: a third suspended, a
    third amended, a sixth renewed, a sixth revoked (the other 250 changes are issuances)."""
    if which % 3 == 0:
        return replace(certificate, status=CertificateStatus.SUSPENDED, reason=2, since=now + 30)
    if which % 3 == 1:
        return replace(
            certificate,
            version=min(certificate.version + 1, 0xFFFF),
            digest=hashlib.sha256(certificate.digest).digest()[:20],
        )
    if which % 6 == 2:
        return replace(certificate, valid_until=certificate.valid_until + 365, renewed=True)
    return replace(certificate, status=CertificateStatus.REVOKED, reason=5, since=now + 30)


# ---------------------------------------------------------------- the link and the sync


class _PacedHandler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    bits_per_s: ClassVar[int] = ONE_MBIT

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/cose; cose-type=cose-sign1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A token bucket of one chunk: the link never runs ahead of its rate.
        rate = self.bits_per_s / 8
        started = time.perf_counter()
        for at in range(0, len(body), 4096):
            due = started + at / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.wfile.write(body[at : at + 4096])
        remaining = started + len(body) / rate - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the benchmark prints its figures, not a request log."""


class paced_server:
    """A local HTTP server sending ``files`` at ``bits_per_s``; yields its base URL."""

    def __init__(self, files: dict[str, bytes], bits_per_s: int) -> None:
        handler = type("Handler", (_PacedHandler,), {"files": files, "bits_per_s": bits_per_s})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def sync_seconds(
    url: str, path: Path, anchors: Sequence[TrustAnchor], now: int, *, delta: bool = False
) -> float:
    """Seconds from the request to the verified file stored in the cache."""
    started = time.perf_counter()
    with httpx.Client(timeout=120.0) as client, client.stream("GET", url) as response:
        response.raise_for_status()
        data = b"".join(response.iter_bytes())
    store = cache.store_delta if delta else cache.store_snapshot
    store(path, data, anchors, now=now)
    return round(time.perf_counter() - started, 2)


# ---------------------------------------------------------------- offline verification


def _verification(world: _World, cached: cache.CachedSnapshot, seconds: float) -> Report:
    state, info = cached.state, cached.source_info()
    now = datetime.fromtimestamp(world.now + 60, UTC)
    day = days.day_of(world.now + 60)
    texts = world.texts

    def lookup_path(text: str) -> bool:
        decoded = decode(text)
        claims, cose = decoded.claims, decoded.cose
        key = state.signing_key(cose.kid)
        if key is None or check_signature(cose, claims, key, info.as_of):
            return False
        if check_key_validity(claims, key, now):
            return False
        certificate_id = claims.certificate_id
        answer = answer_for(state, claims, certificate_id)
        if answer.binding is not Binding.MATCHES or answer.status is not CertificateStatus.ACTIVE:
            return False
        record = record_for(
            answer,
            certificate_id=certificate_id,
            issuer=claims.issuer,
            number=claims.number,
            digest=claims.digest,
            holder_ref=claims.holder_ref,
            tiers=claims.tiers,
            valid_from=claims.valid_from,
            valid_until=claims.valid_until,
        )
        assert record is not None  # a matching binding has a record
        return state.recognition(VERIFIER_AS, record, day).recognized

    def pipeline(text: str) -> bool:
        verdict = verify_offline(text, state=state, info=info, as_authority=VERIFIER_AS, clock=now)
        return verdict.outcome is Outcome.RECOGNIZED

    for text in texts:  # every real QR verifies, through both paths
        if not (lookup_path(text) and pipeline(text)):
            raise BenchError("a benchmark certificate did not verify against the snapshot")
    unknown = sum(
        state.contains(hashlib.sha256(b"never issued %d" % i).digest()) is not Membership.UNKNOWN
        for i in range(10_000)
    )
    first = decode(texts[0])
    public = keys.load_public_key(KeyAlgorithm.ES256, keys.public_key_bytes(world.signer))
    message = first.cose.to_be_signed()
    lookup_rate = _rate(lookup_path, texts, seconds)
    signature_rate = _rate(
        lambda _: keys.verify_signature(public, message, first.cose.signature), texts, seconds
    )
    return {
        "offline_verify_per_s": lookup_rate,
        "signature_verify_per_s": signature_rate,
        "offline_verify_signature_ratio": round(lookup_rate / signature_rate, 3),
        "offline_pipeline_verify_per_s": _rate(pipeline, texts, seconds),
        "status_lookups_per_s": _rate(
            lambda claims: answer_for(state, claims).known,
            [decode(text).claims for text in texts],
            seconds,
        ),
        "never_issued_admitted_by_id_bits_of_10000": unknown,
    }


def _rate(step: Callable[[Any], object], items: Sequence[Any], seconds: float) -> float:
    """Calls of ``step`` per CPU-second of this thread, cycling through ``items``."""
    position = 0

    def one() -> None:
        nonlocal position
        step(items[position % len(items)])
        position += 1

    return time_loop(one, min_seconds=seconds, min_count=100).per_second_cpu


def _max_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
