"""``aeo chain up|status|down``, ``aeo deploy`` and ``aeo consortium bootstrap`` against a real
anvil, run as a user runs them (the installed console script, a temporary data directory)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from contracts.anvil import free_port, running_anvil
from contracts.chain import ChainSettings, connect
from contracts.deploy import Deployment
from contracts.reader import RegistryReader
from tests.aeo.conftest import RunAeo

pytestmark = pytest.mark.anvil


def test_chain_up_status_down_keeps_the_state(tmp_path: Path, run_aeo: RunAeo) -> None:
    data = str(tmp_path / "data")
    port = free_port()
    assert run_aeo("chain", "status", "--data-dir", data).returncode == 1

    up = run_aeo("chain", "up", "--data-dir", data, "--port", str(port))
    try:
        assert up.returncode == 0, up.stderr
        assert f"http://127.0.0.1:{port}" in up.stdout
        again = run_aeo("chain", "up", "--data-dir", data, "--port", str(port))
        assert again.returncode == 0
        assert "already runs" in again.stdout

        status = run_aeo("chain", "status", "--data-dir", data, "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True
        assert report["answering"] is True
        assert report["url"] == f"http://127.0.0.1:{port}"
        assert report["chain_id"] == 31337
    finally:
        down = run_aeo("chain", "down", "--data-dir", data)
    assert down.returncode == 0
    assert "stopped" in down.stdout
    assert running_anvil(Path(data)) is None
    after = run_aeo("chain", "status", "--data-dir", data)
    assert after.returncode == 1
    assert "not running (a saved state" in after.stdout
    assert (Path(data) / "anvil" / "state.json").is_file()


def test_chain_up_on_a_taken_port_names_the_port(tmp_path: Path, run_aeo: RunAeo) -> None:
    first, second = str(tmp_path / "one"), str(tmp_path / "two")
    port = free_port()
    assert run_aeo("chain", "up", "--data-dir", first, "--port", str(port)).returncode == 0
    try:
        taken = run_aeo("chain", "up", "--data-dir", second, "--port", str(port))
        assert taken.returncode == 2
        assert f"--port: port {port}" in taken.stderr
    finally:
        run_aeo("chain", "down", "--data-dir", first)


def test_deploy_twice_deploys_once(chain_dir: Path, run_aeo: RunAeo) -> None:
    first = run_aeo("deploy", "--data-dir", str(chain_dir), "--json")
    assert first.returncode == 0, first.stderr
    second = run_aeo("deploy", "--data-dir", str(chain_dir), "--json")
    assert second.returncode == 0, second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert (one["created"], two["created"]) == (True, False)
    assert (one["registry"], one["mras"]) == (two["registry"], two["mras"])
    recorded = Deployment.load(chain_dir / "deployments" / "31337.json")
    assert recorded.registry == one["registry"]
    # the deployer key is kept, encrypted, so the bootstrap later signs as the same account
    keystore = json.loads((chain_dir / "deployer" / "deployer-key.json").read_text())
    assert "crypto" in keystore
    assert "0x" + keystore["address"].lower().removeprefix("0x") == one["deployer"].lower()


def test_bootstrap_writes_each_administration_and_publishes_its_signing_key(
    chain_dir: Path, run_aeo: RunAeo
) -> None:
    data = str(chain_dir)
    assert run_aeo("deploy", "--data-dir", data, "--generate-passphrase").returncode == 0
    founded = run_aeo("consortium", "bootstrap", "--data-dir", data, "--generate-passphrase")
    assert founded.returncode == 0, founded.stderr
    assert "consortium founded: MN, KZ, KR" in founded.stdout

    record = json.loads((chain_dir / "consortium.json").read_text())
    assert [m["code"] for m in record["members"]] == ["MN", "KZ", "KR"]
    url = running_anvil(chain_dir)
    assert url is not None
    with connect(ChainSettings(kind="rpc", rpc_url=url.url)) as chain:
        deployment = Deployment.load(chain_dir / "deployments" / "31337.json")
        reader = RegistryReader(chain, deployment)
        for member in record["members"]:
            folder = chain_dir / member["code"]
            for name in ("operator-key.json", "admin-key.json", "signing-key.pem", "secrets"):
                mode = stat.S_IMODE((folder / name).stat().st_mode)
                assert mode == 0o600, (member["code"], name, oct(mode))
            assert "ENCRYPTED" in (folder / "signing-key.pem").read_text()
            settings = (folder / "registry.env").read_text()
            assert f"AEO_AUTHORITY={member['code']}" in settings
            assert f"AEO_RPC_URL={url.url}" in settings
            # Each founding member prints its PDFs in its own language beside English.
            language = {"MN": "mn", "KZ": "kk", "KR": "ko"}[member["code"]]
            assert f"AEO_DOCUMENT_LANGUAGE={language}" in settings
            key = reader.get_signing_key(bytes.fromhex(member["signing_kid"]))
            assert key.authority == member["code"]
            account = reader.account_of(member["operator"])
            assert account.authority == member["code"]
        assert reader.bootstrapper() is None  # the deployer kept no power

    again = run_aeo("consortium", "bootstrap", "--data-dir", data, "--generate-passphrase")
    assert again.returncode == 0, again.stderr
    assert "already founded" in again.stdout
    assert json.loads((chain_dir / "consortium.json").read_text())["members"] == record["members"]

    synced = run_aeo("verifier", "sync", "--data-dir", data)
    assert synced.returncode == 0, synced.stderr
    assert "events applied, synced from scratch" in synced.stdout
    assert (chain_dir / "verifier-cache.sqlite").is_file()
    resumed = run_aeo("verifier", "sync", "--data-dir", data)
    assert "synced from block" in resumed.stdout


def test_bootstrap_before_deploy_says_to_deploy(chain_dir: Path, run_aeo: RunAeo) -> None:
    result = run_aeo("consortium", "bootstrap", "--data-dir", str(chain_dir))
    assert result.returncode == 1
    assert "aeo deploy" in result.stderr


def test_chain_up_refuses_a_port_out_of_range_before_starting_anything(
    tmp_path: Path, run_aeo: RunAeo
) -> None:
    result = run_aeo("chain", "up", "--data-dir", str(tmp_path), "--port", "65536")
    assert result.returncode == 2
    assert not (tmp_path / "anvil").exists()
