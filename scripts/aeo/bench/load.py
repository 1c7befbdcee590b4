"""The HTTP load generator: many keep-alive connections from another process, on loopback.

Two engines give the same :class:`LoadResult`:

- ``wrk`` (Debian package ``wrk``, C, epoll): used when installed. A generated Lua script
  cycles through the request list and prints its figures as JSON from wrk's ``done`` hook;
- ``python``: ``python -m aeo.bench.load SPEC.json``, asyncio with one hand-written
  HTTP/1.1 keep-alive connection per worker (httpx costs several times more CPU per
  request, and on a 2-core machine the client's CPU is taken from the server's).

Either runs in its own process, so the server under test never shares an interpreter with
the client. Every request must answer 2xx; anything else (or a broken connection) counts
in ``errors``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from aeo.bench.common import PROJECT_DIR, BenchError, ms, percentile

Engine = Literal["auto", "wrk", "python"]
_WRK_MARKER = "AEO_BENCH_JSON "


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    body: str = ""
    content_type: str | None = None


@dataclass(frozen=True)
class LoadSpec:
    """What to send: the requests are cycled through, each worker from its own offset."""

    base_url: str
    requests: tuple[HttpRequest, ...]
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.requests:
            raise ValueError("a load spec needs at least one request")


@dataclass(frozen=True)
class LoadResult:
    engine: str
    concurrency: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    error_detail: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def pick_engine(engine: Engine) -> Literal["wrk", "python"]:
    if engine == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if engine == "wrk" and shutil.which("wrk") is None:
        raise BenchError("--client wrk: wrk is not installed (apt-get install wrk)")
    return engine


def run_load(
    spec: LoadSpec, *, concurrency: int, seconds: float, workdir: Path, engine: Engine = "auto"
) -> LoadResult:
    """Load ``spec`` with ``concurrency`` connections for ``seconds``, from another process."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    workdir.mkdir(parents=True, exist_ok=True)
    chosen = pick_engine(engine)
    if chosen == "wrk":
        return _run_wrk(spec, concurrency, seconds, workdir)
    return _run_python(spec, concurrency, seconds, workdir)


# ---------------------------------------------------------------- wrk


def _lua_string(text: str) -> str:
    if not text.isascii():
        raise BenchError(f"wrk requests must be ASCII: {text[:40]!r}")
    # An ASCII JSON string literal ("...", with \" and \\ escapes) is a Lua literal too.
    return json.dumps(text)


def wrk_script(spec: LoadSpec) -> str:
    """A wrk Lua script that cycles through ``spec.requests`` (each thread from its own
    offset) and prints the figures as one JSON line."""
    lines = ["local common = {"]
    for name, value in spec.headers.items():
        lines.append(f"  [{_lua_string(name)}] = {_lua_string(value)},")
    lines.append("}")
    lines.append("local raw = {")
    for request in spec.requests:
        ctype = _lua_string(request.content_type) if request.content_type else "nil"
        body = _lua_string(request.body) if request.body else "nil"
        lines.append(
            f"  {{{_lua_string(request.method)}, {_lua_string(request.path)}, {ctype}, {body}}},"
        )
    lines.append("}")
    lines.append(
        """
local prepared = {}
local counter = 0
local thread_count = 0

setup = function(thread)
  thread:set("offset", thread_count * 7919)
  thread_count = thread_count + 1
end

init = function(args)
  for i, r in ipairs(raw) do
    local headers = {}
    for name, value in pairs(common) do headers[name] = value end
    if r[3] then headers["Content-Type"] = r[3] end
    prepared[i] = wrk.format(r[1], r[2], headers, r[4])
  end
  counter = tonumber(offset) or 0
end

request = function()
  counter = counter + 1
  return prepared[(counter % #prepared) + 1]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '"""
        + _WRK_MARKER
        + """{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
    )
    return "\n".join(lines)


def _run_wrk(spec: LoadSpec, concurrency: int, seconds: float, workdir: Path) -> LoadResult:
    script = workdir / "load.lua"
    script.write_text(wrk_script(spec), encoding="utf-8")
    threads = max(1, min(concurrency, os.cpu_count() or 1))
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    args.append(spec.base_url.rstrip("/") + spec.requests[0].path)
    completed = subprocess.run(
        args, capture_output=True, text=True, timeout=seconds + 60, check=False, cwd=workdir
    )
    line = next((x for x in completed.stdout.splitlines() if x.startswith(_WRK_MARKER)), None)
    if completed.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    raw = json.loads(line[len(_WRK_MARKER) :])
    detail = {k: int(raw[k]) for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    duration = raw["duration_us"] / 1e6
    return LoadResult(
        engine="wrk",
        concurrency=concurrency,
        seconds=round(duration, 3),
        requests=int(raw["requests"]),
        errors=sum(detail.values()),
        rps=round(raw["requests"] / duration, 1) if duration else 0.0,
        p50_ms=round(raw["p50_us"] / 1000, 3),
        p90_ms=round(raw["p90_us"] / 1000, 3),
        p99_ms=round(raw["p99_us"] / 1000, 3),
        max_ms=round(raw["max_us"] / 1000, 3),
        error_detail=detail,
    )


# ---------------------------------------------------------------- python (asyncio)


def _run_python(spec: LoadSpec, concurrency: int, seconds: float, workdir: Path) -> LoadResult:
    path = workdir / "load-spec.json"
    path.write_text(
        json.dumps(
            {
                "base_url": spec.base_url,
                "headers": spec.headers,
                "requests": [asdict(r) for r in spec.requests],
                "concurrency": concurrency,
                "seconds": seconds,
            }
        ),
        encoding="utf-8",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "aeo.bench.load", str(path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"the load generator failed:\n{completed.stdout}\n{completed.stderr}")
    return LoadResult(**json.loads(completed.stdout))


def _encode(request: HttpRequest, host: str, headers: dict[str, str]) -> bytes:
    body = request.body.encode("utf-8")
    lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if request.content_type:
        lines.append(f"Content-Type: {request.content_type}")
    if body or request.method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _worker(
    host: str,
    port: int,
    prepared: Sequence[bytes],
    offset: int,
    deadline: float,
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    index = offset
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            started = time.perf_counter()
            writer.write(prepared[index % len(prepared)])
            index += 1
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
                elif lowered == b"transfer-encoding":
                    raise ValueError("chunked responses are not supported by this client")
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status >= 400:
                errors[f"status_{status}"] = errors.get(f"status_{status}", 0) + 1
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _load(raw: dict[str, Any]) -> LoadResult:
    url = urlsplit(raw["base_url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    requests = [HttpRequest(**r) for r in raw["requests"]]
    prepared = [_encode(r, f"{host}:{port}", raw["headers"]) for r in requests]
    concurrency, seconds = int(raw["concurrency"]), float(raw["seconds"])
    latencies: list[float] = []
    errors: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _worker(host, port, prepared, i * 7919, deadline, latencies, errors)
            for i in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    return LoadResult(
        engine="python",
        concurrency=concurrency,
        seconds=round(elapsed, 3),
        requests=len(latencies),
        errors=sum(errors.values()),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=ms(percentile(latencies, 50)),
        p90_ms=ms(percentile(latencies, 90)),
        p99_ms=ms(percentile(latencies, 99)),
        max_ms=ms(max(latencies, default=0.0)),
        error_detail=errors,
    )


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m aeo.bench.load SPEC.json", file=sys.stderr)
        return 2
    raw = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = asyncio.run(_load(raw))
    print(json.dumps(result.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
