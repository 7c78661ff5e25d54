"""Argon2id hashing through pwdlib, always off the event loop (it is deliberately slow)."""

from __future__ import annotations

from functools import lru_cache

from anyio import CapacityLimiter, to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.config import get_settings

# OWASP (2024): argon2id, m=19 MiB, t=2, p=1. Tests use a cheap profile of the same algorithm.
_PROFILES = {
    "owasp": Argon2Hasher(memory_cost=19 * 1024, time_cost=2, parallelism=1),
    "fast": Argon2Hasher(memory_cost=1024, time_cost=1, parallelism=1),
}


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash((_PROFILES[get_settings().password_hash_profile],))


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash("taskhub-timing-equaliser")


@lru_cache
def _limiter() -> CapacityLimiter:
    """At most PASSWORD_HASH_CONCURRENCY hashes at once per process: each takes a core and
    19 MiB, so a burst of logins queues here instead of starving the API of CPU and memory."""
    return CapacityLimiter(get_settings().password_hash_concurrency)


async def hash_password(password: str) -> str:
    return await to_thread.run_sync(_hasher().hash, password, limiter=_limiter())


async def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password; with no stored hash, still spend the same time so that an unknown
    username cannot be told apart from a wrong password by timing."""
    if hashed is None:
        dummy = await to_thread.run_sync(_dummy_hash, limiter=_limiter())
        await to_thread.run_sync(_hasher().verify, password, dummy, limiter=_limiter())
        return False
    return await to_thread.run_sync(_hasher().verify, password, hashed, limiter=_limiter())
