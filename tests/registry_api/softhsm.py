"""A real SoftHSM2 for the HSM tests: tokens initialised once per test process.

SoftHSM2 reads its configuration (``SOFTHSM2_CONF``) and finds its tokens when the module is
initialised, once per process, so every token the tests use is made before the first test
opens the module: :func:`start_softhsm` writes a configuration under a temporary folder,
points ``SOFTHSM2_CONF`` at it for the rest of the process (and for the ``aeo`` processes
tests start), and runs ``softhsm2-util --init-token`` with PINs generated here.

Two tokens: ``aeo-test``, which the tests log in to, and ``aeo-spare``, which no test logs
in to with its right PIN (PKCS#11 keeps one login per process and token, so a wrong PIN is
only checked against a token not yet logged in).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from registry_api.hsm import DEFAULT_PKCS11_MODULE, TokenConfig

MAIN_TOKEN = "aeo-test"
SPARE_TOKEN = "aeo-spare"
INSTALL_HINT = "SoftHSM2 is not installed: make system-deps installs the Debian package softhsm2"


@dataclass(frozen=True)
class SoftHsm:
    directory: Path
    config_file: Path
    module: Path
    token: str
    pin: str = field(repr=False)
    spare_token: str
    spare_pin: str = field(repr=False)

    def config(self, token: str | None = None, pin: str | None = None) -> TokenConfig:
        return TokenConfig(self.module, token or self.token, SecretStr(pin or self.pin))


_STARTED: SoftHsm | None = None


def _init_token(util: str, label: str, pin: str) -> None:
    subprocess.run(
        [
            util,
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            secrets.token_hex(8),
            "--pin",
            pin,
        ],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )


def start_softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    """The process's SoftHSM2 with its two tokens (made on the first call)."""
    global _STARTED
    if _STARTED is not None:
        return _STARTED
    util = shutil.which("softhsm2-util")
    if util is None or not DEFAULT_PKCS11_MODULE.is_file():
        pytest.fail(INSTALL_HINT)
    directory = tmp_path_factory.mktemp("softhsm")
    tokens = directory / "tokens"
    tokens.mkdir(mode=0o700)
    config_file = directory / "softhsm2.conf"
    config_file.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    os.environ["SOFTHSM2_CONF"] = str(config_file)
    pin, spare_pin = secrets.token_hex(8), secrets.token_hex(8)
    _init_token(util, MAIN_TOKEN, pin)
    _init_token(util, SPARE_TOKEN, spare_pin)
    _STARTED = SoftHsm(
        directory=directory,
        config_file=config_file,
        module=DEFAULT_PKCS11_MODULE,
        token=MAIN_TOKEN,
        pin=pin,
        spare_token=SPARE_TOKEN,
        spare_pin=spare_pin,
    )
    return _STARTED
