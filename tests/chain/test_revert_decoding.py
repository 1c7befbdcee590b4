"""Revert data to typed exceptions, without a chain: the selector table and its categories."""

from __future__ import annotations

import pickle

from eth_abi.abi import encode

from contracts.artifacts import all_artifacts
from contracts.errors import (
    ERROR_CATEGORIES,
    ContractRevertError,
    NotFoundRevertError,
    error_spec,
    error_table,
    revert_from_data,
)


def test_every_custom_error_of_every_artifact_has_a_category() -> None:
    names = {e["name"] for a in all_artifacts() for e in a.abi if e["type"] == "error"}
    assert names
    assert names - set(ERROR_CATEGORIES) == set()


def test_the_selector_table_decodes_every_error_of_every_artifact() -> None:
    table = error_table()
    for artifact in all_artifacts():
        for element in artifact.abi:
            if element["type"] == "error":
                spec = error_spec(element)
                assert table[spec.selector].signature == spec.signature


def test_an_unknown_selector_is_reported_without_guessing() -> None:
    error = revert_from_data(b"\xde\xad\xbe\xef" + encode(["uint256"], [1]))
    assert error.name == "UnknownRevert"
    assert error.args == {"selector": b"\xde\xad\xbe\xef"}
    assert "0xdeadbeef" in str(error)


def test_a_require_message_decodes_as_error() -> None:
    data = bytes.fromhex("08c379a0") + encode(["string"], ["nope"])
    error = revert_from_data(data)
    assert error.name == "Error"
    assert error.args == {"message": "nope"}


def test_a_revert_error_survives_pickling() -> None:
    data = revert_from_data(
        error_spec(
            {
                "type": "error",
                "name": "CertificateUnknown",
                "inputs": [{"name": "id", "type": "bytes32"}],
            }
        ).selector
        + b"\x01" * 32
    )
    copy = pickle.loads(pickle.dumps(data))  # noqa: S301 - our own object
    assert type(copy) is type(data)
    assert copy.args == {"id": b"\x01" * 32}
    assert isinstance(copy, ContractRevertError)


def test_revert_data_without_a_selector_is_an_unknown_revert() -> None:
    error = revert_from_data("0x")
    assert error.name == "UnknownRevert"
    assert error.args == {}


def test_a_known_error_gets_its_category_class() -> None:
    spec = next(s for s in error_table().values() if s.name == "CertificateUnknown")
    error = revert_from_data(spec.selector + b"\x02" * 32)
    assert isinstance(error, NotFoundRevertError)
    assert error.args == {"id": b"\x02" * 32}
    assert str(error) == "reverted with CertificateUnknown(id=0x" + "02" * 32 + ")"
