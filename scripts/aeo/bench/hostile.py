"""``aeo bench hostile``: what a hostile request costs a server before it is refused.

The registry API (``python -m registry_api serve``: SQLite, no chain workers) and the border
officer's page (``aeo verifier serve --offline`` on an empty offline cache) run as their own
processes, started through their real entry points (the ones that import the chain libraries).
After a warm-up request the benchmark reads each server's idle RSS; then, for each attack, it
resets the server's peak RSS (``/proc/<pid>/clear_refs``; a 5 ms sampler of VmRSS too, where
that is not allowed), sends the attack and records:

- ``answer``: the status and problem type (``413 too-large``), or what happened instead
  (``crashed (exit -11)``, ``no answer within 60 s``; the server is then started again);
- ``peak_rss_mb_above_idle``: the server's peak RSS during the attack less its idle RSS;
- ``cpu_s``: CPU seconds the server process spent (``/proc/<pid>/stat`` utime + stime);
- ``wall_s``: from the first byte sent to the answer; ``sent_mb``: what the client got to send
  before the answer came (a body streamed without Content-Length stops there).

Each server runs under an address-space limit (its idle size + 3 GiB), so that an attack the
code does not stop yet fails inside the server instead of taking the machine's memory; a
server that dies, hangs, or keeps more than 50 MB after an attack is started again, so each
attack is measured from idle.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import select
import socket
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console

from aeo.bench.common import BenchError, ChildProcess, Report, start_python, wait_http
from contracts.anvil import free_port

MIB = 1024 * 1024
_PIECE = MIB
_HEADROOM_BYTES = 3 * 1024 * MIB
_SAMPLE_S = 0.005
#: memory a server may keep after an attack before it is started again for the next
_RETAINED_KIB = 50 * 1024

# ---------------------------------------------------------------- the servers


@dataclass
class Server:
    """One server process under attack, and how to start it again."""

    name: str
    port: int
    launch: Callable[[], ChildProcess]
    child: ChildProcess | None = None
    idle_rss_kib: int = 0
    token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.child is not None
        return self.child.popen.pid

    def start(self) -> None:
        self.child = self.launch()
        wait_http(self.child, self.url + "/healthz", timeout=120)
        # Warm up: the first request imports and allocates what every later one uses.
        exchange(self.port, "GET", "/healthz")
        self.idle_rss_kib = proc_status(self.pid)["VmRSS"]
        size_kib = proc_status(self.pid)["VmSize"]
        limit = size_kib * 1024 + _HEADROOM_BYTES
        with contextlib.suppress(OSError, ValueError):
            resource.prlimit(self.pid, resource.RLIMIT_AS, (limit, limit))

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()


def registry_env(folder: Path) -> dict[str, str]:
    """The settings of a throwaway registry API of MN in ``folder`` (no chain is reached)."""
    return {
        "AEO_AUTHORITY": "MN",
        "AEO_DATA_DIR": str(folder),
        "AEO_DATABASE_URL": f"sqlite:///{folder / 'registry.db'}",
        "AEO_CHAIN": "memory",
        "AEO_RUN_WORKERS": "false",
        "AEO_LOG_LEVEL": "WARNING",
    }


def create_admin_key(folder: Path) -> str:
    """An admin API key of the registry in ``folder`` (``python -m registry_api``)."""
    log = folder / "create-admin-key.log"
    child = start_python(
        "create-admin-key", ["-m", "registry_api", "create-admin-key"], log, registry_env(folder)
    )
    if child.popen.wait(timeout=120) != 0:
        raise BenchError("python -m registry_api create-admin-key failed:\n" + child.log_tail())
    token = log.read_text(encoding="utf-8").strip().splitlines()[-1]
    if not token.startswith("aeo_"):
        raise BenchError("python -m registry_api create-admin-key printed no key")
    return token


def registry_server(folder: Path) -> Server:
    """The registry API as ``python -m registry_api serve`` runs it, with an admin key."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = registry_env(folder)
    server = Server(
        "registry API",
        port,
        lambda: start_python(
            "registry API",
            ["-m", "registry_api", "serve", "--port", str(port)],
            folder / "registry.log",
            env,
        ),
    )
    server.token = create_admin_key(folder)
    return server


def border_page_server(folder: Path) -> Server:
    """The border page as ``aeo verifier serve --offline`` runs it, on an empty cache."""
    from verifier.offline import OfflineCache

    folder.mkdir(parents=True, exist_ok=True)
    cache = folder / "verifier-cache.sqlite"
    OfflineCache(cache).close()
    port = free_port()
    return Server(
        "border page",
        port,
        lambda: start_python(
            "border page",
            [
                "-m",
                "aeo.cli",
                "verifier",
                "serve",
                "--as",
                "KR",
                "--offline",
                "--cache",
                str(cache),
                "--port",
                str(port),
                "--data-dir",
                str(folder),
            ],
            folder / "page.log",
        ),
    )


# ---------------------------------------------------------------- /proc


def proc_status(pid: int) -> dict[str, int]:
    """The kB figures of ``/proc/<pid>/status`` (VmRSS, VmHWM, VmSize...)."""
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        name, _, value = line.partition(":")
        parts = value.split()
        if len(parts) == 2 and parts[1] == "kB":
            figures[name] = int(parts[0])
    return figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat[stat.rindex(")") + 2 :].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, proc(5)).
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class PeakSampler:
    """The largest RSS of a process while the block runs: its VmHWM, reset on entry, and a
    VmRSS sample every 5 ms (where the reset is not allowed, the samples are the figure)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._reset = False

    def __enter__(self) -> PeakSampler:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5", encoding="ascii")
            self._reset = True
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.peak_kib = max(self.peak_kib, proc_status(self.pid)["VmRSS"])
            time.sleep(_SAMPLE_S)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._reset:
            with contextlib.suppress(OSError, KeyError):
                self.peak_kib = max(self.peak_kib, proc_status(self.pid)["VmHWM"])


# ---------------------------------------------------------------- one exchange


@dataclass
class Answer:
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent_bytes: int = 0
    error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    def problem(self) -> str:
        """The problem's type (the registry's slug, the page's code), or ``""``."""
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            document = self.json()
            if isinstance(document, dict):
                code = document.get("code")
                if isinstance(code, str):
                    return code
                kind = document.get("type")
                if isinstance(kind, str):
                    return kind.rsplit(":", 1)[-1]
        return ""


def _read_answer(sock: socket.socket, deadline: float) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection without an answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(status, headers, body)


def exchange(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: Iterable[bytes] = (),
    *,
    chunked: bool = False,
    length: int | None = None,
    timeout: float = 60.0,
) -> Answer:
    """Send one HTTP/1.1 request to 127.0.0.1:``port`` piece by piece, stopping as soon as
    the server answers (a refusal before the body's end), and read the answer.

    The body goes with ``Content-Length: length`` or, with ``chunked``, as chunks without
    any length; an ``Answer`` with ``status`` None says why no answer came.
    """
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    elif length is not None:
        head.append(f"Content-Length: {length}")
    deadline = time.monotonic() + timeout
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            answered = False
            for piece in body:
                if select.select([sock], [], [], 0)[0]:
                    answered = True  # the server answered before the whole body came
                    break
                if time.monotonic() > deadline:
                    return Answer(None, sent_bytes=sent, error=f"no answer within {timeout:g} s")
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                except (BrokenPipeError, ConnectionResetError):
                    answered = True  # it stopped reading; its answer may be waiting
                    break
                sent += len(piece)
            if chunked and not answered:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"0\r\n\r\n")
            answer = _read_answer(sock, deadline)
    except TimeoutError:
        return Answer(None, sent_bytes=sent, error=f"no answer within {timeout:g} s")
    except OSError as exc:
        return Answer(None, sent_bytes=sent, error=f"connection failed: {exc}")
    answer.sent_bytes = sent
    return answer


# ---------------------------------------------------------------- the attacks


def nested_arrays(levels: int) -> bytes:
    """``[[[...]]]``: ``levels`` arrays, each inside the last."""
    return b"[" * levels + b"]" * levels


def pieces(data: bytes, size: int = _PIECE) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def repeated(unit: bytes, total: int, head: bytes = b"", tail: bytes = b"") -> Iterator[bytes]:
    """``head``, then ``unit`` repeated to ``total`` bytes in all, then ``tail``, by pieces."""
    yield head
    block = unit * max(1, _PIECE // len(unit))
    left = total - len(head) - len(tail)
    while left > 0:
        piece = block[: min(len(block), left)]
        left -= len(piece)
        yield piece
    yield tail


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def jpeg_declaring(width: int, height: int, size: int = 6 * 1024) -> bytes:
    """A ~``size``-byte JPEG whose frame header declares ``width`` x ``height``: a decoder
    that trusts it allocates the whole canvas before it finds the data short."""
    buffer = io.BytesIO()
    noise = Image.frombytes("L", (96, 96), bytes((i * 7919) % 251 for i in range(96 * 96)))
    noise.save(buffer, format="JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\xff\xc0")  # SOF0: length, precision, then height and width
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data[: max(size, frame + 32)]) if len(data) > size else bytes(data)


def _multipart(field_name: str, filename: str, media: str, content: bytes) -> tuple[bytes, str]:
    boundary = "aeo-bench-hostile-" + zlib.crc32(content).to_bytes(4, "big").hex()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{filename}"\r\nContent-Type: {media}\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Attack:
    """One hostile request: where it goes, what it sends, and the limit meant to stop it."""

    name: str
    server: str  # "registry" or "page"
    path: str
    limit: str
    content_type: str
    body: Callable[[], Iterable[bytes]]
    length: int | None = None  # Content-Length; None: chunked, no length
    with_key: bool = False


def attacks() -> list[Attack]:
    """Every attack the benchmark sends, in order (issue 10's, and a few worse shapes)."""
    nested_certificate = nested_arrays(70_000)
    nested_text = b'{"text": ' + nested_arrays(90_000) + b"}"
    json_30mb = 30_000_000
    rows_20mb = b"[" + b"0," * 9_999_999 + b"0]"  # 10 M items in 20 MB
    empty_objects = b"[" + b"{}," * 6_500_000 + b"{}]"
    multipart_head = (
        b'--hostile\r\nContent-Disposition: form-data; name="file"; filename="list.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
    )
    strip_png = png(8, 65_535)
    line_png = png(1, 65_535)
    huge_jpeg = jpeg_declaring(65_000, 65_000)
    tall_jpeg = jpeg_declaring(6_000, 6_000)

    def image_attack(name: str, content: bytes, filename: str, media: str) -> Attack:
        body, content_type = _multipart("image", filename, media, content)
        return Attack(
            name, "page", "/api/verify", "40 MP an image; the scan (verifier/image.py)",
            content_type, lambda: [body], len(body),
        )  # fmt: skip

    return [
        Attack(
            "registry: 70,000 nested arrays, no key (POST /v1/certificates)",
            "registry",
            "/v1/certificates",
            "JSON nesting 64",
            "application/json",
            lambda: [nested_certificate],
            len(nested_certificate),
        ),
        Attack(
            "registry: 70,000 nested arrays, no key (POST /v1/imports)",
            "registry",
            "/v1/imports",
            "the key, checked before the body is read",
            "application/json",
            lambda: [nested_certificate],
            len(nested_certificate),
        ),
        Attack(
            'border page: {"text": 90,000 nested arrays} (POST /api/verify)',
            "page",
            "/api/verify",
            "JSON body 64 KiB (then nesting 64)",
            "application/json",
            lambda: [nested_text],
            len(nested_text),
        ),
        Attack(
            "registry: 30 MB JSON, no key, with Content-Length",
            "registry",
            "/v1/certificates",
            "JSON body 1 MiB",
            "application/json",
            lambda: repeated(b'{"a":1},', json_30mb, b"[", b"{}]"),
            json_30mb,
        ),
        Attack(
            "registry: 30 MB JSON, no key, chunked (no length)",
            "registry",
            "/v1/certificates",
            "JSON body 1 MiB, counted",
            "application/json",
            lambda: repeated(b'{"a":1},', json_30mb, b"[", b"{}]"),
        ),
        Attack(
            "registry: 8 MiB of empty JSON objects, no key (POST /v1/mras)",
            "registry",
            "/v1/mras",
            "MRA body 8 MiB; 100,000 JSON items",
            "application/json",
            lambda: repeated(b"{},", 8 * MIB, b"[", b"{}]"),
            8 * MIB,
        ),
        Attack(
            "registry: import JSON of 10 M items in 20 MB (admin key)",
            "registry",
            "/v1/imports",
            "50,000 rows, read one at a time",
            "application/json",
            lambda: pieces(rows_20mb),
            len(rows_20mb),
            with_key=True,
        ),
        Attack(
            "registry: import JSON of 6.5 M empty objects in 20 MB (admin key)",
            "registry",
            "/v1/imports",
            "50,000 rows, read one at a time",
            "application/json",
            lambda: pieces(empty_objects),
            len(empty_objects),
            with_key=True,
        ),
        Attack(
            "registry: import JSON of one 20 MB row (admin key)",
            "registry",
            "/v1/imports",
            "a row 256 KiB",
            "application/json",
            lambda: repeated(b"{},", 20_000_000, b"[[", b"{}]]"),
            20_000_000,
            with_key=True,
        ),
        Attack(
            "registry: import multipart of 1 GiB, chunked (admin key)",
            "registry",
            "/v1/imports",
            "import body 20 MiB + 64 KiB, counted",
            "multipart/form-data; boundary=hostile",
            lambda: repeated(b"0" * 4096, 1024 * MIB, multipart_head, b"\r\n--hostile--\r\n"),
            with_key=True,
        ),
        image_attack("border page: PNG of 8 x 65,535 pixels", strip_png, "qr.png", "image/png"),
        image_attack("border page: PNG of 1 x 65,535 pixels", line_png, "qr.png", "image/png"),
        image_attack(
            f"border page: JPEG of {len(huge_jpeg) // 1024} KB declaring 65,000 x 65,000",
            huge_jpeg,
            "qr.jpg",
            "image/jpeg",
        ),
        image_attack(
            f"border page: JPEG of {len(tall_jpeg) // 1024} KB declaring 6,000 x 6,000",
            tall_jpeg,
            "qr.jpg",
            "image/jpeg",
        ),
    ]


# ---------------------------------------------------------------- running them


def _mb(kib: int) -> float:
    return round(kib / 1024, 1)


def send(server: Server, attack: Attack, timeout: float) -> dict[str, Any]:
    """Send ``attack`` to ``server`` (started), measure it, and start the server again if the
    attack stopped it."""
    headers = {"Content-Type": attack.content_type}
    if attack.with_key and server.token is not None:
        headers["Authorization"] = f"Bearer {server.token}"
        headers["Idempotency-Key"] = f"hostile-{time.monotonic_ns()}"
    pid = server.pid
    cpu = float("nan")
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    with PeakSampler(pid) as sampler:
        answer = exchange(
            server.port, "POST", attack.path, headers, attack.body(),
            chunked=attack.length is None, length=attack.length, timeout=timeout,
        )  # fmt: skip
        wall = time.perf_counter() - started
        # The answer is out; what the server still does with the request counts too.
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        cpu = cpu_seconds(pid) - cpu_before
    if not server.alive():
        assert server.child is not None
        text = f"crashed (exit {server.child.popen.returncode})"
        cpu = float("nan")
    elif answer.status is None:
        text = answer.error or "no answer"
    else:
        text = f"{answer.status} {answer.problem()}".strip()
    report = {
        "attack": attack.name,
        "limit": attack.limit,
        "answer": text,
        "peak_rss_mb_above_idle": max(0.0, _mb(sampler.peak_kib - server.idle_rss_kib)),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "sent_mb": round(answer.sent_bytes / 1e6, 1),
    }
    # A server that died, hung, or kept what the attack made it allocate starts again, so the
    # next attack is measured from idle.
    retained = 0
    with contextlib.suppress(OSError, KeyError):
        retained = proc_status(pid)["VmRSS"] - server.idle_rss_kib
    if not server.alive() or answer.status is None or retained > _RETAINED_KIB:
        server.stop()
        server.start()
    return report


def run(
    *, timeout: float = 60.0, only: Iterable[str] = (), console: Console | None = None
) -> Report:
    """Start both servers, send every attack (those whose name contains one of ``only``, if
    given), and report each with the largest figures."""
    chosen = [a for a in attacks() if not only or any(word in a.name for word in only)]
    if not chosen:
        raise BenchError(f"no attack's name contains any of {list(only)}")
    with tempfile.TemporaryDirectory(prefix="aeo-bench-hostile-") as tmp:
        folder = Path(tmp)
        if console is not None:
            console.print("starting the registry API and the border page...")
        servers = {"registry": registry_server(folder / "registry")}
        servers["page"] = border_page_server(folder / "page")
        results = []
        try:
            for server in servers.values():
                server.start()
            idle = {name: _mb(server.idle_rss_kib) for name, server in servers.items()}
            for attack in chosen:
                if console is not None:
                    console.print(f"attack: {attack.name}")
                results.append(send(servers[attack.server], attack, timeout))
        finally:
            for server in servers.values():
                server.stop()
    finite_cpu = [r["cpu_s"] for r in results if r["cpu_s"] == r["cpu_s"]]
    return {
        "idle_rss_mb": idle,
        "max_peak_rss_mb_above_idle": max(r["peak_rss_mb_above_idle"] for r in results),
        "max_cpu_s": max(finite_cpu, default=0.0),
        "max_wall_s": max(r["wall_s"] for r in results),
        "attacks": results,
    }
