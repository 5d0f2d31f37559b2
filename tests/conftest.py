"""Shared fixtures: an app on a real, migrated database, its test client and CLI runner.

SQLite by default: the schema is built once per run by ``flask db upgrade`` into a template file and each
test gets a copy. With ``TEST_DATABASE_URL=postgresql+psycopg://...`` (``make test-postgres`` sets it) the
same fixtures run on PostgreSQL: a template database is migrated once and each test gets
``CREATE DATABASE ... TEMPLATE`` of it, dropped afterwards.

Tests that are about one database only say so with ``requires_sqlite`` / ``requires_postgres`` and a
reason next to the test.
"""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from app import create_app
from app.extensions import db
from config import TestingConfig
from tests.catalogues import compile_catalogues

# Empty or unset: SQLite files under pytest's tmp_path.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")
TEMPLATE_DATABASE = "mild_template"

requires_sqlite = pytest.mark.skipif(ON_POSTGRES, reason="SQLite only (reason given at the test)")
requires_postgres = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only (reason given at the test)")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the translation catalogues if a fresh clone has none yet (make test does it as well)."""
    compile_catalogues()


def _make_app(database: Path | str, **overrides: object) -> Flask:
    """An app on ``database``: a SQLite file path, or any SQLAlchemy URL."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    return create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url, **overrides)


def database_url(app: Flask) -> str:
    """The SQLAlchemy URL of the database behind ``app``."""
    return str(app.config["SQLALCHEMY_DATABASE_URI"])


@contextmanager
def raw_connection(url: str, lock_wait: float | None = None) -> Iterator[Connection]:
    """A connection of its own (not the app's pool) in one transaction, committed on leaving.

    For tests that read or write rows exactly as stored, or act as a second worker. ``lock_wait``: seconds
    to wait for a lock before failing (SQLite's busy timeout, PostgreSQL's lock_timeout).
    """
    connect_args: dict[str, object] = {}
    if lock_wait is not None:
        if make_url(url).get_backend_name() == "sqlite":
            connect_args["timeout"] = lock_wait
        else:
            connect_args["options"] = f"-c lock_timeout={int(lock_wait * 1000)}"
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def _maintenance() -> Iterator[Connection]:
    """An AUTOCOMMIT connection to the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    url = make_url(TEST_DATABASE_URL).set(database="postgres")
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _create_postgres_database(template: str | None = None) -> str:
    """Create a new PostgreSQL database (a copy of ``template``, or empty); return its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with _maintenance() as connection:
        clause = f" TEMPLATE {template}" if template else ""
        connection.execute(text(f"CREATE DATABASE {name}{clause}"))
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    """Drop a database made by ``_create_postgres_database`` (every engine on it disposed first)."""
    name = make_url(url).database
    with _maintenance() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | str]:
    """A database built once per run by ``flask db upgrade``; each test gets a copy.

    SQLite: the path of a file. PostgreSQL: the name of a template database.
    """
    if ON_POSTGRES:
        with _maintenance() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {TEMPLATE_DATABASE}"))
        url = make_url(TEST_DATABASE_URL).set(database=TEMPLATE_DATABASE).render_as_string(hide_password=False)
        app = _make_app(url)
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield TEMPLATE_DATABASE
        with _maintenance() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DATABASE} WITH (FORCE)"))
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = _make_app(path)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield path


class Databases:
    """Hands out databases for one test and removes them afterwards."""

    def __init__(self, tmp_path: Path, template: Path | str) -> None:
        self.tmp_path = tmp_path
        self.template = template
        self.made: list[str] = []

    def migrated(self, name: str) -> str:
        """A copy of the migrated template; its URL."""
        if ON_POSTGRES:
            url = _create_postgres_database(str(self.template))
            self.made.append(url)
            return url
        path = self.tmp_path / f"{name}.sqlite3"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def empty(self, name: str) -> str:
        """A database without any table (for tests that run the migrations themselves); its URL."""
        if ON_POSTGRES:
            url = _create_postgres_database()
            self.made.append(url)
            return url
        return f"sqlite:///{self.tmp_path / f'{name}.sqlite3'}"

    def drop_all(self) -> None:
        """Drop every PostgreSQL database made for the test (SQLite files go with tmp_path)."""
        if self.made:
            # A connection the test left open is reported now, against this test, rather than whenever the
            # garbage collector happens to find it in a later one.
            gc.collect()
        for url in self.made:
            _drop_postgres_database(url)


@pytest.fixture
def databases(tmp_path: Path, migrated_template: Path | str) -> Iterator[Databases]:
    """Fresh databases for the test, migrated or empty, on the database the suite runs on."""
    made = Databases(tmp_path, migrated_template)
    yield made
    made.drop_all()


@pytest.fixture
def app(databases: Databases) -> Iterator[Flask]:
    """The application, configured for tests, on its own migrated database."""
    application = _make_app(databases.migrated("test"))
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client that goes through the whole WSGI stack, cookies included."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """Runs the app's CLI commands in-process."""
    return app.test_cli_runner()


@pytest.fixture
def staff_client(app: Flask) -> FlaskClient:
    """A second browser, separate from the patient's ``client``."""
    return app.test_client()


@pytest.fixture
def app_factory() -> Iterator[Callable[..., Flask]]:
    """Build apps on a given database (a SQLite path or a URL) with extra configuration; each is closed after."""
    made: list[Flask] = []

    def build(database: Path | str, **overrides: object) -> Flask:
        made.append(_make_app(database, **overrides))
        return made[-1]

    yield build
    for application in made:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def make_app(databases: Databases, app_factory: Callable[..., Flask]) -> Callable[..., Flask]:
    """Build apps with extra configuration, each on its own copy of the migrated database."""
    count = iter(range(1_000))
    return lambda **overrides: app_factory(databases.migrated(f"configured{next(count)}"), **overrides)


# Property tests run the same examples on every machine (derandomize), so CI never fails on an example
# nobody saw locally; a wider random search is `pytest --hypothesis-profile=explore`.
from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile("deterministic")
