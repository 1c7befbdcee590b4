"""``aeo demo``: the whole system on one machine, started by one command.

In order: anvil with its state in ``data/anvil`` (attached to, when ``aeo chain up`` already
runs it); the contracts, deployed once; MN, KZ and KR founded with their own keys (their
document-signing keys published on chain); one registry API per administration and the
border officer's page, as child processes; an API key per role per administration; the
example data (``aeo.seed``: an MRA between MN and KR in force, certificates at each
administration, their QR codes and PDFs); the border post: MN's registry key pinned, its
offline cache synced from MN's signed snapshot (not from the chain), and the border officer's
page verifying offline from that cache (re-synced every few seconds while the demo runs);
then a table of what runs and what to try. Ctrl-C (or SIGTERM) stops every child and anvil,
which saves its state.

A second run finds the data directory of the first and resumes (and says so): the chain
state, the databases and keys are reused and nothing is seeded twice. ``--reset`` wipes the
data directory first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from aeo import consortium as founding, seed
from aeo.api_client import RegistryClient
from aeo.errors import ScriptError, ServiceError, UsageError
from aeo.services import Child, require_free_ports, start_child, stop_children
from aeo.verifying import (
    anchors_path,
    load_anchors,
    make_anchor,
    pin_anchor,
    snapshot_cache_path,
    sync_snapshot,
)
from aeo.workspace import ConsortiumRecord, Workspace, read_json, write_json
from contracts.anvil import AnvilProcess, anvil_dir, running_anvil, start_anvil
from contracts.bootstrap import DEFAULT_MEMBERS
from contracts.chain import Chain
from contracts.deploy import Deployment
from contracts.errors import DeploymentMismatchError
from contracts.reader import RegistryReader
from registry_api.console import accounts
from registry_api.console.passwords import Passwords, generate_password
from registry_api.console.roles import RoleTarget
from registry_api.db import Role, make_engine, make_session_factory, upgrade_database, utc_now
from registry_api.first_run import create_admin_key
from registry_api.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
VERIFIER_AS = "KR"
#: the registry whose signed snapshot the demo's border post syncs from
SNAPSHOT_FROM = "MN"
#: seconds between the border post's syncs while the demo runs
RESYNC_SECONDS = 10.0
#: how long a first sync waits for the registry's snapshot of the seeded chain
SNAPSHOT_WAIT_SECONDS = 90.0

# One key per role per administration; the partner key of each is for its MRA partner.
ROLE_USERS: tuple[tuple[str, str], ...] = (
    ("admin", "demo administrator"),
    ("issuing_officer", "AEO unit officer"),
    ("mra_officer", "MRA unit officer"),
    ("auditor", "internal audit"),
    ("partner", "partner risk management unit"),
    ("border_officer", "border post"),
)
PARTNER_OF = {"MN": "KR", "KR": "MN", "KZ": "MN"}
#: the console's local sign-ins the demo makes, one per role per administration (the
#: partner roles belong to another administration's staff: keys only)
SIGN_IN_ROLES: tuple[Role, ...] = (
    Role.ADMIN,
    Role.ISSUING_OFFICER,
    Role.MRA_OFFICER,
    Role.AUDITOR,
)
#: the demo's sign-ins, with their passwords (0600, in the data directory: never committed)
SIGN_INS_FILE = "sign-ins.json"


def sign_in_name(code: str, role: Role) -> str:
    """``mn.issuing_officer``: the account name a demo officer types."""
    return f"{code.lower()}.{role.value}"


def make_sign_ins(settings: Settings, roles: tuple[Role, ...] = SIGN_IN_ROLES) -> dict[str, str]:
    """A local console account per role in ``settings``' database, each with a new generated
    password: {account name: password}. An account left by an interrupted run gets a new
    password. The demo's passwords need no change at the first sign-in: they are the demo's,
    printed to whoever started it, and the tour signs in with them directly."""
    passwords = Passwords()
    made: dict[str, str] = {}
    engine = make_engine(settings.db_url)
    try:
        upgrade_database(engine)
        with make_session_factory(engine)() as session:
            for role in roles:
                name = sign_in_name(settings.authority, role)
                password = generate_password()
                hashed = passwords.hash(password)
                if accounts.find_person(session, name) is None:
                    person = accounts.add_local_person(
                        session,
                        name=name,
                        target=RoleTarget(role, None),
                        password_hash=hashed,
                        now=utc_now(),
                        display_name=f"{settings.authority} demo {role.value.replace('_', ' ')}",
                    )
                else:
                    person = accounts.reset_person(
                        session, name, password_hash=hashed, now=utc_now()
                    )
                person.password_change_required = False
                made[name] = password
            session.commit()
    finally:
        engine.dispose()
    return made


@dataclass(frozen=True)
class DemoOptions:
    data_dir: Path
    reset: bool = False
    chain_port: int = 8545
    base_port: int = 8100


class _Stop(Exception):
    """SIGTERM or SIGHUP: stop as on Ctrl-C."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _looks_like_a_data_dir(path: Path) -> bool:
    if not path.exists():
        return True
    names = {p.name for p in path.iterdir()}
    return not names or bool(names & {"anvil", "consortium.json", "deployments", "demo"})


def reset_data_dir(workspace: Workspace) -> None:
    """Stop the data directory's chain and delete the directory; refuse a directory that is
    not one of ours (a mistyped --data-dir must not wipe someone's files)."""
    path = workspace.data_dir
    if not _looks_like_a_data_dir(path):
        raise UsageError(
            f"--data-dir {path} does not look like an aeo data directory (no anvil/, "
            "consortium.json, deployments/ or demo/); refusing to delete it"
        )
    process = running_anvil(path)
    if process is not None:
        process.stop()
    if path.exists():
        shutil.rmtree(path)


def _orphaned(marker: Path) -> bool:
    """Did a demo process that no longer runs start the running anvil?"""
    try:
        pid = int(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return pid == os.getpid()


def _display_path(path: Path) -> str:
    """``path`` as the user would type it from the repository root."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


class Demo:
    """One run of the demo; :meth:`run` returns the exit code."""

    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.workspace = Workspace(options.data_dir)
        self.children: list[Child] = []
        self.anvil: AnvilProcess | None = None  # set only when this run started it
        self.resumed = False
        self.seed_summary: dict[str, Any] = {}
        self.tokens: dict[str, dict[str, str]] = {}
        #: {code: {account: password}}; ``new_sign_ins``: made by this run (printed once)
        self.sign_ins: dict[str, dict[str, str]] = {}
        self.new_sign_ins = False
        self.record: ConsortiumRecord | None = None
        self.chain_url = ""
        self.block = 0
        self._next_sync = 0.0
        self._sync_failed = False

    # ------------------------------------------------------------ the run

    def run(self) -> int:
        previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
        # A shell starting the demo in the background leaves SIGINT ignored; Ctrl-C and
        # `kill -INT` must stop it all the same.
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        started = time.monotonic()
        error: ScriptError | None = None
        try:
            self._start()
            self.console.print(self._summary(time.monotonic() - started))
            self._watch()
        except (KeyboardInterrupt, _Stop):
            self.console.print("\nstopping...")
        except ScriptError as exc:
            error = exc
        finally:
            self._stop(resumable=error is None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if error is not None:
            # Last, so that it is what the user sees.
            self.console.print(f"[red]error:[/red] {escape(error.message)}", soft_wrap=True)
            return error.exit_code
        return 0

    def _start(self) -> None:
        options, workspace = self.options, self.workspace
        if options.reset:
            reset_data_dir(workspace)
            self.console.print(f"reset: {workspace.data_dir} wiped")
        self.resumed = workspace.demo_keys.exists()
        if self.resumed:
            seeded = (
                "nothing is seeded again"
                if workspace.demo_seeded.exists()
                else "the example data interrupted last time is completed, nothing twice"
            )
            self.console.print(
                f"[bold]Resuming[/bold] from {_display_path(workspace.data_dir)} (an earlier "
                f"run's chain, keys and databases); {seeded}. "
                "Start afresh with: aeo demo --reset"
            )
        ports = [("--base-port", options.base_port + i) for i in range(4)]
        if running_anvil(workspace.data_dir) is None:
            ports.append(("--chain-port", options.chain_port))
        require_free_ports(ports)

        with self._progress() as progress:
            steps = progress.add_task("starting", total=9)

            def step(description: str) -> None:
                progress.update(steps, description=description)

            step("chain")
            chain = self._chain()
            progress.advance(steps)
            try:
                step("contracts")
                try:
                    deployment = founding.deploy_registry(
                        workspace, chain, generate_passphrase=True
                    ).deployment
                except DeploymentMismatchError as exc:
                    raise ScriptError(
                        f"{exc}. The contracts of this checkout are not the ones deployed "
                        f"in {_display_path(workspace.data_dir)} (they changed since): start "
                        "afresh with `aeo demo --reset` (make demo DEMO_ARGS=--reset)"
                    ) from None
                progress.advance(steps)
                step("consortium")
                self.record = self._consortium(chain, deployment)
                progress.advance(steps)
                step("registry APIs")
                self._start_services()
                progress.advance(steps)
                step("API keys")
                self.tokens = self._api_keys()
                progress.advance(steps)
                step("console sign-ins")
                self.sign_ins = self._sign_ins()
                progress.advance(steps)
                step("example data")
                self.seed_summary = self._seed(progress)
                progress.advance(steps)
                step(f"border post: {SNAPSHOT_FROM}'s snapshot")
                self.block = chain.block_number()
                self._sync_border_post(chain, wait_for_block=self.block)
                progress.advance(steps)
                step("border page")
                self._start_border_page()
                progress.advance(steps)
            finally:
                chain.close()

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description:<32}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )

    def _chain(self) -> Chain:
        workspace = self.workspace
        existing = running_anvil(workspace.data_dir)
        marker = workspace.demo_dir / "anvil-started-by"
        if existing is None:
            saved = (anvil_dir(workspace.data_dir) / "state.json").exists()
            # Its own session: a Ctrl-C reaches the demo, which stops anvil last.
            self.anvil = start_anvil(workspace.data_dir, port=self.options.chain_port, detach=True)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{os.getpid()}\n", encoding="utf-8")
            if saved:
                self.console.print(f"chain restarted from its saved state ({self.anvil.url})")
        elif _orphaned(marker):
            # A demo that was killed (SIGKILL) left its anvil running: this run adopts it.
            self.anvil = existing
            marker.write_text(f"{os.getpid()}\n", encoding="utf-8")
            self.console.print(f"taking over the chain an earlier demo left at {existing.url}")
        else:
            self.console.print(f"using the chain already running at {existing.url}")
        chain = workspace.connect()
        self.chain_url = chain.url or ""
        return chain

    def _consortium(self, chain: Chain, deployment: Deployment) -> ConsortiumRecord:
        codes = [code for code, _ in DEFAULT_MEMBERS]
        result = founding.bootstrap(
            self.workspace,
            chain,
            deployment,
            DEFAULT_MEMBERS,
            ports=founding.default_ports(codes, self.options.base_port),
            verifier_as=VERIFIER_AS,
            verifier_port=self.options.base_port,
            generate_passphrases=True,
            rpc_url=self.chain_url,
        )
        return result.record

    def _start_services(self) -> None:
        assert self.record is not None
        data_dir = str(self.workspace.data_dir)
        # The children read their settings from registry.env and their secrets files only:
        # an AEO_* variable in the caller's shell must not point them elsewhere.
        for member in self.record.members:
            self.children.append(
                start_child(
                    f"{member.code} registry API",
                    ["-m", "aeo.cli", "serve", "--authority", member.code,
                     "--data-dir", data_dir, "--port", str(member.port)],
                    url=f"http://127.0.0.1:{member.port}",
                    log=self.workspace.demo_logs / f"registry-{member.code}.log",
                    unset_prefix="AEO_",
                    cwd=PROJECT_DIR,
                )
            )  # fmt: skip
        for child in self.children:
            child.wait_until_answering()

    def _start_border_page(self) -> None:
        """The border officer's page, verifying offline from the snapshot cache."""
        assert self.record is not None
        page = start_child(
            "border officer page",
            ["-m", "aeo.cli", "verifier", "serve", "--as", VERIFIER_AS,
             "--data-dir", str(self.workspace.data_dir), "--port", str(self.record.verifier_port),
             "--offline", "--cache", str(snapshot_cache_path(self.workspace))],
            url=f"http://127.0.0.1:{self.record.verifier_port}",
            log=self.workspace.demo_logs / "verifier-page.log",
            unset_prefix="AEO_",
            cwd=PROJECT_DIR,
        )  # fmt: skip
        self.children.append(page)
        page.wait_until_answering()

    def _sync_border_post(self, chain: Chain, wait_for_block: int = 0) -> None:
        """Pin MN's document-signing key (the one consortium.json records, read from the
        chain: its key id is the hash of the public key, so it cannot be another) and sync
        the border post's snapshot cache from MN's registry, once its snapshot reflects
        ``wait_for_block``."""
        assert self.record is not None
        member = self.record.member(SNAPSHOT_FROM)
        path = anchors_path(self.workspace)
        key = RegistryReader(chain, self.workspace.deployment(chain)).get_signing_key(
            bytes.fromhex(member.signing_kid)
        )
        anchor = make_anchor(SNAPSHOT_FROM, key.algorithm.name, key.public_key.hex())
        if anchor.kid.hex() != member.signing_kid:
            raise ScriptError(f"the chain's key {member.signing_kid} is not the recorded one")
        pin_anchor(path, anchor)
        url = self._api_url(SNAPSHOT_FROM)
        deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
        while True:
            report = sync_snapshot(url, snapshot_cache_path(self.workspace), load_anchors(path))
            if report.cache.header.block.number >= wait_for_block:
                break
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{SNAPSHOT_FROM}'s registry published no snapshot of block "
                    f"{wait_for_block} within {SNAPSHOT_WAIT_SECONDS:.0f} s; see "
                    f"{self.workspace.demo_logs / f'registry-{SNAPSHOT_FROM}.log'}"
                )
            time.sleep(1)
        self._next_sync = time.monotonic() + RESYNC_SECONDS

    def _resync(self) -> None:
        """A border post syncs whenever it is connected: here every few seconds, so the page
        shows a suspension made during the tour. A failure is said once and retried."""
        if time.monotonic() < self._next_sync:
            return
        self._next_sync = time.monotonic() + RESYNC_SECONDS
        try:
            sync_snapshot(
                self._api_url(SNAPSHOT_FROM),
                snapshot_cache_path(self.workspace),
                load_anchors(anchors_path(self.workspace)),
            )
        except ScriptError as exc:
            if not self._sync_failed:
                self.console.print(f"border post: sync failed, retrying: {escape(exc.message)}")
            self._sync_failed = True
        else:
            self._sync_failed = False

    def _api_url(self, code: str) -> str:
        assert self.record is not None
        return f"http://127.0.0.1:{self.record.member(code).port}"

    def _api_keys(self) -> dict[str, dict[str, str]]:
        """One key per role per administration: kept from an earlier run, else created (the
        first admin key directly in the database, the others through the API)."""
        assert self.record is not None
        path = self.workspace.demo_keys
        tokens: dict[str, dict[str, str]] = {}
        if path.exists():
            stored = read_json(path)
            tokens = {code: dict(entry["keys"]) for code, entry in stored.items()}
        for member in self.record.members:
            if set(tokens.get(member.code, {})) == {role for role, _ in ROLE_USERS}:
                continue
            settings = founding.registry_settings(self.workspace, member.code)
            admin = create_admin_key(settings, "demo administrator", force=True)
            keys = {"admin": admin}
            with RegistryClient(self._api_url(member.code), admin) as client:
                for role, user in ROLE_USERS[1:]:
                    body: dict[str, Any] = {"user": f"{member.code} {user}", "role": role}
                    if role == "partner":
                        partner = PARTNER_OF.get(member.code, "MN")
                        body["user"] = f"{partner} {user}"
                        body["partner_authority"] = partner
                    keys[role] = client.post("/v1/admin/api-keys", body)["token"]
            tokens[member.code] = keys
        write_json(
            path,
            {code: {"url": self._api_url(code), "keys": keys} for code, keys in tokens.items()},
            private=True,
        )
        return tokens

    @property
    def sign_ins_path(self) -> Path:
        return self.workspace.demo_dir / SIGN_INS_FILE

    def _sign_ins(self) -> dict[str, dict[str, str]]:
        """The console's sign-ins: kept from an earlier run, else made now (and printed once,
        in the summary)."""
        assert self.record is not None
        path = self.sign_ins_path
        stored: dict[str, dict[str, str]] = {}
        if path.exists():
            stored = {code: dict(entry) for code, entry in read_json(path).items()}
        complete = all(
            {sign_in_name(m.code, role) for role in SIGN_IN_ROLES} <= set(stored.get(m.code, {}))
            for m in self.record.members
        )
        if complete:
            return stored
        made = {
            member.code: make_sign_ins(founding.registry_settings(self.workspace, member.code))
            for member in self.record.members
        }
        write_json(path, made, private=True)
        self.new_sign_ins = True
        return made

    def _seed(self, progress: Progress) -> dict[str, Any]:
        assert self.record is not None
        if self.workspace.demo_seeded.exists():
            summary: dict[str, Any] = read_json(self.workspace.demo_seeded)
            return summary
        summary = seed.seed_demo(
            self.workspace,
            {code: self._api_url(code) for code in self.record.codes},
            self.tokens,
            progress,
        )
        if not summary["missing_routes"]:  # a later run, on a complete API, seeds it all
            write_json(self.workspace.demo_seeded, summary)
        return summary

    # ------------------------------------------------------------ while running

    def _watch(self) -> None:
        while True:
            for child in self.children:
                if not child.alive():
                    raise ServiceError(
                        f"{child.name} stopped unexpectedly (exit code "
                        f"{child.popen.returncode}); see {child.log}"
                    )
            if self.anvil is not None and not self.anvil.is_alive():
                raise ServiceError(f"the chain stopped unexpectedly; see {self.anvil.log_file}")
            self._resync()
            time.sleep(0.5)

    def _stop(self, *, resumable: bool = True) -> None:
        if self.children:
            stop_children(self.children)
            self.children = []
        if self.anvil is not None:
            self.anvil.stop()  # SIGTERM: anvil writes its state file before exiting
            self.anvil = None
            (self.workspace.demo_dir / "anvil-started-by").unlink(missing_ok=True)
        if resumable:
            self.console.print(
                f"stopped; the state is kept in {_display_path(self.workspace.data_dir)} "
                "(run the demo again to resume)"
            )
        else:
            self.console.print("stopped")

    # ------------------------------------------------------------ the table

    def _summary(self, seconds: float) -> Group:
        assert self.record is not None
        services = Table("service", "URL", "OpenAPI", title="Services", title_justify="left")
        for column in services.columns:
            column.no_wrap = True
        page = f"http://127.0.0.1:{self.record.verifier_port}/"
        services.add_row(
            f"border officer page ({VERIFIER_AS}, offline from {SNAPSHOT_FROM}'s snapshot)",
            page,
            "",
        )
        for member in self.record.members:
            url = self._api_url(member.code)
            services.add_row(f"{member.code} registry API", url, f"{url}/docs")
            services.add_row(f"{member.code} officers' console", f"{url}/console/", "")
        services.add_row(
            "chain (anvil)", self.chain_url, f"chain {self.record.chain_id}, block {self.block}"
        )

        # Tokens as plain lines, not table cells: a narrow terminal must not cut them.
        keys: list[Any] = [
            Text(
                "API keys, one per role per administration (Authorization: Bearer <key>; "
                f"also in {_display_path(self.workspace.demo_keys)})",
                style="italic",
            )
        ]
        for code, roles in self.tokens.items():
            for role, token in roles.items():
                label = f"{role} (for {PARTNER_OF[code]})" if role == "partner" else role
                keys.append(Text(f"  {code}  {label:<18} {token}"))

        parts: list[Any] = [
            Panel.fit(
                "[bold]AEO registry demo[/bold] is running "
                f"({'resumed' if self.resumed else f'started in {seconds:.0f} s'}). "
                "Ctrl-C stops everything.",
            ),
            services,
            Text(
                f"The border page verifies offline, from {SNAPSHOT_FROM}'s signed snapshot "
                f"(key pinned in {_display_path(anchors_path(self.workspace))}, re-synced every "
                f"{RESYNC_SECONDS:.0f} s); a border post does the same with: aeo verifier sync "
                f"--from {self._api_url(SNAPSHOT_FROM)}",
                style="italic",
            ),
            *keys,
            *self._sign_in_lines(),
        ]
        parts.extend(
            seed.summary_renderables(
                self.seed_summary, self.workspace, self._try_commands(), _display_path
            )
        )
        return Group(*parts)

    def _sign_in_lines(self) -> list[Any]:
        shown = _display_path(self.sign_ins_path)
        if not self.new_sign_ins:
            lines: list[Any] = [
                Text(
                    "Console sign-ins, one per role per administration: the accounts and "
                    f"passwords printed by the first run are in {shown} (mode 0600)",
                    style="italic",
                )
            ]
        else:
            lines = [
                Text(
                    "Console sign-ins, one per role per administration (passwords shown this "
                    f"once; also in {shown}, mode 0600):",
                    style="italic",
                )
            ]
            for code, made in self.sign_ins.items():
                for name, password in made.items():
                    lines.append(Text(f"  {code}  {name:<22} {password}"))
        lines.append(
            Text(
                "More officers: aeo users add NAME --role issuing_officer --authority MN"
                f"{self._data_flag()} prints a one-time password (docs/console.md)",
                style="italic",
            )
        )
        return lines

    def _data_flag(self) -> str:
        if self.workspace.data_dir == Workspace(Path("data")).data_dir:
            return ""
        return f" --data-dir {_display_path(self.workspace.data_dir)}"

    def _try_commands(self) -> dict[str, str]:
        """The copy-paste commands, as the user types them from the repository root."""
        assert self.record is not None
        data_flag = ""
        if self.workspace.data_dir != Workspace(Path("data")).data_dir:
            data_flag = f" --data-dir {_display_path(self.workspace.data_dir)}"
        aeo = ".venv/bin/aeo" if Path.cwd() == PROJECT_DIR else str(PROJECT_DIR / ".venv/bin/aeo")
        return {
            "aeo": aeo,
            "data_flag": data_flag,
            "page": f"http://127.0.0.1:{self.record.verifier_port}/",
            "mn_api": self._api_url("MN"),
            "mn_issuing_token": self.tokens.get("MN", {}).get("issuing_officer", ""),
            "mn_partner_token": self.tokens.get("MN", {}).get("partner", ""),
            "mn_issuing_sign_in": sign_in_name("MN", Role.ISSUING_OFFICER),
        }


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run the demo until Ctrl-C; returns the exit code."""
    if not console.is_terminal:
        # Piped or logged: lines as long as they are, so URLs and tokens stay whole.
        console.width = max(console.width, 200)
    return Demo(options, console).run()
