"""Deploying is idempotent per chain, and refuses a recorded deployment that does not match."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from contracts.artifacts import BASELINE, MRAS, REGISTRY, load_artifact
from contracts.bootstrap import new_account
from contracts.chain import Chain, revert_to_snapshot, snapshot
from contracts.deploy import (
    Deployment,
    deploy,
    deploy_contract,
    deployment_path,
    load_deployment,
)
from contracts.errors import DeploymentError, DeploymentMismatchError, DeploymentNotFoundError


@pytest.mark.both_chains
def test_deploy_records_the_addresses_and_a_second_run_reuses_them(
    chain: Chain, deployer: LocalAccount, tmp_path: Path
) -> None:
    first = deploy(chain, deployer, tmp_path, vote_threshold_bps=6667)
    path = deployment_path(tmp_path, chain.chain_id)
    assert Deployment.load(path) == first
    assert first.chain_id == chain.chain_id
    assert first.vote_threshold_bps == 6667
    someone_else = new_account(chain)
    head = chain.block_number()

    second = deploy(chain, someone_else, tmp_path)

    assert second == first
    assert chain.block_number() == head  # nothing was sent
    assert load_deployment(chain, tmp_path) == first


@pytest.mark.both_chains
def test_the_deployed_code_is_the_artifacts_code(chain: Chain, deployment: Deployment) -> None:
    registry_code = chain.w3.eth.get_code(deployment.registry)
    assert registry_code == load_artifact(REGISTRY).deployed_bytecode
    assert chain.w3.eth.get_code(deployment.mras) == load_artifact(MRAS).deployed_bytecode
    assert deployment.start_block <= chain.block_number()


def test_recorded_addresses_holding_other_code_are_refused(
    memory_chain: Chain, deployer: LocalAccount, tmp_path: Path
) -> None:
    real = deploy(memory_chain, deployer, tmp_path)
    impostor, _ = deploy_contract(memory_chain, deployer, load_artifact(BASELINE))
    replace(real, registry=impostor).save(deployment_path(tmp_path, memory_chain.chain_id))

    with pytest.raises(DeploymentMismatchError, match="is not the AeoRegistry"):
        deploy(memory_chain, deployer, tmp_path)
    with pytest.raises(DeploymentMismatchError, match="is not the AeoRegistry"):
        load_deployment(memory_chain, tmp_path)


def test_a_recorded_deployment_missing_from_a_reset_chain_is_refused(
    memory_chain: Chain, deployer: LocalAccount, tmp_path: Path
) -> None:
    before = snapshot(memory_chain)
    deploy(memory_chain, deployer, tmp_path)
    revert_to_snapshot(memory_chain, before)  # the chain forgot the contracts, the file did not

    with pytest.raises(DeploymentMismatchError, match="was the chain reset"):
        deploy(memory_chain, deployer, tmp_path)


def test_reusing_a_deployment_with_another_vote_threshold_is_refused(
    memory_chain: Chain, deployer: LocalAccount, tmp_path: Path
) -> None:
    deploy(memory_chain, deployer, tmp_path, vote_threshold_bps=5001)
    with pytest.raises(DeploymentMismatchError, match="vote_threshold_bps=6667 asked"):
        deploy(memory_chain, deployer, tmp_path, vote_threshold_bps=6667)


def test_a_deployment_recorded_for_another_chain_is_refused(
    memory_chain: Chain, deployer: LocalAccount, tmp_path: Path
) -> None:
    path = tmp_path / "deployment.json"
    real = deploy(memory_chain, deployer, path=path)
    replace(real, chain_id=31337).save(path)
    with pytest.raises(DeploymentMismatchError, match="recorded for chain 31337"):
        load_deployment(memory_chain, path=path)


def test_loading_without_a_deployment_file_says_to_deploy_first(
    memory_chain: Chain, tmp_path: Path
) -> None:
    with pytest.raises(DeploymentNotFoundError, match="deploy first"):
        load_deployment(memory_chain, tmp_path)


def test_a_malformed_deployment_file_is_refused(memory_chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps({"format": 1, "chain_id": 1}))
    with pytest.raises(DeploymentError, match="incomplete or malformed"):
        load_deployment(memory_chain, path=path)
