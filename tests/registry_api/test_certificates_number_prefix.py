"""A certificate number that starts with another member's code is refused by the API (422
naming the number, for POST /v1/certificates and for each row of a bulk import), before any
transaction, exactly where the contract would refuse it (docs/contracts.md, "Certificate numbers
and member codes")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from contracts import calls
from contracts.bootstrap import Consortium
from contracts.domain import ids
from contracts.domain.enums import CertificateStatus as ChainStatus
from contracts.errors import ContractRevertError
from contracts.reader import RegistryReader
from registry_api.db import Operation, Role
from registry_api.services.certificates import number_prefix_error

from .certificate_data import operation, post, record_body
from .conftest import ChainApp, ChainAppFactory
from .registry_support import open_registry, run_imports
from .support import assert_problem


def operation_count(service: ChainApp) -> int:
    with service.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Operation)) or 0


def test_issuing_a_number_that_starts_with_another_members_code_is_refused(
    chain_app: ChainAppFactory,
) -> None:
    kz = chain_app("KZ")
    kz.settle()  # the index knows the members
    officer = kz.headers(Role.ISSUING_OFFICER)
    refused = post(kz.client, "/v1/certificates", record_body("MN-AEO-0001"), officer)
    problem = assert_problem(refused, 422)
    assert problem["errors"] == [
        {
            "field": "body.number",
            "message": "starts with MN, the code of another member of the consortium; use this "
            "administration's own code or a number that starts with no member's code",
        }
    ]
    assert "MN-AEO-0001" in problem["detail"]
    assert operation_count(kz) == 0


@pytest.mark.parametrize("number", ["KZ-AEO-0001", "AEO-0001", "MNX-0001"])
def test_a_number_of_its_own_code_or_of_no_members_code_is_issued(
    chain_app: ChainAppFactory, number: str
) -> None:
    kz = chain_app("KZ")
    kz.settle()
    officer = kz.headers(Role.ISSUING_OFFICER)
    accepted = post(kz.client, "/v1/certificates", record_body(number), officer)
    assert accepted.status_code == 202, accepted.text
    kz.settle()
    assert operation(kz, officer, accepted.json()["id"])["state"] == "confirmed"


NUMBERS = (
    "MN-AEO-0001",
    "MN/1",
    "MN.1",
    "MN0001",
    "MN",
    "KR-A-1",
    "KZ-AEO-1",
    "KZ",
    "AEO-0001",
    "AEOF-12",
    "MNX-0001",
    "M-1",
    "2024-MN-1",
    "DEAEOF12345678",
    "UZ-0001",
)


def test_the_api_refuses_exactly_the_numbers_the_contract_refuses(
    consortium: Consortium,
) -> None:
    operator = consortium.operator("KZ")
    others = frozenset({"MN", "KR"})
    for number in NUMBERS:
        try:
            operator.call(
                calls.issue(
                    number, 2, date(2025, 1, 15), date(2028, 1, 14), b"\x01" * 32, b"\x02" * 32
                )
            )
            refusal = None
        except ContractRevertError as exc:
            refusal = exc.name
        contract_refuses = refusal == "CertificateNumberOfAnotherMember"
        assert refusal in (None, "CertificateNumberOfAnotherMember"), (number, refusal)
        api_refuses = number_prefix_error(number, others, "body.number") is not None
        assert api_refuses == contract_refuses, number


# ---------------------------------------------------------------- bulk import

HEADER = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,issuing_office,officer,valid_from,valid_until"
)


def row(number: str) -> str:
    return (
        f"{number},Holder of {number},Abai Avenue 1,Almaty,KZ,BIN,{number[-4:]}00000000,IM;EX,"
        "AEOF,Almaty Customs House,A. Serikbayev,2020-01-01,2028-12-31"
    )


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium)


@pytest.mark.slow
def test_an_import_row_whose_number_starts_with_another_members_code_fails_alone(
    registry: Callable[..., ChainApp],
) -> None:
    """Left to the chain, it would revert the whole batch it travels in."""
    kz = registry("KZ")
    kz.settle()
    data = "\n".join([HEADER, row("KZ-IMP-0001"), row("MN-IMP-0002"), row("KZ-IMP-0003")]) + "\n"
    accepted = kz.client.post(
        "/v1/imports",
        files={"file": ("aeo-list.csv", data.encode("utf-8"), "text/csv")},
        headers={
            "Authorization": f"Bearer {kz.token(Role.ISSUING_OFFICER)}",
            "Idempotency-Key": "import-prefix",
        },
    )
    assert accepted.status_code == 202, accepted.text

    run_imports(kz)

    done = kz.client.get(
        f"/v1/imports/{accepted.json()['id']}", headers=kz.headers(Role.AUDITOR)
    ).json()
    assert done["state"] == "completed"
    assert (done["counts"]["invalid"], done["counts"]["confirmed"]) == (1, 2)
    assert done["errors"]["data"] == [
        {
            "row": 2,
            "certificate_number": "MN-IMP-0002",
            "errors": [
                {
                    "field": "number",
                    "message": "starts with MN, the code of another member of the consortium; "
                    "use this administration's own code or a number that starts with no "
                    "member's code",
                }
            ],
        }
    ]
    reader = RegistryReader(kz.consortium.chain, kz.consortium.deployment)
    for number in ("KZ-IMP-0001", "KZ-IMP-0003"):
        assert reader.get_certificate(ids.certificate_id("KZ", number)).status is (
            ChainStatus.ACTIVE
        )
    assert reader.get_certificate(ids.certificate_id("KZ", "MN-IMP-0002")).status is (
        ChainStatus.NONE
    )
