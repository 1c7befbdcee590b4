"""The domain core: the registry's concepts once, free of web3.

Enums, day numbers, identifiers, the chain-state records, the status and recognition rules
and the claims a QR code carries, as plain Python. The chain layer (``contracts.*``) decodes
chain data into these types; the registry service, its indexer, the offline cache and the
verifier all consume them. Nothing here imports web3, eth-*, SQLAlchemy, FastAPI, cryptography
or the QR stack, so an offline verifier can load it alone (a test checks), and this file
imports nothing, so importing one module loads only what that module needs.
"""
