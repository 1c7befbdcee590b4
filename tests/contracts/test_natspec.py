"""The contracts' NatSpec, as the compiler records it in the committed artifacts' devdoc.

OpenZeppelin's layout: a `@dev` body, with its "Requirements:" list, before the `@param` and
`@return` tags. solc appends an untagged line to the tag above it, so a list written after the
tags ends up inside the last `@param` or `@return`; these tests read the compiled devdoc, which
is what a documentation generator or a block explorer shows, rather than the sources.

The artifacts keep `devdoc` only (contracts/compiler.py), so an error's text is its `@dev`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_utils import abi_to_signature

from contracts.artifacts import ARTIFACT_DIR

#: The deployed contracts; the checks must find something to check in each.
DEPLOYED = ("AeoRegistry", "MraRegistry")


def load(name: str) -> dict[str, Any]:
    artifact: dict[str, Any] = json.loads(
        (ARTIFACT_DIR / f"{name}.json").read_text(encoding="utf-8")
    )
    return artifact


def contracts_with_an_abi() -> list[str]:
    """Every committed artifact with something in its ABI (the libraries have nothing)."""
    return sorted(path.stem for path in ARTIFACT_DIR.glob("*.json") if load(path.stem)["abi"])


def entries(artifact: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry for entry in artifact["abi"] if entry["type"] == kind]


def return_keys(function: dict[str, Any]) -> list[str]:
    """How devdoc names each return value: its name, or `_<position>` when it has none."""
    return [output["name"] or f"_{i}" for i, output in enumerate(function["outputs"])]


def function_doc(artifact: dict[str, Any], function: dict[str, Any]) -> dict[str, Any]:
    """The devdoc of an ABI function: its method entry, or for the getter of a public state
    variable, that variable's entry."""
    devdoc = artifact["devdoc"]
    method: dict[str, Any] | None = devdoc.get("methods", {}).get(abi_to_signature(function))
    if method is None:
        method = devdoc.get("stateVariables", {}).get(function["name"])
    return method or {}


def undocumented(documented: dict[str, str], names: list[str]) -> list[str]:
    return [name for name in names if not documented.get(name, "").strip()]


@pytest.mark.parametrize("name", contracts_with_an_abi())
def test_every_event_documents_each_of_its_fields(name: str) -> None:
    artifact = load(name)
    events = artifact["devdoc"].get("events", {})
    missing = {
        signature: gaps
        for event in entries(artifact, "event")
        if (
            gaps := undocumented(
                events.get(signature := abi_to_signature(event), {}).get("params", {}),
                [field["name"] for field in event["inputs"]],
            )
        )
    }
    assert missing == {}


@pytest.mark.parametrize("name", contracts_with_an_abi())
def test_every_external_function_documents_each_parameter_and_return_value(name: str) -> None:
    artifact = load(name)
    missing = {}
    for function in entries(artifact, "function"):
        doc = function_doc(artifact, function)
        gaps = undocumented(doc.get("params", {}), [i["name"] for i in function["inputs"]])
        gaps += [
            f"returns {key}" for key in undocumented(doc.get("returns", {}), return_keys(function))
        ]
        if gaps:
            missing[abi_to_signature(function)] = gaps
    for constructor in entries(artifact, "constructor"):
        params = artifact["devdoc"].get("methods", {}).get("constructor", {}).get("params", {})
        if gaps := undocumented(params, [i["name"] for i in constructor["inputs"]]):
            missing["constructor"] = gaps
    assert missing == {}


@pytest.mark.parametrize("name", contracts_with_an_abi())
def test_every_state_changing_function_states_its_requirements_in_its_dev_text(
    name: str,
) -> None:
    artifact = load(name)
    without = [
        abi_to_signature(function)
        for function in entries(artifact, "function")
        if function["stateMutability"] not in ("view", "pure")
        and "Requirements:" not in function_doc(artifact, function).get("details", "")
    ]
    assert without == []


@pytest.mark.parametrize("name", contracts_with_an_abi())
def test_no_param_or_return_text_holds_a_requirements_list(name: str) -> None:
    """The drift this layout prevents: "Requirements:" written after the tags."""
    devdoc = load(name)["devdoc"]
    tagged = [
        (f"{section} {signature} {tag} {key}", text)
        for section in ("methods", "events", "stateVariables")
        for signature, doc in devdoc.get(section, {}).items()
        for tag in ("params", "returns")
        for key, text in doc.get(tag, {}).items()
    ] + [
        (f"errors {signature} params {key}", text)
        for signature, docs in devdoc.get("errors", {}).items()
        for doc in docs
        for key, text in doc.get("params", {}).items()
    ]
    assert [where for where, text in tagged if "Requirements" in text] == []


@pytest.mark.parametrize("name", contracts_with_an_abi())
def test_every_custom_error_says_when_it_is_raised_and_what_each_value_is(name: str) -> None:
    artifact = load(name)
    errors = artifact["devdoc"].get("errors", {})
    missing = {}
    for error in entries(artifact, "error"):
        signature = abi_to_signature(error)
        docs = errors.get(signature, [{}])
        gaps = [] if any(doc.get("details", "").strip() for doc in docs) else ["@dev"]
        params = {k: v for doc in docs for k, v in doc.get("params", {}).items()}
        gaps += undocumented(params, [i["name"] for i in error["inputs"]])
        if gaps:
            missing[signature] = gaps
    assert missing == {}


@pytest.mark.parametrize("name", DEPLOYED)
def test_the_checks_find_events_errors_and_writes_in_each_deployed_contract(name: str) -> None:
    """An artifact with an empty ABI or no devdoc would pass every check above vacuously."""
    artifact = load(name)
    assert name in contracts_with_an_abi()
    assert entries(artifact, "event")
    assert entries(artifact, "error")
    assert [f for f in entries(artifact, "function") if f["stateMutability"] == "nonpayable"]
    assert artifact["devdoc"]["kind"] == "dev"
