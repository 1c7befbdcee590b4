"""Roles in the console: the API's roles (``registry_api.db.access.Role``), and how a claim
of the OpenID Connect provider maps to one.

A mapping's target is a role (``auditor``) or, for the roles held by another
administration's people, a role and that administration (``partner:KR``), as API keys of
those roles name theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.domain import ids

from ..db.access import Role

#: roles held by people of another administration, who must name it (as API keys do)
PARTNER_ROLES = frozenset({Role.PARTNER, Role.BORDER_OFFICER})


@dataclass(frozen=True, slots=True)
class RoleTarget:
    role: Role
    partner_authority: str | None = None


def parse_role_target(target: str, *, own_authority: str) -> RoleTarget:
    """``"auditor"`` or ``"partner:KR"`` as a :class:`RoleTarget`; ValueError naming the
    rule otherwise."""
    role_name, _, partner = target.strip().partition(":")
    try:
        role = Role(role_name.strip())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"{role_name.strip()!r} is not a role (one of: {known})") from None
    partner = partner.strip()
    if role in PARTNER_ROLES and not partner:
        raise ValueError(f"role {role.value!r} names the partner administration: {role}:KR")
    if partner:
        if role not in PARTNER_ROLES:
            raise ValueError(f"role {role.value!r} is held by this administration's staff")
        ids.authority_code(partner)
        if partner == own_authority:
            raise ValueError(f"{partner} is this administration, not a partner")
    return RoleTarget(role, partner or None)


def claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The string values of ``claim`` (a dotted path reaches into objects, as Keycloak's
    ``realm_access.roles``): one string, or a list of them; anything else counts as none."""
    value: Any = claims
    for part in claim.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return []
        value = value[part]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


#: the order in which a person with several mapped values gets one role: the most
#: powerful first, so that the mapping, not the provider's order of values, decides
ROLE_PRECEDENCE = (
    Role.ADMIN,
    Role.ISSUING_OFFICER,
    Role.MRA_OFFICER,
    Role.AUDITOR,
    Role.PARTNER,
    Role.BORDER_OFFICER,
)


def map_role(
    values: Iterable[str], mapping: Mapping[str, str], *, own_authority: str
) -> RoleTarget | None:
    """The role the claim ``values`` map to, or None when none does. A person with several
    mapped values gets the one first in :data:`ROLE_PRECEDENCE` (one role per session, as
    one per API key)."""
    targets = [
        parse_role_target(mapping[value], own_authority=own_authority)
        for value in values
        if value in mapping
    ]
    if not targets:
        return None
    return min(targets, key=lambda target: ROLE_PRECEDENCE.index(target.role))
