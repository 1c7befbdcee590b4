""" "Do we recognize certificate C": answered from MN's index, and for every reason the
contract knows the answer agrees with the contract's own ``recognizes`` view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from contracts.bootstrap import Consortium
from contracts.chain import advance_time
from contracts.domain import days, ids
from contracts.domain.enums import ReasonCode, RecognitionReason
from contracts.reader import RegistryReader
from registry_api.db import Role
from registry_api.services import mras as service

from .conftest import ChainApp, ChainAppFactory
from .feed_support import C, S, chain_day, issue, propose_mra, suspend_member
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): each scenario drives two services on the
# chain.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    """A certificate and the state around it; ``build`` returns (issuer, number)."""

    reason: RecognitionReason
    build: Callable[[Consortium], tuple[str, str]]
    #: the chain clock moved: ask the index for the chain's day, not today's
    time_travel: bool = False


def kr_certificate(consortium: Consortium, tiers: int = S) -> tuple[str, str]:
    issue(consortium, "KR-AEO-1", tiers)
    return "KR", "KR-AEO-1"


def recognized(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S | C})
    return kr_certificate(c)


def tier_not_covered(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S})
    return kr_certificate(c, C)


def own_certificate(c: Consortium) -> tuple[str, str]:
    issue(c, "MN-AEO-1", S)
    return "MN", "MN-AEO-1"


def unknown_certificate(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S})
    return "KR", "KR-NEVER-ISSUED"


def certificate_not_active(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S})
    issuer, number = kr_certificate(c)
    c.operator("KR").suspend(ids.certificate_id(issuer, number), ReasonCode.FAILED_AUDIT)
    return issuer, number


def issuer_not_active(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S})
    found = kr_certificate(c)
    suspend_member(c, "KR")
    return found


def no_mra(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S})
    issue(c, "KZ-7", S)
    return "KZ", "KZ-7"


def mra_not_signed(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "KR", {"KR": S, "MN": S}, signers=())
    return kr_certificate(c)


def mra_not_yet_in_force(c: Consortium) -> tuple[str, str]:
    propose_mra(c, "MN", {"MN": S, "KR": S}, effective_from=chain_day(c.chain) + 10)
    return kr_certificate(c)


def mra_suspended(c: Consortium) -> tuple[str, str]:
    c.operator("KR").suspend_mra(propose_mra(c, "MN", {"MN": S, "KR": S}))
    return kr_certificate(c)


def mra_terminated(c: Consortium) -> tuple[str, str]:
    c.operator("MN").terminate_mra(propose_mra(c, "MN", {"MN": S, "KR": S}))
    return kr_certificate(c)


def mra_ended(c: Consortium) -> tuple[str, str]:
    day = chain_day(c.chain)
    propose_mra(c, "MN", {"MN": S, "KR": S}, effective_from=day - 5, ends_on=day)
    found = kr_certificate(c)
    advance_time(c.chain, 2 * 86400)
    return found


def closest_of_several(c: Consortium) -> tuple[str, str]:
    """A terminated and a suspended MRA between MN and KR: the suspended one is closer."""
    c.operator("MN").terminate_mra(propose_mra(c, "MN", {"MN": S, "KR": S}))
    c.operator("MN").suspend_mra(propose_mra(c, "KR", {"MN": S, "KR": S}))
    propose_mra(c, "KZ", {"KZ": S, "KR": S})  # not MN's: does not count
    return kr_certificate(c)


CASES = [
    Case(RecognitionReason.RECOGNIZED, recognized),
    Case(RecognitionReason.TIER_NOT_COVERED, tier_not_covered),
    Case(RecognitionReason.OWN_CERTIFICATE, own_certificate),
    Case(RecognitionReason.UNKNOWN_CERTIFICATE, unknown_certificate),
    Case(RecognitionReason.CERTIFICATE_NOT_ACTIVE, certificate_not_active),
    Case(RecognitionReason.ISSUER_NOT_ACTIVE, issuer_not_active),
    Case(RecognitionReason.NO_MRA, no_mra),
    Case(RecognitionReason.MRA_NOT_SIGNED, mra_not_signed),
    Case(RecognitionReason.MRA_NOT_YET_IN_FORCE, mra_not_yet_in_force),
    Case(RecognitionReason.MRA_SUSPENDED, mra_suspended),
    Case(RecognitionReason.MRA_TERMINATED, mra_terminated),
    Case(RecognitionReason.MRA_ENDED, mra_ended, time_travel=True),
    Case(RecognitionReason.MRA_SUSPENDED, closest_of_several),
]


@pytest.fixture
def mn(chain_app: ChainAppFactory) -> ChainApp:
    return chain_app("MN")


def test_the_cases_cover_every_reason_the_contract_gives() -> None:
    assert {case.reason for case in CASES} == set(RecognitionReason)


@pytest.mark.parametrize("case", CASES, ids=[case.build.__name__ for case in CASES])
def test_recognition_from_the_index_agrees_with_the_contract(mn: ChainApp, case: Case) -> None:
    consortium = mn.consortium
    issuer, number = case.build(consortium)
    mn.settle()
    contract = RegistryReader(consortium.chain, consortium.deployment).recognizes(
        "MN", ids.certificate_id(issuer, number)
    )
    assert contract.reason is case.reason

    with mn.session() as session:
        indexed = service.recognition(
            session, authority="MN", issuer=issuer, number=number, day=chain_day(consortium.chain)
        )
    assert indexed.answer.recognized is contract.recognized
    assert int(indexed.answer.reason) == int(contract.reason)
    assert (indexed.answer.mra_id or 0) == contract.mra_id
    if case.time_travel:
        return  # the route answers for today, and the chain's clock is days ahead

    answer = mn.client.get(
        f"/v1/recognition/{issuer}/{number}", headers=mn.headers(Role.BORDER_OFFICER)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["authority"] == "MN"
    assert body["recognized"] is contract.recognized
    assert body["reason"] == contract.reason.name.lower()
    assert body["mra_id"] == (contract.mra_id or None)
    assert body["certificate_id"] == "0x" + ids.certificate_id(issuer, number).hex()
    assert body["as_of"] == days.from_day(days.today()).isoformat()


@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/recognition/kr/KR-1", "path.issuer"), ("/v1/recognition/KR/kr 1", "path.number")],
)
def test_a_malformed_issuer_or_number_names_the_field(mn: ChainApp, path: str, field: str) -> None:
    body = assert_problem(mn.client.get(path, headers=mn.headers(Role.AUDITOR)), 422)
    assert [e["field"] for e in body["errors"]] == [field]


@pytest.mark.parametrize("role", [Role.PARTNER, Role.ISSUING_OFFICER])
def test_recognition_is_for_mra_officers_auditors_admins_and_border_officers(
    mn: ChainApp, role: Role
) -> None:
    token = mn.token(role, partner_authority="KR" if role is Role.PARTNER else None)
    answer = mn.client.get("/v1/recognition/KR/KR-1", headers={"Authorization": f"Bearer {token}"})
    assert_problem(answer, 403, "forbidden")
