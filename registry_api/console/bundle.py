"""Build the console's script bundle (htmx and its SSE extension, from npm), and check the
committed one has not drifted from the sources: the same way, and for the same reasons, as
the border page's (``verifier.web.bundle``): the installed package serves the console with
no Node.js and no CDN at run time.

Usage: ``python -m registry_api.console.bundle build|check`` (``make web`` runs ``build``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from verifier.web.bundle import REPO_DIR, Bundle, BundleError

CONSOLE_DIR = Path(__file__).resolve().parent

CONSOLE = Bundle(
    module="registry_api.console.bundle",
    entry=CONSOLE_DIR / "js" / "console.js",
    output=CONSOLE_DIR / "static" / "console.bundle.js",
    what="the console's",
    sources="its sources",
)
ENTRY, BUNDLE = CONSOLE.entry, CONSOLE.output
build, drift, main = CONSOLE.build, CONSOLE.drift, CONSOLE.main
__all__ = ["BUNDLE", "CONSOLE", "ENTRY", "REPO_DIR", "BundleError", "build", "drift", "main"]


if __name__ == "__main__":
    sys.exit(main())
