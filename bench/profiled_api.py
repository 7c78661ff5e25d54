"""TaskHub's API on the benchmark's uvicorn settings, with cProfile on the event-loop thread
switched on by SIGUSR1 and written to the file named on the command line by SIGUSR2, so that
start-up imports are not in the profile. Used by `python -m bench.profile`."""

from __future__ import annotations

import cProfile
import signal
import sys
from types import FrameType

import uvicorn


def main() -> None:
    port, output = int(sys.argv[1]), sys.argv[2]
    profile = cProfile.Profile()

    def start(_signum: int, _frame: FrameType | None) -> None:
        profile.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profile.disable()
        profile.dump_stats(output)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    uvicorn.run(
        "app.main:app",
        host="127.0.0.1",
        port=port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
