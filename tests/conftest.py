"""Chain fixtures every test folder can use.

- ``memory_chain``: eth-tester with py-evm in process. One chain per session, rewound to a
  snapshot before each test, so the expensive deploy and bootstrap happen once.
- ``anvil_chain``: a real anvil process on a free port, its state in ``tmp_path``, stopped at
  teardown. Tests using it are marked ``anvil`` automatically. It mines a block per
  transaction, or one every N seconds (and only then, like a QBFT network) when the run sets
  ``AEO_TEST_ANVIL_BLOCK_TIME=N`` (``make test-interval``): that becomes the default of every
  anvil the test process starts. Tests marked ``interval_mining`` always run on such blocks
  (every ``INTERVAL_MINING_SECONDS``, or the variable's value).
- ``chain``: memory by default. Mark a test, class or module with ``@pytest.mark.both_chains``
  to run it once on memory and once on anvil (the anvil run carries the ``anvil`` mark), or
  parametrize ``chain_kind`` yourself (``@pytest.mark.parametrize("chain_kind", ["anvil"])``).
- ``deployer`` (a funded account), ``deployment`` (the contracts on ``chain``) and
  ``consortium`` (MN, KZ and KR bootstrapped, each with a fresh admin and operator).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from contracts.anvil import default_block_time, set_default_block_time
from contracts.bootstrap import Consortium, bootstrap_consortium, new_account
from contracts.chain import Chain, ChainSettings, connect, revert_to_snapshot, snapshot
from contracts.deploy import Deployment, deploy

CHAIN_KINDS = ("memory", "anvil")
BLOCK_TIME_ENV = "AEO_TEST_ANVIL_BLOCK_TIME"
#: the block period of the tests marked ``interval_mining`` (QBFT networks use 1 to 5 s)
INTERVAL_MINING_SECONDS = 2.0


def anvil_block_time_from_environment(environ: Mapping[str, str]) -> float | None:
    """``AEO_TEST_ANVIL_BLOCK_TIME`` in seconds, None when unset or empty (automine)."""
    raw = environ.get(BLOCK_TIME_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise pytest.UsageError(
            f"{BLOCK_TIME_ENV} must be a positive number of seconds per block, got {raw!r}"
        )
    return seconds


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_chains: run the test on the memory chain and on a real anvil process"
    )
    set_default_block_time(anvil_block_time_from_environment(os.environ))


@pytest.fixture(autouse=True)
def _interval_mining(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked ``interval_mining`` start their anvils on interval blocks (fixtures of a
    wider scope, such as a session's founded consortium, were made before and keep theirs)."""
    if request.node.get_closest_marker("interval_mining") is None:
        yield
        return
    before = default_block_time()
    set_default_block_time(before or INTERVAL_MINING_SECONDS)
    try:
        yield
    finally:
        set_default_block_time(before)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_chains") and (
        "chain_kind" in metafunc.fixturenames
    ):
        metafunc.parametrize(
            "chain_kind",
            ["memory", pytest.param("anvil", marks=pytest.mark.anvil)],
            ids=list(CHAIN_KINDS),
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whatever way a test reaches anvil, it carries the ``anvil`` mark (``-m 'not anvil'``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_anvil = callspec is not None and callspec.params.get("chain_kind") == "anvil"
        if on_anvil or "anvil_chain" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.anvil)


@dataclass
class _MemoryWorld:
    """The session's memory chain and the snapshots tests rewind to."""

    chain: Chain
    deployer: LocalAccount
    empty: Any
    deployment: Deployment | None = None
    deployed: Any = None
    consortium: Consortium | None = None
    bootstrapped: Any = None


@pytest.fixture(scope="session")
def _memory_world() -> _MemoryWorld:
    chain = connect(ChainSettings(kind="memory"))
    deployer = new_account(chain)
    return _MemoryWorld(chain=chain, deployer=deployer, empty=snapshot(chain))


@pytest.fixture
def memory_chain(_memory_world: _MemoryWorld) -> Chain:
    """The in-process chain, rewound to its state before any deployment."""
    revert_to_snapshot(_memory_world.chain, _memory_world.empty)
    return _memory_world.chain


@pytest.fixture
def anvil_chain(tmp_path: Path) -> Iterator[Chain]:
    """A real anvil process owned by this test (state in ``tmp_path/anvil-data``), on the run's
    default block time (``AEO_TEST_ANVIL_BLOCK_TIME``; automine without it)."""
    chain = connect(ChainSettings(kind="anvil", data_dir=tmp_path / "anvil-data"))
    try:
        yield chain
    finally:
        chain.close()


@pytest.fixture
def chain_kind() -> str:
    """Which chain ``chain`` is; ``@pytest.mark.both_chains`` parametrizes it."""
    return "memory"


@pytest.fixture
def chain(request: pytest.FixtureRequest, chain_kind: str) -> Chain:
    if chain_kind not in CHAIN_KINDS:
        raise ValueError(f"chain_kind must be one of {CHAIN_KINDS}, got {chain_kind!r}")
    fixture: Chain = request.getfixturevalue(f"{chain_kind}_chain")
    return fixture


@pytest.fixture
def deployer(request: pytest.FixtureRequest, chain: Chain) -> LocalAccount:
    """A funded account that deploys the contracts and bootstraps the consortium."""
    if chain.kind == "memory":
        world: _MemoryWorld = request.getfixturevalue("_memory_world")
        return world.deployer
    return new_account(chain)


@pytest.fixture
def deployment(request: pytest.FixtureRequest, chain: Chain, deployer: LocalAccount) -> Deployment:
    """AeoRegistry and MraRegistry deployed on ``chain`` (nothing bootstrapped yet)."""
    if chain.kind == "memory":
        world: _MemoryWorld = request.getfixturevalue("_memory_world")
        if world.deployment is None:
            world.deployment = deploy(chain, deployer)
            world.deployed = snapshot(chain)
        else:
            revert_to_snapshot(chain, world.deployed)
        return world.deployment
    assert chain.anvil is not None
    return deploy(chain, deployer, chain.anvil.data_dir)


@pytest.fixture
def consortium(
    request: pytest.FixtureRequest, chain: Chain, deployment: Deployment, deployer: LocalAccount
) -> Consortium:
    """MN, KZ and KR admitted with a fresh ADMIN and OPERATOR each; bootstrap closed."""
    if chain.kind == "memory":
        world: _MemoryWorld = request.getfixturevalue("_memory_world")
        if world.consortium is None:
            world.consortium = bootstrap_consortium(chain, deployment, deployer)
            world.bootstrapped = snapshot(chain)
        else:
            revert_to_snapshot(chain, world.bootstrapped)
        return world.consortium
    return bootstrap_consortium(chain, deployment, deployer)
