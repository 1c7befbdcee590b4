"""Random consortium histories: at every snapshot point, the state a border post reaches by
deltas (signed, verified, applied) is the full snapshot's, byte for byte, and answers every
certificate as the model of the chain does."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings, strategies as st

from contracts.domain.enums import CertificateStatus
from verifier.snapshot.document import (
    TrustAnchor,
    apply_delta,
    make_delta,
    make_snapshot,
    read_delta,
    read_snapshot,
)
from verifier.snapshot.model import Binding, BlockRef, CertificateState, Membership
from verifier.snapshot.state import CompactState

from .world import NOW, certificate, certificate_id, claims_of, consortium, signer

SLOTS = 24  # certificate numbers a history draws from (below 256: see world.certificate_id)
OPERATIONS = ("issue", "amend", "renew", "suspend", "reinstate", "revoke", "snapshot")

operation = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, SLOTS - 1))


class Chain:
    """The model: each issued certificate's state, and every version it had."""

    def __init__(self) -> None:
        self.certificates: dict[int, CertificateState] = {}
        self.old_versions: dict[int, list[CertificateState]] = {}
        self.clock = NOW - 86_400 * 30

    def apply(self, name: str, n: int) -> None:
        self.clock += 60
        c = self.certificates.get(n)
        if name == "issue":
            if c is None:
                self.certificates[n] = certificate(n)
            return
        if c is None or c.status is CertificateStatus.REVOKED:
            return  # the contract refuses: not issued, or revoked (terminal)
        if name == "amend" and c.version < 0xFFFF:
            self.old_versions.setdefault(n, []).append(c)
            new = replace(c, version=c.version + 1, digest=bytes([c.version % 256]) * 20)
            self.certificates[n] = replace(new, tiers=1 + (c.tiers % 31))
        elif name == "renew":
            self.certificates[n] = replace(c, valid_until=c.valid_until + 365, renewed=True)
        elif name == "suspend" and c.status is CertificateStatus.ACTIVE:
            self.certificates[n] = replace(
                c, status=CertificateStatus.SUSPENDED, reason=2, since=self.clock
            )
        elif name == "reinstate" and c.status is CertificateStatus.SUSPENDED:
            self.certificates[n] = replace(c, status=CertificateStatus.ACTIVE, reason=0, since=0)
        elif name == "revoke":
            self.certificates[n] = replace(
                c, status=CertificateStatus.REVOKED, reason=5, since=self.clock
            )


def check_answers(state: CompactState, chain: Chain) -> None:
    for n in range(SLOTS):
        c = chain.certificates.get(n)
        if c is None:
            got = state.status(certificate_id(n), **claims_of(certificate(n)))  # type: ignore[arg-type]
            assert got.membership is Membership.UNKNOWN
            continue
        got = state.status(c.certificate_id, **claims_of(c))  # type: ignore[arg-type]
        assert got.binding is Binding.MATCHES
        assert got.status is c.status
        assert got.version == c.version
        assert got.valid_until == c.valid_until
        if c.status is not CertificateStatus.ACTIVE:
            assert (got.reason, got.since) == (c.reason, c.since)
        for old in chain.old_versions.get(n, ()):
            earlier = state.status(old.certificate_id, **claims_of(old))  # type: ignore[arg-type]
            assert earlier.binding is Binding.SUPERSEDED
        if c.renewed:
            # A QR signed before the renewal carries the first date: still this certificate.
            first = state.status(
                c.certificate_id,
                **{**claims_of(c), "valid_until": certificate(n).valid_until},  # type: ignore[arg-type]
            )
            assert first.binding is Binding.MATCHES


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(operation, min_size=1, max_size=80))
def test_deltas_reach_the_full_snapshot_and_answer_as_the_chain(
    history: list[tuple[str, int]],
) -> None:
    chain = Chain()
    anchors = [TrustAnchor.of("MN", signer())]
    world = consortium()
    cached = None  # the border post: header and state reached by deltas
    previous: tuple[CompactState, BlockRef] | None = None
    block_number = 10
    for name, n in [*history, ("snapshot", 0)]:
        if name != "snapshot":
            chain.apply(name, n)
            continue
        block_number += 1
        block = BlockRef(block_number, block_number.to_bytes(32, "big"), chain.clock)
        params = previous[0].params if previous else None
        full = world.state(chain.certificates.values(), params=params)
        signed = make_snapshot(
            full, private_key=signer(), issuer="MN", block=block, made_at=chain.clock
        )
        fresh = read_snapshot(signed, anchors)
        if previous is None or cached is None:
            cached = fresh
        else:
            delta = make_delta(
                previous[0],
                previous[1],
                full,
                block,
                private_key=signer(),
                issuer="MN",
                made_at=chain.clock,
            )
            cached = apply_delta(
                cached.state, cached.header, read_delta(delta, anchors, current=cached.header)
            )
        assert cached.state.encode() == fresh.state.encode()
        assert cached.header.content_hash == fresh.header.content_hash
        check_answers(cached.state, chain)
        previous = (full, block)
