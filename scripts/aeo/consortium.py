"""Deploy the contracts and found a consortium in a data directory, idempotently.

``deploy_registry`` keeps the deployer's key encrypted under ``data/deployer/`` so that a
later ``aeo consortium bootstrap`` signs as the same account (the contract lets only the
deployer admit the founding members, until the bootstrap is closed).

``bootstrap`` admits the members with ``contracts.bootstrap.bootstrap_consortium`` and then,
for each administration, writes under ``data/<CODE>/`` what its registry service needs, all
encrypted under that administration's passphrase: the operator key (the service's account,
given the ADMIN role besides OPERATOR so that the service can register and rotate signing
keys through its API), the admin key (Ethereum keystores), a document-signing key (PKCS#8),
and ``registry.env`` (its ``AEO_*`` settings). It publishes each signing key on chain with
the admin account. A second run finds the consortium recorded in ``consortium.json`` and
only rewrites the settings files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from eth_account.signers.local import LocalAccount

from aeo import passphrases
from aeo.errors import NotFoundError, ScriptError, UsageError
from aeo.workspace import (
    DEFAULT_API_PORTS,
    DEFAULT_VERIFIER_PORT,
    ConsortiumRecord,
    MemberRecord,
    Workspace,
)
from contracts.bootstrap import DEFAULT_MEMBERS, bootstrap_consortium, new_account
from contracts.chain import Chain
from contracts.deploy import Deployment, deploy
from contracts.domain import ids
from contracts.domain.enums import AccountRole, KeyAlgorithm
from contracts.reader import RegistryReader
from contracts.writer import RegistryWriter
from registry_api.keystore import (
    SigningKey,
    create_operator_key,
    create_signing_key,
    load_operator_key,
    load_signing_key,
)
from registry_api.settings import Settings

KNOWN_NAMES = dict(DEFAULT_MEMBERS)
DEFAULT_CODES: tuple[str, ...] = tuple(code for code, _ in DEFAULT_MEMBERS)

Say = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


def parse_members(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``["MN", "UZ=Customs Committee of Uzbekistan"]`` -> (code, name) pairs; the three
    founding members' names are known, others must be given."""
    members: list[tuple[str, str]] = []
    for spec in specs:
        code, _, name = spec.partition("=")
        code, name = code.strip(), name.strip()
        try:
            ids.authority_code(code)
        except ValueError as exc:
            raise UsageError(f"--member {spec!r}: {exc}") from None
        name = name or KNOWN_NAMES.get(code, "")
        if not name:
            raise UsageError(f"--member {spec!r}: give the name as {code}=<name>")
        if any(existing == code for existing, _ in members):
            raise UsageError(f"--member {code} is given twice")
        members.append((code, name))
    if len(members) == 1:
        # The contract would admit it and then refuse to close the bootstrap: one member alone
        # can never carry a membership vote (docs/contracts.md).
        raise UsageError(f"--member {members[0][0]} alone: a consortium needs at least two members")
    return members


def default_ports(codes: Sequence[str], base_port: int | None = None) -> dict[str, int]:
    """API ports: base+1, base+2... in order; without a base, the demo's (MN 8101...)."""
    if base_port is not None:
        return {code: base_port + 1 + i for i, code in enumerate(codes)}
    ports: dict[str, int] = {}
    spare = max(DEFAULT_API_PORTS.values()) + 1
    for code in codes:
        if code in DEFAULT_API_PORTS:
            ports[code] = DEFAULT_API_PORTS[code]
        else:
            ports[code] = spare
            spare += 1
    return ports


# ---------------------------------------------------------------- deployer and deployment


def deployer_account(
    workspace: Workspace, chain: Chain, *, generate_passphrase: bool = False
) -> LocalAccount:
    """The deployer of this data directory, created (and funded on a dev chain) on first use."""
    passphrase = passphrases.passphrase_for(workspace.deployer_dir, generated=generate_passphrase)
    if workspace.deployer_key.exists():
        return load_operator_key(workspace.deployer_key, passphrase).account()
    account = new_account(chain)
    create_operator_key(workspace.deployer_key, passphrase, private_key=bytes(account.key))
    return account


@dataclass(frozen=True)
class DeployResult:
    deployment: Deployment
    created: bool
    path: Path


def deploy_registry(
    workspace: Workspace, chain: Chain, *, generate_passphrase: bool = False
) -> DeployResult:
    """Deploy the registry on ``chain`` unless this data directory records it already."""
    path = workspace.deployment_file(chain.chain_id)
    existed = path.exists()
    deployer = deployer_account(workspace, chain, generate_passphrase=generate_passphrase)
    deployment = deploy(chain, deployer, workspace.data_dir)
    return DeployResult(deployment=deployment, created=not existed, path=path)


# ---------------------------------------------------------------- the consortium

#: The language a founding member's PDF certificates print beside English
#: (AEO_DOCUMENT_LANGUAGE), for the members whose language the catalogues have; any other
#: member prints English only until its registry.env says otherwise.
DOCUMENT_LANGUAGES: Final = {"MN": "mn", "KZ": "kk", "KR": "ko", "RU": "ru", "CN": "zh-Hans"}


def write_registry_env(
    workspace: Workspace, code: str, rpc_url: str, deployment_file: Path
) -> Path:
    """Write ``data/<CODE>/registry.env``: the administration's ``AEO_*`` settings, readable
    by ``aeo serve`` and by ``set -a; . registry.env; python -m registry_api serve``."""
    folder = workspace.member_dir(code)
    lines = [
        "# Settings of this administration's registry service (see docs/api.md).",
        "# Written by `aeo consortium bootstrap`; environment variables override them.",
        f"AEO_AUTHORITY={code}",
        f"AEO_DATA_DIR={folder}",
        "AEO_CHAIN=rpc",
        f"AEO_RPC_URL={rpc_url}",
        f"AEO_DEPLOYMENT_FILE={deployment_file}",
        f"AEO_OPERATOR_KEY_FILE={workspace.operator_key(code)}",
        f"AEO_SIGNING_KEY_FILE={workspace.signing_key(code)}",
    ]
    if code in DOCUMENT_LANGUAGES:
        lines.append(f"AEO_DOCUMENT_LANGUAGE={DOCUMENT_LANGUAGES[code]}")
    secrets = passphrases.secrets_file(folder)
    if secrets.is_file():
        lines.append(f"AEO_PASSPHRASE_FILE={secrets}")
    path = workspace.registry_env(code)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def registry_settings(workspace: Workspace, code: str) -> Settings:
    """The settings ``aeo serve --authority CODE`` runs with: ``registry.env`` under the
    environment's ``AEO_*`` variables."""
    path = workspace.registry_env(code)
    if not path.is_file():
        raise NotFoundError(
            f"{code} has no settings at {path} (found the consortium first: "
            "aeo consortium bootstrap, or run aeo demo)"
        )
    return Settings(_env_file=path, authority=code)  # type: ignore[call-arg]


@dataclass(frozen=True)
class BootstrapResult:
    record: ConsortiumRecord
    created: bool


def bootstrap(
    workspace: Workspace,
    chain: Chain,
    deployment: Deployment,
    members: Sequence[tuple[str, str]] = DEFAULT_MEMBERS,
    *,
    ports: dict[str, int] | None = None,
    verifier_as: str = "KR",
    verifier_port: int = DEFAULT_VERIFIER_PORT,
    generate_passphrases: bool = False,
    rpc_url: str | None = None,
    say: Say = _quiet,
) -> BootstrapResult:
    """Found the consortium (or find the one this data directory records) and write every
    administration's files. ``rpc_url`` is the URL the services reach the chain at (default:
    the chain's own)."""
    codes = [code for code, _ in members]
    ports = ports or default_ports(codes)
    url = rpc_url or chain.url
    if url is None:
        raise UsageError("--rpc-url: the chain has no URL the services could reach it at")
    deployment_file = workspace.deployment_file(chain.chain_id)
    reader = RegistryReader(chain, deployment)

    if workspace.has_consortium():
        record = workspace.consortium()
        _check_recorded(record, reader, chain)
        record = replace(
            record,
            rpc_url=url,
            deployment_file=str(deployment_file),
            members=tuple(replace(m, port=ports.get(m.code, m.port)) for m in record.members),
            verifier_as=verifier_as,
            verifier_port=verifier_port,
        )
        for member in record.members:
            write_registry_env(workspace, member.code, url, deployment_file)
        workspace.save_consortium(record)
        return BootstrapResult(record=record, created=False)

    if reader.bootstrapper() is None:
        raise ScriptError(
            f"the registry at {deployment.registry} is already bootstrapped, but "
            f"{workspace.consortium_file} is missing: the members' keys are not in this data "
            "directory (start afresh with aeo demo --reset)"
        )
    member_passphrases: dict[str, str] = {}
    for code in codes:
        folder = workspace.member_dir(code)
        for path in (workspace.operator_key(code), workspace.admin_key(code)):
            if path.exists():
                raise ScriptError(
                    f"{path} exists although the consortium is not founded; "
                    "remove it (or start afresh with aeo demo --reset)"
                )
        member_passphrases[code] = passphrases.passphrase_for(
            folder, generated=generate_passphrases
        )

    deployer = deployer_account(workspace, chain, generate_passphrase=generate_passphrases)
    say(f"admitting {', '.join(codes)} and closing the bootstrap")
    consortium = bootstrap_consortium(chain, deployment, deployer, members)
    records: list[MemberRecord] = []
    for code, name in members:
        founded = consortium.member(code)
        passphrase = member_passphrases[code]
        # The registry service registers and rotates signing keys and manages accounts
        # through its API, from its one account: that account needs ADMIN besides OPERATOR.
        admin = consortium.admin(code)
        admin.remove_account(founded.operator.address)
        admin.add_account(founded.operator.address, AccountRole.ADMIN | AccountRole.OPERATOR)
        say(f"{code}: writing encrypted keys to {workspace.member_dir(code)}")
        create_operator_key(
            workspace.operator_key(code), passphrase, private_key=bytes(founded.operator.key)
        )
        create_operator_key(
            workspace.admin_key(code), passphrase, private_key=bytes(founded.admin.key)
        )
        signing = _signing_key(workspace, code, passphrase)
        say(f"{code}: publishing document-signing key {signing.kid.hex()} on chain")
        admin.register_signing_key(signing.public.public_key, signing.algorithm)
        write_registry_env(workspace, code, url, deployment_file)
        records.append(
            MemberRecord(
                code=code,
                name=name,
                port=ports[code],
                admin=str(founded.admin.address),
                operator=str(founded.operator.address),
                signing_kid=signing.kid.hex(),
                signing_algorithm=signing.algorithm.label,
            )
        )
    record = ConsortiumRecord(
        chain_id=chain.chain_id,
        rpc_url=url,
        deployment_file=str(deployment_file),
        members=tuple(records),
        verifier_as=verifier_as,
        verifier_port=verifier_port,
    )
    workspace.save_consortium(record)
    return BootstrapResult(record=record, created=True)


def _signing_key(workspace: Workspace, code: str, passphrase: str) -> SigningKey:
    path = workspace.signing_key(code)
    if path.exists():
        return load_signing_key(path, passphrase)
    return create_signing_key(path, passphrase, KeyAlgorithm.ES256)


def _check_recorded(record: ConsortiumRecord, reader: RegistryReader, chain: Chain) -> None:
    if record.chain_id != chain.chain_id:
        raise ScriptError(
            f"consortium.json is for chain {record.chain_id}, this node is chain {chain.chain_id}"
        )
    for member in record.members:
        if not reader.get_authority(member.code).known:
            raise ScriptError(
                f"consortium.json lists {member.code}, which this chain does not know "
                "(was the chain reset? start afresh with aeo demo --reset)"
            )


def admin_writer(
    workspace: Workspace, chain: Chain, deployment: Deployment, code: str
) -> RegistryWriter:
    """A writer signing as ``code``'s ADMIN account (accounts, signing keys, votes)."""
    passphrase = passphrases.passphrase_for(workspace.member_dir(code))
    key = load_operator_key(workspace.admin_key(code), passphrase)
    return RegistryWriter(chain, deployment, key.account())


def operator_writer(
    workspace: Workspace, chain: Chain, deployment: Deployment, code: str
) -> RegistryWriter:
    """A writer signing as ``code``'s OPERATOR account (certificates and MRAs)."""
    passphrase = passphrases.passphrase_for(workspace.member_dir(code))
    key = load_operator_key(workspace.operator_key(code), passphrase)
    return RegistryWriter(chain, deployment, key.account())
