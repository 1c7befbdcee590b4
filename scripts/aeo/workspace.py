"""The data directory every ``aeo`` command and the demo share (``--data-dir``, default ./data).

::

    data/
      anvil/                       the local chain (contracts.anvil): state.json, anvil.json, log
      deployments/<chain id>.json  where the contracts live (contracts.deploy)
      deployer/                    the deployer's encrypted key (and secrets, when generated)
      consortium.json              the founding members: accounts, signing key ids, ports
      MN/ KZ/ KR/                  one administration each: registry.env (its AEO_* settings),
                                   operator-key.json, admin-key.json, signing-key.pem (all
                                   encrypted), secrets (0600, when generated), registry.db
      verifier-cache.sqlite        the offline cache (aeo verifier sync)
      demo/                        keys.json (API tokens, 0600), seeded.json, out/, logs/

Commands find the chain of a data directory here too: the anvil recorded under ``anvil/`` if
it runs, else the RPC URL ``consortium.json`` records (a consortium network's node).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aeo.errors import ChainNotRunningError, NotFoundError, ScriptError
from contracts.anvil import running_anvil
from contracts.chain import Chain, ChainSettings, connect
from contracts.deploy import Deployment, deployment_path, load_deployment
from contracts.errors import ChainUnavailableError, DeploymentNotFoundError

DEFAULT_DATA_DIR = Path("data")
CONSORTIUM_FORMAT = 1

# The demo's fixed ports: printed URLs and settings files stay valid from run to run.
DEFAULT_CHAIN_PORT = 8545
DEFAULT_VERIFIER_PORT = 8100
DEFAULT_API_PORTS = {"MN": 8101, "KZ": 8102, "KR": 8103}


@dataclass(frozen=True)
class MemberRecord:
    """One founding administration, as ``consortium.json`` records it (public data only)."""

    code: str
    name: str
    port: int
    admin: str
    operator: str
    signing_kid: str
    signing_algorithm: str


@dataclass(frozen=True)
class ConsortiumRecord:
    """What ``aeo consortium bootstrap`` founded, so later commands find it."""

    chain_id: int
    rpc_url: str
    deployment_file: str
    members: tuple[MemberRecord, ...]
    verifier_as: str = "KR"
    verifier_port: int = DEFAULT_VERIFIER_PORT
    format: int = field(default=CONSORTIUM_FORMAT)

    def member(self, code: str) -> MemberRecord:
        for member in self.members:
            if member.code == code:
                return member
        known = ", ".join(m.code for m in self.members)
        raise NotFoundError(f"{code} is not a member of this consortium (members: {known})")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.members)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ConsortiumRecord:
        if raw.get("format") != CONSORTIUM_FORMAT:
            raise ScriptError(f"unsupported consortium.json format {raw.get('format')!r}")
        try:
            members = tuple(MemberRecord(**m) for m in raw["members"])
            return cls(
                chain_id=int(raw["chain_id"]),
                rpc_url=str(raw["rpc_url"]),
                deployment_file=str(raw["deployment_file"]),
                members=members,
                verifier_as=str(raw.get("verifier_as", "KR")),
                verifier_port=int(raw.get("verifier_port", DEFAULT_VERIFIER_PORT)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ScriptError(f"consortium.json is incomplete or malformed: {exc}") from None


def write_json(path: Path, data: Any, *, private: bool = False) -> None:
    """Write atomically (a crash leaves the old file or the new one); ``private`` files are
    created 0600 because they hold tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # A scratch file left by a crashed run keeps its mode through O_TRUNC: start afresh, so
    # that the new file has exactly the mode asked for.
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise ScriptError(f"{path} is unreadable: {exc}") from None


@dataclass(frozen=True)
class Workspace:
    """Paths inside one data directory. Nothing is created until a command writes."""

    data_dir: Path = DEFAULT_DATA_DIR

    def __post_init__(self) -> None:
        # Absolute, so settings files written here work from any working directory.
        object.__setattr__(self, "data_dir", Path(self.data_dir).absolute())

    @property
    def deployer_dir(self) -> Path:
        return self.data_dir / "deployer"

    @property
    def deployer_key(self) -> Path:
        return self.deployer_dir / "deployer-key.json"

    @property
    def consortium_file(self) -> Path:
        return self.data_dir / "consortium.json"

    @property
    def verifier_cache(self) -> Path:
        return self.data_dir / "verifier-cache.sqlite"

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def demo_out(self) -> Path:
        return self.demo_dir / "out"

    @property
    def demo_logs(self) -> Path:
        return self.demo_dir / "logs"

    @property
    def demo_keys(self) -> Path:
        return self.demo_dir / "keys.json"

    @property
    def demo_seeded(self) -> Path:
        return self.demo_dir / "seeded.json"

    def member_dir(self, code: str) -> Path:
        return self.data_dir / code

    def registry_env(self, code: str) -> Path:
        return self.member_dir(code) / "registry.env"

    def operator_key(self, code: str) -> Path:
        return self.member_dir(code) / "operator-key.json"

    def admin_key(self, code: str) -> Path:
        return self.member_dir(code) / "admin-key.json"

    def signing_key(self, code: str) -> Path:
        return self.member_dir(code) / "signing-key.pem"

    def deployment_file(self, chain_id: int) -> Path:
        return deployment_path(self.data_dir, chain_id)

    # ------------------------------------------------------------ consortium.json

    def has_consortium(self) -> bool:
        return self.consortium_file.is_file()

    def consortium(self) -> ConsortiumRecord:
        try:
            raw = read_json(self.consortium_file)
        except FileNotFoundError:
            raise NotFoundError(
                f"no consortium in {self.data_dir} (found one first: aeo consortium bootstrap, "
                "or run aeo demo)"
            ) from None
        if not isinstance(raw, dict):
            raise ScriptError(f"{self.consortium_file} does not hold a JSON object")
        return ConsortiumRecord.from_json(raw)

    def save_consortium(self, record: ConsortiumRecord) -> None:
        write_json(self.consortium_file, record.to_json())

    # ------------------------------------------------------------ the chain

    def chain_url(self) -> str | None:
        """The URL of this data directory's chain: its running anvil, else the recorded RPC
        URL; None when neither is known."""
        process = running_anvil(self.data_dir)
        if process is not None:
            return process.url
        if self.has_consortium():
            return self.consortium().rpc_url
        return None

    def connect(self, rpc_url: str | None = None) -> Chain:
        """Connect to this data directory's chain (or ``rpc_url``); never starts one."""
        try:
            if rpc_url is not None:
                return connect(ChainSettings(kind="rpc", rpc_url=rpc_url))
            if running_anvil(self.data_dir) is not None:
                # Attached, not owned: closing this connection leaves anvil running.
                return connect(ChainSettings(kind="anvil", data_dir=self.data_dir))
            if self.has_consortium():
                url = self.consortium().rpc_url
                if not url.startswith(("http://127.0.0.1", "http://localhost")):
                    return connect(ChainSettings(kind="rpc", rpc_url=url))
        except ChainUnavailableError as exc:
            raise ChainNotRunningError(f"the chain does not answer: {exc}") from None
        raise ChainNotRunningError(
            f"no chain is running for {self.data_dir}: start it with `aeo chain up` "
            "(or run `aeo demo`), or pass --rpc-url"
        )

    def deployment(self, chain: Chain) -> Deployment:
        """The verified deployment recorded for ``chain`` in this data directory."""
        try:
            return load_deployment(chain, self.data_dir)
        except DeploymentNotFoundError:
            raise NotFoundError(
                f"the contracts are not deployed on chain {chain.chain_id} for {self.data_dir} "
                "(deploy them: aeo deploy)"
            ) from None
