"""The garbage-collector settings a serving process runs with (app/heap.py)."""

from __future__ import annotations

import gc
import weakref

from fastapi import FastAPI

from app import heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    """Two objects that only reference each other, unreachable once this returns."""
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_startup_objects_are_frozen_and_the_young_generation_is_larger_while_serving() -> None:
    before = gc.get_threshold()
    with heap.tuned_for_serving():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (heap.YOUNG_GENERATION_THRESHOLD, before[1], before[2])
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_is_still_collected_without_an_explicit_collect() -> None:
    with heap.tuned_for_serving():
        dead = _cycle()
        survivors = [[] for _ in range(heap.YOUNG_GENERATION_THRESHOLD * 2)]  # allocations
        assert dead() is None, "no automatic collection ran after the threshold"
        del survivors


async def test_the_running_app_serves_with_the_tuned_collector(app: FastAPI) -> None:
    """The app fixture is inside the lifespan, as a served app is."""
    assert gc.get_threshold()[0] == heap.YOUNG_GENERATION_THRESHOLD
