"""The HTTP cases: what each one requests, as whom, and which goal it is held to."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson

from bench import lua
from bench.client import access_token, bearer, page_path
from bench.config import CURSOR_HOPS, PAGE_SIZE, BenchConfig
from bench.data import PASSWORD, Dataset, task_versions

TOKEN_MAX_AGE_S = 300.0  # access tokens live 15 minutes; scripts are rebuilt every round
BY_ID_TASKS = 200
PATCH_TASKS = 1000
JSON = {"Content-Type": "application/json"}

ScriptFactory = Callable[[], str]


@dataclass(frozen=True, slots=True)
class Load:
    """One wrk process: a path on the API and a Lua script (built fresh for every run)."""

    path: str
    script: ScriptFactory
    threads: int
    connections: int


@dataclass(frozen=True, slots=True)
class Case:
    key: str
    label: str
    load: Load
    reads_only: bool  # counts towards the API's peak RSS "during the GET cases"
    companion: Load | None = None  # a second wrk process run at the same time (reported apart)
    companion_label: str = ""
    on_floor: bool = False  # served by the floor app (bench/floor.py), not by TaskHub


def count_label(count: int) -> str:
    """1000000 -> "1M", 50000 -> "50k"."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= size and count % (size // 10) == 0:
            return f"{count / size:g}{suffix}"
    return f"{count:,}"


class Tokens:
    """Access tokens per user, renewed well before they expire."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._cache: dict[str, tuple[str, float]] = {}

    def headers(self, username: str) -> dict[str, str]:
        cached = self._cache.get(username)
        if cached is None or time.monotonic() - cached[1] > TOKEN_MAX_AGE_S:
            cached = (access_token(self.base_url, username), time.monotonic())
            self._cache[username] = cached
        return bearer(cached[0])


def build_cases(
    config: BenchConfig, data: Dataset, tokens: Tokens, dsn: str, hop_path: str
) -> list[Case]:
    """Reads first (their peak RSS is reported), then login, then writes. The two sides of a
    relative goal run back to back (the million-task user's first page, then its page after the
    hops), so drift between them stays small."""
    t, c = config.threads, config.connections
    base, scale, writer = data.base.username, data.scale.username, data.writer.username
    first_page = page_path(None)
    by_id_ids = list(task_versions(dsn, data.base.id, BY_ID_TASKS))

    def get(username: str) -> ScriptFactory:
        return lambda: lua.static_request("GET", tokens.headers(username))

    def by_id() -> str:
        return lua.rotating_get("/tasks/", by_id_ids, tokens.headers(base))

    def post() -> str:
        body = {"title": "Benchmark task", "description": "by wrk", "priority": 1, "tags": ["b"]}
        headers = {**tokens.headers(writer), **JSON}
        return lua.static_request("POST", headers, orjson.dumps(body).decode())

    def patch() -> str:
        etags = {i: f'"{v}"' for i, v in task_versions(dsn, data.writer.id, PATCH_TASKS).items()}
        headers = {**tokens.headers(writer), **JSON}
        body = orjson.dumps({"title": "Patched by wrk", "priority": 2}).decode()
        return lua.patch_with_etags("/tasks/", etags, headers, body, threads=t)

    def login() -> str:
        form = urlencode({"username": base, "password": PASSWORD})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return lua.static_request("POST", headers, form)

    big = f"{count_label(data.scale.tasks)}-task user"
    one_client_logging_in = Load("/auth/login", login, threads=1, connections=1)
    return [
        Case(
            "first_page", f"GET /tasks?limit={PAGE_SIZE}", Load(first_page, get(base), t, c), True
        ),
        Case(
            "floor_first_page",
            f"floor: GET /tasks?limit={PAGE_SIZE} as a bare route (bench/floor.py)",
            Load(first_page, get(base), t, c),
            reads_only=True,
            on_floor=True,
        ),
        Case(
            "scale_first_page",
            f"GET /tasks?limit={PAGE_SIZE} ({big})",
            Load(first_page, get(scale), t, c),
            True,
        ),
        Case(
            "hop_page",
            f"GET page after {CURSOR_HOPS} cursor hops ({big})",
            Load(hop_path, get(scale), t, c),
            True,
        ),
        Case(
            "filtered",
            "GET /tasks?status=todo&sort=-priority",
            Load(page_path(None, status="todo", sort="-priority"), get(base), t, c),
            True,
        ),
        Case("by_id", "GET /tasks/{id}", Load("/tasks/", by_id, t, c), True),
        Case("login", "POST /auth/login (argon2id OWASP)", Load("/auth/login", login, t, c), False),
        Case(
            "get_while_login",
            f"GET /tasks?limit={PAGE_SIZE} while 1 client logs in",
            Load(first_page, get(base), t, c),
            False,
            companion=one_client_logging_in,
            companion_label="logins during the GET run",
        ),
        Case("post", "POST /tasks", Load("/tasks", post, t, c), False),
        Case(
            "patch", "PATCH /tasks/{id} (If-Match: fresh ETag)", Load("/tasks/", patch, t, c), False
        ),
    ]
