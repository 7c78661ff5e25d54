"""SIGTERM (SPEC §7, as ECS sends it on deploys): the API finishes in-flight requests and exits.
The worker's side is in tests/jobs/test_worker_shutdown.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import orjson

from app.embedded import free_port
from tests.jobs.stack import wait_until


def _start_api(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=60, what="the API to start")
    return process


def test_api_finishes_in_flight_request_on_sigterm() -> None:
    port = free_port()
    api = _start_api(port)
    try:
        body = orjson.dumps({"username": f"sig_{uuid.uuid4().hex[:10]}", "password": "password123"})
        head = (
            f"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.sendall(head + body[:10])  # the request is in flight, its body half sent
            time.sleep(0.3)
            api.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            conn.sendall(body[10:])
            response = b""
            while chunk := conn.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 201"), response[:200]
        # uvicorn re-raises SIGTERM once its graceful shutdown is done, as process managers expect
        assert api.wait(20) in (0, -signal.SIGTERM)
    finally:
        if api.poll() is None:
            api.kill()
            api.wait()
