"""The reason-code table the API checks with (contracts.domain.rules.ALLOWED_REASONS) is the
contract's: a code passes exactly when the contract accepts it for that transition."""

from __future__ import annotations

from datetime import date

import pytest

from contracts import calls
from contracts.bootstrap import Consortium
from contracts.domain import ids
from contracts.domain.enums import ReasonCode
from contracts.domain.rules import ALLOWED_REASONS, Transition
from contracts.errors import ContractRevertError

# Slow, so not in `make test-fast` (`make test` runs it): every reason code against the contract.
pytestmark = pytest.mark.slow


def test_every_reason_code_is_allowed_by_the_api_exactly_when_the_contract_allows_it(
    consortium: Consortium,
) -> None:
    operator = consortium.operator("MN")
    operator.issue("MN-R-1", 2, date(2025, 1, 15), date(2028, 1, 14), b"\x01" * 32, b"\x02" * 32)
    certificate_id = ids.certificate_id("MN", "MN-R-1")
    builders = {
        Transition.SUSPEND: lambda code: calls.suspend(certificate_id, code),
        Transition.REVOKE: lambda code: calls.revoke(certificate_id, code),
        Transition.REINSTATE: lambda code: calls.reinstate(certificate_id, code),
        Transition.AMEND: lambda code: calls.amend(
            certificate_id, 2, b"\x01" * 32, b"\x03" * 32, code
        ),
        Transition.RENEW: lambda code: calls.renew(certificate_id, date(2030, 1, 1), code),
    }
    checked = 0
    for action, build in builders.items():
        allowed_by_api = {int(code) for code in ALLOWED_REASONS[action]}
        for code in range(64):
            try:
                operator.call(build(code))
                refused = False
            except ContractRevertError as exc:
                refused = exc.name == "CertificateReasonNotAllowed"
            assert (not refused) == (code in allowed_by_api), (action, code)
            checked += 1
    assert checked == 5 * 64
    assert {int(c) for c in ReasonCode} == set().union(
        *({int(c) for c in codes} for codes in ALLOWED_REASONS.values())
    )
