"""argon2's 19 MiB buffers go back to the OS after each hash (app/auth/passwords.py): without
that, every thread that hashed kept its buffer resident (the API's RSS doubled after logins)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
