"""contracts.enums mirrors every enum of the Solidity interfaces: same names, same order."""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

import pytest

from contracts import enums

SOURCES = Path(__file__).resolve().parents[2] / "contracts" / "src"
_ENUM = re.compile(r"\benum\s+(\w+)\s*\{([^}]*)\}")


def solidity_enums() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCES.rglob("*.sol")):
        text = re.sub(r"//[^\n]*", "", path.read_text(encoding="utf-8"))
        for name, body in _ENUM.findall(text):
            found[name] = [member.strip() for member in body.split(",") if member.strip()]
    return found


def upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def python_enums() -> dict[str, type[IntEnum]]:
    return {
        name: value
        for name, value in vars(enums).items()
        if isinstance(value, type) and issubclass(value, IntEnum) and value is not IntEnum
    }


def test_every_solidity_enum_has_its_python_twin_and_no_other() -> None:
    assert set(python_enums()) == set(solidity_enums())


@pytest.mark.parametrize("name", sorted(solidity_enums()))
def test_members_have_the_solidity_names_in_the_solidity_order(name: str) -> None:
    members = solidity_enums()[name]
    assert [(m.name, m.value) for m in python_enums()[name]] == [
        (upper_snake(member), position) for position, member in enumerate(members)
    ]


def test_the_client_and_the_verifier_use_these_very_classes() -> None:
    from contracts import client
    from verifier import rules

    assert client.CertificateStatus is enums.CertificateStatus is rules.CertificateStatus
    assert client.RecognitionReason is enums.RecognitionReason is rules.RecognitionReason
