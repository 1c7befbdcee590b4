"""``aeo users``: the local accounts people sign in to the officers' console with
(docs/console.md). ``scripts/aeo/cli.py`` calls :func:`register` with the top-level app, its
error wrapper and its consoles.

Each command works on one administration's registry database: the data directory's
``DATA_DIR/<CODE>/registry.env`` with ``--authority CODE`` (as ``aeo serve``), otherwise the
``AEO_*`` environment (as the service reads it in production). The database is migrated
first, as the service does at start-up.

A new or reset account gets a one-time password, printed once on stdout (nothing else is
printed there) unless ``--password-file`` gives one (``-`` reads standard input); it is
never logged, and the person must choose their own at the first sign-in.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from aeo.workspace import DEFAULT_DATA_DIR, Workspace
from contracts.domain import ids
from registry_api.console import accounts
from registry_api.console.passwords import (
    PasswordPolicyError,
    Passwords,
    check_password_policy,
    generate_password,
)
from registry_api.console.roles import PARTNER_ROLES, RoleTarget
from registry_api.db import Role, make_engine, make_session_factory, upgrade_database, utc_now
from registry_api.settings import Settings, get_settings

#: the longest password file read (a password is at most 256 characters)
MAX_PASSWORD_FILE_BYTES = 4096


def _authority(value: str | None) -> str | None:
    if value is not None:
        try:
            ids.authority_code(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--authority'") from None
    return value


def _name(value: str) -> str:
    if not accounts.NAME_RE.fullmatch(value):
        raise typer.BadParameter(
            "use 1 to 128 letters, digits and . _ @ - (no spaces)", param_hint="'NAME'"
        )
    return value


Authority = Annotated[
    str | None,
    typer.Option(
        "--authority",
        help="The administration (MN, KZ, KR...) whose registry.env in the data directory "
        "names the database; default: the AEO_* environment.",
        callback=_authority,
        show_default=False,
    ),
]
DataDir = Annotated[
    Path,
    typer.Option("--data-dir", help="The data directory (with --authority).", file_okay=False),
]
Name = Annotated[str, typer.Argument(help="The account name people type.", callback=_name)]
PasswordFile = Annotated[
    str | None,
    typer.Option(
        "--password-file",
        help="Read the initial password from this file (one line), or '-' for standard "
        "input, instead of printing a generated one.",
        show_default=False,
    ),
]


def _settings(authority: str | None, data_dir: Path) -> Settings:
    if authority is None:
        return get_settings()
    from aeo import consortium

    return consortium.registry_settings(Workspace(data_dir), authority)


@contextmanager
def _database(authority: str | None, data_dir: Path) -> Iterator[tuple[Session, Settings]]:
    settings = _settings(authority, data_dir)
    engine = make_engine(settings.db_url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            yield session, settings
    finally:
        engine.dispose()


def _read_password(source: str) -> str:
    if source == "-":
        text = sys.stdin.read(MAX_PASSWORD_FILE_BYTES + 1)
    else:
        path = Path(source)
        try:
            with path.open("r", encoding="utf-8") as file:
                text = file.read(MAX_PASSWORD_FILE_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise typer.BadParameter(
                f"{source} cannot be read: {reason}", param_hint="'--password-file'"
            ) from None
    if len(text) > MAX_PASSWORD_FILE_BYTES:
        raise typer.BadParameter("is too long to hold a password", param_hint="'--password-file'")
    password = text.splitlines()[0] if text.strip() else ""
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        raise typer.BadParameter(f"the password {exc}", param_hint="'--password-file'") from None
    return password


def _initial_password(password_file: str | None) -> tuple[str, bool]:
    """The password to set, and whether it was generated (and must be printed)."""
    if password_file is not None:
        return _read_password(password_file), False
    return generate_password(), True


def register(
    app: typer.Typer,
    guard: Callable[[Callable[..., None]], Callable[..., None]],
    out: Console,
    err: Console,
) -> None:
    """Add ``aeo users`` to ``app``; ``guard`` turns errors into one line."""
    users_app = typer.Typer(
        help="Local accounts of the officers' console (sign-in with a password).",
        no_args_is_help=True,
    )
    app.add_typer(users_app, name="users")

    def _say_password(name: str, password: str, generated: bool) -> None:
        if generated:
            err.print(f"one-time password for {name} (shown once; changed at first sign-in):")
            # stdout carries the password alone, so that a script can take it.
            sys.stdout.write(password + "\n")
            sys.stdout.flush()

    @users_app.command("add")
    @guard
    def users_add(
        name: Name,
        role: Annotated[Role, typer.Option("--role", help="The person's role.")],
        partner_authority: Annotated[
            str | None,
            typer.Option(
                "--partner-authority",
                help="The partner administration of a partner or border_officer.",
                show_default=False,
            ),
        ] = None,
        totp: Annotated[
            bool,
            typer.Option("--totp", help="Require a second factor (set up at first sign-in)."),
        ] = False,
        display_name: Annotated[
            str | None,
            typer.Option("--display-name", help="The name pages show.", show_default=False),
        ] = None,
        password_file: PasswordFile = None,
        authority: Authority = None,
        data_dir: DataDir = DEFAULT_DATA_DIR,
    ) -> None:
        """Add a local account (its password is changed at the first sign-in)."""
        if role in PARTNER_ROLES and partner_authority is None:
            raise typer.BadParameter(
                f"role {role.value} names the partner administration",
                param_hint="'--partner-authority'",
            )
        if partner_authority is not None:
            if role not in PARTNER_ROLES:
                raise typer.BadParameter(
                    f"role {role.value} is held by this administration's staff",
                    param_hint="'--partner-authority'",
                )
            _authority(partner_authority)
        if display_name is not None and not 0 < len(display_name.strip()) <= 256:
            raise typer.BadParameter("must have 1 to 256 characters", param_hint="'--display-name'")
        password, generated = _initial_password(password_file)
        passwords = Passwords()
        with _database(authority, data_dir) as (session, settings):
            if totp and settings.passphrase is None:
                raise typer.BadParameter(
                    "a second factor's secret is sealed with the service's passphrase: set "
                    "AEO_PASSPHRASE or AEO_PASSPHRASE_FILE",
                    param_hint="'--totp'",
                )
            if partner_authority == settings.authority:
                raise typer.BadParameter(
                    f"{partner_authority} is this administration",
                    param_hint="'--partner-authority'",
                )
            person = accounts.add_local_person(
                session,
                name=name,
                target=RoleTarget(role, partner_authority),
                password_hash=passwords.hash(password),
                now=utc_now(),
                totp_required=totp,
                display_name=display_name.strip() if display_name else None,
            )
            session.commit()
            err.print(
                f"added {person.name} ({person.role.value}) to {settings.authority}'s console"
                + (", second factor required" if totp else "")
            )
        _say_password(name, password, generated)

    @users_app.command("disable")
    @guard
    def users_disable(
        name: Name, authority: Authority = None, data_dir: DataDir = DEFAULT_DATA_DIR
    ) -> None:
        """Disable an account: it cannot sign in, and its sessions end now."""
        with _database(authority, data_dir) as (session, _settings):
            accounts.disable_person(session, name, now=utc_now())
            session.commit()
        err.print(f"disabled {name}; its sessions have ended")

    @users_app.command("enable")
    @guard
    def users_enable(
        name: Name, authority: Authority = None, data_dir: DataDir = DEFAULT_DATA_DIR
    ) -> None:
        """Enable a disabled account again."""
        with _database(authority, data_dir) as (session, _settings):
            accounts.enable_person(session, name, now=utc_now())
            session.commit()
        err.print(f"enabled {name}")

    @users_app.command("reset")
    @guard
    def users_reset(
        name: Name,
        totp: Annotated[
            bool,
            typer.Option("--totp", help="Also forget the second factor (set up again)."),
        ] = False,
        password_file: PasswordFile = None,
        authority: Authority = None,
        data_dir: DataDir = DEFAULT_DATA_DIR,
    ) -> None:
        """A new one-time password; clears a lockout and ends the account's sessions."""
        password, generated = _initial_password(password_file)
        with _database(authority, data_dir) as (session, _settings):
            accounts.reset_person(
                session,
                name,
                password_hash=Passwords().hash(password),
                now=utc_now(),
                reset_totp=totp,
            )
            session.commit()
        err.print(f"reset {name}" + (" and its second factor" if totp else ""))
        _say_password(name, password, generated)

    @users_app.command("list")
    @guard
    def users_list(
        authority: Authority = None,
        data_dir: DataDir = DEFAULT_DATA_DIR,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every account: role, how it signs in, second factor, state, last sign-in."""
        now = utc_now()
        with _database(authority, data_dir) as (session, _settings):
            rows = [
                {
                    "name": person.name,
                    "display_name": person.display_name,
                    "role": person.role.value,
                    "partner_authority": person.partner_authority,
                    "source": person.source.value,
                    "second_factor": person.has_totp,
                    "second_factor_required": person.totp_required,
                    "state": (
                        "disabled"
                        if not person.active
                        else "locked"
                        if accounts.is_locked(person, now)
                        else "active"
                    ),
                    "last_sign_in_at": (
                        person.last_sign_in_at.isoformat(timespec="seconds")
                        if person.last_sign_in_at
                        else None
                    ),
                }
                for person in accounts.list_people(session)
            ]
        if json_output:
            out.print_json(json.dumps(rows))
            return
        table = Table("name", "role", "signs in", "2nd factor", "state", "last sign-in")
        for row in rows:
            role = str(row["role"]) + (
                f" ({row['partner_authority']})" if row["partner_authority"] else ""
            )
            factor = "yes" if row["second_factor"] else (
                "required" if row["second_factor_required"] else "no"
            )  # fmt: skip
            table.add_row(
                str(row["name"]), role, str(row["source"]), factor, str(row["state"]),
                str(row["last_sign_in_at"] or "never"),
            )  # fmt: skip
        out.print(table)
