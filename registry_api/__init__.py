"""The registry service one customs administration runs (FastAPI): see registry_api.app."""

__version__ = "0.1.0"
