"""``python -m registry_api``: serve, run the background work, create the first admin key,
create key files.

Settings come from the ``AEO_*`` environment (see docs/api.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from pydantic import ValidationError

from contracts.domain.enums import SIGNING_ALGORITHMS, KeyAlgorithm
from contracts.recursion import restore_recursion_limit

from .errors import RegistryError
from .settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry_api")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    commands.add_parser(
        "worker", help="run the background work (sender, indexer, imports, webhooks), no HTTP"
    )
    admin = commands.add_parser("create-admin-key", help="print a new admin API key once")
    admin.add_argument("--user", default="administrator")
    admin.add_argument("--force", action="store_true", help="even if an admin key exists")
    keys = commands.add_parser("init-keys", help="create missing encrypted key files")
    keys.add_argument("--algorithm", choices=[a.label for a in SIGNING_ALGORITHMS], default="ES256")
    args = parser.parse_args(argv)
    restore_recursion_limit()

    try:
        settings = get_settings()
        if args.command == "serve":
            import uvicorn

            from .app import create_app

            # The app logs every request itself (JSON, with the request id).
            uvicorn.run(create_app(settings), host=args.host, port=args.port, access_log=False)
        elif args.command == "worker":
            from .workers import run_background

            run_background(settings)
        elif args.command == "create-admin-key":
            from .first_run import create_admin_key

            print(create_admin_key(settings, args.user, force=args.force))
        else:
            from .first_run import ensure_key_files

            files = ensure_key_files(settings, KeyAlgorithm.from_label(args.algorithm))
            print(json.dumps(asdict(files), indent=2))
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            print(f"error: AEO_{field.upper()}: {error['msg']}", file=sys.stderr)
        return 2
    except RegistryError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
