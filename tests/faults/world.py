"""Real processes for the fault tests: a founded consortium in a data directory, its anvil
(state persisted), and registry services run as ``aeo serve`` subprocesses that a test kills
with SIGKILL and starts again, exactly as an operator's host would.

The consortium is founded once per session (``found_template``: deploy, bootstrap MN, KZ
and KR with their encrypted keys and settings, an MRA between MN and KR) and each test works
on a copy of that data directory with its own anvil on a free port (``open_world``).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import sqlalchemy as sa
from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_typing import ABIFunction
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_output_types
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import TransactionNotFound

from aeo import consortium as founding, passphrases
from aeo.services import Child, log_tail, start_child
from aeo.workspace import Workspace
from contracts.anvil import AnvilProcess, free_port, start_anvil
from contracts.artifacts import REGISTRY, load_artifact
from contracts.chain import Chain, ChainSettings, connect
from contracts.deploy import Deployment
from contracts.domain import days, ids
from contracts.domain.enums import CertificateStatus as ChainCertificateStatus, Tier
from contracts.domain.events import CertificateIssued
from contracts.logs import fetch_events
from contracts.reader import RegistryReader
from contracts.writer import RegistryWriter
from registry_api.db import (
    Certificate,
    CertificateEvent,
    IndexerCursor,
    Operation,
    OperationState,
    Role,
    make_engine,
    make_session_factory,
)
from registry_api.faults import CRASH_AT_ENV
from registry_api.keystore import load_operator_key
from registry_api.services.api_keys import create_api_key
from registry_api.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
#: generous bounds: two CPUs are shared with other test runs
START_TIMEOUT = 60.0
WAIT_TIMEOUT = 75.0
#: the workers poll briskly so that the tests measure recovery, not idle waiting
FAST_WORKERS = {
    "AEO_SENDER_POLL_INTERVAL": "0.1",
    "AEO_INDEXER_POLL_INTERVAL": "0.2",
    "AEO_LOG_LEVEL": "INFO",
}
T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, timeout: float = WAIT_TIMEOUT) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after
    ``timeout`` seconds (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what} (last: {value!r})")
        time.sleep(0.1)


# ---------------------------------------------------------------- the founded consortium


def operator_of(workspace: Workspace, code: str) -> LocalAccount:
    """``code``'s operator account, decrypted from its key file with its generated secret."""
    passphrase = passphrases.passphrase_for(workspace.member_dir(code))
    return load_operator_key(workspace.operator_key(code), passphrase).account()


def found_template(data_dir: Path) -> None:
    """Deploy and found MN, KZ and KR in ``data_dir`` (keys encrypted under generated
    passphrases); MN and KR recognize each other's S tier. anvil is stopped cleanly, so its
    state file holds all of it."""
    workspace = Workspace(data_dir)
    node = start_anvil(workspace.data_dir)
    try:
        with workspace.connect() as chain:
            deployment = founding.deploy_registry(
                workspace, chain, generate_passphrase=True
            ).deployment
            founding.bootstrap(workspace, chain, deployment, generate_passphrases=True)
            day = days.day_of(int(chain.w3.eth.get_block("latest")["timestamp"]))
            security = int(Tier.SECURITY_SAFETY)
            RegistryWriter(chain, deployment, operator_of(workspace, "MN")).propose_mra(
                ["MN", "KR"], [security, security], day - 1, 0, b"\x11" * 32
            )
            RegistryWriter(chain, deployment, operator_of(workspace, "KR")).sign_mra(1)
    finally:
        node.stop()


@dataclass
class World:
    """A copy of the founded consortium with its own anvil, and the registries started on it."""

    workspace: Workspace
    node: AnvilProcess
    chain: Chain
    deployment: Deployment
    registries: list[Registry] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.workspace.data_dir

    @property
    def reader(self) -> RegistryReader:
        return RegistryReader(self.chain, self.deployment)

    def registry(self, code: str, **env: str) -> Registry:
        registry = Registry(self, code, env)
        self.registries.append(registry)
        return registry

    def kill_node(self) -> None:
        """``kill -9`` anvil: whatever it did since its last state dump is lost."""
        self.node.kill()

    def start_node(self) -> None:
        """Start anvil again on the same port from its state file."""
        self.node = start_anvil(self.data_dir, port=self.node.port, chain_id=self.node.chain_id)

    def stop_node(self) -> None:
        """Stop anvil cleanly (it writes its state file first)."""
        self.node.stop()

    @property
    def state_file(self) -> Path:
        return self.node.state_file

    def anvil_call(self, method: str, *params: Any) -> Any:
        response = self.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, response
        return response.get("result")

    def operator_nonce(self, code: str, block: str = "latest") -> int:
        address = operator_of(self.workspace, code).address
        return int(self.chain.w3.eth.get_transaction_count(address, block))  # type: ignore[arg-type]

    def receipt(self, tx_hash: bytes | None) -> Any:
        """The receipt of ``tx_hash``, or None while the chain has not mined it."""
        if tx_hash is None:
            return None
        try:
            return self.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def knows(self, tx_hash: bytes) -> bool:
        """Whether the node has the transaction at all (mined or in its pool)."""
        try:
            self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def issued_counts(self) -> dict[str, int]:
        """How many CertificateIssued events the chain holds per certificate number."""
        counts: dict[str, int] = {}
        for event in fetch_events(self.chain, self.deployment):
            if isinstance(event, CertificateIssued):
                counts[event.number] = counts.get(event.number, 0) + 1
        return counts

    def close(self) -> None:
        for registry in self.registries:
            registry.close()
        with contextlib.suppress(Exception):
            self.node.kill()


@contextlib.contextmanager
def open_world(template: Path, data_dir: Path) -> Iterator[World]:
    """A copy of ``template`` in ``data_dir`` with anvil started from the copied state on a
    free port; the settings files are rewritten for that port."""
    shutil.copytree(template, data_dir)
    workspace = Workspace(data_dir)
    node = start_anvil(workspace.data_dir)
    try:
        chain = connect(ChainSettings(kind="anvil", data_dir=workspace.data_dir))
        deployment = workspace.deployment(chain)
        founding.bootstrap(workspace, chain, deployment)  # rewrites registry.env (new URL)
        world = World(workspace, node, chain, deployment)
    except BaseException:
        node.kill()
        raise
    try:
        yield world
    finally:
        world.close()


# ---------------------------------------------------------------- one registry process


class Registry:
    """One administration's registry API as a real process (``aeo serve``), its database
    readable by the test. ``start(crash_at="after_sign:3")`` sets the crash hook."""

    def __init__(self, world: World, code: str, env: Mapping[str, str]) -> None:
        self.world = world
        self.code = code
        self.port = free_port()
        self.env = {**FAST_WORKERS, **env}
        self.settings: Settings = founding.registry_settings(world.workspace, code)
        self.log = world.data_dir / "logs" / f"registry-{code}.log"
        self.child: Child | None = None
        self.starts = 0
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def start(self, *, crash_at: str | None = None) -> None:
        """Start the process and wait until it answers (or, with ``crash_at``, until it
        answers or has crashed as asked)."""
        assert not self.alive, f"{self.code} already runs"
        env = dict(self.env)
        if crash_at is not None:
            env[CRASH_AT_ENV] = crash_at
        self.starts += 1
        self.child = start_child(
            f"{self.code} registry API",
            ["-m", "aeo.cli", "serve", "--authority", self.code,
             "--data-dir", str(self.world.data_dir), "--port", str(self.port)],
            url=self.url,
            log=self.log,
            env=env,
            unset_prefix="AEO_",
            cwd=PROJECT_DIR,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not self.child.alive():
                    if crash_at is not None and self.child.popen.returncode == -signal.SIGKILL:
                        return
                    raise AssertionError(
                        f"{self.code} exited with {self.child.popen.returncode} while starting:\n"
                        + log_tail(self.log, 40)
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/healthz").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{self.code} did not answer within {START_TIMEOUT:g} s:\n"
                        + log_tail(self.log, 40)
                    )
                time.sleep(0.1)

    def kill(self) -> None:
        """``kill -9`` the service."""
        assert self.child is not None
        self.child.popen.send_signal(signal.SIGKILL)
        self.child.popen.wait(10)

    def wait_crashed(self, timeout: float = WAIT_TIMEOUT) -> None:
        """Wait for the crash the hook asked for (SIGKILL from within)."""
        assert self.child is not None
        try:
            code = self.child.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.code} did not crash within {timeout:g} s:\n" + log_tail(self.log, 40)
            ) from None
        assert code == -signal.SIGKILL, f"exit {code}:\n{log_tail(self.log, 40)}"

    def stop(self) -> None:
        if self.child is not None and self.child.alive():
            self.child.stop(15)

    def close(self) -> None:
        if self.child is not None and self.child.alive():
            self.child.popen.kill()
            self.child.popen.wait(10)
        if self._engine is not None:
            self._engine.dispose()

    def log_count(self, text: str) -> int:
        """How many times ``text`` occurs in the service's log (all its runs)."""
        return self.log.read_text(encoding="utf-8", errors="replace").count(text)

    def worker_failures(self) -> list[str]:
        """Log lines of a background pass that raised: a bug, whatever the fault."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line[:300] for line in lines if "failed a pass" in line]

    # -------------------------------------------------------------- its database

    def session(self) -> Session:
        """A session on the service's own database (SQLite in WAL mode: reads while it runs)."""
        if self._sessions is None:
            self._engine = make_engine(self.settings.db_url)
            self._sessions = make_session_factory(self._engine)
        return self._sessions()

    def token(self, role: Role = Role.ISSUING_OFFICER, partner_authority: str | None = None) -> str:
        """A new API key (straight in the database, which the first start created)."""
        with self.session() as session:
            _key, token = create_api_key(
                session,
                user=f"{role.value} {uuid.uuid4().hex[:6]}",
                role=role,
                own_authority=self.code,
                partner_authority=partner_authority,
            )
        return token

    def client(self, token: str, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def operations(self) -> list[Operation]:
        with self.session() as session:
            return list(session.scalars(sa.select(Operation).order_by(Operation.created_at)))

    def cursor(self) -> int:
        with self.session() as session:
            cursor = session.get(IndexerCursor, "registry")
            return cursor.block_number if cursor is not None else -1

    def caught_up(self) -> bool:
        """The indexer's cursor is the chain's head block (same number, same hash)."""
        with self.session() as session:
            cursor = session.get(IndexerCursor, "registry")
        if cursor is None or cursor.block_hash is None:
            return False
        head = self.world.chain.w3.eth.get_block("latest")
        return cursor.block_number == head["number"] and cursor.block_hash == bytes(head["hash"])


# ---------------------------------------------------------------- the index against the chain


ChainState = tuple[str, int, bytes]


def chain_certificates(world: World, certificate_ids: Iterable[bytes]) -> dict[bytes, ChainState]:
    """``getCertificate`` of each id as (status, version, digest), read in JSON-RPC batches:
    RegistryReader makes one round trip and one web3 decoding per certificate, seconds for
    the thousands these tests compare."""
    abi = cast(
        "ABIFunction",
        next(item for item in load_artifact(REGISTRY).abi if item.get("name") == "getCertificate"),
    )
    selector = function_abi_to_4byte_selector(abi)
    [output] = get_abi_output_types(abi)
    fields = [component["name"] for component in abi["outputs"][0]["components"]]
    wanted = list(dict.fromkeys(certificate_ids))
    states: dict[bytes, ChainState] = {}
    with httpx.Client(timeout=60.0) as client:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            batch = [
                {
                    "jsonrpc": "2.0",
                    "id": n,
                    "method": "eth_call",
                    "params": [
                        {"to": world.deployment.registry, "data": "0x" + (selector + cid).hex()},
                        "latest",
                    ],
                }
                for n, cid in enumerate(chunk)
            ]
            answers = sorted(client.post(world.node.url, json=batch).json(), key=lambda a: a["id"])
            for cid, answer in zip(chunk, answers, strict=True):
                [raw] = abi_decode([output], bytes.fromhex(answer["result"][2:]))
                view = dict(zip(fields, raw, strict=True))
                status = ChainCertificateStatus(view["status"]).name.lower()
                states[cid] = (status, int(view["version"]), bytes(view["digest"]))
    return states


def index_differences(registry: Registry) -> list[str]:
    """Where the registry's index differs from the chain (empty when it equals it):

    - its certificate events are exactly the chain's (transaction hash and log index, in
      order: nothing missing, nothing twice, nothing from lost blocks);
    - each certificate it indexed has, in its latest event, the chain's status, version and
      record digest (``getCertificate``);
    - each of its own certificate rows has the chain's status, version and digest (or is
      pending / failed when the chain does not know it).
    """
    world = registry.world
    chain_events = [
        (bytes(event.tx_hash), event.log_index)
        for event in fetch_events(world.chain, world.deployment)
        if type(event).__name__.startswith("Certificate")
    ]
    problems: list[str] = []
    with registry.session() as session:
        events = list(
            session.scalars(
                sa.select(CertificateEvent).order_by(
                    CertificateEvent.block_number, CertificateEvent.log_index
                )
            )
        )
        indexed = [(bytes(event.tx_hash), event.log_index) for event in events]
        if indexed != chain_events:
            missing = len(set(chain_events) - set(indexed))
            extra = len(indexed) - len(set(indexed)) + len(set(indexed) - set(chain_events))
            problems.append(
                f"events: {len(indexed)} indexed, {len(chain_events)} on chain "
                f"({missing} missing, {extra} extra or twice)"
            )
        latest = {event.certificate_id: event for event in events}
        own = list(session.scalars(sa.select(Certificate)))
        chain = chain_certificates(
            world, [*latest, *(certificate.certificate_id for certificate in own)]
        )
        for certificate_id, event in latest.items():
            state = event.data["state"]
            digest = ids.record_digest(
                bytes.fromhex(state["holder_ref"][2:]), bytes.fromhex(state["commitment"][2:])
            )
            found = (state["status"], state["version"], digest)
            if found != chain[certificate_id]:
                problems.append(f"{event.number}: indexed {found}, chain {chain[certificate_id]}")
        for certificate in own:
            expected = chain[certificate.certificate_id]
            if expected[0] == "none":
                if certificate.status.value not in {"pending", "failed"}:
                    problems.append(f"{certificate.number}: {certificate.status}, not on chain")
                continue
            row = (certificate.status.value, certificate.version, certificate.digest)
            if row != expected:
                problems.append(f"{certificate.number}: row {row}, chain {expected}")
    return problems


def report(test: str, **figures: Any) -> None:
    """Print the figures a test measured (``pytest -rP`` shows them; docs/reliability.md
    records them)."""
    print(f"FIGURES {test}: {json.dumps(figures, default=str)}")


# ---------------------------------------------------------------- writers and what they got


@dataclass
class Answer:
    number: str
    phase: str
    status: int | None
    body: dict[str, Any] | None
    content_type: str | None


@dataclass
class Writers:
    """Issuing officers who keep issuing certificates, one request at a time, each with its
    own Idempotency-Key; what each request was answered is kept."""

    registry: Registry
    token: str
    pause: float = 0.2
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writers", daemon=True)

    def __enter__(self) -> Writers:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        with self.registry.client(self.token, timeout=20.0) as api:
            n = 0
            while not self._stop.is_set():
                n += 1
                number = f"MN-OUT-{n:04d}"
                phase = self.phase
                try:
                    answer = api.post(
                        "/v1/certificates",
                        json=record_body(number),
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                except Exception:
                    self.answers.append(Answer(number, phase, None, None, None))
                else:
                    self.answers.append(
                        Answer(
                            number,
                            phase,
                            answer.status_code,
                            answer.json(),
                            answer.headers.get("content-type"),
                        )
                    )
                self._stop.wait(self.pause)

    def accepted(self, phase: str | None = None) -> list[str]:
        return [
            a.number
            for a in list(self.answers)
            if a.status == 202 and (phase is None or a.phase == phase)
        ]


def confirmed(registry: Registry) -> int:
    return sum(op.state is OperationState.CONFIRMED for op in registry.operations())


def all_confirmed(registry: Registry, count: int) -> bool:
    operations = registry.operations()
    return len(operations) == count and all(
        op.state is OperationState.CONFIRMED for op in operations
    )


def assert_each_accepted_write_applied_once(
    world: World, mn: Registry, accepted: list[str]
) -> None:
    issued = world.issued_counts()
    mine = {number: count for number, count in issued.items() if number.startswith("MN-")}
    assert mine == dict.fromkeys(accepted, 1)
    operations = mn.operations()
    nonces = sorted(op.nonce for op in operations if op.nonce is not None)
    assert nonces == list(range(nonces[0], nonces[0] + len(operations)))
    assert world.operator_nonce("MN") == world.operator_nonce("MN", "pending") == nonces[-1] + 1
    assert index_differences(mn) == []
    assert mn.worker_failures() == []


# ---------------------------------------------------------------- certificates to load

CSV_HEADER = (
    "number,holder_legal_name,holder_street,holder_city,holder_country,holder_id_scheme,"
    "holder_id_number,business_roles,tiers,validated_criteria,issuing_office,officer,"
    "valid_from,valid_until"
)


def certificates_csv(numbers: list[str]) -> bytes:
    """An import file (docs/api.md, "Bulk import") with one AEOF certificate per number."""
    rows = [CSV_HEADER]
    for n, number in enumerate(numbers, start=1):
        rows.append(
            f"{number},Trader {n} LLC,Peace Avenue {n},Ulaanbaatar,MN,TIN,{5_000_000 + n},"
            "IM;EX,AEOF,C1;C2,Ulaanbaatar Customs House,B. Bat-Erdene,2024-01-15,2029-01-14"
        )
    return ("\n".join(rows) + "\n").encode("utf-8")


def record_body(number: str) -> dict[str, Any]:
    """A POST /v1/certificates body for ``number`` (tier AEOF: KR's partner key sees it)."""
    return {
        "number": number,
        "holder": {
            "legal_name": f"Holder of {number}",
            "address": {"street": "Peace Avenue 17", "city": "Ulaanbaatar", "country": "MN"},
            "identification": {"scheme": "TIN", "number": number.replace("-", "")[-12:]},
        },
        "business_roles": ["IM", "EX"],
        "tiers": 3,
        "validated_criteria": ["C1", "C2"],
        "issuing_office": "Ulaanbaatar Customs House",
        "officer": "B. Bat-Erdene",
        "valid_from": "2024-01-15",
        "valid_until": "2029-01-14",
    }
