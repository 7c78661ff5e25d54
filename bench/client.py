"""Plain HTTP calls the harness makes itself (httpx): logging in and walking cursors."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from bench.config import PAGE_SIZE
from bench.data import PASSWORD


def access_token(base_url: str, username: str) -> str:
    response = httpx.post(
        base_url + "/auth/login",
        data={"username": username, "password": PASSWORD},
        timeout=30.0,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_path(cursor: str | None, **params: str) -> str:
    query = {"limit": str(PAGE_SIZE), **params}
    if cursor:
        query["cursor"] = cursor
    return "/tasks?" + urlencode(query)


@dataclass(frozen=True, slots=True)
class Walk:
    paths: dict[int, str]  # page number (1 = first page) -> the URL path that fetches it
    latency_ms: dict[int, float]  # page number -> median latency of that page


def walk_cursors(
    base_url: str, headers: dict[str, str], *, keep: set[int], depth: int, repeats: int = 15
) -> Walk:
    """Follow `meta.next_cursor` from page 1 to page `depth` (the way a client pages through),
    keep the paths of the pages in `keep`, then time each kept page `repeats` times."""
    paths: dict[int, str] = {}
    cursor: str | None = None
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as http:
        for page in range(1, depth + 1):
            path = page_path(cursor)
            response = http.get(path)
            response.raise_for_status()
            if page in keep:
                paths[page] = path
            cursor = response.json()["meta"]["next_cursor"]
            if cursor is None:
                break
        latency = time_in_turns(lambda path: http.get(path).raise_for_status(), paths, repeats)
    return Walk(paths, latency)


def time_in_turns(
    fetch: Callable[[str], object], paths: dict[int, str], repeats: int
) -> dict[int, float]:
    """Median milliseconds of `fetch(path)` for each page. The pages take turns, one request
    each per round, so a drift in the machine's speed while they are timed reaches every page
    alike instead of making later pages look slower."""
    samples: dict[int, list[float]] = {page: [] for page in paths}
    for _ in range(repeats):
        for page, path in paths.items():
            started = time.perf_counter()
            fetch(path)
            samples[page].append((time.perf_counter() - started) * 1000)
    return {page: statistics.median(times) for page, times in samples.items()}
