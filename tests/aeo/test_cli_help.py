"""Every command of ``aeo`` explains itself with --help."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aeo.cli import app

COMMANDS = [
    [],
    ["chain"],
    ["chain", "up"],
    ["chain", "down"],
    ["chain", "status"],
    ["deploy"],
    ["consortium"],
    ["consortium", "bootstrap"],
    ["consortium", "join-request"],
    ["consortium", "propose"],
    ["consortium", "vote"],
    ["consortium", "activate"],
    ["serve"],
    ["worker"],
    ["verify"],
    ["verifier"],
    ["verifier", "sync"],
    ["verifier", "serve"],
    ["verifier", "trust"],
    ["verifier", "trust", "add"],
    ["verifier", "trust", "list"],
    ["keys"],
    ["keys", "new"],
    ["keys", "show-public"],
    ["keys", "migrate"],
    ["bench"],
    ["bench", "gas"],
    ["bench", "api"],
    ["bench", "verify"],
    ["bench", "import"],
    ["bench", "kpis"],
    ["bench", "propagation"],
    ["bench", "hostile"],
    ["bench", "scale"],
    ["bench", "console"],
    ["bench", "snapshot"],
    ["bench", "consortium-scale"],
    ["bench", "recognition"],
    ["bench", "all"],
    ["demo"],
    ["users"],
    ["users", "add"],
    ["users", "disable"],
    ["users", "enable"],
    ["users", "reset"],
    ["users", "list"],
    ["kpis"],
    ["recognize"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "aeo")
def test_every_command_has_help(cli: CliRunner, command: list[str]) -> None:
    result = cli.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: aeo {' '.join(command)}".rstrip() in " ".join(result.output.split())


def test_every_registered_command_is_in_the_help_test() -> None:
    import typer.main

    group = typer.main.get_command(app)
    found: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(group, [])
    assert sorted(found) == sorted(COMMANDS)


def test_aeo_without_a_command_shows_the_commands(cli: CliRunner) -> None:
    result = cli.invoke(app, [])
    assert "demo" in result.output
    assert "verify" in result.output
