"""Serve the border officer's page from a synced offline cache.

    python -m verifier.web --as KR --cache data/verifier-cache.sqlite [--port 8080]

Fill the cache first with ``aeo verifier sync``. Phones only open the camera for pages
served over https (or from localhost): give ``--tls-cert``/``--tls-key`` when officers
connect to this machine over the network. Upload and paste work over plain http too.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import uvicorn

from contracts.recursion import restore_recursion_limit
from verifier.errors import VerificationError
from verifier.offline import OfflineCache
from verifier.web.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verifier.web", description=__doc__)
    parser.add_argument("--as", dest="as_authority", required=True, help="verifying authority")
    parser.add_argument("--cache", type=Path, required=True, help="offline cache file (SQLite)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--max-age-hours", type=float, default=24.0, help="flag status data older than this"
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate, to serve https")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    args = parser.parse_args(argv)
    restore_recursion_limit()
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if not args.cache.is_file():
        parser.error(f"--cache: {args.cache} does not exist (run `aeo verifier sync` first)")
    try:
        cache = OfflineCache(args.cache)
        app = create_app(
            lambda: cache,
            args.as_authority,
            max_age=timedelta(hours=args.max_age_hours),
        )
    except (ValueError, VerificationError) as exc:
        parser.error(str(exc))
    with cache:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            ssl_certfile=args.tls_cert,
            ssl_keyfile=args.tls_key,
            log_level="info",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
