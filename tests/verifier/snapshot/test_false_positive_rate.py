"""The filter's false-positive rates, measured on a million never-issued certificates against
the rates the state states (docs/snapshot.md). A fixed seed makes each count one number, and
the bounds sit several standard deviations away from the expectation: a correct filter cannot
fail them, and an id check one bit weaker (twice the rate) fails the first."""

from __future__ import annotations

import random

import pytest

from verifier.snapshot.model import Binding, CertificateState, Membership
from verifier.snapshot.state import CompactState

from .world import TODAY, consortium

MEMBERS = 1 << 17
PROBES = 1_000_000


def random_state(rng: random.Random) -> CompactState:
    def certificates() -> object:
        for _ in range(MEMBERS):
            raw = rng.randbytes(84)
            yield CertificateState(
                certificate_id=raw[:32],
                version=1,
                digest=raw[32:52],
                holder_ref=raw[52:84],
                tiers=2,
                valid_from=TODAY - 10,
                valid_until=TODAY + 10,
            )

    return consortium().state(certificates())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def table() -> CompactState:
    state = random_state(random.Random(20261207))
    assert state.load == 1.0  # 2**17 certificates in 2**17 buckets
    return state


def test_never_issued_ids_hit_an_entrys_id_bits_at_the_stated_rate(table: CompactState) -> None:
    rng = random.Random(1)
    hits = sum(table.contains(rng.randbytes(32)) is not Membership.UNKNOWN for _ in range(PROBES))
    expected = table.membership_false_positive_rate * PROBES  # 3,906
    # One standard deviation is about 62: the bounds are six of them away.
    assert expected * 0.9 <= hits <= expected * 1.1


@pytest.mark.slow
def test_never_issued_certificates_are_admitted_at_the_stated_rate(table: CompactState) -> None:
    rng = random.Random(2)
    admitted = 0
    for _ in range(PROBES):
        raw = rng.randbytes(84)
        answer = table.status(
            raw[:32],
            version=1,
            digest=raw[32:52],
            holder_ref=raw[52:84],
            tiers=2,
            valid_from=TODAY - 10,
            valid_until=TODAY + 10,
        )
        admitted += answer.binding is Binding.MATCHES
    expected = table.false_positive_rate * PROBES  # 15.3
    # Poisson(15.3): fewer than 2 or more than 38 has a chance below one in a million.
    assert 2 <= admitted <= 38
    assert expected < 16
