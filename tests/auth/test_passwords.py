"""Password hashing off the event loop (app/auth/passwords.py): bounded, at a lower CPU priority
than the loop, and with argon2's buffers given back to the OS after each hash (without that,
every thread that hashed kept its buffer resident: the API's RSS doubled after logins)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

from pwdlib.hashers.argon2 import Argon2Hasher

from app.auth import passwords
from app.config import get_settings

# In a fresh interpreter: the setting is process-wide, and the growth must be this code's alone.
SCRIPT = textwrap.dedent(
    """
    import threading
    from pwdlib.hashers.argon2 import Argon2Hasher
    from app.auth.passwords import return_hash_memory_to_the_os

    def rss_mb():
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmRSS"))
        return int(line.split()[1]) // 1024

    assert return_hash_memory_to_the_os()
    hasher = Argon2Hasher(memory_cost=19 * 1024, time_cost=1, parallelism=1)
    hasher.hash("warm-up")
    before = rss_mb()
    threads = [
        threading.Thread(target=lambda: [hasher.hash("secret") for _ in range(3)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(rss_mb() - before)
    """
)


def test_twelve_owasp_hashes_on_four_threads_leave_no_buffer_resident() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    growth_mb = int(result.stdout.strip())
    assert growth_mb < 10  # one buffer is 19 MiB; without the fix this grew by about 77


async def test_hashing_threads_run_below_the_event_loops_priority() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert await passwords._off_loop(niceness) == min(niceness() + 10, 19)


async def test_at_most_password_hash_concurrency_hashes_run_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def pretend_hash() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return "hashed"

    limit = get_settings().password_hash_concurrency
    results = await asyncio.gather(*(passwords._off_loop(pretend_hash) for _ in range(limit * 3)))

    assert results == ["hashed"] * (limit * 3)
    assert most == limit


async def test_a_hash_round_trip_through_the_hashing_threads() -> None:
    hashed = await passwords.hash_password("correct horse")

    assert await passwords.verify_password("correct horse", hashed) == (True, None)
    assert await passwords.verify_password("wrong horse", hashed) == (False, None)
    assert await passwords.verify_password("correct horse", None) == (False, None)


async def test_a_match_against_other_parameters_comes_with_a_current_hash() -> None:
    earlier = Argon2Hasher(memory_cost=2048, time_cost=2, parallelism=1).hash("correct horse")

    valid, replacement = await passwords.verify_password("correct horse", earlier)

    assert valid
    assert replacement is not None
    assert await passwords.verify_password("correct horse", replacement) == (True, None)
    assert await passwords.verify_password("wrong horse", earlier) == (False, None)
