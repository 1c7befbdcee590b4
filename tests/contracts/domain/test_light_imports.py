"""The domain core stays free of web3 and the heavy stacks: an offline verifier, a script or a
test can load any of its modules without the chain client, the database, the web framework,
the crypto or the QR libraries."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import contracts.domain

DOMAIN_DIR = Path(contracts.domain.__file__).parent
FORBIDDEN = frozenset(
    {
        "web3",
        "eth_abi",
        "eth_utils",
        "eth_account",
        "eth_typing",
        "hexbytes",
        "sqlalchemy",
        "fastapi",
        "starlette",
        "cryptography",
        "PIL",
        "cbor2",
        "base45",
        "zxingcpp",
    }
)


def domain_modules() -> list[str]:
    return sorted(f"contracts.domain.{m.name}" for m in pkgutil.iter_modules([str(DOMAIN_DIR)]))


def test_the_domain_has_its_modules() -> None:
    # The guard below is only as good as this list: an empty one would pass.
    assert {"contracts.domain.ids", "contracts.domain.days", "contracts.domain.rules"} <= set(
        domain_modules()
    )


def test_importing_every_domain_module_loads_no_heavy_package() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {domain_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=DOMAIN_DIR.parents[1],
    )
    loaded = set(json.loads(done.stdout))
    assert "contracts" in loaded
    assert loaded & FORBIDDEN == set()


def test_the_package_files_import_nothing() -> None:
    # `import contracts.domain.days` runs both __init__ files first: they must stay empty of
    # imports, or every light module would pay for whatever they load.
    for init in (DOMAIN_DIR.parent / "__init__.py", DOMAIN_DIR / "__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        assert imports == [], init
