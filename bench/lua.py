"""wrk Lua scripts. Every script ends with the same `done()`, which prints one machine-readable
line (`BENCH-RESULT {json}`) with exact counts and percentiles, so nothing is parsed from wrk's
rounded, unit-suffixed text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RESULT_MARKER = "BENCH-RESULT"

_COMMON = """
threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function done(summary, latency, requests)
  local stale = 0
  for _, thread in ipairs(threads) do
    stale = stale + (thread:get("stale") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '%s {"requests": %d, "duration_us": %d, "p50_us": %.1f, "p99_us": %.1f,'
      .. ' "mean_us": %.1f, "max_us": %.1f, "connect_errors": %d, "read_errors": %d,'
      .. ' "write_errors": %d, "status_errors": %d, "timeouts": %d, "stale": %d}\\n',
    "RESULT_MARKER", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency.mean, latency.max, e.connect, e.read, e.write, e.status,
    e.timeout, stale))
end
""".replace("RESULT_MARKER", RESULT_MARKER)


def _string(value: str) -> str:
    """A Lua long-bracket string literal (no escaping needed for anything we send)."""
    if "]==]" in value:
        raise ValueError("value cannot be quoted as a Lua long string")
    return f"[==[{value}]==]"


def _table(values: Sequence[str]) -> str:
    return "{" + ", ".join(_string(value) for value in values) + "}"


def _headers(headers: Mapping[str, str]) -> str:
    return "\n".join(f"wrk.headers[ {_string(k)} ] = {_string(v)}" for k, v in headers.items())


def static_request(method: str, headers: Mapping[str, str], body: str | None = None) -> str:
    """The same request every time (path comes from the URL wrk is given)."""
    lines = [f"wrk.method = {_string(method)}", _headers(headers)]
    if body is not None:
        lines.append(f"wrk.body = {_string(body)}")
    return "\n".join(lines) + _COMMON


def rotating_get(path_prefix: str, ids: Sequence[str], headers: Mapping[str, str]) -> str:
    """GET `path_prefix + id`, cycling through `ids` (each wrk thread from its own offset)."""
    return (
        _headers(headers)
        + f"""
ids = {_table(ids)}
n = 0
function request()
  n = n + 1
  return wrk.format("GET", {_string(path_prefix)} .. ids[(n + tid * 7919) % #ids + 1])
end
"""
        + _COMMON
    )


def patch_with_etags(
    path_prefix: str,
    etags: Mapping[str, str],
    headers: Mapping[str, str],
    body: str,
    threads: int,
) -> str:
    """PATCH each task with `If-Match: <its current ETag>`.

    Tasks are split between wrk threads (each thread has its own Lua state) and every 200
    response stores the task's new ETag, read from the `ETag` header, under the id found in the
    body. A 412 (the ETag went stale) is counted in `stale` and reported.
    """
    entries = ", ".join(f"[ {_string(i)} ] = {_string(tag)}" for i, tag in etags.items())
    return (
        f"""
wrk.method = "PATCH"
wrk.body = {_string(body)}
{_headers(headers)}
ids = {_table(list(etags))}
etags = {{{entries}}}
mine = {{}}
n = 0
stale = 0

function init(args)
  for i = tid, #ids, {threads} do
    mine[#mine + 1] = ids[i]
  end
end

function request()
  n = n + 1
  local id = mine[(n - 1) % #mine + 1]
  local request_headers = {{}}
  for name, value in pairs(wrk.headers) do
    request_headers[name] = value
  end
  request_headers["If-Match"] = etags[id]
  return wrk.format(nil, {_string(path_prefix)} .. id, request_headers)
end

function response(status, headers, body)
  if status == 200 then
    local id = body:match('"id"%s*:%s*"([%x%-]+)"')
    local tag = headers["etag"] or headers["ETag"]
    if id and tag then
      etags[id] = tag
    end
  elseif status == 412 then
    stale = stale + 1
  end
end
"""
        + _COMMON
    )
