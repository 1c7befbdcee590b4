"""Deploy the registry contracts once per chain, and find them again.

``deploy`` is idempotent: the first run deploys ``AeoRegistry`` and ``MraRegistry`` (signed
locally by ``deployer``) and records their addresses, the chain id and the deploy block in a
deployment file, by default ``<data_dir>/deployments/<chain_id>.json``. Later runs with that
file reuse it, after checking that the recorded addresses still hold exactly the code of the
committed artifacts; if not (another build, a reset dev chain), they refuse with
``DeploymentMismatchError`` instead of silently deploying a second registry.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from contracts.artifacts import MRAS, REGISTRY, Artifact, load_artifact
from contracts.chain import Chain
from contracts.errors import (
    DeploymentError,
    DeploymentMismatchError,
    DeploymentNotFoundError,
    TransactionFailedError,
    translate_errors,
)

DEFAULT_VOTE_THRESHOLD_BPS = 5001  # a strict majority of every member not removed
DEFAULT_PROPOSAL_LIFETIME = 7 * 86400  # a week to collect membership votes
DEPLOYMENT_FORMAT = 1


@dataclass(frozen=True)
class Deployment:
    """Where the registry lives on one chain."""

    chain_id: int
    registry: ChecksumAddress
    mras: ChecksumAddress
    start_block: int
    deployer: ChecksumAddress
    vote_threshold_bps: int
    proposal_lifetime: int
    registry_code_hash: str
    mras_code_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"format": DEPLOYMENT_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Deployment:
        if raw.get("format") != DEPLOYMENT_FORMAT:
            raise DeploymentError(f"unsupported deployment file format {raw.get('format')!r}")
        try:
            return cls(
                chain_id=int(raw["chain_id"]),
                registry=to_checksum_address(raw["registry"]),
                mras=to_checksum_address(raw["mras"]),
                start_block=int(raw["start_block"]),
                deployer=to_checksum_address(raw["deployer"]),
                vote_threshold_bps=int(raw["vote_threshold_bps"]),
                proposal_lifetime=int(raw["proposal_lifetime"]),
                registry_code_hash=str(raw["registry_code_hash"]),
                mras_code_hash=str(raw["mras_code_hash"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DeploymentError(f"deployment record is incomplete or malformed: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write atomically: a crash mid-write must not leave half a deployment file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise DeploymentNotFoundError(
                f"no deployment recorded at {path} (deploy first: aeo deploy)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise DeploymentError(f"deployment file {path} is unreadable: {exc}") from exc
        if not isinstance(raw, dict):
            raise DeploymentError(f"deployment file {path} does not hold a JSON object")
        return cls.from_json(raw)


def deployment_path(data_dir: Path, chain_id: int) -> Path:
    return Path(data_dir) / "deployments" / f"{chain_id}.json"


def _resolve_path(chain: Chain, data_dir: Path | None, path: Path | None) -> Path | None:
    if path is not None:
        return Path(path)
    if data_dir is None:
        return None
    return deployment_path(data_dir, chain.chain_id)


def _comparable_code(code: bytes, artifact_code: bytes, immutables: tuple[bytes, ...]) -> bytes:
    """``code`` with each immutable value zeroed where the artifact holds its placeholder.

    The compiler leaves 32 zero bytes for each immutable in the artifact's runtime code and the
    constructor writes the value there; without the compiler's immutable references (not in
    the artifact), a value word found where the artifact has zeros is that immutable.
    """
    out = bytearray(code)
    zero = bytes(32)
    for value in immutables:
        word = value.rjust(32, b"\x00")
        start = out.find(word)
        while start >= 0:
            if artifact_code[start : start + 32] == zero:
                out[start : start + 32] = zero
            start = out.find(word, start + 1)
    return bytes(out)


def check_code(
    chain: Chain, address: str, artifact: Artifact, immutables: tuple[bytes, ...] = ()
) -> str:
    """Raise ``DeploymentMismatchError`` unless ``address`` holds ``artifact``'s runtime code;
    returns the on-chain code hash."""
    with translate_errors(f"reading the code at {address}"):
        code = bytes(chain.w3.eth.get_code(to_checksum_address(address)))
    if not code:
        raise DeploymentMismatchError(
            f"no contract at the recorded {artifact.name} address {address} on chain "
            f"{chain.chain_id} (was the chain reset?); remove the deployment file to deploy anew"
        )
    expected = bytes(artifact.deployed_bytecode)
    if _comparable_code(code, expected, immutables) != expected:
        raise DeploymentMismatchError(
            f"the contract at {address} is not the {artifact.name} of the committed artifacts "
            "(deployed from other sources?); refusing to use it"
        )
    return "0x" + keccak(code).hex()


def verify_deployment(chain: Chain, deployment: Deployment) -> None:
    """Refuse a deployment recorded for another chain or whose addresses hold other code."""
    if deployment.chain_id != chain.chain_id:
        raise DeploymentMismatchError(
            f"the deployment is recorded for chain {deployment.chain_id}, "
            f"this node is chain {chain.chain_id}"
        )
    check_code(chain, deployment.registry, load_artifact(REGISTRY))
    check_code(chain, deployment.mras, load_artifact(MRAS), (bytes(HexBytes(deployment.registry)),))


def load_deployment(
    chain: Chain, data_dir: Path | None = None, *, path: Path | None = None
) -> Deployment:
    """The verified deployment recorded for ``chain``."""
    target = _resolve_path(chain, data_dir, path)
    if target is None:
        raise DeploymentError("give either data_dir or path to find the deployment file")
    deployment = Deployment.load(target)
    verify_deployment(chain, deployment)
    return deployment


def deploy_contract(
    chain: Chain,
    deployer: LocalAccount,
    artifact: Artifact,
    args: tuple[Any, ...] = (),
    *,
    timeout: float = 120.0,
) -> tuple[ChecksumAddress, int]:
    """Deploy one artifact signed by ``deployer``; returns (address, block number)."""
    from contracts.transactions import send_and_wait

    contract = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = HexBytes(contract.constructor(*args).data_in_transaction)
    receipt = send_and_wait(chain, deployer, to=None, data=data, timeout=timeout)
    address = receipt["contractAddress"]
    if address is None:
        raise TransactionFailedError(
            f"deploying {artifact.name} produced no contract address",
            tx_hash=HexBytes(receipt["transactionHash"]),
            receipt=receipt,
        )
    return to_checksum_address(address), int(receipt["blockNumber"])


def deploy(
    chain: Chain,
    deployer: LocalAccount,
    data_dir: Path | None = None,
    *,
    path: Path | None = None,
    vote_threshold_bps: int | None = None,
    proposal_lifetime: int | None = None,
    timeout: float = 120.0,
) -> Deployment:
    """Deploy the registry on ``chain`` unless the deployment file already records it.

    ``vote_threshold_bps`` / ``proposal_lifetime`` default to a simple majority and a week
    when deploying; when reusing a deployment they must match what it was deployed with (or
    be None). With neither ``data_dir`` nor ``path`` nothing is recorded and every call deploys
    anew (throwaway memory chains, the gas report). The deployer is the bootstrapper: it
    admits the founding members (``contracts.bootstrap``) and loses all power when bootstrap
    closes.
    """
    target = _resolve_path(chain, data_dir, path)
    if target is not None and target.exists():
        deployment = Deployment.load(target)
        verify_deployment(chain, deployment)
        for name, wanted, recorded in (
            ("vote_threshold_bps", vote_threshold_bps, deployment.vote_threshold_bps),
            ("proposal_lifetime", proposal_lifetime, deployment.proposal_lifetime),
        ):
            if wanted is not None and wanted != recorded:
                raise DeploymentMismatchError(
                    f"{name}={wanted} asked, but the registry recorded in {target} was deployed "
                    f"with {name}={recorded}"
                )
        return deployment

    threshold = DEFAULT_VOTE_THRESHOLD_BPS if vote_threshold_bps is None else vote_threshold_bps
    lifetime = DEFAULT_PROPOSAL_LIFETIME if proposal_lifetime is None else proposal_lifetime
    registry_artifact = load_artifact(REGISTRY)
    mras_artifact = load_artifact(MRAS)
    registry, start_block = deploy_contract(
        chain, deployer, registry_artifact, (threshold, lifetime), timeout=timeout
    )
    mras, _ = deploy_contract(chain, deployer, mras_artifact, (registry,), timeout=timeout)
    deployment = Deployment(
        chain_id=chain.chain_id,
        registry=registry,
        mras=mras,
        start_block=start_block,
        deployer=to_checksum_address(deployer.address),
        vote_threshold_bps=threshold,
        proposal_lifetime=lifetime,
        registry_code_hash=check_code(chain, registry, registry_artifact),
        mras_code_hash=check_code(chain, mras, mras_artifact, (bytes(HexBytes(registry)),)),
    )
    if target is not None:
        deployment.save(target)
    return deployment
