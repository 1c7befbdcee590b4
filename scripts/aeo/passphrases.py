"""Where the passphrases of the encrypted key files come from.

In order: ``AEO_PASSPHRASE``, then ``AEO_PASSPHRASE_FILE`` (the registry service reads the
same two variables), then a ``secrets`` file in the key's own folder. ``aeo demo`` (and
``aeo consortium bootstrap --generate-passphrases``) writes that file with a random passphrase
per administration (43 characters), mode 0600; nothing ever prints it.

Every passphrase must have at least 12 characters (``MIN_PASSPHRASE_LENGTH``), whatever its
source: a shorter one is refused with a message naming where it came from. Only
``aeo keys migrate`` reads a shorter one (``minimum=False``), to decrypt a file written
before the rule and re-encrypt it under a new passphrase.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from aeo.errors import NotFoundError, UsageError
from registry_api.keystore import MIN_PASSPHRASE_LENGTH

SECRETS_FILE = "secrets"
ENV_PASSPHRASE = "AEO_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
ENV_PASSPHRASE_FILE = "AEO_PASSPHRASE_FILE"  # noqa: S105 - a variable name


def secrets_file(folder: Path) -> Path:
    return folder / SECRETS_FILE


def check_length(value: str, source: str) -> str:
    """``value`` if it is long enough; else a UsageError naming ``source`` (never the value)."""
    if len(value.strip()) < MIN_PASSPHRASE_LENGTH:
        raise UsageError(
            f"{source}: the passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters; "
            "choose a longer one"
        )
    return value


def read_passphrase_file(path: Path, what: str, *, minimum: bool = True) -> str:
    """The passphrase a file holds (its first line, without the line break)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{what}: {path} cannot be read ({exc.strerror})") from None
    value = text.rstrip("\r\n")
    if not value:
        raise UsageError(f"{what}: {path} is empty")
    return check_length(value, f"{what} {path}") if minimum else value


def from_environment(*, minimum: bool = True) -> str | None:
    """The passphrase ``AEO_PASSPHRASE`` or ``AEO_PASSPHRASE_FILE`` gives, if any."""
    value = os.environ.get(ENV_PASSPHRASE)
    path = os.environ.get(ENV_PASSPHRASE_FILE)
    if value and path:
        raise UsageError(f"set {ENV_PASSPHRASE} or {ENV_PASSPHRASE_FILE}, not both")
    if value:
        return check_length(value, ENV_PASSPHRASE) if minimum else value
    if path:
        return read_passphrase_file(Path(path), ENV_PASSPHRASE_FILE, minimum=minimum)
    return None


def passphrase_for(folder: Path, *, generated: bool = False, minimum: bool = True) -> str:
    """The passphrase of the key files in ``folder``.

    ``generated``: its secrets file, written now with a random passphrase if missing (the
    environment is not consulted). Otherwise the environment's, else an existing secrets
    file; when neither exists the message says how to provide one. ``minimum=False`` lets
    a passphrase shorter than 12 characters through, for reading an old file only.
    """
    path = secrets_file(folder)
    if generated:
        generate_secrets_file(folder)
        return read_passphrase_file(path, "secrets file")
    value = from_environment(minimum=minimum)
    if value is not None:
        return value
    if path.is_file():
        return read_passphrase_file(path, "secrets file", minimum=minimum)
    raise NotFoundError(
        f"no passphrase for the key files in {folder}: set {ENV_PASSPHRASE} or "
        f"{ENV_PASSPHRASE_FILE}, or let the command generate one (--generate-passphrase)"
    )


def generate_secrets_file(folder: Path) -> Path:
    """Write a random passphrase to ``folder/secrets`` (0600) unless one exists; its path."""
    path = secrets_file(folder)
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    # 256 random bits; created 0600 in one call, so no other user can ever read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path
