"""Bad arguments: exit code 2 and a message that names the argument; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aeo.cli import app


def _words(text: str) -> str:
    """Rich boxes the message; compare on words, not on its layout."""
    return " ".join(text.replace("│", " ").split())


CASES = [
    (["verify", "AEO1:XYZ", "--as", "Korea"], "'--as'"),
    (["verify", "AEO1:XYZ"], "--as"),
    (["verify", "nowhere/certificate.png", "--as", "KR"], "PATH_OR_TEXT"),
    (["serve", "--authority", "mn"], "'--authority'"),
    (["serve", "--authority", "MN", "--port", "70000"], "'--port'"),
    (["chain", "up", "--port", "0"], "'--port'"),
    (["chain", "up", "--block-time", "0"], "--block-time"),
    (["deploy", "--rpc-url", "ftp://node.example"], "'--rpc-url'"),
    (["consortium", "bootstrap", "--member", "M1"], "--member 'M1'"),
    (["consortium", "bootstrap", "--member", "UZ"], "UZ=<name>"),
    (["consortium", "bootstrap", "--member", "MN", "--member", "MN"], "--member MN"),
    (["consortium", "bootstrap", "--member", "MN"], "--member MN alone"),
    (["bench", "gas", "--chain", "ropsten"], "'--chain'"),
    (["keys", "new", "k.pem", "--kind", "wallet"], "'--kind'"),
    (["keys", "show-public", "no-such-key.pem"], "PATH"),
    (["keys", "migrate", "no-such-key.pem"], "PATH"),
    (["verifier", "serve", "--as", "K"], "'--as'"),
    (["demo", "--base-port", "99999"], "'--base-port'"),
    (["chain", "sideways"], "No such command 'sideways'"),
]


@pytest.mark.parametrize(
    ("args", "named"), CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_usage_error_exits_2_and_names_the_argument(
    cli: CliRunner, tmp_path: Path, args: list[str], named: str
) -> None:
    result = cli.invoke(
        app, [*args, *(["--data-dir", str(tmp_path)] if _takes_data_dir(args) else [])]
    )
    assert result.exit_code == 2, result.output
    assert named in _words(result.output)
    assert "Traceback" not in result.output


def _takes_data_dir(args: list[str]) -> bool:
    return args[:1] in (["serve"], ["deploy"], ["consortium"], ["demo"]) or args[:2] == [
        "chain",
        "up",
    ]


def test_keys_new_without_a_passphrase_says_which_variables_to_set(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AEO_PASSPHRASE", raising=False)
    monkeypatch.delenv("AEO_PASSPHRASE_FILE", raising=False)
    result = cli.invoke(app, ["keys", "new", str(tmp_path / "signing.pem")])
    assert result.exit_code == 2
    assert "AEO_PASSPHRASE" in result.output
    assert not (tmp_path / "signing.pem").exists()


def test_commands_needing_a_chain_say_how_to_start_one(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["deploy", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no chain is running" in result.output
    assert "aeo chain up" in result.output


def test_serve_before_the_consortium_is_founded_says_what_to_run(
    cli: CliRunner, tmp_path: Path
) -> None:
    result = cli.invoke(app, ["serve", "--authority", "MN", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "aeo consortium bootstrap" in _words(result.output)


def test_demo_reset_refuses_a_directory_that_is_not_a_data_directory(
    cli: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "thesis.tex").write_text("years of work", encoding="utf-8")
    result = cli.invoke(app, ["demo", "--reset", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "refusing to delete it" in _words(result.output)
    assert (tmp_path / "thesis.tex").exists()
