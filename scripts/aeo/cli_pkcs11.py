"""``aeo keys new --pkcs11``: keys created inside a PKCS#11 token (``registry_api/hsm.py``).

``scripts/aeo/cli.py`` calls :func:`register` with its ``keys`` sub-app and its own ``keys new``
command. ``aeo keys new PATH`` keeps writing an encrypted key file (that command does it);
with ``--pkcs11`` the key pair is generated inside the token instead, sensitive and never
extractable, and only its public data is printed:

    aeo keys new --pkcs11 --token MN-HSM --label aeo-signing --kind signing
    aeo keys new --pkcs11 --token MN-HSM --label aeo-operator --kind operator

The PIN comes from ``--pin-file FILE``, ``AEO_HSM_PIN`` or ``AEO_HSM_PIN_FILE`` (the
variables the registry service reads); the module from ``--module`` or ``AEO_HSM_MODULE``
(SoftHSM2's by default). Nothing prints the PIN.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import SecretStr

from aeo.errors import UsageError
from registry_api.hsm import (
    DEFAULT_OPERATOR_KEY_LABEL,
    DEFAULT_PKCS11_MODULE,
    DEFAULT_SIGNING_KEY_LABEL,
    HsmAccount,
    HsmSigningKey,
    KeyKind,
    TokenConfig,
    open_token,
)

ENV_PIN = "AEO_HSM_PIN"
ENV_PIN_FILE = "AEO_HSM_PIN_FILE"
ENV_MODULE = "AEO_HSM_MODULE"
ENV_TOKEN = "AEO_HSM_TOKEN_LABEL"  # noqa: S105 - a variable name, not a secret

#: ``--module`` and ``--pin-file``, the same on every command that opens a token
ModuleOption = Annotated[
    Path | None,
    typer.Option(
        "--module",
        metavar="PATH",
        help=f"With --pkcs11: the PKCS#11 module (default: {ENV_MODULE}, else "
        f"{DEFAULT_PKCS11_MODULE}).",
        show_default=False,
        dir_okay=False,
    ),
]
PinFileOption = Annotated[
    Path | None,
    typer.Option(
        "--pin-file",
        metavar="FILE",
        help=f"With --pkcs11: a file holding the token's user PIN (or {ENV_PIN}).",
        show_default=False,
        exists=True,
        dir_okay=False,
    ),
]


def token_label(token: str | None) -> str:
    """``--token``, else ``AEO_HSM_TOKEN_LABEL``; a usage error naming --token without either."""
    label = token or os.environ.get(ENV_TOKEN)
    if not label:
        raise UsageError(f"--token: the token's label is needed (or set {ENV_TOKEN})")
    return label


def token_module(module: Path | None) -> Path:
    """``--module``, else ``AEO_HSM_MODULE``, else SoftHSM2's module."""
    return module or Path(os.environ.get(ENV_MODULE) or DEFAULT_PKCS11_MODULE)


def _read_pin_file(path: Path, what: str) -> str:
    try:
        pin = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"{what}: {path} cannot be read ({reason})") from None
    if not pin:
        raise UsageError(f"{what}: {path} is empty")
    return pin


def token_pin(pin_file: Path | None) -> SecretStr:
    """The user PIN: ``--pin-file``, else ``AEO_HSM_PIN``, else ``AEO_HSM_PIN_FILE``."""
    if pin_file is not None:
        return SecretStr(_read_pin_file(pin_file, "--pin-file"))
    value = os.environ.get(ENV_PIN)
    path = os.environ.get(ENV_PIN_FILE)
    if value and path:
        raise UsageError(f"set {ENV_PIN} or {ENV_PIN_FILE}, not both")
    if value:
        return SecretStr(value)
    if path:
        return SecretStr(_read_pin_file(Path(path), ENV_PIN_FILE))
    raise UsageError(
        f"--pin-file: the token's PIN is needed: give --pin-file FILE or set {ENV_PIN}"
    )


def describe(key: HsmSigningKey | HsmAccount) -> dict[str, str]:
    """A token key's public data, as ``aeo keys new`` prints it."""
    if isinstance(key, HsmSigningKey):
        return {
            "kind": KeyKind.SIGNING.value,
            "token": key.token.label,
            "label": key.label,
            "algorithm": key.algorithm.label,
            "kid": key.kid.hex(),
            "public_key": key.public.public_key.hex(),
        }
    return {
        "kind": KeyKind.OPERATOR.value,
        "token": key.token.label,
        "label": key.label,
        "address": key.address,
        "public_key": key.public_key.hex(),
    }


def create_in_token(
    *, module: Path, token: str, label: str, kind: KeyKind, pin: SecretStr
) -> dict[str, str]:
    """Generate a ``kind`` key labelled ``label`` in ``token``; its public data."""
    opened = open_token(TokenConfig(module, token, pin))
    return describe(opened.create_key(label, kind))


def register(
    keys_app: typer.Typer,
    file_new: Callable[..., None],
    guard: Callable[[Callable[..., None]], Callable[..., None]],
    print_key: Callable[[dict[str, Any], bool], None],
) -> None:
    """Make ``aeo keys new`` take ``--pkcs11``: the command in ``keys_app`` named ``new``
    (``file_new``, which writes key files) is replaced by one that calls it for a PATH and
    creates the key in a token for ``--pkcs11``. ``guard`` turns errors into one line."""

    def keys_new(
        path: Annotated[
            Path | None,
            typer.Argument(
                metavar="PATH",
                help="Where to write the encrypted key file (must not exist); not with --pkcs11.",
                show_default=False,
            ),
        ] = None,
        kind: Annotated[
            KeyKind, typer.Option(help="signing (QR payloads) or operator (txs).")
        ] = KeyKind.SIGNING,
        algorithm: Annotated[
            Literal["ES256", "EdDSA"],
            typer.Option(help="Signing algorithm (a token key is ES256)."),
        ] = "ES256",
        json_output: Annotated[
            bool, typer.Option("--json", help="Print JSON instead of a table.")
        ] = False,
        pkcs11: Annotated[
            bool,
            typer.Option(
                "--pkcs11", help="Create the key inside a PKCS#11 token (an HSM), not in a file."
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
        label: Annotated[
            str | None,
            typer.Option(
                "--label",
                metavar="LABEL",
                help=f"With --pkcs11: the key's label (default: {DEFAULT_SIGNING_KEY_LABEL} "
                f"or {DEFAULT_OPERATOR_KEY_LABEL}).",
                show_default=False,
            ),
        ] = None,
        module: ModuleOption = None,
        pin_file: PinFileOption = None,
    ) -> None:
        """Create a key and print its public data: an encrypted key file at PATH, or with
        --pkcs11 a key pair inside an HSM token that never leaves it.

        A file's passphrase comes from AEO_PASSPHRASE or AEO_PASSPHRASE_FILE; a token's PIN
        from --pin-file, AEO_HSM_PIN or AEO_HSM_PIN_FILE."""
        if not pkcs11:
            for name, given in (
                ("--token", token),
                ("--label", label),
                ("--module", module),
                ("--pin-file", pin_file),
            ):
                if given is not None:
                    raise UsageError(f"{name}: only with --pkcs11 (a key in a token)")
            if path is None:
                raise UsageError(
                    "PATH: missing; give the key file to write, or --pkcs11 to create the key "
                    "in an HSM token"
                )
            # The file command's own option types (its enums), whatever module they live in.
            hints = typing.get_type_hints(file_new)
            file_new(
                path,
                kind=hints["kind"](kind.value),
                algorithm=algorithm,
                json_output=json_output,
            )
            return
        if path is not None:
            raise UsageError(
                f"PATH: a key made with --pkcs11 stays in the token; drop {path} or --pkcs11"
            )
        if kind is KeyKind.SIGNING and algorithm != "ES256":
            raise UsageError("--algorithm: a signing key in a token is ES256 (P-256)")
        default_label = (
            DEFAULT_SIGNING_KEY_LABEL if kind is KeyKind.SIGNING else DEFAULT_OPERATOR_KEY_LABEL
        )
        if label is not None and not label.strip():
            raise UsageError("--label: must not be empty")
        description = create_in_token(
            module=token_module(module),
            token=token_label(token),
            label=label or default_label,
            kind=kind,
            pin=token_pin(pin_file),
        )
        print_key(description, json_output)

    commands = keys_app.registered_commands
    position = next(i for i, info in enumerate(commands) if info.name == "new")
    keys_app.command("new")(guard(keys_new))
    # The new command takes the place (and the help listing position) of the file-only one.
    commands[position] = commands.pop()
