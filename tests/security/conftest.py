"""Fixtures of the security tests.

The forgery tests run against the verifier tests' deployed registry (``chain_world``: MN's
registered signing key, an MN-KR MRA, certificate ``MN-AEO-0001``) and its offline cache;
importing the fixtures here makes them available without writing them a second time.
"""

from tests.verifier.conftest import chain_world, offline_cache

__all__ = ["chain_world", "offline_cache"]
