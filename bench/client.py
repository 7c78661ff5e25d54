"""Plain HTTP calls the harness makes itself (httpx): logging in and walking cursors."""

from __future__ import annotations

import statistics
import time
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
        latency = {}
        for page, path in paths.items():
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                http.get(path).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            latency[page] = statistics.median(samples)
    return Walk(paths, latency)
