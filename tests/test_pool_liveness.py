"""A pooled PostgreSQL connection the server ended is replaced on checkout, without a ping round trip."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.extensions import db
from app.pool_liveness import engine_options
from app.screening.questions import PAGES
from tests.answers import BASE_ANSWERS
from tests.conftest import database_url, requires_postgres, requires_sqlite
from tests.journey import form_data, post_page


def test_the_pre_ping_goes_only_where_it_serves_nothing() -> None:
    options = {"pool_pre_ping": True, "hide_parameters": True}
    without = {"pool_pre_ping": False, "hide_parameters": True}
    assert engine_options("postgresql+psycopg://u@h/db", options) == without  # the socket check replaces it
    assert engine_options("sqlite:////tmp/x.sqlite3", options) == without  # nothing can end a file handle
    assert engine_options("postgresql+asyncpg://u@h/db", options) == options  # no socket check for other drivers
    assert options["pool_pre_ping"] is True  # the shared setting is not changed in place


def _backend_pid(app: Flask) -> int:
    with app.app_context(), db.engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_backend_pid()")))


def _end_every_app_connection(app: Flask) -> list[int]:
    """End every other server backend on the app's database, as a server restart would; return their pids.

    From a connection of another engine; the second argument of ``pg_terminate_backend`` (ms) waits until the
    backend has exited, so its socket is closed by the time this returns.
    """
    other = create_engine(database_url(app), poolclass=NullPool)
    try:
        with other.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT pid, pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
    finally:
        other.dispose()
    assert ended and all(done for _pid, done in ended)
    return [pid for pid, _done in ended]


@requires_postgres  # SQLite has no server to end a connection
def test_the_app_engine_checks_sockets_instead_of_pinging(app: Flask) -> None:
    with app.app_context():
        assert db.engine.pool._pre_ping is False  # no public accessor for the pool's setting
    # A healthy idle connection is not taken for ended: the same backend serves one request after another.
    assert _backend_pid(app) == _backend_pid(app)


@requires_postgres  # the case a restart of the PostgreSQL server or a failover leaves behind
def test_connections_the_server_ended_are_replaced_on_checkout(app: Flask) -> None:
    with app.app_context():
        held: list[Any] = [db.engine.connect() for _ in range(3)]  # three connections in the pool
        pids = {int(connection.scalar(text("SELECT pg_backend_pid()"))) for connection in held}
        for connection in held:
            connection.close()
    assert pids <= set(_end_every_app_connection(app))
    with app.app_context():
        held = [db.engine.connect() for _ in range(3)]  # every pooled connection, each one now ended
        fresh = {int(connection.scalar(text("SELECT pg_backend_pid()"))) for connection in held}
        for connection in held:
            connection.close()
    assert len(fresh) == 3 and not fresh & pids


@requires_postgres
def test_a_patient_whose_connection_the_server_ended_carries_on(client: FlaskClient, app: Flask) -> None:
    """The questionnaire's draft read (app/driver_select.py) and its save both take their connection from the pool."""
    first, second = PAGES[0], PAGES[1]
    answered = post_page(client, first.slug, form_data(first, BASE_ANSWERS))
    assert answered.status_code == 303
    _end_every_app_connection(app)
    back = client.get(f"/questions/{first.slug}")  # the GET's driver read, on a connection the server ended
    assert back.status_code == 200
    assert re.search(r'<input[^>]*value="none"[^>]*checked', back.text)  # the saved answer, read back
    _end_every_app_connection(app)
    saved = post_page(client, second.slug, form_data(second, BASE_ANSWERS))  # the ORM session's write
    assert saved.status_code == 303


@requires_sqlite  # the app's SQLite engine, made with the same options
def test_the_sqlite_engine_does_not_ping(app: Flask) -> None:
    with app.app_context():
        assert db.engine.pool._pre_ping is False  # no public accessor for the pool's setting
        with db.engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
