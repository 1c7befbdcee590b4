"""Operator accounts and consortium membership votes over HTTP on the memory chain; the
vote is between two administrations' registries sharing the chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from eth_account import Account

from contracts.bootstrap import Consortium
from contracts.domain.enums import AccountRole, AuthorityStatus
from contracts.reader import RegistryReader
from registry_api.db import Role

from .conftest import ChainApp
from .registry_support import open_registry
from .support import assert_problem

# Slow, so not in `make test-fast` (`make test` runs it): membership votes across services.
pytestmark = pytest.mark.slow


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium, signing_key=None)


def send(
    mn: ChainApp, method: str, path: str, key: str, body: Any = None, role: Role = Role.ADMIN
) -> httpx.Response:
    headers = {**mn.headers(role), "Idempotency-Key": key}
    return mn.client.request(method, path, json=body, headers=headers)


def listing(mn: ChainApp, path: str, **params: str) -> list[dict[str, Any]]:
    response = mn.client.get(path, params=params, headers=mn.headers(Role.AUDITOR))
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def state_of(mn: ChainApp, response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    answer = mn.client.get(
        f"/v1/operations/{response.json()['id']}", headers=mn.headers(Role.ADMIN)
    ).json()
    state: str = answer["state"]
    return state


def reader(mn: ChainApp) -> RegistryReader:
    return RegistryReader(mn.consortium.chain, mn.consortium.deployment)


# ---------------------------------------------------------------- accounts


def test_an_operator_account_is_added_then_removed(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    address = Account.create().address
    added = send(mn, "POST", "/v1/admin/accounts", "add-1", {"address": address.lower()})
    assert added.json()["kind"] == "add_account"
    mn.settle()
    assert state_of(mn, added) == "confirmed"
    info = reader(mn).account_of(address)
    assert info.authority == "MN"
    assert info.roles == AccountRole.OPERATOR
    accounts = {a["address"]: a for a in listing(mn, "/v1/admin/accounts")}
    assert accounts[address]["roles"] == ["operator"]
    assert accounts[address]["signs_for_this_registry"] is False
    own = mn.workers.sender.address
    assert accounts[own]["signs_for_this_registry"] is True
    assert accounts[own]["roles"] == ["admin", "operator"]

    removed = send(mn, "DELETE", f"/v1/admin/accounts/{address}", "remove-1")
    mn.settle()
    assert state_of(mn, removed) == "confirmed"
    assert reader(mn).account_of(address).authority is None
    assert address not in {a["address"] for a in listing(mn, "/v1/admin/accounts")}


def test_an_admin_account_can_be_added(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    address = Account.create().address
    body = {"address": address, "roles": ["admin", "operator"]}
    mn.settle()
    state_of(mn, send(mn, "POST", "/v1/admin/accounts", "add-admin", body))
    mn.settle()
    assert reader(mn).account_of(address).roles == AccountRole.ADMIN | AccountRole.OPERATOR


def test_account_changes_that_cannot_work_are_refused_at_once(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    mn.settle()
    kz_operator = mn.consortium.member("KZ").operator.address
    taken = assert_problem(
        send(mn, "POST", "/v1/admin/accounts", "taken", {"address": kz_operator}), 409
    )
    assert taken["reason"] == "account_exists"
    assert taken["authority"] == "KZ"
    own = mn.workers.sender.address
    refused = assert_problem(send(mn, "DELETE", f"/v1/admin/accounts/{own}", "self"), 409)
    assert refused["reason"] == "own_account"
    assert_problem(send(mn, "DELETE", f"/v1/admin/accounts/{kz_operator}", "theirs"), 404)
    bad = assert_problem(
        send(mn, "POST", "/v1/admin/accounts", "bad", {"address": "0x1234", "roles": []}), 422
    )
    assert {e["field"] for e in bad["errors"]} == {"body.address", "body.roles"}
    assert_problem(send(mn, "DELETE", "/v1/admin/accounts/not-an-address", "bad-path"), 422)


# ---------------------------------------------------------------- membership


def test_two_administrations_vote_a_new_member_in(registry: Callable[..., ChainApp]) -> None:
    mn = registry("MN")
    kz = registry("KZ")
    tj_admin = Account.create().address
    proposal = {
        "action": "admit",
        "authority": "TJ",
        "name": "Customs Service of Tajikistan",
        "admin": tj_admin,
    }
    proposed = send(mn, "POST", "/v1/admin/membership-proposals", "admit-tj", proposal)
    assert proposed.json()["kind"] == "propose_membership"
    assert proposed.json()["subject"] == "TJ"
    mn.settle()
    assert state_of(mn, proposed) == "confirmed"

    kz.settle()  # KZ's indexer reads the proposal from the shared chain
    [seen] = listing(kz, "/v1/admin/membership-proposals", status="open")
    assert seen["action"] == "admit"
    assert seen["authority"] == "TJ"
    assert seen["name"] == "Customs Service of Tajikistan"
    assert seen["admin"] == tj_admin
    assert seen["proposer"] == "MN"
    assert seen["votes"] == ["MN"]
    assert seen["approvals"] == 1
    assert seen["required"] == 2  # a simple majority of three members
    assert seen["voted_by_us"] is False
    assert reader(kz).get_authority("TJ").status is AuthorityStatus.NONE

    voted = send(kz, "POST", f"/v1/admin/membership-proposals/{seen['id']}/vote", "vote-tj")
    assert voted.json()["kind"] == "vote_membership"
    kz.settle()
    assert state_of(kz, voted) == "confirmed"
    assert reader(kz).get_authority("TJ").status is AuthorityStatus.ACTIVE

    mn.settle()
    [done] = listing(mn, "/v1/admin/membership-proposals")
    assert done["status"] == "executed"
    assert done["votes"] == ["MN", "KZ"]
    assert done["voted_by_us"] is True
    assert done["executed_at"] is not None
    late = assert_problem(
        send(kz, "POST", f"/v1/admin/membership-proposals/{seen['id']}/vote", "late"), 409
    )
    assert late["reason"] == "executed"
    assert listing(mn, "/v1/admin/membership-proposals", status="open") == []


def test_membership_proposals_that_cannot_work_are_refused_at_once(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    mn.settle()
    path = "/v1/admin/membership-proposals"
    itself = assert_problem(
        send(mn, "POST", path, "suspend-self", {"action": "suspend", "authority": "MN"}), 409
    )
    assert itself["reason"] == "target_cannot_vote"
    member = assert_problem(
        send(
            mn,
            "POST",
            path,
            "admit-kz",
            {"action": "admit", "authority": "KZ", "name": "X", "admin": Account.create().address},
        ),
        409,
    )
    assert member["reason"] == "already_member"
    not_suspended = assert_problem(
        send(mn, "POST", path, "reinstate-kz", {"action": "reinstate", "authority": "KZ"}), 409
    )
    assert not_suspended["member_status"] == "active"
    assert_problem(
        send(mn, "POST", path, "remove-xx", {"action": "remove", "authority": "XX"}), 404
    )
    missing = assert_problem(
        send(mn, "POST", path, "admit-bare", {"action": "admit", "authority": "TJ"}), 422
    )
    assert "admitting a member needs name and admin" in missing["detail"]
    extra = assert_problem(
        send(
            mn, "POST", path, "suspend-named", {"action": "suspend", "authority": "KZ", "name": "K"}
        ),
        422,
    )
    assert "only given to admit" in extra["detail"]
    assert_problem(send(mn, "POST", f"{path}/99/vote", "vote-99"), 404)


def test_a_suspension_is_proposed_and_listed_with_its_votes(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    mn.settle()  # the checks read the index: it must know KR
    proposed = send(
        mn,
        "POST",
        "/v1/admin/membership-proposals",
        "suspend-kr",
        {"action": "suspend", "authority": "KR"},
    )
    mn.settle()
    assert state_of(mn, proposed) == "confirmed"
    [proposal] = listing(mn, "/v1/admin/membership-proposals")
    assert proposal["action"] == "suspend"
    assert proposal["status"] == "open"
    # Two of the three members; KR, the target, may not approve: both others must.
    assert proposal["required"] == 2
    again = assert_problem(
        send(mn, "POST", f"/v1/admin/membership-proposals/{proposal['id']}/vote", "twice"), 409
    )
    assert again["reason"] == "already_voted"


def test_a_proposal_goes_stale_once_another_membership_change_executes(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    kz = registry("KZ")
    path = "/v1/admin/membership-proposals"
    mn.settle()
    for key, code in (("admit-tj", "TJ"), ("admit-uz", "UZ")):
        body = {
            "action": "admit",
            "authority": code,
            "name": code,
            "admin": Account.create().address,
        }
        assert state_of(mn, send(mn, "POST", path, key, body)) == "pending"
    mn.settle()
    kz.settle()
    ids_of = {p["authority"]: p["id"] for p in listing(kz, path)}
    send(kz, "POST", f"{path}/{ids_of['TJ']}/vote", "vote-tj")
    kz.settle()
    statuses = {p["authority"]: p["status"] for p in listing(kz, path)}
    assert statuses == {"TJ": "executed", "UZ": "stale"}
    assert [p["authority"] for p in listing(kz, path, status="stale")] == ["UZ"]
    stale = assert_problem(send(kz, "POST", f"{path}/{ids_of['UZ']}/vote", "vote-uz"), 409)
    assert stale["reason"] == "stale"
    assert reader(kz).get_authority("UZ").status is AuthorityStatus.NONE


def test_a_vote_the_active_members_could_never_carry_is_refused_at_once(
    registry: Callable[..., ChainApp],
) -> None:
    """With KR suspended, suspending KZ needs two approvals and only MN may give one."""
    mn = registry("MN")
    kz = registry("KZ")
    path = "/v1/admin/membership-proposals"
    mn.settle()
    send(mn, "POST", path, "suspend-kr", {"action": "suspend", "authority": "KR"})
    mn.settle()
    kz.settle()
    [proposal] = listing(kz, path)
    send(kz, "POST", f"{path}/{proposal['id']}/vote", "vote-kr")
    kz.settle()
    mn.settle()
    assert reader(mn).get_authority("KR").status is AuthorityStatus.SUSPENDED
    refused = assert_problem(
        send(mn, "POST", path, "suspend-kz", {"action": "suspend", "authority": "KZ"}), 409
    )
    assert (refused["reason"], refused["required"], refused["eligible"]) == (
        "quorum_unreachable",
        2,
        1,
    )


@pytest.mark.parametrize("role", [Role.ISSUING_OFFICER, Role.MRA_OFFICER, Role.AUDITOR])
def test_only_admins_change_accounts_and_vote(
    registry: Callable[..., ChainApp], role: Role
) -> None:
    mn = registry("MN")
    address = Account.create().address
    writes = [
        ("POST", "/v1/admin/accounts", {"address": address}),
        ("DELETE", f"/v1/admin/accounts/{address}", None),
        ("POST", "/v1/admin/membership-proposals", {"action": "suspend", "authority": "KR"}),
        ("POST", "/v1/admin/membership-proposals/1/vote", None),
    ]
    for method, path, body in writes:
        assert_problem(send(mn, method, path, f"{method}{path}", body, role=role), 403)
    for path in ("/v1/admin/accounts", "/v1/admin/membership-proposals"):
        expected = 200 if role is Role.AUDITOR else 403
        assert mn.client.get(path, headers=mn.headers(role)).status_code == expected
