"""A pooled PostgreSQL connection the server ended (a restart, a failover) is replaced; patients carry on."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.extensions import db
from app.screening.questions import PAGES
from tests.answers import BASE_ANSWERS
from tests.conftest import database_url, requires_postgres
from tests.journey import form_data, post_page


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
    first, second = PAGES[0], PAGES[1]
    answered = post_page(client, first.slug, form_data(first, BASE_ANSWERS))
    assert answered.status_code == 303
    _end_every_app_connection(app)
    back = client.get(f"/questions/{first.slug}")  # on a connection the server ended
    assert back.status_code == 200
    assert re.search(r'<input[^>]*value="none"[^>]*checked', back.text)  # the saved answer, read back
    _end_every_app_connection(app)
    saved = post_page(client, second.slug, form_data(second, BASE_ANSWERS))
    assert saved.status_code == 303
