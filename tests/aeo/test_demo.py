"""``aeo demo`` end to end, as a user runs it: everything starts, the printed commands work
exactly as printed, Ctrl-C stops every child, and a second run resumes from the saved state."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shlex
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aeo.services import port_in_use
from contracts.anvil import free_port
from tests.aeo.conftest import AEO, PROJECT_DIR

pytestmark = [pytest.mark.slow, pytest.mark.anvil]

LAST_LINE = "python3 -m webbrowser"  # the summary's last command
STARTUP_TIMEOUT = 600.0


def _free_base_port() -> int:
    """A port whose next three are free too (the page and three APIs)."""
    for _ in range(50):
        base = free_port()
        if base < 65000 and not any(port_in_use(base + i) for i in range(4)):
            return base
    raise RuntimeError("no four consecutive free ports")


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (the demo's data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if text in cmdline and (entry / "stat").read_text().split()[2] != "Z":
                found.append(int(entry.name))
    return found


class RunningDemo:
    """``aeo demo`` in a subprocess, its output read line by line on a thread."""

    def __init__(self, data_dir: Path, base_port: int, chain_port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AEO_")}
        self.process = subprocess.Popen(
            [str(AEO), "demo", "--data-dir", str(data_dir), "--base-port", str(base_port),
             "--chain-port", str(chain_port)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_summary(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if LAST_LINE in line:
                return "\n".join(self.lines)
        pytest.fail("the demo printed no summary:\n" + "\n".join(self.lines))

    def command_after(self, heading: str) -> str:
        for index, line in enumerate(self.lines):
            if line.startswith(heading):
                return self.lines[index + 1].strip()
        pytest.fail(f"no {heading!r} in the demo's output")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=120)
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=30)  # the pipe ends with the process
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    for pid in _processes_mentioning(str(data)):  # only if the test failed half-way
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _run(command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AEO_")}
    return subprocess.run(
        shlex.split(command) if "&&" not in command else ["bash", "-c", command],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _printed_sign_ins(summary: str) -> dict[str, dict[str, str]]:
    """{code: {account: password}} from the summary's sign-in lines."""
    found: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"^  (MN|KZ|KR)  ([a-z]{2}\.[a-z_]+) +(\S+)$", summary, re.M):
        found.setdefault(match[1], {})[match[2]] = match[3]
    return found


def _console_home(api: str, name: str, password: str) -> httpx.Response:
    """Sign in to a console with a local account, as a browser does (its CSRF field)."""
    with httpx.Client(base_url=api, timeout=60, follow_redirects=True) as client:
        form = client.get("/console/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None, form.text
        home = client.post(
            "/console/sign-in",
            data={"name": name, "password": password, "csrf_token": token[1]},
        )
        assert home.status_code == 200, home.text
        return home


def test_demo_runs_the_system_its_commands_work_and_ctrl_c_stops_everything(
    data_dir: Path,
) -> None:
    base, chain_port = _free_base_port(), free_port()
    demo = RunningDemo(data_dir, base, chain_port)
    try:
        summary = demo.wait_for_summary()
        assert "Ctrl-C stops everything" in summary
        for port in (base, base + 1, base + 2, base + 3):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert f"http://127.0.0.1:{base + 1}/docs" in summary
        for status in ("suspended", "revoked", "expired"):
            assert status in summary
        assert "MRA 1 between KR and MN: in_force" in summary
        assert len(list((data_dir / "demo" / "out").glob("*.pdf"))) == 9

        verify = demo.command_after("1. Verify")
        assert verify.startswith(".venv/bin/aeo verify ")
        checked = _run(verify)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "VALID AND RECOGNIZED" in checked.stdout

        # The border page verifies offline, from the cache synced from MN's signed snapshot.
        assert "offline from MN's snapshot" in summary
        assert (data_dir / "verifier-anchors.json").is_file()
        png = Path(shlex.split(verify)[2])
        scanned = httpx.post(
            f"http://127.0.0.1:{base}/api/verify",
            files={"image": (png.name, png.read_bytes(), "image/png")},
            timeout=60,
        )
        assert scanned.status_code == 200, scanned.text
        assert scanned.json()["outcome"] == "recognized"
        assert scanned.json()["source"]["kind"] == "snapshot"

        # A sign-in per role per administration, printed once, kept 0600, reaching the console.
        sign_ins = _printed_sign_ins(summary)
        assert {name for code in ("MN", "KZ", "KR") for name in sign_ins[code]} == {
            f"{code.lower()}.{role}"
            for code in ("mn", "kz", "kr")
            for role in ("admin", "issuing_officer", "mra_officer", "auditor")
        }
        stored = data_dir / "demo" / "sign-ins.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        assert json.loads(stored.read_text()) == sign_ins
        mn_api = f"http://127.0.0.1:{base + 1}"
        assert f"{mn_api}/console/" in summary
        home = _console_home(mn_api, "mn.issuing_officer", sign_ins["MN"]["mn.issuing_officer"])
        assert home.url.path == "/console/"
        for log in (data_dir / "demo" / "logs").rglob("*"):
            if log.is_file():
                text = log.read_text(errors="replace")
                assert not any(p in text for made in sign_ins.values() for p in made.values())

        # The batch lookup Korea's risk engine sends to MN, by number and by its aliases.
        batch = _run(demo.command_after("2. Korea's risk engine"))
        assert batch.returncode == 0, batch.stdout + batch.stderr
        answers = json.loads(batch.stdout)["data"]
        assert [a["found"] for a in answers] == [True, True, True, False]
        assert all(a["recognized"] for a in answers[:3])

        # The public lookup of a consenting holder: the page's URL and its JSON.
        public_url = demo.command_after("3. Anyone checks")
        page = httpx.get(public_url, timeout=60)
        assert page.status_code == 200
        assert 'data-result="valid"' in page.text
        public = _run(demo.command_after("   or as JSON"))
        assert public.returncode == 0, public.stderr
        (answer,) = json.loads(public.stdout)["data"]
        assert answer["result"] == "valid"
        assert answer["holder_name"] in summary

        suspend_and_verify = demo.command_after("   Or suspend it through the API")
        suspended = _run(suspend_and_verify)
        assert suspended.returncode == 3, suspended.stdout + suspended.stderr
        assert "SUSPENDED" in suspended.stdout

        assert demo.interrupt() == 0
    finally:
        demo.kill()
    assert "stopped; the state is kept" in "\n".join(demo.lines)
    assert _processes_mentioning(str(data_dir)) == []
    assert not any(port_in_use(p) for p in (chain_port, base, base + 1, base + 2, base + 3))

    again = RunningDemo(data_dir, base, chain_port)
    try:
        summary = again.wait_for_summary()
        assert "Resuming" in summary
        # the passwords were shown once: the second run names the file instead
        assert not any(p in summary for made in sign_ins.values() for p in made.values())
        assert "sign-ins.json" in summary
        # the suspension made before the restart is still on the chain
        rechecked = _run(verify)
        assert rechecked.returncode == 3
        assert "SUSPENDED" in rechecked.stdout
        assert again.interrupt() == 0
    finally:
        again.kill()
    assert _processes_mentioning(str(data_dir)) == []
