"""The committed artifacts deploy as they are, fit EIP-170, and run on a London EVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Consortium, load_artifact

DEPLOYED_CONTRACTS = ("AeoRegistry", "MraRegistry")
EIP170_LIMIT = 24_576
PUSH0 = 0x5F
PUSH1, PUSH32 = 0x60, 0x7F


def code_of(artifact: dict[str, object], key: str) -> bytes:
    return bytes.fromhex(str(artifact[key]).removeprefix("0x"))


def opcodes(code: bytes) -> list[int]:
    """The opcodes of `code`, skipping PUSH data and the trailing CBOR metadata."""
    metadata_length = int.from_bytes(code[-2:], "big") + 2
    body = code[:-metadata_length]
    found, pc = [], 0
    while pc < len(body):
        op = body[pc]
        found.append(op)
        pc += 1 + (op - PUSH1 + 1 if PUSH1 <= op <= PUSH32 else 0)
    return found


@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
def test_deployed_code_fits_the_eip170_limit(name: str) -> None:
    assert len(code_of(load_artifact(name), "deployedBytecode")) < EIP170_LIMIT


@pytest.mark.parametrize("name", DEPLOYED_CONTRACTS)
def test_code_targets_london_and_uses_no_push0(name: str) -> None:
    artifact = load_artifact(name)
    assert artifact["compiler"]["settings"]["evmVersion"] == "london"
    for key in ("bytecode", "deployedBytecode"):
        assert PUSH0 not in opcodes(code_of(artifact, key)), f"{name} {key} uses PUSH0"


def test_the_opcode_walk_skips_push_data() -> None:
    # PUSH1 0x5f, PUSH0, then a metadata trailer of length 0.
    assert opcodes(bytes([PUSH1, PUSH0, PUSH0, 0x00, 0x00])) == [PUSH1, PUSH0]


def test_deployed_runtime_code_is_the_artifacts_byte_for_byte(chain: Consortium) -> None:
    """No immutable is patched in at deployment, so a deployment check can compare code."""
    for name, contract in (("AeoRegistry", chain.registry), ("MraRegistry", chain.mras)):
        on_chain = bytes(chain.w3.eth.get_code(contract.address))
        assert on_chain == code_of(load_artifact(name), "deployedBytecode")


def test_every_custom_error_of_both_contracts_is_asserted_by_some_test() -> None:
    """Guards the promise that each error is tested with its exact values: a new error without
    an `assert_reverts`/`reverts` naming it fails here."""
    sources = "".join(
        path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_*.py")
    )
    errors = {
        item["name"]
        for name in DEPLOYED_CONTRACTS
        for item in load_artifact(name)["abi"]
        if item["type"] == "error"
    }
    assert len(errors) > 50
    assert sorted(error for error in errors if f'"{error}"' not in sources) == []
