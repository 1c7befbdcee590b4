"""The benchmark suite behind ``aeo bench``: each module measures one thing and returns a
JSON-ready report; none asserts a timing.

- :mod:`aeo.bench.gas`: gas of every contract operation (``contracts.gas``);
- :mod:`aeo.bench.api`: the registry API under HTTP load (status lookup, verify);
- :mod:`aeo.bench.verify`: offline verification and photo-to-verdict speed, QR size;
- :mod:`aeo.bench.bulk_import`: a bulk import through the API on a real anvil;
- :mod:`aeo.bench.propagation`: how fast a partner sees a suspension (1-second blocks);
- :mod:`aeo.bench.scale`: status lookups at 10k and 1M certificates, indexer replay;
- :mod:`aeo.bench.report`: ``aeo bench all``, docs/benchmarks.md and its plot.

:mod:`aeo.bench.common` holds what they share: machine description, percentiles, the
report envelope; :mod:`aeo.bench.load` the HTTP load generator (wrk, or asyncio).
"""
