"""``python -m aeo``: the ``aeo`` command, for a checkout whose console script is not on
the PATH (and for tests that start it as a child process)."""

from aeo.cli import main

main()
