"""contracts.domain.enums mirrors the Solidity sources: every enum of the interfaces with the
same names in the same order, and the constant tables (key algorithms, account roles, tiers,
reason codes) with the same values."""

from __future__ import annotations

import re
from enum import Enum, IntEnum
from pathlib import Path

import pytest

from contracts.domain import enums
from contracts.domain.enums import (
    DEFINED_TIERS,
    SIGNING_ALGORITHMS,
    AccountRole,
    KeyAlgorithm,
    ReasonCode,
    Tier,
    parse_tier_name,
    reason_name,
    tier_names,
)

SOURCES = Path(__file__).resolve().parents[3] / "contracts" / "src"
_ENUM = re.compile(r"\benum\s+(\w+)\s*\{([^}]*)\}")
_CONSTANT = re.compile(r"\buint\d+\s+(?:(?:internal|private)\s+)?constant\s+(\w+)\s*=\s*([^;]+);")
#: Solidity has these as constants, not enums (checked against the constants below)
CONSTANT_TABLES: dict[type[Enum], tuple[str, str]] = {
    KeyAlgorithm: ("Authorities.sol", "_"),
    AccountRole: ("interfaces/IAuthorities.sol", "ROLE_"),
    Tier: ("Tiers.sol", ""),
    ReasonCode: ("ReasonCodes.sol", ""),
}


def _without_comments(path: Path) -> str:
    return re.sub(r"//[^\n]*", "", path.read_text(encoding="utf-8"))


def solidity_enums() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCES.rglob("*.sol")):
        for name, body in _ENUM.findall(_without_comments(path)):
            found[name] = [member.strip() for member in body.split(",") if member.strip()]
    return found


def solidity_constants(file_name: str) -> dict[str, int]:
    """The integer constants of one source file, evaluated (``1 << 2`` and the like)."""
    constants: dict[str, int] = {}
    for name, expression in _CONSTANT.findall(_without_comments(SOURCES / file_name)):
        if re.fullmatch(r"[0-9xa-fA-F<>\s()]+", expression):
            constants[name] = int(eval(expression, {"__builtins__": {}}))  # noqa: S307 - digits and shifts only
    return constants


def upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def python_enums() -> dict[str, type[IntEnum]]:
    return {
        name: value
        for name, value in vars(enums).items()
        if isinstance(value, type)
        and issubclass(value, IntEnum)
        and value is not IntEnum
        and value not in CONSTANT_TABLES
    }


def test_every_solidity_enum_has_its_python_twin_and_no_other() -> None:
    assert set(python_enums()) == set(solidity_enums())


@pytest.mark.parametrize("name", sorted(solidity_enums()))
def test_members_have_the_solidity_names_in_the_solidity_order(name: str) -> None:
    members = solidity_enums()[name]
    assert [(m.name, m.value) for m in python_enums()[name]] == [
        (upper_snake(member), position) for position, member in enumerate(members)
    ]


@pytest.mark.parametrize("table", list(CONSTANT_TABLES), ids=lambda table: table.__name__)
def test_constant_tables_have_the_solidity_values(table: type[Enum]) -> None:
    file_name, prefix = CONSTANT_TABLES[table]
    constants = solidity_constants(file_name)
    expected = {
        name.removeprefix(prefix): value
        for name, value in constants.items()
        if name.startswith(prefix) and name.removeprefix(prefix) in table.__members__
    }
    members = {m.name: m.value for m in table if m.value}  # KeyAlgorithm.NONE is no constant
    assert expected == members


def test_every_tier_bit_is_defined_and_the_reserved_ones_are_not() -> None:
    assert int(DEFINED_TIERS) == sum(int(tier) for tier in Tier)
    assert int(DEFINED_TIERS) & solidity_constants("Tiers.sol")["RESERVED"] == 0


def test_key_algorithms_carry_their_wire_names_cose_ids_and_key_lengths() -> None:
    assert [(a.label, a.cose, a.public_key_length) for a in SIGNING_ALGORITHMS] == [
        ("ES256", -7, 33),
        ("EdDSA", -8, 32),
    ]
    assert [KeyAlgorithm.from_label(a.label) for a in SIGNING_ALGORITHMS] == [
        KeyAlgorithm.ES256,
        KeyAlgorithm.EDDSA,
    ]
    assert KeyAlgorithm.from_cose(-8) is KeyAlgorithm.EDDSA


@pytest.mark.parametrize("label", ["eddsa", "none", "RS256", ""])
def test_an_unknown_algorithm_label_is_refused_by_name(label: str) -> None:
    with pytest.raises(ValueError, match="'ES256' or 'EdDSA'"):
        KeyAlgorithm.from_label(label)


def test_no_such_key_has_no_cose_algorithm() -> None:
    with pytest.raises(ValueError, match="COSE"):
        _ = KeyAlgorithm.NONE.cose
    with pytest.raises(ValueError, match="-257"):
        KeyAlgorithm.from_cose(-257)


def test_tier_names() -> None:
    assert tier_names(3) == ("C", "S")
    assert tier_names(0b11100) == ("A", "AA", "AAA")
    assert tier_names(0b10000000) == ("bit7",)


@pytest.mark.parametrize(
    ("name", "bits"),
    [("C", 1), ("aeoc", 1), ("S", 2), ("AEOS", 2), ("f", 3), ("AEOF", 3), ("aa", 8), ("AAA", 16)],
)
def test_tier_names_people_write_parse_to_their_bits(name: str, bits: int) -> None:
    assert parse_tier_name(name) == bits


def test_an_unknown_tier_name_parses_to_none() -> None:
    assert parse_tier_name("B") is None


def test_reason_names_cover_the_issue_and_fall_back_for_undefined_codes() -> None:
    assert reason_name(0) == "ISSUED"
    assert reason_name(1) == "FAILED_AUDIT"
    assert reason_name(48) == "REASSESSED"
    assert reason_name(9) == "REASON_9"
