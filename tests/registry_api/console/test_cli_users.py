"""``aeo users``: local accounts from the command line, on the database the ``AEO_*``
environment names (as the service reads it)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app
from registry_api.console import accounts
from registry_api.console.passwords import Passwords
from registry_api.db import make_engine, make_session_factory


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "AEO_AUTHORITY": "MN",
        "AEO_DATA_DIR": str(tmp_path / "mn"),
        "AEO_DATABASE_URL": database_url,
        "AEO_CHAIN": "memory",
        "AEO_PASSPHRASE": secrets.token_urlsafe(24),
    }


def _aeo(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    # rich draws usage errors in a box, wrapped: read its words
    stderr = " ".join(result.stderr.replace("│", " ").split())
    return result.exit_code, result.stdout, stderr


def _person(database_url: str, name: str) -> accounts.Person:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            person = accounts.get_person(session, name)
            session.expunge(person)
            return person
    finally:
        engine.dispose()


def test_add_prints_a_one_time_password_on_stdout_alone(
    env: dict[str, str], database_url: str
) -> None:
    code, out, err = _aeo(env, "users", "add", "bolor", "--role", "issuing_officer")
    assert code == 0, err
    password = out.strip()
    assert len(out.splitlines()) == 1
    assert len(password) >= 20
    assert password not in err
    assert "added bolor (issuing_officer) to MN's console" in err
    person = _person(database_url, "bolor")
    assert person.password_change_required
    assert Passwords().verify(person.password_hash, password)


def test_add_reads_the_password_from_a_file_or_standard_input(
    env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("correct horse battery staple\n", encoding="utf-8")
    code, out, _ = _aeo(
        env, "users", "add", "saraa", "--role", "auditor", "--password-file", str(secret_file)
    )
    assert (code, out) == (0, "")
    assert Passwords().verify(_person(database_url, "saraa").password_hash,
                              "correct horse battery staple")  # fmt: skip
    code, out, _ = _aeo(
        env, "users", "add", "kim", "--role", "partner", "--partner-authority", "KR",
        "--password-file", "-", stdin="another long password\n",
    )  # fmt: skip
    assert (code, out) == (0, "")
    assert _person(database_url, "kim").partner_authority == "KR"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["users", "add", "two words", "--role", "auditor"], "'NAME'"),
        (["users", "add", "kim", "--role", "partner"], "'--partner-authority'"),
        (["users", "add", "kim", "--role", "auditor", "--partner-authority", "KR"],
         "'--partner-authority'"),
        (["users", "add", "kim", "--role", "partner", "--partner-authority", "MN"],
         "'--partner-authority'"),
        (["users", "add", "kim", "--role", "boss"], "'--role'"),
        (["users", "add", "kim", "--role", "auditor", "--authority", "mongolia"],
         "'--authority'"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_naming_the_argument(
    env: dict[str, str], args: list[str], named: str
) -> None:
    code, _out, err = _aeo(env, *args)
    assert code == 2
    assert named in err


def test_a_short_password_file_is_refused_naming_the_option(
    env: dict[str, str], tmp_path: Path
) -> None:
    short = tmp_path / "pw"
    short.write_text("short\n", encoding="utf-8")
    code, _out, err = _aeo(
        env, "users", "add", "bolor", "--role", "auditor", "--password-file", str(short)
    )
    assert code == 2
    assert "'--password-file'" in err
    assert "at least 12 characters" in err
    assert "short " not in err


def test_a_second_factor_needs_the_passphrase(env: dict[str, str]) -> None:
    del env["AEO_PASSPHRASE"]
    code, _out, err = _aeo(env, "users", "add", "bolor", "--role", "auditor", "--totp")
    assert code == 2
    assert "AEO_PASSPHRASE" in err


def test_a_duplicate_name_is_one_error_line(env: dict[str, str]) -> None:
    assert _aeo(env, "users", "add", "bolor", "--role", "auditor")[0] == 0
    code, _out, err = _aeo(env, "users", "add", "bolor", "--role", "auditor")
    assert code == 1
    assert err.strip() == "error: an account named 'bolor' exists already"


def test_disable_enable_reset_and_list(env: dict[str, str], database_url: str) -> None:
    _aeo(env, "users", "add", "bolor", "--role", "issuing_officer", "--totp")
    assert _aeo(env, "users", "disable", "bolor")[0] == 0
    listed = json.loads(_aeo(env, "users", "list", "--json")[1])
    assert listed == [{
        "name": "bolor", "display_name": "bolor", "role": "issuing_officer",
        "partner_authority": None, "source": "local", "second_factor": False,
        "second_factor_required": True, "state": "disabled", "last_sign_in_at": None,
    }]  # fmt: skip
    assert _aeo(env, "users", "enable", "bolor")[0] == 0
    code, out, err = _aeo(env, "users", "reset", "bolor", "--totp")
    assert code == 0
    assert "reset bolor and its second factor" in err
    assert Passwords().verify(_person(database_url, "bolor").password_hash, out.strip())
    table = _aeo(env, "users", "list")[1]
    assert "bolor" in table
    assert "required" in table
    code, _out, err = _aeo(env, "users", "disable", "ghost")
    assert (code, err.strip()) == (1, "error: no account named 'ghost'")
