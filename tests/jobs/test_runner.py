"""The runner's statements against the real database, without Celery: the claim's paths in
autocommit, attempt fencing, terminal marks that set the outbox row done in the same statement,
and the work phase with and without a transaction."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine

import app.jobs.runner as runner_module
from app.config import Settings
from app.jobs.runner import (
    Claim,
    LeaseLost,
    _claim,
    _finish_failed,
    _finish_succeeded,
    _work,
    fetch_one,
    run_job,
)
from tests.jobs.conftest import job_row

NAME = "tests.runner"


def _enqueued(db: Engine) -> str:
    job_id = f"{NAME}:{uuid.uuid4()}"
    with db.connect() as conn:
        conn.execute(
            text("INSERT INTO outbox (job_id, name, kwargs) VALUES (:id, :name, '{}')"),
            {"id": job_id, "name": NAME},
        )
    return job_id


def _row(db: Engine, job_id: str) -> dict[str, object]:
    row = job_row(db, job_id)
    assert row is not None
    return row


def _outbox_done(db: Engine, job_id: str) -> bool:
    with db.connect() as conn:
        return bool(
            conn.execute(
                text("SELECT done_at IS NOT NULL FROM outbox WHERE job_id = :id"), {"id": job_id}
            ).scalar_one()
        )


def _expire_lease(db: Engine, job_id: str) -> None:
    """What a dead holder leaves behind once its lease runs out."""
    with db.connect() as conn:
        conn.execute(
            text("UPDATE job_log SET lease_expires_at = now() WHERE job_id = :id"), {"id": job_id}
        )


def test_claim_defers_under_a_live_lease_and_takes_over_an_expired_one(
    db: Engine, settings: Settings
) -> None:
    job_id = _enqueued(db)
    with db.connect() as conn:  # autocommit, like run_job's claim
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=1)
        held = _claim(conn, job_id, NAME, settings)
        assert isinstance(held, float)
        assert 0 < held <= settings.job_lease_seconds
        _expire_lease(db, job_id)
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=2)
    assert _row(db, job_id)["attempts"] == 2
    assert not _outbox_done(db, job_id)


def _synchronous_commit(conn: Connection) -> str:
    return str(conn.execute(text("SHOW synchronous_commit")).scalar_one())


def test_a_claim_skips_the_flush_wait_for_its_own_commit_only(
    db: Engine, settings: Settings
) -> None:
    """A claim, new or taken over, turns synchronous_commit off for its own transaction; the
    session keeps it on, so a terminal mark on the same connection returns only once durable.
    The claims run in a transaction block here only so their setting can be read back."""
    job_id = _enqueued(db)
    with db.connect() as conn:
        # As in production; the tests' own PostgreSQL may run with it off.
        conn.execute(text("SET synchronous_commit = on"))
        conn.commit()
        conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            assert _claim(conn, job_id, NAME, settings) == Claim(attempt=1)
            assert _synchronous_commit(conn) == "off"
        assert _synchronous_commit(conn) == "on"
        _expire_lease(db, job_id)
        conn.rollback()  # end the transaction SHOW began
        with conn.begin():
            assert _claim(conn, job_id, NAME, settings) == Claim(attempt=2)
            assert _synchronous_commit(conn) == "off"
        assert _synchronous_commit(conn) == "on"
        conn.rollback()
        conn.execution_options(isolation_level="AUTOCOMMIT")  # as run_job claims
        assert _claim(conn, _enqueued(db), NAME, settings) == Claim(attempt=1)
        assert _synchronous_commit(conn) == "on"
        conn.execute(text("RESET synchronous_commit"))  # the pooled connection goes back as it came


def test_success_is_fenced_by_the_attempt_and_marks_the_outbox_done(
    db: Engine, settings: Settings
) -> None:
    job_id = _enqueued(db)
    with db.connect() as conn:
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=1)
        _expire_lease(db, job_id)
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=2)
    with db.begin() as conn, pytest.raises(LeaseLost):
        _finish_succeeded(conn, job_id, Claim(attempt=1), {"by": "the old holder"})
    assert _row(db, job_id)["status"] == "running"
    assert not _outbox_done(db, job_id)

    with db.begin() as conn:
        _finish_succeeded(conn, job_id, Claim(attempt=2), {"by": "the new holder"})
    assert _row(db, job_id)["status"] == "succeeded"
    assert _outbox_done(db, job_id)
    with db.connect() as conn:  # every later delivery gets the stored result
        assert _claim(conn, job_id, NAME, settings) == {"by": "the new holder"}


def test_claim_gives_up_after_max_attempts_and_marks_the_outbox_done(
    db: Engine, settings: Settings
) -> None:
    job_id = _enqueued(db)
    with db.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO job_log (job_id, name, status, attempts, lease_expires_at)"
                " VALUES (:id, :name, 'running', :attempts, now())"
            ),
            {"id": job_id, "name": NAME, "attempts": settings.job_max_attempts},
        )
        assert _claim(conn, job_id, NAME, settings) == {}
    assert _row(db, job_id)["status"] == "failed"
    assert f"gave up after {settings.job_max_attempts} attempts" in str(_row(db, job_id)["error"])
    assert _outbox_done(db, job_id)


def test_failure_mark_is_fenced_by_the_attempt(db: Engine, settings: Settings) -> None:
    job_id = _enqueued(db)
    with db.connect() as conn:
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=1)
        _finish_failed(conn, job_id, 2, "from a holder that no longer exists")
    assert _row(db, job_id)["status"] == "running"
    assert not _outbox_done(db, job_id)


def _claimed(db: Engine, settings: Settings) -> str:
    job_id = _enqueued(db)
    with db.connect() as conn:
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=1)
    return job_id


def _in_a_statement_of_its_own(conn: Connection) -> dict[str, object]:
    """A body that tells whether its second statement runs in a transaction of its own."""
    conn.execute(text("SELECT pg_sleep(0.002)"))
    alone = conn.execute(text("SELECT transaction_timestamp() = statement_timestamp()"))
    return {"alone": alone.scalar_one()}


@pytest.mark.parametrize("read_only", [True, False])
def test_work_runs_the_body_and_marks_the_job_succeeded(
    db: Engine, settings: Settings, read_only: bool
) -> None:
    """A read-only body runs in autocommit (no BEGIN, no COMMIT); any other shares one
    transaction with its success mark."""
    job_id = _claimed(db, settings)
    result = _work(_in_a_statement_of_its_own, job_id, Claim(attempt=1), read_only=read_only)
    assert result == {"alone": read_only}
    assert _row(db, job_id)["status"] == "succeeded"
    assert _row(db, job_id)["result"] == result
    assert _outbox_done(db, job_id)


@pytest.mark.parametrize("read_only", [True, False])
def test_work_with_a_lost_lease_leaves_the_job_to_its_new_holder(
    db: Engine, settings: Settings, read_only: bool
) -> None:
    job_id = _claimed(db, settings)
    _expire_lease(db, job_id)
    with db.connect() as conn:
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=2)
    with pytest.raises(LeaseLost):
        _work(lambda _conn: {}, job_id, Claim(attempt=1), read_only=read_only)
    assert _row(db, job_id)["status"] == "running"
    assert not _outbox_done(db, job_id)


def test_a_lost_lease_rolls_back_what_the_body_wrote(db: Engine, settings: Settings) -> None:
    job_id = _claimed(db, settings)
    _expire_lease(db, job_id)
    with db.connect() as conn:
        assert _claim(conn, job_id, NAME, settings) == Claim(attempt=2)

    def body(conn: Connection) -> dict[str, object]:
        conn.execute(
            text("""UPDATE outbox SET kwargs = '{"written": true}' WHERE job_id = :id"""),
            {"id": job_id},
        )
        return {}

    with pytest.raises(LeaseLost):
        _work(body, job_id, Claim(attempt=1), read_only=False)
    with db.connect() as conn:
        kwargs = conn.execute(
            text("SELECT kwargs FROM outbox WHERE job_id = :id"), {"id": job_id}
        ).scalar_one()
    assert kwargs == {}


def test_a_statement_error_leaves_the_connection_in_the_pool(db: Engine) -> None:
    with db.connect() as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            fetch_one(conn, "SELECT 1 FROM no_such_table", {})
        assert not conn.invalidated
        assert fetch_one(conn, "SELECT %(n)s::int AS n", {"n": 7}).n == 7


def test_a_broken_connection_is_invalidated_not_pooled_again(db: Engine) -> None:
    with db.connect() as conn:
        backend = fetch_one(conn, "SELECT pg_backend_pid() AS pid", {}).pid
        with db.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        with pytest.raises(psycopg.OperationalError):
            fetch_one(conn, "SELECT 1", {})
        assert conn.invalidated
    with db.connect() as conn:  # the pool opens a new connection instead
        assert fetch_one(conn, "SELECT pg_backend_pid() AS pid", {}).pid != backend


class _Retry(Exception):
    def __init__(self, countdown: float) -> None:
        self.countdown = countdown


def test_a_claim_on_a_dropped_connection_is_retried_later(
    db: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server dropped the pooled connection the claim gets: the job is retried, unclaimed."""
    engine = create_engine(db.url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    with engine.connect() as conn:
        backend = fetch_one(conn, "SELECT pg_backend_pid() AS pid", {}).pid
    with db.connect() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    monkeypatch.setattr(runner_module, "worker_engine", lambda: engine)
    job_id = _enqueued(db)

    def retry(**options: Any) -> _Retry:
        return _Retry(options["countdown"])

    task = SimpleNamespace(request=SimpleNamespace(id=job_id), retry=retry)
    with pytest.raises(_Retry) as retried:
        run_job(task, NAME, lambda _conn: {"ran": True})  # type: ignore[arg-type]
    assert 0 < retried.value.countdown <= settings.job_retry_base_seconds
    assert job_row(db, job_id) is None
    engine.dispose()
