"""End to end on a real anvil process, with the app's own background sender and indexer:
what an issuing officer does, and a node that crashes and comes back."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.anvil import start_anvil
from contracts.chain import Chain
from registry_api.db import CertificateEvent, Role

from .certificate_data import (
    assert_index_equals_chain,
    issue,
    issued_count,
    post,
    record_body,
)
from .conftest import ChainApp, ChainAppFactory

pytestmark = [pytest.mark.anvil, pytest.mark.parametrize("chain_kind", ["anvil"])]

#: generous: the workers poll every 0.05 s / 0.1 s, but two CPUs are shared with other tests
DEADLINE = 60.0


def eventually(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy (the workers run on their own)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE:g} s: {what}")
        time.sleep(0.05)


def state_of(service: ChainApp, headers: dict[str, str], operation_id: str) -> str:
    response = service.client.get(f"/v1/operations/{operation_id}", headers=headers)
    state: str = response.json()["state"]
    return state


def status_of(service: ChainApp, headers: dict[str, str], number: str) -> str:
    status: str = service.client.get(f"/v1/certificates/{number}", headers=headers).json()["status"]
    return status


def test_an_officer_issues_and_suspends_and_a_partner_instance_indexes_it(
    chain_app: ChainAppFactory,
) -> None:
    mn = chain_app("MN", run_workers=True)
    kr = chain_app("KR", run_workers=True)
    officer = mn.headers(Role.ISSUING_OFFICER)

    accepted = issue(mn, officer, "MN-E2E-1")
    eventually(lambda: state_of(mn, officer, accepted["id"]) == "confirmed", "issue confirmed")
    eventually(lambda: status_of(mn, officer, "MN-E2E-1") == "active", "issue indexed")
    suspend = post(mn.client, "/v1/certificates/MN-E2E-1/suspend", {"reason_code": 7}, officer)
    assert suspend.status_code == 202
    eventually(lambda: status_of(mn, officer, "MN-E2E-1") == "suspended", "suspension indexed")

    def kr_events() -> list[str]:
        with kr.session() as session:
            return list(
                session.scalars(
                    sa.select(CertificateEvent.kind).order_by(
                        CertificateEvent.block_number, CertificateEvent.log_index
                    )
                )
            )

    eventually(lambda: kr_events() == ["issued", "suspended"], "KR indexed MN's events")
    body = mn.client.get("/v1/certificates/MN-E2E-1", headers=officer).json()
    assert body["proof"]["matches"] is True
    assert mn.client.get("/readyz").status_code == 200
    assert issued_count(mn, "MN-E2E-1") == 1


def test_a_crashed_node_delays_writes_and_loses_none(chain_app: ChainAppFactory) -> None:
    mn = chain_app("MN", run_workers=True)
    chain: Chain = mn.consortium.chain
    officer = mn.headers(Role.ISSUING_OFFICER)
    issue(mn, officer, "MN-E2E-1")
    eventually(lambda: status_of(mn, officer, "MN-E2E-1") == "active", "issue indexed")
    assert chain.anvil is not None
    node = chain.anvil
    time.sleep(node.state_interval + 0.5)  # let anvil write its state file once more
    node.kill()

    suspend = post(mn.client, "/v1/certificates/MN-E2E-1/suspend", {"reason_code": 1}, officer)
    second = post(mn.client, "/v1/certificates", record_body("MN-E2E-2"), officer)
    assert (suspend.status_code, second.status_code) == (202, 202)
    not_ready = eventually(
        lambda: (r := mn.client.get("/readyz")).status_code == 503 and r.json(), "readiness"
    )
    assert not_ready["checks"]["chain"]["ok"] is False

    chain.anvil = start_anvil(node.data_dir, port=node.port, chain_id=node.chain_id)
    for operation in (suspend.json(), second.json()):
        eventually(
            lambda op=operation: state_of(mn, officer, op["id"]) == "confirmed",
            f"{operation['kind']} confirmed after the restart",
        )
    eventually(lambda: status_of(mn, officer, "MN-E2E-1") == "suspended", "suspension indexed")
    eventually(lambda: status_of(mn, officer, "MN-E2E-2") == "active", "second issue indexed")
    eventually(lambda: mn.client.get("/readyz").status_code == 200, "ready again")
    assert issued_count(mn, "MN-E2E-1") == issued_count(mn, "MN-E2E-2") == 1
    mn.workers.stop()
    assert_index_equals_chain(mn)
