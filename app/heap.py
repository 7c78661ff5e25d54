"""Garbage-collector settings for a process that serves requests.

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


@contextmanager
def tuned_for_serving() -> Iterator[None]:
    """Everything alive now frozen and a larger young generation for as long as the block runs
    (an app's lifespan), then the collector as it was: tests start and stop many apps in one
    process."""
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, previous[1], previous[2])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
