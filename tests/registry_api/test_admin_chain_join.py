"""A membership proposal made from a newcomer's signed request file (``aeo consortium
join-request``) over HTTP on the memory chain: its signature is checked, its name and admin
account are what the members vote on, and every fault names its field."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from contracts.bootstrap import Consortium
from contracts.domain.enums import AuthorityStatus
from contracts.reader import RegistryReader
from registry_api.schemas.admin_chain import (
    MEMBERSHIP_REQUEST_FORMAT,
    MembershipRequest,
    MembershipRequestContent,
)
from verifier.keys import generate_private_key, key_id_of, public_key_bytes, sign

from .conftest import ChainApp
from .registry_support import open_registry
from .support import assert_problem
from .test_admin_chain_consortium import listing, send, state_of

pytestmark = pytest.mark.slow

PATH = "/v1/admin/membership-proposals"


@pytest.fixture
def registry(tmp_path: Path, consortium: Consortium) -> Iterator[Callable[..., ChainApp]]:
    with ExitStack() as stack:
        yield partial(open_registry, stack, tmp_path, consortium, signing_key=None)


def join_request(code: str = "UZ", operator: str | None = None) -> dict[str, Any]:
    """A request as ``aeo consortium join-request`` writes it, keys made here and dropped."""
    signing = generate_private_key()
    content = MembershipRequestContent.model_validate(
        {
            "format": MEMBERSHIP_REQUEST_FORMAT,
            "code": code,
            "name": "Customs Committee of Uzbekistan",
            "number_prefix": code,
            "admin": Account.create().address,
            "operator": operator or Account.create().address,
            "signing_key": {
                "algorithm": "ES256",
                "kid": key_id_of(signing).hex(),
                "public_key": public_key_bytes(signing).hex(),
            },
            "created_at": datetime.now(UTC).replace(microsecond=0),
        }
    )
    document = content.model_dump(mode="json")
    document["signature"] = sign(signing, content.signed_bytes()).hex()
    MembershipRequest.model_validate(document)  # as the members will check it
    return document


def test_a_signed_join_request_is_proposed_and_voted_in(
    registry: Callable[..., ChainApp],
) -> None:
    mn, kz = registry("MN"), registry("KZ")
    request = join_request()
    proposed = send(mn, "POST", PATH, "admit-uz", {"action": "admit", "authority": "UZ",
                                                  "request": request})  # fmt: skip
    assert proposed.json()["subject"] == "UZ"
    mn.settle()
    assert state_of(mn, proposed) == "confirmed"

    kz.settle()
    [seen] = listing(kz, PATH, status="open")
    assert (seen["authority"], seen["name"], seen["admin"]) == (
        "UZ",
        "Customs Committee of Uzbekistan",
        request["admin"],
    )
    voted = send(kz, "POST", f"{PATH}/{seen['id']}/vote", "vote-uz")
    kz.settle()
    assert state_of(kz, voted) == "confirmed"
    reader = RegistryReader(kz.consortium.chain, kz.consortium.deployment)
    uz = reader.get_authority("UZ")
    assert uz.status is AuthorityStatus.ACTIVE
    assert uz.accounts == (request["admin"],)


def test_an_altered_join_request_is_refused_naming_its_signature(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    request = join_request()
    altered = {**request, "admin": Account.create().address}
    body = assert_problem(
        send(
            mn,
            "POST",
            PATH,
            "admit-altered",
            {"action": "admit", "authority": "UZ", "request": altered},
        ),
        422,
    )
    [error] = body["errors"]
    assert error["field"] == "body.request.signature"
    assert "does not verify with signing key" in error["message"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"format": "aeo-membership-request/9"}, "body.request.format", "aeo-membership-request/1"),
        ({"number_prefix": "MN"}, "body.request.number_prefix", "must be the member's code, UZ"),
        ({"operator": "0x12"}, "body.request.operator", "20-byte hex address"),
        ({"signature": "zz"}, "body.request.signature", "must be hex digits"),
        ({"private_key": "00" * 32}, "body.request.private_key", "Extra inputs"),
    ],
)
def test_a_malformed_join_request_is_refused_naming_the_field(
    registry: Callable[..., ChainApp], change: dict[str, Any], field: str, message: str
) -> None:
    mn = registry("MN")
    request = {**join_request(), **change}
    body = assert_problem(
        send(
            mn,
            "POST",
            PATH,
            f"bad-{field}",
            {"action": "admit", "authority": "UZ", "request": request},
        ),
        422,
    )
    assert field in {e["field"] for e in body["errors"]}, body
    assert message in body["detail"], body


def test_a_join_request_that_does_not_fit_the_proposal_is_refused(
    registry: Callable[..., ChainApp],
) -> None:
    mn = registry("MN")
    mn.settle()
    request = join_request()
    other = assert_problem(
        send(
            mn, "POST", PATH, "admit-tj", {"action": "admit", "authority": "TJ", "request": request}
        ),
        422,
    )
    assert "the request is UZ's, not TJ's" in other["detail"]
    suspend = assert_problem(
        send(
            mn,
            "POST",
            PATH,
            "suspend-req",
            {"action": "suspend", "authority": "UZ", "request": request},
        ),
        422,
    )
    assert "only given to admit" in suspend["detail"]
    # Its operator account already acts for MN: the newcomer could never add it.
    sender = mn.workers.sender
    assert sender is not None
    taken = join_request(operator=sender.address)
    conflict = assert_problem(
        send(
            mn,
            "POST",
            PATH,
            "admit-taken",
            {"action": "admit", "authority": "UZ", "request": taken},
        ),
        409,
    )
    assert conflict["reason"] == "account_exists"
    assert conflict["field"] == "body.request.operator"
