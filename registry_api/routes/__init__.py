"""HTTP routes: ``health`` (health, readiness, metrics; unauthenticated) and the versioned API."""

from fastapi import APIRouter

from . import api_keys, me

v1 = APIRouter(prefix="/v1")
v1.include_router(me.router)
v1.include_router(api_keys.router)

__all__ = ["v1"]
