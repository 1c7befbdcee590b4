"""The ``aeo`` command: a local consortium, registry and verifier commands, the demo and the
benchmarks (``aeo.cli`` is the entry point; ``aeo.bench`` the benchmarks, loaded only by
``aeo bench``).

It lives in ``scripts/aeo/`` (setuptools finds it with ``where = [".", "scripts"]``), so it
installs as ``aeo`` and not as a top-level package named ``scripts``."""
