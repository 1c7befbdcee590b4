"""Compile contracts/src into the committed artifacts, and check they have not drifted.

py-solc-x drives the compiler. A native ``solc`` of the pinned version is used when one is
on PATH; otherwise the npm package ``solc`` (solcjs, the same compiler built to
WebAssembly) through ``contracts/solc-adapter/solc``, which answers the two calls
py-solc-x makes (``--version`` and ``--standard-json``). Nothing at run time compiles:
the service and the verifier load ``contracts/artifacts/*.json``.

Usage: ``python -m contracts.compiler build|check|input``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import solcx

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_DIR = PACKAGE_DIR / "src"
ARTIFACT_DIR = PACKAGE_DIR / "artifacts"
ADAPTER = PACKAGE_DIR / "solc-adapter" / "solc"

SOLC_VERSION = "0.8.37"
# London: the newest fork that both Hyperledger Besu and GoQuorum consortium networks run
# (GoQuorum has no Shanghai, so no PUSH0). See docs/contracts.md.
EVM_VERSION = "london"
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 1000},
    "evmVersion": EVM_VERSION,
    "viaIR": False,
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "devdoc"]}
    },
}


class CompilerError(Exception):
    """The compiler is missing, of the wrong version, or rejected the sources."""


def source_files() -> list[Path]:
    return sorted(SOURCE_DIR.rglob("*.sol"))


def _source_key(path: Path) -> str:
    return path.relative_to(PACKAGE_DIR.parent).as_posix()


def standard_input() -> dict[str, Any]:
    """The solc standard-JSON input for every source, with contents inlined."""
    sources = {_source_key(p): {"content": p.read_text(encoding="utf-8")} for p in source_files()}
    if not sources:
        raise CompilerError(f"no Solidity sources under {SOURCE_DIR}")
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def solc_binary() -> Path:
    """A native solc of the pinned version if installed, else the solcjs adapter."""
    native = shutil.which("solc")
    # slither's dependency solc-select puts a `solc` shim in the virtualenv that tries to
    # download compilers; it is not a native solc, so only look outside the venv.
    if native and Path(native).resolve().is_relative_to(Path(sys.prefix).resolve()):
        native = None
    if native:
        try:
            if str(solcx.wrapper.get_solc_version(native)) == SOLC_VERSION:
                return Path(native)
        except Exception:  # noqa: S110 - an unusable native solc just means: use the adapter
            pass
    if not ADAPTER.exists():
        raise CompilerError(f"solc adapter missing at {ADAPTER}")
    version = str(solcx.wrapper.get_solc_version(ADAPTER))
    if version != SOLC_VERSION:
        raise CompilerError(f"solcjs is {version}, the pinned version is {SOLC_VERSION}")
    return ADAPTER


def compile_sources() -> dict[str, dict[str, Any]]:
    """Compile and return one artifact per deployable contract, keyed by contract name."""
    binary = solc_binary()
    output = solcx.compile_standard(standard_input(), solc_binary=binary)
    version = solcx.wrapper.get_solc_version(binary, with_commit_hash=True)
    source_hashes = {
        _source_key(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in source_files()
    }
    artifacts: dict[str, dict[str, Any]] = {}
    for source, contracts in sorted(output["contracts"].items()):
        for name, out in sorted(contracts.items()):
            bytecode = out["evm"]["bytecode"]["object"]
            if not bytecode:  # interfaces and abstract contracts deploy nothing
                continue
            artifacts[name] = {
                "contractName": name,
                "sourceName": source,
                "abi": out["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + out["evm"]["deployedBytecode"]["object"],
                "devdoc": out.get("devdoc", {}),
                "compiler": {
                    # The build suffix (Emscripten vs Linux) is not part of the output.
                    "version": str(version).split("+")[0],
                    "settings": SETTINGS,
                },
                "sourceHashes": source_hashes,
            }
    return artifacts


def _dump(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def build() -> list[Path]:
    ARTIFACT_DIR.mkdir(exist_ok=True)
    artifacts = compile_sources()
    written = []
    for stale in ARTIFACT_DIR.glob("*.json"):
        if stale.stem not in artifacts:
            stale.unlink()
    for name, artifact in artifacts.items():
        path = ARTIFACT_DIR / f"{name}.json"
        path.write_text(_dump(artifact), encoding="utf-8")
        written.append(path)
    return written


def drift() -> list[str]:
    """Names of artifacts that differ from a fresh compile (empty when in sync)."""
    fresh = compile_sources()
    committed = {p.stem: p.read_text(encoding="utf-8") for p in ARTIFACT_DIR.glob("*.json")}
    problems = []
    for name in sorted(set(fresh) | set(committed)):
        if name not in committed:
            problems.append(f"{name}: compiled from the sources but not committed")
        elif name not in fresh:
            problems.append(f"{name}: committed but no longer compiled from the sources")
        elif _dump(fresh[name]) != committed[name]:
            problems.append(f"{name}: committed artifact differs from the sources")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.compiler")
    parser.add_argument("command", choices=["build", "check", "input"])
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            for path in build():
                print(f"wrote {path.relative_to(PACKAGE_DIR.parent)}")
        elif args.command == "input":
            print(json.dumps(standard_input(), indent=2))
        else:
            problems = drift()
            if problems:
                print("contract artifacts are out of date (run: make contracts)", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                return 1
            print("contract artifacts match the sources")
    except (CompilerError, solcx.exceptions.SolcError) as exc:
        print(f"compile failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
