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
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from aeo import passphrases
from aeo.errors import NotFoundError, ScriptError, UsageError
from aeo.workspace import (
    DEFAULT_API_PORTS,
    DEFAULT_VERIFIER_PORT,
    ConsortiumRecord,
    MemberRecord,
    Workspace,
    write_json,
)
from contracts.bootstrap import DEFAULT_MEMBERS, bootstrap_consortium, new_account
from contracts.chain import Chain
from contracts.deploy import Deployment, deploy
from contracts.domain import ids
from contracts.domain.enums import AccountRole, AuthorityStatus, KeyAlgorithm, MembershipAction
from contracts.domain.events import MembershipProposed
from contracts.domain.record import normalise_text
from contracts.logs import fetch_events, first_event, receipt_events
from contracts.reader import MembershipProposal, RegistryReader
from contracts.writer import RegistryWriter
from registry_api.hsm import (
    DEFAULT_OPERATOR_KEY_LABEL,
    DEFAULT_SIGNING_KEY_LABEL,
    HsmAccount,
    HsmSigningKey,
    KeyBackend,
    KeyKind as HsmKeyKind,
    TokenConfig,
    open_token,
)
from registry_api.keystore import (
    OperatorKey,
    SigningKey,
    create_operator_key,
    create_signing_key,
    load_operator_key,
    load_signing_key,
)
from registry_api.schemas.admin_chain import (
    MEMBERSHIP_REQUEST_FORMAT,
    MembershipRequest,
    MembershipRequestContent,
)
from registry_api.settings import Settings
from verifier.keys import sign as sign_bytes

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
    ]
    backend = key_backend_file(workspace, code)
    if backend.is_file():
        # Its keys are in a token (join-request --pkcs11); the PIN comes from AEO_HSM_PIN(_FILE).
        lines += backend.read_text(encoding="utf-8").split()
    else:
        lines += [
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


# ---------------------------------------------------------------- joining from another machine
#
# A newcomer makes its keys on its own machine (join_request), a member proposes the
# request it receives (propose_request), the members vote (vote), and the newcomer, once
# admitted, publishes its signing key and its registry's account from its own admin key
# (activate). No private key leaves the machine it was made on: the request file holds
# public data and a signature by the signing key it names.


def join_request_file(workspace: Workspace, code: str) -> Path:
    return workspace.member_dir(code) / "join-request.json"


def key_backend_file(workspace: Workspace, code: str) -> Path:
    """Where ``join-request --pkcs11`` records which token holds the keys (no PIN), for
    ``activate`` to write into ``registry.env``."""
    return workspace.member_dir(code) / "key-backend.env"


@dataclass(frozen=True)
class TokenKeys:
    """``join-request --pkcs11``: the signing and operator keys are made in this token."""

    config: TokenConfig
    signing_label: str = DEFAULT_SIGNING_KEY_LABEL
    operator_label: str = DEFAULT_OPERATOR_KEY_LABEL

    def settings_lines(self) -> list[str]:
        return [
            f"AEO_KEY_BACKEND={KeyBackend.PKCS11.value}",
            f"AEO_HSM_MODULE={self.config.module}",
            f"AEO_HSM_TOKEN_LABEL={self.config.token_label}",
            f"AEO_HSM_SIGNING_KEY_LABEL={self.signing_label}",
            f"AEO_HSM_OPERATOR_KEY_LABEL={self.operator_label}",
        ]


def _check_name(name: str) -> str:
    try:
        checked = normalise_text(name)
    except ValueError as exc:
        raise UsageError(f"--name: {exc}") from None
    assert isinstance(checked, str)
    if not 1 <= len(checked) <= 64:
        raise UsageError(f"--name: must be 1 to 64 characters, got {len(checked)}")
    return checked


@dataclass(frozen=True)
class JoinRequest:
    request: MembershipRequest
    path: Path


def join_request(
    workspace: Workspace,
    code: str,
    name: str,
    *,
    algorithm: KeyAlgorithm = KeyAlgorithm.ES256,
    out: Path | None = None,
    generate_passphrase: bool = False,
    token: TokenKeys | None = None,
    now: datetime | None = None,
) -> JoinRequest:
    """Make ``code``'s keys in this data directory (encrypted, as ``bootstrap`` does for a
    founder; the signing and operator keys in ``token`` instead when one is given) and write
    the signed request file the members will vote on."""
    try:
        ids.authority_code(code)
    except ValueError as exc:
        raise UsageError(f"--code: {exc}") from None
    name = _check_name(name)
    path = (out or join_request_file(workspace, code)).absolute()
    if path.exists():
        raise UsageError(f"--out: {path} exists; a request file is never overwritten")
    keys = (workspace.admin_key(code), workspace.operator_key(code), workspace.signing_key(code))
    for key in keys:
        if key.exists():
            raise ScriptError(
                f"{key} exists: {code}'s keys were made in {workspace.data_dir} already "
                "(key files are never overwritten; use another --data-dir for another request)"
            )
    passphrase = passphrases.passphrase_for(
        workspace.member_dir(code), generated=generate_passphrase
    )
    if token is not None and algorithm is not KeyAlgorithm.ES256:
        raise UsageError("--algorithm: a signing key in a token is ES256 (P-256)")
    try:
        request = _make_request(workspace, code, name, algorithm, passphrase, token, now)
        if token is not None:
            backend = key_backend_file(workspace, code)
            backend.write_text("\n".join(token.settings_lines()) + "\n", encoding="utf-8")
        write_json(path, request.model_dump(mode="json"))
    except BaseException:
        # Keys without the request that names them would only block the next attempt.
        for key in (*keys, key_backend_file(workspace, code)):
            key.unlink(missing_ok=True)
        raise
    return JoinRequest(request=request, path=path)


def _make_request(
    workspace: Workspace,
    code: str,
    name: str,
    algorithm: KeyAlgorithm,
    passphrase: str,
    token: TokenKeys | None,
    now: datetime | None,
) -> MembershipRequest:
    # The admin key stays a file: it acts rarely, and is best kept offline.
    admin = create_operator_key(workspace.admin_key(code), passphrase)
    operator: OperatorKey | HsmAccount
    signing: SigningKey | HsmSigningKey
    if token is None:
        operator = create_operator_key(workspace.operator_key(code), passphrase)
        signing = create_signing_key(workspace.signing_key(code), passphrase, algorithm)
    else:
        opened = open_token(token.config)
        made_operator = opened.create_key(token.operator_label, HsmKeyKind.OPERATOR)
        made_signing = opened.create_key(token.signing_label, HsmKeyKind.SIGNING)
        assert isinstance(made_operator, HsmAccount)
        assert isinstance(made_signing, HsmSigningKey)
        operator, signing = made_operator, made_signing
    content = MembershipRequestContent.model_validate(
        {
            "format": MEMBERSHIP_REQUEST_FORMAT,
            "code": code,
            "name": name,
            "number_prefix": code,
            "admin": admin.address,
            "operator": operator.address,
            "signing_key": {
                "algorithm": signing.algorithm.label,
                "kid": signing.kid.hex(),
                "public_key": signing.public.public_key.hex(),
            },
            "created_at": (now or datetime.now(UTC)).replace(microsecond=0),
        }
    )
    signature = sign_bytes(signing.private_key(), content.signed_bytes())
    return MembershipRequest.model_validate(
        {**content.model_dump(mode="json"), "signature": signature.hex()}
    )


def read_join_request(path: Path, option: str = "--request") -> MembershipRequest:
    """A request file, its signature checked; every fault named (a UsageError)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"{option}: {path} cannot be read ({reason})") from None
    try:
        return MembershipRequest.model_validate_json(text)
    except ValidationError as exc:
        faults = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'the document'}: {error['msg']}"
            for error in exc.errors()
        )
        raise UsageError(f"{option}: {path} is not a valid membership request: {faults}") from None


def _refuse_known(reader: RegistryReader, request: MembershipRequest) -> None:
    authority = reader.get_authority(request.code)
    if authority.known:
        raise ScriptError(f"{request.code} is already a member ({authority.status.name.lower()})")
    for what, address in (("admin", request.admin), ("operator", request.operator)):
        account = reader.account_of(address)
        if account.authority is not None:
            raise ScriptError(
                f"the request's {what} account {address} already acts for {account.authority}"
            )
    if reader.get_signing_key(bytes.fromhex(request.signing_key.kid)).known:
        raise ScriptError(f"the request's signing key {request.signing_key.kid} is registered")


def propose_request(
    workspace: Workspace,
    chain: Chain,
    deployment: Deployment,
    as_code: str,
    request: MembershipRequest,
) -> MembershipProposal:
    """``as_code``'s admin proposes to admit the requester (which counts as its vote)."""
    _refuse_known(RegistryReader(chain, deployment), request)
    writer = admin_writer(workspace, chain, deployment, as_code)
    receipt = writer.propose_membership(
        MembershipAction.ADMIT, request.code, request.name, request.admin
    )
    proposed = first_event(receipt_events(chain, deployment, receipt), MembershipProposed)
    return RegistryReader(chain, deployment).get_proposal(proposed.proposal_id)


def vote(
    workspace: Workspace, chain: Chain, deployment: Deployment, as_code: str, proposal_id: int
) -> MembershipProposal:
    """``as_code``'s admin approves membership proposal ``proposal_id``."""
    reader = RegistryReader(chain, deployment)
    proposal = reader.get_proposal(proposal_id)
    if proposal.code is None:
        raise UsageError(f"--proposal: there is no membership proposal {proposal_id}")
    if reader.has_voted(proposal_id, as_code):
        raise ScriptError(f"{as_code} has already voted on proposal {proposal_id}")
    admin_writer(workspace, chain, deployment, as_code).vote(proposal_id)
    return reader.get_proposal(proposal_id)


def _admission(reader: RegistryReader, chain: Chain, deployment: Deployment, code: str) -> str:
    """Why ``code`` is not admitted yet, with its latest admission proposal's votes."""
    proposals = [
        event
        for event in fetch_events(chain, deployment, deployment.start_block)
        if isinstance(event, MembershipProposed)
        and event.code == code
        and event.action is MembershipAction.ADMIT
    ]
    if not proposals:
        return (
            f"{code} is not a member yet, and no member has proposed to admit it: send "
            "the request file to a member's administrator (aeo consortium propose)"
        )
    latest = reader.get_proposal(proposals[-1].proposal_id)
    return (
        f"{code} is not a member yet: proposal {latest.id} to admit it has "
        f"{latest.approvals} of the {latest.required} approvals it needs "
        f"({latest.status.name.lower()}); run this again once the members have voted it in"
    )


@dataclass(frozen=True)
class Activation:
    record: MemberRecord
    added_operator: bool
    registered_key: bool


def activate(
    workspace: Workspace,
    chain: Chain,
    deployment: Deployment,
    code: str,
    *,
    rpc_url: str,
    port: int | None = None,
    say: Say = _quiet,
) -> Activation:
    """Once ``code`` is admitted: from its own admin key, give its registry's account the
    admin and operator roles and publish its signing key; then write its settings. Each
    step is skipped when the chain shows it done, so a second run only rewrites settings."""
    request = read_join_request(join_request_file(workspace, code), "--code")
    reader = RegistryReader(chain, deployment)
    authority = reader.get_authority(code)
    if authority.status is not AuthorityStatus.ACTIVE:
        if authority.known:
            raise ScriptError(f"{code} is {authority.status.name.lower()}, not an active member")
        raise ScriptError(_admission(reader, chain, deployment, code))
    admin = admin_writer(workspace, chain, deployment, code)
    if admin.address != request.admin:
        raise ScriptError(f"{workspace.admin_key(code)} is not the request's admin account")
    account = reader.account_of(request.operator)
    added = account.authority is None
    if added:
        say(f"{code}: adding the registry's account {request.operator} (admin and operator)")
        admin.add_account(request.operator, AccountRole.ADMIN | AccountRole.OPERATOR)
    elif account.authority != code:
        raise ScriptError(f"account {request.operator} acts for {account.authority}, not {code}")
    kid = bytes.fromhex(request.signing_key.kid)
    registered = not reader.get_signing_key(kid).known
    if registered:
        say(f"{code}: publishing document-signing key {request.signing_key.kid} on chain")
        admin.register_signing_key(
            bytes.fromhex(request.signing_key.public_key), request.signing_key.algorithm
        )
    deployment_file = workspace.deployment_file(chain.chain_id)
    if not deployment_file.exists():
        deployment.save(deployment_file)
    write_registry_env(workspace, code, rpc_url, deployment_file)
    record = MemberRecord(
        code=code,
        name=request.name,
        port=port or default_ports([code])[code],
        admin=request.admin,
        operator=request.operator,
        signing_kid=request.signing_key.kid,
        signing_algorithm=request.signing_key.algorithm.label,
    )
    workspace.save_consortium(
        ConsortiumRecord(
            chain_id=chain.chain_id,
            rpc_url=rpc_url,
            deployment_file=str(deployment_file),
            members=(record,),
            verifier_as=code,
        )
    )
    return Activation(record=record, added_operator=added, registered_key=registered)
