"""``aeo recognize``: a CSV of numbers and identifiers answered from an offline cache synced
from a real (in-process) chain, and the argument errors (exit 2, naming the argument)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web3 import Web3

from aeo.cli import app
from contracts.bootstrap import Consortium
from contracts.chain import latest_timestamp
from contracts.domain import days, ids
from contracts.domain.enums import ReasonCode, Tier
from verifier.offline import OfflineCache
from verifier.sync import sync

S, C = int(Tier.SECURITY_SAFETY), int(Tier.CUSTOMS_SIMPLIFICATIONS)


@pytest.fixture
def data_dir(consortium: Consortium, tmp_path: Path) -> Path:
    """MN and KR sign an MRA on the security tier; MN issues an S certificate, a C one and a
    revoked S one; the data directory's offline cache is synced."""
    operator = consortium.operator("MN")
    today = days.day_of(latest_timestamp(consortium.chain))
    operator.propose_mra(["MN", "KR"], [S, S], today - 30, 0, Web3.keccak(text="MN-KR MRA"))
    consortium.operator("KR").sign_mra(1)
    for number, tiers, tin in (("MN-S-1", S, "5012345"), ("MN-C-1", C, "6000001")):
        operator.issue(
            number, tiers, today - 1, today + 365, ids.holder_ref("TIN", tin),
            bytes(Web3.keccak(text=number)),
        )  # fmt: skip
    operator.issue(
        "MN-S-2", S, today - 1, today + 365, ids.holder_ref("TIN", "7000001"),
        bytes(Web3.keccak(text="MN-S-2")),
    )  # fmt: skip
    operator.revoke(ids.certificate_id("MN", "MN-S-2"), ReasonCode.FRAUD)
    folder = tmp_path / "data"
    folder.mkdir()
    with OfflineCache(folder / "verifier-cache.sqlite") as cache:
        sync(consortium.chain, consortium.deployment, cache)
    return folder


def run(cli: CliRunner, tmp_path: Path, text: str, *options: str) -> tuple[int, str, str]:
    source = tmp_path / "traders.csv"
    source.write_text(text, encoding="utf-8")
    result = cli.invoke(app, ["recognize", str(source), *options])
    return result.exit_code, result.stdout, result.stderr


def test_offline_answers_every_row_in_order(cli: CliRunner, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "answers.csv"
    code, _stdout, stderr = run(
        cli,
        tmp_path,
        "scheme,value\nMN-S-1\nTIN,501 2345\nmn-c-1\nMN-C-1\nMN-S-2\nTIN,9999999\n",
        "--as", "KR", "--offline", "--data-dir", str(data_dir), "--out", str(out),
    )  # fmt: skip
    assert code == 2  # the lower-case number is refused before anything is answered
    assert "line 4, number" in stderr
    assert not out.exists()

    code, _stdout, stderr = run(
        cli,
        tmp_path,
        "MN-S-1\nTIN,501 2345\nMN-C-1\nMN-S-2\nTIN,9999999\n",
        "--as", "KR", "--offline", "--data-dir", str(data_dir), "--out", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["row"], r["item"], r["found"]) for r in rows] == [
        ("1", "MN-S-1", "yes"),
        ("2", "TIN:5012345", "yes"),
        ("3", "MN-C-1", "yes"),
        ("4", "MN-S-2", "yes"),
        ("5", "TIN:9999999", "no"),
    ]
    assert [(r["recognized"], r["reason"]) for r in rows] == [
        ("yes", "recognized"),
        ("yes", "recognized"),
        ("no", "tier_not_covered"),
        ("no", "certificate_not_active"),
        ("no", "unknown_certificate"),
    ]
    assert rows[1]["number"] == "MN-S-1"
    assert rows[3]["status"] == "revoked"
    assert rows[0]["as_of"].startswith("block ")
    assert "5 rows answered, 2 recognized by KR" in stderr


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("MN-1\n", ["--as", "kr"], "--as"),
        ("MN-1\n", ["--as", "KR"], "--url"),
        ("MN-1\n", ["--as", "KR", "--url", "http://127.0.0.1:9"], "--token"),
        ("MN-1,TIN,1\n", ["--as", "KR", "--offline"], "line 1 has 3 values"),
        ("VAT,123\n", ["--as", "KR", "--offline"], "line 1, scheme: scheme 'VAT' is not one of"),
        ("\n\n", ["--as", "KR", "--offline"], "has no rows"),
        ("MN-1\n", ["--as", "KR", "--offline", "--cache", "/nonexistent/c.sqlite"], "--cache"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    cli: CliRunner, tmp_path: Path, text: str, options: list[str], message: str
) -> None:
    code, _stdout, stderr = run(cli, tmp_path, text, *options)
    assert code == 2
    assert message in " ".join(stderr.split())


def test_a_missing_file_exits_2_naming_it(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["recognize", str(tmp_path / "none.csv"), "--as", "KR", "--offline"])
    assert result.exit_code == 2
    assert "FILE:" in result.stderr
