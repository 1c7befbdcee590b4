"""Certificates: issue and change them (through the outbox), read, search, history."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/certificates", tags=["certificates"])
