"""Argon2id hashing through pwdlib, always off the event loop (it is deliberately slow)."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.config import get_settings

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
_HASH_THREAD_NICENESS = 10  # added to the process's; CFS then gives it about a tenth the weight
_MAX_NICENESS = 19

Result = TypeVar("Result")

# OWASP's Password Storage Cheat Sheet lists five argon2id settings as equally strong, trading
# memory for passes (46 MiB x 1 ... 7 MiB x 5). The API hashes next to its event loop, so it
# takes the least memory: a hash costs 20 ms of CPU here against 32 ms for 19 MiB x 2, of which
# the kernel spent 11 ms faulting in and zeroing fresh pages (4,900 faults; 1,800 now), and the
# requests served while logins run lose less to the hashing core's cache misses. Hashes made
# with other parameters are replaced at the next successful login (app/auth/service.py).
# Tests use a cheap profile of the same algorithm.
_PROFILES = {
    "owasp": Argon2Hasher(memory_cost=7 * 1024, time_cost=5, parallelism=1),
    "fast": Argon2Hasher(memory_cost=1024, time_cost=1, parallelism=1),
}


@lru_cache
def _hasher() -> PasswordHash:
    return PasswordHash((_PROFILES[get_settings().password_hash_profile],))


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash("taskhub-timing-equaliser")


def _lower_priority() -> None:
    """Run this hashing thread at a lower CPU priority than the event loop's (Linux keeps a nice
    value per thread): on a busy machine requests get the CPU first and logins wait, instead of
    every request slowing down while a hash runs."""
    thread = threading.get_native_id()
    try:
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + _HASH_THREAD_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness, _MAX_NICENESS))
    except OSError:  # not permitted here; hashing still works at normal priority
        logger.warning("could not lower the password-hashing thread's priority")


@lru_cache
def _hash_threads() -> ThreadPoolExecutor:
    """At most PASSWORD_HASH_CONCURRENCY hashes at once per process: each takes a core and
    7 MiB, so a burst of logins queues here instead of starving the API of CPU and memory."""
    return ThreadPoolExecutor(
        max_workers=get_settings().password_hash_concurrency,
        thread_name_prefix="password-hash",
        initializer=_lower_priority,
    )


async def _off_loop(function: Callable[..., Result], *args: str) -> Result:
    return await asyncio.get_running_loop().run_in_executor(_hash_threads(), function, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(_hasher().hash, password)


async def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Check a password: whether it matches and, for a match against a hash made with other
    parameters (an earlier profile), the password hashed with the current ones, to store in its
    place. With no stored hash, still spend the same time so that an unknown username cannot be
    told apart from a wrong password by timing."""
    if hashed is None:
        dummy = await _off_loop(_dummy_hash)
        await _off_loop(_hasher().verify, password, dummy)
        return False, None
    return await _off_loop(_hasher().verify_and_update, password, hashed)


def return_hash_memory_to_the_os() -> bool:
    """Pin glibc's mmap threshold at its default (128 KiB), so that every argon2 buffer (7 MiB
    per hash) is mmapped and handed back on free. Left dynamic, glibc raises the threshold to the
    size of the first large block freed; later buffers then come from the hashing threads' heaps,
    and a freed heap is not trimmed below twice that size: each login thread kept its buffer.
    In the benchmark the API's RSS went from 235 MB after logins to about its pre-login level.
    Returns False where the C library is not glibc (nothing to do there)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    if not mallopt(_M_MMAP_THRESHOLD, 128 * 1024):
        logger.warning("mallopt(M_MMAP_THRESHOLD) refused; hash buffers may stay resident")
        return False
    return True
