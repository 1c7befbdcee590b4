"""The compact signed status snapshot a border post syncs from its administration's registry,
and its deltas (issue 15; docs/snapshot.md is the specification).

- :mod:`~verifier.snapshot.fingerprints`: the membership filter (sorted 16-bit fingerprints in
  buckets) and the codec shared by every sorted list in the format;
- :mod:`~verifier.snapshot.state`: the compact consortium state: its queries, its canonical
  encoding and content hash; :mod:`~verifier.snapshot.build` builds it from plain records,
  :mod:`~verifier.snapshot.delta` diffs two and applies a diff, and
  :mod:`~verifier.snapshot.records` checks and encodes the members, keys and MRAs;
- :mod:`~verifier.snapshot.document`: the signed snapshot and delta files, their checks, and
  the rule for when a full snapshot is cheaper than deltas;
- :mod:`~verifier.snapshot.cache`: the border post's cache file;
- :mod:`~verifier.snapshot.source`: the verifier's pipeline over a snapshot.

Plain Python, ``cbor2`` and ``cryptography``: no web3, no FastAPI, nothing compiled of its own.
"""

from verifier.snapshot.build import build_state as build_state
from verifier.snapshot.delta import Changes as Changes, apply as apply, diff as diff
from verifier.snapshot.document import (
    BaseRef as BaseRef,
    Delta as Delta,
    Header as Header,
    Snapshot as Snapshot,
    TrustAnchor as TrustAnchor,
    make_delta as make_delta,
    make_snapshot as make_snapshot,
    prefer_full as prefer_full,
    read_delta as read_delta,
    read_snapshot as read_snapshot,
)
from verifier.snapshot.model import (
    Binding as Binding,
    BlockRef as BlockRef,
    CertificateAnswer as CertificateAnswer,
    CertificateState as CertificateState,
    Membership as Membership,
)
from verifier.snapshot.state import CompactState as CompactState, Params as Params
