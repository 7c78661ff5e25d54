"""Latency against page depth: the API's keyset walk next to two queries run directly in
PostgreSQL on the same rows, the same keyset page and the naive `OFFSET n LIMIT 20`."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass

import asyncpg

from bench.client import Walk, walk_cursors
from bench.config import CURSOR_HOPS, PAGE_SIZE

API_DEPTHS = (1, 10, 100, CURSOR_HOPS + 1, 1000, 2000, 5000)
SQL_DEPTHS = (1, 10, 100, CURSOR_HOPS + 1, 1000, 2000, 5000, 10_000, 20_000, 50_000)
REPEAT_BUDGET_S = 2.0  # per query and depth: repeat up to 7 times within this budget


@dataclass(frozen=True, slots=True)
class DepthProfile:
    api_keyset_ms: dict[int, float]  # page -> HTTP latency through the API
    sql_keyset_ms: dict[int, float]  # page -> the keyset query alone
    sql_offset_ms: dict[int, float]  # page -> OFFSET (page - 1) * 20 LIMIT 20
    hop_path: str  # the page reached after CURSOR_HOPS hops


def _sql(where: str, tail: str) -> str:
    from app.tasks.repository import TASK_JSON  # render rows as the API does

    return (
        f"SELECT {TASK_JSON} AS body FROM tasks t JOIN users u ON u.id = t.owner_id AND u.is_active"
        f" WHERE t.owner_id = $1{where} ORDER BY t.created_at DESC, t.id DESC {tail}"
    )


async def _median_ms(statement: asyncpg.PreparedStatement, *args: object) -> float:
    samples: list[float] = []
    budget_end = time.perf_counter() + REPEAT_BUDGET_S
    while len(samples) < 7 and (not samples or time.perf_counter() < budget_end):
        started = time.perf_counter()
        await statement.fetch(*args)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def _sql_profile(
    dsn: str, owner_id: uuid.UUID, pages: list[int]
) -> tuple[dict[int, float], dict[int, float]]:
    conn = await asyncpg.connect(dsn)
    try:
        offset = await conn.prepare(_sql("", f"OFFSET $2 LIMIT {PAGE_SIZE}"))
        keyset = await conn.prepare(
            _sql(" AND (t.created_at, t.id) < ($2, $3)", f"LIMIT {PAGE_SIZE}")
        )
        boundary = await conn.prepare(
            "SELECT created_at, id FROM tasks WHERE owner_id = $1"
            " ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1"
        )
        first = await conn.prepare(_sql("", f"LIMIT {PAGE_SIZE}"))
        offset_ms: dict[int, float] = {}
        keyset_ms: dict[int, float] = {}
        for page in pages:
            skip = (page - 1) * PAGE_SIZE
            offset_ms[page] = await _median_ms(offset, owner_id, skip)
            if page == 1:
                keyset_ms[page] = await _median_ms(first, owner_id)
            else:
                last = await boundary.fetchrow(owner_id, skip - 1)  # untimed: the cursor's key
                keyset_ms[page] = await _median_ms(keyset, owner_id, last[0], last[1])
    finally:
        await conn.close()
    return keyset_ms, offset_ms


def depth_profile(
    base_url: str,
    headers: dict[str, str],
    dsn: str,
    owner_id: uuid.UUID,
    tasks: int,
    walk_depth: int,
) -> DepthProfile:
    last_page = (tasks + PAGE_SIZE - 1) // PAGE_SIZE
    api_pages = {page for page in API_DEPTHS if page <= min(walk_depth, last_page)}
    walk: Walk = walk_cursors(base_url, headers, keep=api_pages, depth=max(api_pages))
    sql_pages = sorted({page for page in SQL_DEPTHS if page <= last_page} | {last_page})
    keyset_ms, offset_ms = asyncio.run(_sql_profile(dsn, owner_id, sql_pages))
    return DepthProfile(
        api_keyset_ms=walk.latency_ms,
        sql_keyset_ms=keyset_ms,
        sql_offset_ms=offset_ms,
        hop_path=walk.paths[CURSOR_HOPS + 1],
    )
