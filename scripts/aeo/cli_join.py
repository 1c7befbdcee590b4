"""``aeo consortium join-request / propose / vote / activate``: a new administration joins
the consortium from its own machine (docs/deployment.md, "Joining from another machine").

On the newcomer's machine::

    aeo consortium join-request --code UZ --name "Customs Committee of Uzbekistan" --data-dir D

makes its keys under ``D/UZ/`` (encrypted, never sent anywhere) and writes
``D/UZ/join-request.json``: public keys and addresses, signed by its signing key. A member's
administrator proposes it (``aeo consortium propose --request FILE --as MN``, or the registry
API), the members vote (``aeo consortium vote --proposal N --as KZ``, or the API), and the
newcomer, once admitted, runs ``aeo consortium activate --code UZ --data-dir D`` and starts its
registry with ``aeo serve --authority UZ --data-dir D``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from aeo import consortium as founding
from aeo.cli_pkcs11 import (
    ENV_TOKEN,
    ModuleOption,
    PinFileOption,
    token_label,
    token_module,
    token_pin,
)
from aeo.errors import UsageError
from aeo.workspace import Workspace
from contracts.chain import Chain
from contracts.deploy import Deployment, verify_deployment
from contracts.domain import ids
from contracts.domain.enums import KeyAlgorithm
from contracts.errors import DeploymentError
from contracts.reader import MembershipProposal
from registry_api.hsm import (
    DEFAULT_OPERATOR_KEY_LABEL,
    DEFAULT_SIGNING_KEY_LABEL,
    TokenConfig,
)


def _code(option: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            ids.authority_code(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None
        return value

    return check


def _rpc(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"must be an http(s) URL, got {value!r}", param_hint="'--rpc-url'")
    return value


def _port(value: int | None) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise typer.BadParameter(f"must be 1..65535, got {value}", param_hint="'--port'")
    return value


def _deployment(chain: Chain, workspace: Workspace, path: Path | None) -> Deployment:
    """The deployment file a member gave (public: addresses and code hashes), checked
    against the code the chain holds at those addresses; else this data directory's."""
    if path is None:
        return workspace.deployment(chain)
    try:
        deployment = Deployment.load(path)
        verify_deployment(chain, deployment)
    except DeploymentError as exc:
        raise UsageError(f"--deployment: {exc}") from None
    return deployment


def _describe(proposal: MembershipProposal) -> str:
    return (
        f"proposal {proposal.id} ({proposal.action.name.lower()} {proposal.code}): "
        f"{proposal.approvals} of {proposal.required} approvals, "
        f"{proposal.status.name.lower()}"
    )


DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir", help="The data directory (keys, settings, deployment).", file_okay=False
    ),
]
RpcUrl = Annotated[
    str | None,
    typer.Option(
        "--rpc-url",
        help="The consortium chain's JSON-RPC node; default: the data directory's chain.",
        show_default=False,
        callback=_rpc,
    ),
]


def register(
    consortium_app: typer.Typer,
    guard: Callable[[Callable[..., None]], Callable[..., None]],
    default_data_dir: Path,
    out: Console,
    err: Console,
) -> None:
    """Add the joining commands to ``aeo consortium``."""

    @consortium_app.command("join-request")
    @guard
    def join_request(
        code: Annotated[
            str,
            typer.Option(
                "--code", help="The new member's code (e.g. UZ).", callback=_code("'--code'")
            ),
        ],
        name: Annotated[str, typer.Option("--name", help="Its name (1 to 64 characters).")],
        data_dir: DataDir = default_data_dir,
        algorithm: Annotated[
            Literal["ES256", "EdDSA"], typer.Option(help="The document-signing algorithm.")
        ] = "ES256",
        out_file: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Where to write the request; default DATA_DIR/<CODE>/join-request.json.",
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
        generate_passphrase: Annotated[
            bool,
            typer.Option(
                "--generate-passphrase",
                help="Encrypt the keys with a random passphrase in DATA_DIR/<CODE>/secrets "
                "(0600) instead of AEO_PASSPHRASE(_FILE).",
            ),
        ] = False,
        pkcs11: Annotated[
            bool,
            typer.Option(
                "--pkcs11",
                help="Make the signing and operator keys inside a PKCS#11 token (an HSM); "
                "the admin key stays an encrypted file.",
            ),
        ] = False,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                metavar="LABEL",
                help=f"With --pkcs11: the token's label (default: {ENV_TOKEN}).",
                show_default=False,
            ),
        ] = None,
        module: ModuleOption = None,
        pin_file: PinFileOption = None,
        signing_label: Annotated[
            str,
            typer.Option("--signing-label", help="With --pkcs11: the signing key's label."),
        ] = DEFAULT_SIGNING_KEY_LABEL,
        operator_label: Annotated[
            str,
            typer.Option("--operator-label", help="With --pkcs11: the operator key's label."),
        ] = DEFAULT_OPERATOR_KEY_LABEL,
    ) -> None:
        """On the new member's machine: make its keys and write its signed request to join.

        Its admin and operator accounts and its document-signing key are made in
        DATA_DIR/<CODE>/, encrypted; the request file holds only public data and a signature
        by the signing key. Send it to a member's administrator."""
        keys_in_token: founding.TokenKeys | None = None
        if pkcs11:
            label = token_label(token)
            chosen = token_module(module)
            for option, value in (
                ("--signing-label", signing_label),
                ("--operator-label", operator_label),
            ):
                if not value.strip() or value != value.strip():
                    raise UsageError(f"{option}: must be a label without surrounding spaces")
            keys_in_token = founding.TokenKeys(
                TokenConfig(chosen, label, token_pin(pin_file)), signing_label, operator_label
            )
        else:
            for option, given in (
                ("--token", token),
                ("--module", module),
                ("--pin-file", pin_file),
            ):
                if given is not None:
                    raise UsageError(f"{option}: only with --pkcs11 (keys in a token)")
        made = founding.join_request(
            Workspace(data_dir),
            code,
            name,
            algorithm=KeyAlgorithm.from_label(algorithm),
            out=out_file,
            generate_passphrase=generate_passphrase,
            token=keys_in_token,
        )
        request = made.request
        out.print(f"request to join written to {made.path}")
        out.print(f"  admin account     {request.admin}")
        out.print(f"  operator account  {request.operator}")
        out.print(
            f"  signing key       {request.signing_key.kid} ({request.signing_key.algorithm.label})"
        )
        err.print(
            "send the request file to a member's administrator; the private keys stay in "
            f"{Workspace(data_dir).member_dir(code)}"
        )

    @consortium_app.command("propose")
    @guard
    def propose(
        request_file: Annotated[
            Path,
            typer.Option(
                "--request", help="The newcomer's request file.", dir_okay=False, show_default=False
            ),
        ],
        as_code: Annotated[
            str,
            typer.Option(
                "--as", help="The member proposing (its admin key signs).", callback=_code("'--as'")
            ),
        ],
        data_dir: DataDir = default_data_dir,
        rpc_url: RpcUrl = None,
    ) -> None:
        """Propose to admit the member a request file describes (counts as your vote).

        The request's signature is checked first; a file altered on its way is refused."""
        request = founding.read_join_request(request_file)
        workspace = Workspace(data_dir)
        with workspace.connect(rpc_url) as chain:
            deployment = workspace.deployment(chain)
            proposal = founding.propose_request(workspace, chain, deployment, as_code, request)
        out.print(f"{as_code} proposed to admit {request.code}: {_describe(proposal)}")

    @consortium_app.command("vote")
    @guard
    def vote(
        proposal_id: Annotated[
            int, typer.Option("--proposal", min=1, help="The membership proposal's id.")
        ],
        as_code: Annotated[
            str,
            typer.Option(
                "--as", help="The member voting (its admin key signs).", callback=_code("'--as'")
            ),
        ],
        data_dir: DataDir = default_data_dir,
        rpc_url: RpcUrl = None,
    ) -> None:
        """Approve a membership proposal."""
        workspace = Workspace(data_dir)
        with workspace.connect(rpc_url) as chain:
            deployment = workspace.deployment(chain)
            proposal = founding.vote(workspace, chain, deployment, as_code, proposal_id)
        out.print(f"{as_code} approved {_describe(proposal)}")

    @consortium_app.command("activate")
    @guard
    def activate(
        code: Annotated[
            str,
            typer.Option("--code", help="The new member's code.", callback=_code("'--code'")),
        ],
        data_dir: DataDir = default_data_dir,
        rpc_url: RpcUrl = None,
        deployment_file: Annotated[
            Path | None,
            typer.Option(
                "--deployment",
                help="The consortium's deployment file (public; a member gives it); checked "
                "against the chain's code. Needed on the first run only.",
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
        port: Annotated[
            int | None,
            typer.Option(help="The registry API's port.", callback=_port, show_default=False),
        ] = None,
    ) -> None:
        """Once admitted: publish the new member's signing key and its registry's account
        from its own admin key, and write its registry's settings.

        Refused, saying how the vote stands, until the members have admitted it. Running it
        again only rewrites the settings."""
        workspace = Workspace(data_dir)
        url = rpc_url or workspace.chain_url()
        if url is None:
            raise UsageError("--rpc-url: give the consortium chain's JSON-RPC node")
        with workspace.connect(url) as chain:
            deployment = _deployment(chain, workspace, deployment_file)
            done = founding.activate(
                workspace,
                chain,
                deployment,
                code,
                rpc_url=url,
                port=port,
                say=lambda message: err.print(message),
            )
        record = done.record
        out.print(
            f"{code} is active: operator {record.operator}, signing key {record.signing_kid}, "
            f"settings {workspace.registry_env(code)}"
        )
        out.print(f"start its registry: aeo serve --authority {code} --data-dir {data_dir}")
