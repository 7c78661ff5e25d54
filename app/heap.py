"""Garbage-collector settings for a process that serves requests or runs jobs.

CPython's cyclic collector makes a young-generation pass every 700 container allocations, and
one GET /tasks allocates several hundred. Under load, the objects of requests still in flight
survive those passes and are promoted; once enough have been, a full collection walks the whole
heap, which holds several hundred thousand objects after FastAPI, SQLAlchemy, Pydantic and Celery
are imported. In the benchmark that was about a third of the API's CPU per GET /tasks.

Two standard remedies (Instagram's "Dismissing Python Garbage Collection" describes both): freeze
what exists once the process is ready (it lives as long as the process, so no pass needs to look
at it again), and let the young generation grow to 10,000 allocations, so that a request's
objects are mostly freed by reference counting before any pass sees them. Cyclic garbage is still
collected, just later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GENERATION_THRESHOLD = 10_000


def tune_for_serving() -> tuple[int, int, int]:
    """Freeze everything alive now and enlarge the young generation; returns the previous
    thresholds."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, previous[1], previous[2])
    return previous


@contextmanager
def tuned_for_serving() -> Iterator[None]:
    """`tune_for_serving` for as long as the block runs, then the collector as it was (tests
    start and stop many apps in one process)."""
    previous = tune_for_serving()
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
