"""The three places that say a certificate's effective status agree, day by day: the
contract's ``statusOf``, the domain core's ``effective_status`` (the verifier's offline
answer) and the registry API's (what a certificate's page and the search show)."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings, strategies as st

from contracts.domain import days
from contracts.domain.enums import CertificateStatus as Stored, EffectiveStatus
from contracts.domain.rules import effective_status
from registry_api.db import LocalStatus as ApiStatus
from registry_api.services.certificates import effective_status as api_effective_status
from tests.contracts.conftest import Consortium, Member

_API = {Stored.ACTIVE: ApiStatus.ACTIVE, Stored.SUSPENDED: ApiStatus.SUSPENDED}
_API[Stored.REVOKED] = ApiStatus.REVOKED


@settings(
    max_examples=40,
    deadline=None,
    # Every example issues a fresh certificate from the chain's today, and time only moves
    # forward: no example depends on the fixture being rewound between them.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    starts_in=st.integers(min_value=0, max_value=4),
    lasts=st.integers(min_value=0, max_value=4),
    stored=st.sampled_from([Stored.ACTIVE, Stored.SUSPENDED, Stored.REVOKED]),
    later=st.integers(min_value=0, max_value=10),
)
def test_the_api_the_domain_core_and_the_contract_agree_on_the_effective_status(
    chain: Consortium, mn: Member, starts_in: int, lasts: int, stored: Stored, later: int
) -> None:
    today = chain.today()
    valid_from, valid_until = today + starts_in, today + starts_in + lasts
    certificate_id = chain.issue(mn, valid_from=valid_from, valid_until=valid_until)
    if stored is Stored.SUSPENDED:
        chain.transact(mn.operator, chain.registry.functions.suspend(certificate_id, 1))
    elif stored is Stored.REVOKED:
        chain.transact(mn.operator, chain.registry.functions.revoke(certificate_id, 1))
    day = today + later
    if later:
        chain.travel_to_day(day)

    on_chain = EffectiveStatus(chain.status(certificate_id))
    assert effective_status(stored, valid_from, valid_until, day) is on_chain
    assert (
        api_effective_status(_API[stored], _date(valid_from), _date(valid_until), _date(day))
        == on_chain.name.lower()
    )


def _date(day: int) -> date:
    return days.from_day(day)
