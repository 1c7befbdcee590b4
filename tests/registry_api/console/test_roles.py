"""Roles from the identity provider's claim: parsing the mapping, reading the claim, and
choosing one role."""

from __future__ import annotations

import pytest

from registry_api.console.roles import RoleTarget, claim_values, map_role, parse_role_target
from registry_api.db import Role

MAPPING = {
    "aeo-issuing": "issuing_officer",
    "aeo-audit": "auditor",
    "aeo-admin": "admin",
    "kr-risk": "partner:KR",
}


def test_a_target_is_a_role_or_a_partner_role_with_its_administration() -> None:
    assert parse_role_target("auditor", own_authority="MN") == RoleTarget(Role.AUDITOR)
    assert parse_role_target(" partner:KR ", own_authority="MN") == RoleTarget(Role.PARTNER, "KR")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("boss", "'boss' is not a role"),
        ("partner", "names the partner administration"),
        ("auditor:KR", "held by this administration's staff"),
        ("partner:MN", "MN is this administration"),
        ("partner:kr", "authority"),
    ],
)
def test_a_bad_target_is_refused_with_the_rule(target: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_role_target(target, own_authority="MN")


def test_claim_values_read_strings_lists_and_dotted_paths() -> None:
    claims = {"roles": ["a", 3, "b"], "one": "c", "realm_access": {"roles": ["d"]}, "n": 5}
    assert claim_values(claims, "roles") == ["a", "b"]
    assert claim_values(claims, "one") == ["c"]
    assert claim_values(claims, "realm_access.roles") == ["d"]
    assert claim_values(claims, "n") == []
    assert claim_values(claims, "missing.path") == []


def test_the_most_powerful_mapped_role_wins_and_unmapped_values_count_for_nothing() -> None:
    assert map_role(["staff", "aeo-audit", "aeo-issuing"], MAPPING, own_authority="MN") == (
        RoleTarget(Role.ISSUING_OFFICER)
    )
    assert map_role(["kr-risk"], MAPPING, own_authority="MN") == RoleTarget(Role.PARTNER, "KR")
    assert map_role(["staff", "AEO-AUDIT"], MAPPING, own_authority="MN") is None
    assert map_role([], MAPPING, own_authority="MN") is None
