"""The ceiling: the least a FastAPI app on the same uvicorn settings can do per request.
Every TaskHub case is reported as a fraction of this app's throughput in the same run."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}
