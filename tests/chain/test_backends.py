"""Connecting to each kind of chain, and what each refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from contracts import anvil
from contracts.anvil import free_port
from contracts.chain import (
    MEMORY_CHAIN_ID,
    Chain,
    ChainSettings,
    advance_time,
    connect,
    fund,
    latest_timestamp,
    mine,
)
from contracts.errors import (
    AnvilError,
    ChainConfigError,
    ChainUnavailableError,
    NotADevChainError,
)


def test_memory_chain_answers_with_eth_testers_chain_id(memory_chain: Chain) -> None:
    assert memory_chain.kind == "memory"
    assert memory_chain.chain_id == MEMORY_CHAIN_ID
    assert memory_chain.block_number() >= 0


def test_anvil_chain_runs_on_loopback_with_the_default_chain_id(anvil_chain: Chain) -> None:
    assert anvil_chain.kind == "anvil"
    assert anvil_chain.url is not None
    assert anvil_chain.url.startswith("http://127.0.0.1:")
    assert anvil_chain.chain_id == anvil.DEFAULT_CHAIN_ID


@pytest.mark.both_chains
def test_fund_adds_to_the_balance(chain: Chain) -> None:
    account = Account.create()
    fund(chain, account.address, 5)
    fund(chain, account.address, 7)
    assert chain.w3.eth.get_balance(account.address) == 12


@pytest.mark.both_chains
def test_advance_time_moves_the_block_clock_forward(chain: Chain) -> None:
    before = latest_timestamp(chain)
    after = advance_time(chain, 3 * 86400)
    assert after >= before + 3 * 86400
    assert latest_timestamp(chain) == after


@pytest.mark.both_chains
def test_mine_adds_blocks(chain: Chain) -> None:
    start = chain.block_number()
    mine(chain, 3)
    assert chain.block_number() == start + 3


def test_rpc_chain_reaches_a_node_by_url(anvil_chain: Chain) -> None:
    assert anvil_chain.url is not None
    with connect(ChainSettings(kind="rpc", rpc_url=anvil_chain.url)) as rpc:
        assert rpc.kind == "rpc"
        assert rpc.chain_id == anvil_chain.chain_id
        assert rpc.anvil is None


def test_development_helpers_are_refused_on_an_rpc_chain(anvil_chain: Chain) -> None:
    assert anvil_chain.url is not None
    with connect(ChainSettings(kind="rpc", rpc_url=anvil_chain.url)) as rpc:
        with pytest.raises(NotADevChainError, match="funding an account only works"):
            fund(rpc, Account.create().address, 1)
        with pytest.raises(NotADevChainError):
            mine(rpc)
        with pytest.raises(NotADevChainError):
            advance_time(rpc, 60)


def test_rpc_chain_with_another_chain_id_is_refused(anvil_chain: Chain) -> None:
    assert anvil_chain.url is not None
    settings = ChainSettings(kind="rpc", rpc_url=anvil_chain.url, chain_id=1)
    with pytest.raises(ChainConfigError, match="expect 1"):
        connect(settings)


def test_unreachable_rpc_node_raises_chain_unavailable() -> None:
    settings = ChainSettings(kind="rpc", rpc_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ChainUnavailableError, match="did not answer"):
        connect(settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kind": "ganache"}, "chain kind must be one of"),
        ({"kind": "rpc"}, "rpc_url is required"),
        ({"kind": "rpc", "rpc_url": "ftp://node"}, "rpc_url must be an http"),
        ({"kind": "anvil", "block_time": 0}, "block_time must be positive"),
        ({"kind": "anvil", "anvil_port": 70000}, "anvil_port must be"),
        ({"kind": "memory", "chain_id": 5}, "memory chain's id is fixed"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ChainConfigError, match=message):
        ChainSettings(**settings)  # type: ignore[arg-type]


def test_connect_attaches_to_the_anvil_already_running_for_the_data_dir(
    anvil_chain: Chain,
) -> None:
    assert anvil_chain.anvil is not None
    settings = ChainSettings(kind="anvil", data_dir=anvil_chain.anvil.data_dir)
    with connect(settings) as second:
        assert second.anvil is not None
        assert second.anvil.pid == anvil_chain.anvil.pid
        assert not second.owns_anvil
    # Closing the attached connection leaves the owner's node running.
    assert anvil_chain.anvil.is_alive()
    assert anvil_chain.block_number() >= 0


def test_missing_anvil_binary_says_to_run_npm_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AEO_ANVIL_BIN", raising=False)
    monkeypatch.setattr(anvil, "PROJECT_DIR", tmp_path)
    with pytest.raises(AnvilError, match=r"run: npm ci"):
        anvil.find_anvil_binary()
