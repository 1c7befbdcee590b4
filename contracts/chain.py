"""Reach a chain: one setting picks the backend, the code above it does not change.

- ``memory``: eth-tester with py-evm in this process (London gas rules, like the consortium
  networks the contracts target). Nothing survives the process.
- ``anvil``: a real anvil process on 127.0.0.1 with its state persisted under the data dir
  (see ``contracts.anvil``). ``connect`` attaches to the one recorded for the data dir, or
  starts one that ``Chain.close`` stops.
- ``rpc``: any Ethereum JSON-RPC URL (Besu, GoQuorum...). On this path the layer uses standard
  ``eth_*`` methods only, and every transaction is signed locally: never an unlocked node
  account, never an ``anvil_``/``evm_`` method.

The development helpers at the bottom (``fund``, ``mine``, ``advance_time``, snapshots) work on
``memory`` and ``anvil`` and raise ``NotADevChainError`` on ``rpc``.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse, Wei

from contracts.anvil import DEFAULT_CHAIN_ID, AnvilProcess, running_anvil, start_anvil
from contracts.errors import (
    ChainConfigError,
    ChainError,
    ChainUnavailableError,
    NotADevChainError,
    translate_errors,
)

if TYPE_CHECKING:
    from eth_tester import EthereumTester

ChainKind = Literal["memory", "anvil", "rpc"]
CHAIN_KINDS: tuple[str, ...] = get_args(ChainKind)

# eth-tester fixes its chain id in the tester chain class; recorded here so settings can check.
MEMORY_CHAIN_ID = 131277322940537


@dataclass(frozen=True)
class ChainSettings:
    """Which chain to use and how to reach it.

    ``chain_id``: for ``anvil`` the id to start it with (default 31337); for ``rpc`` the id the
    node must report (refused otherwise); for ``memory`` it must be None or eth-tester's id.
    ``block_time``: None mines one block per transaction (anvil only; ``memory`` always does).
    """

    kind: ChainKind = "memory"
    rpc_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("data"))
    anvil_port: int | None = None
    block_time: float | None = None
    chain_id: int | None = None
    request_timeout: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))  # a str from settings is fine
        if self.kind not in CHAIN_KINDS:
            raise ChainConfigError(
                f"chain kind must be one of {', '.join(CHAIN_KINDS)}; got {self.kind!r}"
            )
        if self.kind == "rpc" and not self.rpc_url:
            raise ChainConfigError("rpc_url is required when the chain kind is 'rpc'")
        if self.rpc_url and not self.rpc_url.startswith(("http://", "https://")):
            raise ChainConfigError(f"rpc_url must be an http(s) URL; got {self.rpc_url!r}")
        if self.block_time is not None and self.block_time <= 0:
            raise ChainConfigError(f"block_time must be positive or None; got {self.block_time}")
        if self.anvil_port is not None and not 0 < self.anvil_port < 65536:
            raise ChainConfigError(f"anvil_port must be 1..65535; got {self.anvil_port}")
        if self.request_timeout <= 0:
            raise ChainConfigError(f"request_timeout must be positive; got {self.request_timeout}")
        if self.kind == "memory" and self.chain_id not in (None, MEMORY_CHAIN_ID):
            raise ChainConfigError(
                f"the memory chain's id is fixed at {MEMORY_CHAIN_ID}; got chain_id={self.chain_id}"
            )


class Chain:
    """A connected chain: ``w3`` for calls, ``kind`` for what it is, ``close()`` when done."""

    def __init__(
        self,
        kind: ChainKind,
        w3: Web3,
        settings: ChainSettings,
        *,
        tester: EthereumTester | None = None,
        anvil: AnvilProcess | None = None,
        owns_anvil: bool = False,
    ) -> None:
        self.kind = kind
        self.w3 = w3
        self.settings = settings
        self.tester = tester
        self.anvil = anvil
        self.owns_anvil = owns_anvil
        self._chain_id: int | None = None

    @property
    def is_dev(self) -> bool:
        """True for the throwaway chains (memory, anvil) on which funding and time travel work."""
        return self.kind != "rpc"

    @property
    def url(self) -> str | None:
        if self.anvil is not None:
            return self.anvil.url
        return self.settings.rpc_url

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            with translate_errors("reading the chain id"):
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def block_number(self) -> int:
        with translate_errors("reading the block number"):
            return int(self.w3.eth.block_number)

    def close(self) -> None:
        """Release the chain; stops anvil only if this connection started it."""
        if self.owns_anvil and self.anvil is not None:
            self.anvil.stop()

    def __enter__(self) -> Chain:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" {self.url}" if self.url else ""
        return f"<Chain {self.kind}{where}>"


class _RevertData(Exception):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.data = data


def _raising_revert_data(delegator: Any) -> Any:
    """Wrap an eth-tester endpoint so a revert keeps its raw data (web3 would flatten it into
    the repr of a bytes object inside a message)."""
    from eth_tester.exceptions import TransactionFailed

    def endpoint(tester: EthereumTester, params: Any) -> Any:
        try:
            return delegator(tester, params)
        except TransactionFailed as exc:
            raw = exc.args[0] if exc.args else b""
            if isinstance(raw, Exception) and raw.args:
                raw = raw.args[0]
            # eth_call reports the revert data as str(bytes): "b'\\x16...'"
            if isinstance(raw, str) and raw.startswith(("b'", 'b"')):
                raw = ast.literal_eval(raw)
            if isinstance(raw, bytes):
                raise _RevertData(raw) from exc
            raise

    return endpoint


class _MemoryProvider(EthereumTesterProvider):
    """eth-tester made to answer like a JSON-RPC node, so one code path serves every chain:

    - reverts of eth_call / eth_estimateGas become ``{"code": 3, "data": "0x..."}`` errors,
      from which web3 raises its revert exceptions with the raw data, as it does for a node;
    - a refused raw transaction (nonce too low, already known...) becomes an error response
      instead of an eth-tester exception;
    - requests are serialized: py-evm is not thread-safe, and the registry API's sender and
      request threads share one chain.
    """

    def __init__(self, tester: EthereumTester) -> None:
        from eth_tester.exceptions import ValidationError as TesterValidationError
        from eth_utils.exceptions import ValidationError as EvmValidationError
        from web3.providers.eth_tester.defaults import API_ENDPOINTS

        endpoints = {namespace: dict(methods) for namespace, methods in API_ENDPOINTS.items()}
        for name in ("call", "estimateGas"):
            endpoints["eth"][name] = _raising_revert_data(endpoints["eth"][name])
        super().__init__(tester, api_endpoints=endpoints)
        self._lock = threading.RLock()
        self._refusals: tuple[type[Exception], ...] = (TesterValidationError, EvmValidationError)

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self._lock:
            try:
                return super().make_request(method, params)
            except _RevertData as exc:
                return _error_response(3, "execution reverted", "0x" + exc.data.hex())
            except self._refusals as exc:
                if method != "eth_sendRawTransaction":
                    raise
                return _error_response(-32000, _node_message(str(exc)))


_NONCE_MISMATCH = re.compile(r"Invalid transaction nonce: Expected (\d+), but got (\d+)")


def _node_message(message: str) -> str:
    """py-evm's nonce refusal in the words geth, Besu and anvil use."""
    match = _NONCE_MISMATCH.search(message)
    if match:
        expected, got = int(match[1]), int(match[2])
        return f"nonce too {'low' if got < expected else 'high'}: {message}"
    return message


def _error_response(code: int, message: str, data: str | None = None) -> RPCResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return cast(RPCResponse, {"jsonrpc": "2.0", "id": 0, "error": error})


def _memory_tester() -> EthereumTester:
    from eth.vm.forks.paris import ParisVM
    from eth_tester import EthereumTester, PyEVMBackend

    # Paris, not eth-tester's default (Prague): it charges exactly London's gas (the contracts
    # target london, and figures measured here must match a Besu/GoQuorum network's), and
    # unlike LondonVM it is post-merge, so snapshots revert without recomputing PoW difficulty.
    return EthereumTester(PyEVMBackend(vm_configuration=((0, ParisVM),)))


def _http_web3(url: str, timeout: float) -> Web3:
    provider = Web3.HTTPProvider(
        url,
        request_kwargs={"timeout": timeout},
        # Two quick retries ride over a blip; a node that is down must surface fast as
        # ChainUnavailableError (503), not after seconds of back-off.
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=(ConnectionError, OSError), retries=2, backoff_factor=0.1
        ),
    )
    return Web3(provider)


def connect(settings: ChainSettings) -> Chain:
    """Connect to the chain ``settings`` describe. Raises ``ChainUnavailableError`` when the
    node does not answer and ``ChainConfigError`` when it is not the expected chain."""
    if settings.kind == "memory":
        tester = _memory_tester()
        return Chain("memory", Web3(_MemoryProvider(tester)), settings, tester=tester)
    if settings.kind == "anvil":
        process = running_anvil(settings.data_dir)
        owns = process is None
        if process is None:
            process = start_anvil(
                settings.data_dir,
                port=settings.anvil_port,
                block_time=settings.block_time,
                chain_id=settings.chain_id or DEFAULT_CHAIN_ID,
            )
        chain = Chain(
            "anvil",
            _http_web3(process.url, settings.request_timeout),
            settings,
            anvil=process,
            owns_anvil=owns,
        )
    else:
        assert settings.rpc_url is not None  # checked by ChainSettings
        chain = Chain("rpc", _http_web3(settings.rpc_url, settings.request_timeout), settings)
    try:
        actual = chain.chain_id
    except ChainUnavailableError:
        chain.close()
        raise
    if settings.chain_id is not None and actual != settings.chain_id:
        chain.close()
        raise ChainConfigError(
            f"the node at {chain.url} is chain {actual}, the settings expect {settings.chain_id}"
        )
    return chain


# --- development chains only -------------------------------------------------------------------


def _require_dev(chain: Chain, what: str) -> None:
    if not chain.is_dev:
        raise NotADevChainError(
            f"{what} only works on a development chain (memory or anvil), not on {chain.kind}; "
            "on a consortium network the operator accounts are provisioned by the network"
        )


def _anvil_call(chain: Chain, method: str, params: list[Any]) -> Any:
    with translate_errors(method):
        response = chain.w3.provider.make_request(RPCEndpoint(method), params)
    if "error" in response:
        raise ChainError(f"{method} failed: {response['error']}")
    return response.get("result")


def fund(chain: Chain, address: str, wei: int) -> None:
    """Add ``wei`` to ``address``'s balance (memory: a transfer from a tester account;
    anvil: ``anvil_setBalance``)."""
    _require_dev(chain, "funding an account")
    if wei < 0:
        raise ValueError(f"wei must not be negative; got {wei}")
    target: ChecksumAddress = to_checksum_address(address)
    if chain.kind == "memory":
        with translate_errors("funding"):
            source = chain.w3.eth.accounts[0]
            tx_hash = chain.w3.eth.send_transaction(
                {"from": source, "to": target, "value": Wei(wei)}
            )
            chain.w3.eth.wait_for_transaction_receipt(tx_hash)
        return
    with translate_errors("funding"):
        balance = chain.w3.eth.get_balance(target)
    _anvil_call(chain, "anvil_setBalance", [target, hex(balance + wei)])


def mine(chain: Chain, blocks: int = 1) -> None:
    """Mine ``blocks`` empty blocks."""
    _require_dev(chain, "mining blocks")
    if blocks < 1:
        raise ValueError(f"blocks must be at least 1; got {blocks}")
    if chain.tester is not None:
        chain.tester.mine_blocks(blocks)
    else:
        _anvil_call(chain, "anvil_mine", [hex(blocks)])


def latest_timestamp(chain: Chain) -> int:
    with translate_errors("reading the latest block"):
        return int(chain.w3.eth.get_block("latest")["timestamp"])


def advance_time(chain: Chain, seconds: int) -> int:
    """Move the chain clock forward by ``seconds`` and mine a block; returns its timestamp."""
    _require_dev(chain, "time travel")
    if seconds < 1:
        raise ValueError(f"seconds must be at least 1; got {seconds}")
    if chain.tester is not None:
        # eth-tester mines the block one second before the timestamp it is given.
        chain.tester.time_travel(latest_timestamp(chain) + seconds + 1)
        return latest_timestamp(chain)
    _anvil_call(chain, "evm_increaseTime", [seconds])
    _anvil_call(chain, "evm_mine", [])
    return latest_timestamp(chain)


def snapshot(chain: Chain) -> Any:
    """An opaque id of the current chain state, for ``revert_to_snapshot``."""
    _require_dev(chain, "snapshots")
    if chain.tester is not None:
        return chain.tester.take_snapshot()
    return _anvil_call(chain, "evm_snapshot", [])


def revert_to_snapshot(chain: Chain, snapshot_id: Any) -> None:
    """Rewind the chain to ``snapshot_id`` (a chain reorganisation, as the indexer sees it)."""
    _require_dev(chain, "snapshots")
    if chain.tester is not None:
        chain.tester.revert_to_snapshot(snapshot_id)
        return
    if _anvil_call(chain, "evm_revert", [snapshot_id]) is not True:
        raise ChainError(f"anvil refused to revert to snapshot {snapshot_id!r}")
