"""The `taskhub` command."""

from __future__ import annotations

import asyncio
import getpass
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from app.config import STATE_DIR, get_settings

app = typer.Typer(help="TaskHub: run, migrate and seed the task API.", no_args_is_help=True)
jobs_app = typer.Typer(help="Inspect and re-run background jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def _migrate(database_url: str | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config("alembic.ini")
    if database_url:
        config.attributes["url"] = database_url
    command.upgrade(config, "head")


@app.command()
def migrate() -> None:
    """Apply every Alembic migration (`alembic upgrade head`)."""
    _migrate()


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "0.0.0.0",
    port: Annotated[int | None, typer.Option(help="Port (default APP_PORT)")] = None,
) -> None:
    """Serve the HTTP API with uvicorn (uvloop, httptools; WEB_CONCURRENCY processes)."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port or settings.app_port,
        workers=settings.web_concurrency,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Processes (default WORKER_CONCURRENCY)")
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Run a Celery worker for every job queue."""
    from app.workers.celery_app import celery_app

    settings = get_settings()
    celery_app.worker_main(
        [
            "worker",
            f"--loglevel={loglevel}",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command()
def beat(
    schedule: Annotated[str, typer.Option(help="Where beat keeps its schedule state")] = str(
        STATE_DIR / "celerybeat-schedule"
    ),
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Run Celery beat: the outbox relay sweep and the reminder sweep. Any number may run."""
    from app.workers.celery_app import celery_app

    Path(schedule).parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule}"])


@app.command()
def mailsink(
    port: Annotated[int | None, typer.Option(help="Port (default SMTP_PORT)")] = None,
    directory: Annotated[Path, typer.Option(help="Where messages are saved")] = STATE_DIR / "mail",
) -> None:
    """A local SMTP server that saves every message it receives as an .eml file."""
    from app.mailsink import start_mail_sink

    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # the server thread inherits the mask
    controller = start_mail_sink(directory, port=port or get_settings().smtp_port)
    typer.echo(f"mail sink on 127.0.0.1:{controller.port}, saving to {directory}/")
    try:
        signal.sigwait(stop_signals)
    finally:
        controller.stop()


@jobs_app.command("retry")
def jobs_retry(job_id: str) -> None:
    """Re-run a job that failed for good (a fresh set of attempts)."""
    from app.jobs.admin import JobNotRetryable, retry_failed_job

    try:
        retry_failed_job(job_id)
    except JobNotRetryable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{job_id} queued again")


@app.command()
def dev() -> None:
    """Everything on this machine: embedded PostgreSQL/Redis when not configured, migrations,
    then the API (and the job processes). Ctrl-C stops all of them."""
    from app.devstack import DevStack, python_module

    settings = get_settings()
    stack = DevStack(settings, log=lambda line: typer.echo(f"taskhub dev: {line}"))
    try:
        env = stack.start_servers()
        _migrate(env["DATABASE_URL"])
        port = str(settings.app_port)
        stack.spawn(
            "api", python_module("app.cli", "api", "--host", "127.0.0.1", "--port", port), env
        )
        stack.spawn("worker", python_module("app.cli", "worker"), env)
        stack.spawn("beat", python_module("app.cli", "beat"), env)
        stack.spawn("mailsink", python_module("app.cli", "mailsink"), env)
    except BaseException:
        stack.stop()
        raise
    typer.echo(f"taskhub dev: API on http://127.0.0.1:{port}  (docs: http://127.0.0.1:{port}/docs)")
    typer.echo(f"taskhub dev: mail sent by jobs lands in {STATE_DIR / 'mail'}/  (Ctrl-C stops all)")
    raise typer.Exit(stack.wait())


@app.command("create-user")
def create_user(
    username: str,
    email: Annotated[str | None, typer.Option(help="Address for the welcome mail")] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted")] = None,
) -> None:
    """Create a user (with the same rules as POST /auth/register)."""
    from pydantic import ValidationError

    from app.errors import AppError
    from app.seed import create_user as create

    secret = password or getpass.getpass("Password: ")
    try:
        user_id = asyncio.run(create(username=username, password=secret, email=email))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"cannot create {username}: {problems}", err=True)
        raise typer.Exit(1) from exc
    except AppError as exc:
        typer.echo(f"cannot create {username}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created user {username} ({user_id})")


@app.command()
def seed(
    users: Annotated[int, typer.Option(min=1, help="How many users")] = 1,
    tasks: Annotated[int, typer.Option(min=0, help="Tasks per user")] = 100,
    password: Annotated[str, typer.Option(help="Password of every seeded user")] = "taskhub-seed",
) -> None:
    """Bulk-create users `seed_0..` with tasks, through COPY (a million tasks take seconds)."""
    from app.seed import seed as run_seed

    asyncio.run(run_seed(users=users, tasks_per_user=tasks, password=password))


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
