"""Load the committed contract artifacts (``contracts/artifacts/<Contract>.json``).

The artifacts are the only place the chain layer learns ABIs and bytecode from: nothing at run
time compiles. ``python -m contracts.compiler build`` writes them; a test keeps them in sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from eth_typing import ABI
from hexbytes import HexBytes

from contracts.errors import ArtifactError

ARTIFACT_DIR = Path(__file__).resolve().parent / "artifacts"

REGISTRY = "AeoRegistry"
MRAS = "MraRegistry"
BASELINE = "BaselineHashRegistry"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: what deploying it and talking to it needs."""

    name: str
    abi: ABI
    bytecode: HexBytes
    deployed_bytecode: HexBytes
    compiler_version: str
    source_name: str


def _parse(path: Path) -> Artifact:
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return Artifact(
            name=raw["contractName"],
            abi=cast(ABI, raw["abi"]),
            bytecode=HexBytes(raw["bytecode"]),
            deployed_bytecode=HexBytes(raw["deployedBytecode"]),
            compiler_version=raw["compiler"]["version"],
            source_name=raw["sourceName"],
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"artifact {path} is unreadable or incomplete: {exc}") from exc


@cache
def load_artifact(name: str) -> Artifact:
    """The artifact of contract ``name`` (e.g. ``"AeoRegistry"``), read once per process."""
    path = ARTIFACT_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(artifact_names()) or "none"
        raise ArtifactError(
            f"no artifact for contract {name!r} in {ARTIFACT_DIR} (known: {known}; "
            "build them with: make contracts)"
        )
    return _parse(path)


def artifact_names() -> list[str]:
    """Names of every committed artifact, sorted."""
    return sorted(p.stem for p in ARTIFACT_DIR.glob("*.json"))


def all_artifacts() -> list[Artifact]:
    return [load_artifact(name) for name in artifact_names()]
