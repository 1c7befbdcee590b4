"""The payload fuzzer's fast subset: a few thousand hostile inputs through ``verify``.

The long run is ``python -m tests.security.fuzz_payloads --count 100000`` (docs/reliability.md
has its figures). This subset runs the same engines and the same oracle with a fixed seed,
and also checks that the inputs get everywhere they are meant to: every decoding stage and
every check stage refuses something, and every outcome but ``check_unavailable`` (the
in-memory registry always answers) is produced.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.security import fuzz_payloads
from tests.security.fuzz_payloads import FuzzInput, Seeds, Tally, check, fuzz, make_seeds
from verifier.pipeline import STAGES
from verifier.verdict import Outcome, Reason, StageResult, StageState, Verdict

# Slow, so not in `make test-fast` (`make test` runs it): fuzzing.
pytestmark = pytest.mark.slow

COUNT = 2500
SEED = 20250601


@pytest.fixture(scope="module")
def tally() -> Tally:
    return fuzz(COUNT, seed=SEED, hypothesis_share=0.12)


def test_no_input_raises_or_reaches_a_stage_as_an_unexpected_exception(tally: Tally) -> None:
    assert tally.inputs == COUNT
    assert tally.problems == []
    assert not tally.generator_errors


def test_every_refusal_is_counted_under_the_stage_that_refused(tally: Tally) -> None:
    positive = tally.outcomes["recognized"] + tally.outcomes["not_recognized"]
    assert sum(tally.refusals.values()) == tally.inputs - positive
    assert {name.split(":")[0] for name in tally.refusals} <= set(STAGES)


def test_every_stage_refuses_some_input(tally: Tally) -> None:
    refusing = {name.split(":")[0] for name in tally.refusals}
    assert refusing >= set(STAGES) - {"recognition"}
    assert tally.outcomes["not_recognized"] > 0  # the recognition stage's refusal


def test_every_definite_outcome_is_produced(tally: Tally) -> None:
    assert set(tally.outcomes) == {o.value for o in Outcome} - {"check_unavailable"}


# ---------------------------------------------------------------- the oracle is not blind


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return make_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


def test_the_oracle_reports_an_exception_that_escapes_verify(
    seeds: Seeds, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> Verdict:
        raise RecursionError("deep CBOR")

    monkeypatch.setattr(fuzz_payloads, "verify", broken)

    verdict, problems = check(seeds, FuzzInput("test", "AEO1:"))

    assert verdict is None
    assert problems == ["verify raised RecursionError: deep CBOR"]


def test_the_oracle_reports_a_refusal_that_names_no_stage(seeds: Seeds) -> None:
    verdict = Verdict(
        outcome=Outcome.MALFORMED,
        reasons=(Reason("bad_base45", "invalid base45"),),
        stages=tuple(StageResult(stage, StageState.OK) for stage in STAGES),
        checked_at=datetime(2025, 6, 1, tzinfo=UTC),
        as_authority="KR",
    )

    problems = fuzz_payloads.problems_of(seeds, FuzzInput("test", "AEO1:"), verdict)

    assert "malformed: no failed stage names the refusal" in problems


def test_the_oracle_reports_an_unsigned_input_that_is_recognized(seeds: Seeds) -> None:
    genuine = seeds.payloads[0].text
    verdict, problems = check(seeds, FuzzInput("test", genuine))
    assert verdict is not None
    assert verdict.outcome is Outcome.RECOGNIZED
    assert problems == []

    forged = fuzz_payloads.problems_of(seeds, FuzzInput("test", "AEO1:not signed"), verdict)

    assert "recognized an input nobody signed" in forged


def test_the_oracle_reports_a_genuine_payload_with_the_wrong_outcome(seeds: Seeds) -> None:
    suspended = seeds.expected.index(Outcome.SUSPENDED)
    item = FuzzInput("test", seeds.payloads[suspended].text, expected=Outcome.RECOGNIZED)

    _verdict, problems = check(seeds, item)

    assert problems == ["a genuine payload got suspended, not recognized"]
