"""Timing the pages of a cursor walk (bench/client.py); the walk itself needs a running API and is
exercised by `make bench` and `python -m bench.instructions`."""

from __future__ import annotations

from bench.client import time_in_turns


def test_pages_take_turns_so_drift_reaches_them_alike() -> None:
    fetched: list[str] = []
    latency = time_in_turns(fetched.append, {1: "/first", 501: "/deep"}, repeats=3)
    assert fetched == ["/first", "/deep"] * 3
    assert set(latency) == {1, 501}
    assert all(ms >= 0 for ms in latency.values())
